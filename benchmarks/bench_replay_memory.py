"""Peak memory of a CSV replay (`paper-run --replay FILE`) at 525,600 and 2,628,000 one-minute
bars, beside the same process's memory once livegate is imported (the floor) and the target
(<= 200 MB at 2,628,000 bars). The growth per bar between the two sizes is what streaming the
CSV saves: the file's text and a Python object per line are never all in memory.

    python benchmarks/bench_replay_memory.py [--bars 525600 2628000]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_replay_vs_loop import REPLAY, write_bars  # noqa: E402 - the same data and the same replay

FLOOR = '''
import resource
import livegate.phases.paper.run
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
'''


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bars", type=int, nargs="+", default=[525_600, 2_628_000])
    args = parser.parse_args()

    from livegate.config.workspace import scaffold

    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, NO_COLOR="1", LIVEGATE_KEY_DIR=str(Path(tmp) / "keys"))
        floor = int(subprocess.run([sys.executable, "-c", FLOOR], capture_output=True, text=True, env=env, check=True).stdout)
        peaks = {}
        for bars in args.bars:
            data = Path(tmp) / f"bars{bars}.csv"
            write_bars(data, bars)
            root = Path(tmp) / f"ws{bars}"
            scaffold(root)
            out = subprocess.run([sys.executable, "-c", REPLAY, str(root), str(data)], capture_output=True, text=True, env=env, check=True)
            peaks[bars] = int(out.stdout.split()[4])
            data.unlink()

    mb = 2**20
    print(f"{'':34} {'peak RSS':>9}")
    print(f"{'livegate imported (the floor)':<34} {floor / mb:6.0f} MB")
    for bars, peak in peaks.items():
        target = "  (target <= 200 MB)" if bars == 2_628_000 else ""
        print(f"{f'replay of {bars:,} bars':<34} {peak / mb:6.0f} MB{target}")
    if len(peaks) > 1:
        (small, low), (big, high) = min(peaks.items()), max(peaks.items())
        print(f"growth: {(high - low) / (big - small):.0f} bytes per bar (the six float64/int64 columns alone: 48)")


if __name__ == "__main__":
    main()
