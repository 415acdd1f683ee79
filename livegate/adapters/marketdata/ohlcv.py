"""Read one symbol's OHLCV candles from a CSV file (SPEC §4).

The header is `timestamp,open,high,low,close,volume`; the timestamp is the bar's open time in
epoch milliseconds or ISO 8601 (naive means UTC). Any problem with the file is one UsageError
naming the file and line, e.g. `data.csv:17: high 99.0 is below close 101.0`.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from itertools import islice
from pathlib import Path

import numpy as np

from livegate.adapters.marketdata.candles import TIMEFRAME_MS, Candles, timeframe_name, timeframe_to_ms
from livegate.core.errors import UsageError
from livegate.core.files import read_input
from livegate.core.timeparse import iso_to_ms, iso_utc_ms, ms_to_iso

HEADER = ("timestamp", "open", "high", "low", "close", "volume")
_VALUES = HEADER[1:]
_PRICES = HEADER[1:5]
_MIN_MS = 10**11  # 1973-03-03; anything smaller is epoch seconds (or nonsense)
_MAX_MS = 10**14  # year 5138; anything larger is epoch micro- or nanoseconds
_CHUNK_ROWS = 65_536
_STREAM_ROWS = 4_096  # lines of a file read at a time (`_streamed`): the text held beside the columns
_EPOCH_ROW = np.dtype([("ts", "i8")] + [(c, "f8") for c in _VALUES])
_ISO_WIDTH = 64  # numpy cuts longer strings short, so a field that fills it goes the slow way
_ISO_ROW = np.dtype([("ts", f"U{_ISO_WIDTH}")] + [(c, "f8") for c in _VALUES])

_Columns = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def load_ohlcv_csv(path: Path, symbol: str, timeframe: str | None = None) -> Candles:
    """Candles of `symbol` from the CSV file at `path`; `timeframe` (e.g. `1m`) must match the
    data if given, else it is inferred from the most common spacing between bars.

    A well-formed file is read a chunk of lines at a time (`_streamed`): memory holds its columns,
    never its whole text or a Python object per line. Anything else is read whole, which names
    the exact line and problem."""
    path = Path(path)
    name = str(path)
    streamed = _streamed(path, name, symbol, None if timeframe is None else timeframe_to_ms(timeframe))
    if streamed is not None:
        return streamed
    return parse_ohlcv_text(_decode(read_input(path, name), name), name, symbol, timeframe)


class _Numbered:
    """The line numbers of rows with no blank line between them: row i is on line `first + i`."""

    def __init__(self, first: int):
        self.first = first

    def __getitem__(self, i: int) -> int:
        return self.first + int(i)


def _streamed(path: Path, name: str, symbol: str, wanted_ms: int | None) -> Candles | None:
    """The candles of a well-formed file (UTF-8, the header on line 1, no blank or malformed line,
    no row problem, a known timeframe), read `_STREAM_ROWS` lines at a time into columns sized
    once; None for any other file."""
    try:
        with path.open("rb") as fh:
            most = sum(block.count(b"\n") for block in iter(lambda: fh.read(1 << 20), b"")) + 1
            fh.seek(0)
            try:
                head = fh.readline().decode("utf-8").removeprefix("\ufeff")
            except UnicodeDecodeError:
                return None
            if tuple(f.strip().lower() for f in head.split(",")) != HEADER:
                return None
            cols = (np.empty(most, dtype=np.int64), *(np.empty(most) for _ in _VALUES))
            n = 0
            while block := list(islice(fh, _STREAM_ROWS)):
                try:
                    text = b"".join(block).decode("utf-8").replace("\r\n", "\n")
                except UnicodeDecodeError:
                    return None
                rows = text.split("\n")
                if not rows[-1]:
                    rows.pop()
                if "\0" in text or "\r" in text or "" in rows or any(map(str.isspace, rows)) or n + len(rows) > most:
                    return None
                chunk = _fast_chunk(rows)
                if chunk is None:
                    return None
                for column, part in zip(cols, chunk):
                    column[n:n + len(rows)] = part
                n += len(rows)
    except OSError:
        return None
    if not n:
        return None
    cols = tuple(column[:n] for column in cols)  # type: ignore[assignment]
    tf_ms, tf_problem = _timeframe(cols[0], wanted_ms, name)
    if tf_problem or tf_ms is None:
        return None
    lines = _Numbered(2)
    for low in range(0, n, _CHUNK_ROWS):  # each chunk with the row before it (the step to it is checked)
        part = tuple(column[max(low - 1, 0):low + _CHUNK_ROWS] for column in cols)
        if _row_problem(part, lines, name, tf_ms):  # type: ignore[arg-type]
            return None
    ts, o, h, l, c, v = cols
    return Candles(symbol, tf_ms, ts, o, h, l, c, v, source=name, synthetic=False,
                   warnings=_gap_warnings(ts, lines, tf_ms, name))  # type: ignore[arg-type]


def parse_ohlcv_text(text: str, name: str, symbol: str, timeframe: str | None = None) -> Candles:
    """Candles from the text of an OHLCV CSV file; `name` is the file name used in messages and
    as the candles' source."""
    wanted_ms = None if timeframe is None else timeframe_to_ms(timeframe)
    rows, lines = _data_rows(text, name)
    cols = _parse_rows(rows, lines, name, wanted_ms)
    tf_ms, tf_problem = _timeframe(cols[0], wanted_ms, name)
    problem = _row_problem(cols, lines, name, tf_ms)
    if problem or tf_problem:
        raise UsageError(problem or tf_problem)
    assert tf_ms is not None
    ts, o, h, l, c, v = cols
    return Candles(symbol, tf_ms, ts, o, h, l, c, v, source=name, synthetic=False,
                   warnings=_gap_warnings(ts, lines, tf_ms, name))


def _decode(data: bytes, name: str) -> str:
    """The file's bytes as text, or one message saying where it stops being UTF-8."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise UsageError(f"{name}: the file is UTF-16 text; save it as UTF-8")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise UsageError(f"{name}:{line}: byte 0x{data[e.start]:02x} is not UTF-8 text; "
                         "save the file as UTF-8") from None


def _data_rows(text: str, name: str) -> tuple[list[str], np.ndarray]:
    """The non-blank lines after a valid header, and their 1-based line numbers."""
    nul = text.find("\0")
    if nul >= 0:
        raise UsageError(f"{name}:{text.count(chr(10), 0, nul) + 1}: contains a NUL byte; is this a binary file?")
    text = text.removeprefix("\ufeff")
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = text.split("\n")
    head = next((i for i, s in enumerate(lines) if s.strip()), None)
    if head is None:
        raise UsageError(f"{name}: the file is empty; expected the header {','.join(HEADER)}")
    _check_header(lines[head], head + 1, name)
    rows = lines[head + 1:]
    while rows and not rows[-1].strip():
        rows.pop()
    if not rows:
        raise UsageError(f"{name}: no data rows after the header")
    first = head + 2
    if "" in rows or any(map(str.isspace, rows)):
        keep = [i for i, s in enumerate(rows) if s.strip()]
        return [rows[i] for i in keep], np.array(keep, dtype=np.int64) + first
    return rows, np.arange(first, first + len(rows), dtype=np.int64)


def _check_header(line: str, number: int, name: str) -> None:
    fields = [f.strip().lower() for f in line.split(",")]
    if tuple(fields) == HEADER:
        return
    expected = ",".join(HEADER)
    if fields[0][:1].isdigit():
        raise UsageError(f"{name}:{number}: the header is missing; the first line must be {expected}")
    hint = " (columns must be separated by commas)" if len(fields) == 1 and any(c in line for c in ";\t|") else ""
    raise UsageError(f"{name}:{number}: the header must be {expected}, found {_show(line.strip())}{hint}")


def _parse_rows(rows: list[str], lines: np.ndarray, name: str, wanted_ms: int | None) -> _Columns:
    """The six columns. Chunks go through numpy; a chunk numpy rejects is re-read line by line,
    which either accepts it or finds the exact line (reported after any earlier row problem)."""
    parts: list[_Columns] = []
    for start in range(0, len(rows), _CHUNK_ROWS):
        chunk = rows[start:start + _CHUNK_ROWS]
        cols = _fast_chunk(chunk)
        if cols is None:
            final = start + len(chunk) == len(rows)
            cols, problem = _slow_chunk(chunk, lines[start:start + len(chunk)], name, final)
            if problem:
                prefix = _concat([*parts, cols])
                tf_ms, _ = _timeframe(prefix[0], wanted_ms, name)
                raise UsageError(_row_problem(prefix, lines, name, tf_ms) or problem)
        parts.append(cols)
    return _concat(parts)


def _fast_chunk(chunk: list[str]) -> _Columns | None:
    """The chunk's columns parsed by numpy, or None if numpy cannot (then the slow path decides)."""
    epoch = chunk[0].split(",", 1)[0].strip().lstrip("+-").isdigit()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            arr = np.loadtxt(chunk, delimiter=",", dtype=_EPOCH_ROW if epoch else _ISO_ROW, comments=None, ndmin=1)
        if len(arr) != len(chunk):
            return None
        if epoch:
            ts = arr["ts"]
        else:
            texts = arr["ts"].tolist()
            if max(map(len, texts)) >= _ISO_WIDTH:
                return None
            ts = _iso_column(texts)
    except Exception:  # noqa: BLE001 - only an accelerator: the line-by-line pass gives the real answer
        return None
    return (np.ascontiguousarray(ts), *(np.ascontiguousarray(arr[c]) for c in _VALUES))


def _slow_chunk(chunk: list[str], lines: np.ndarray, name: str, final: bool) -> tuple[_Columns, str | None]:
    """The chunk parsed line by line: its columns up to the first bad line, and what is wrong there."""
    ts = np.zeros(len(chunk), dtype=np.int64)
    values = np.zeros((len(_VALUES), len(chunk)))
    for i, row in enumerate(chunk):
        fields = row.split(",")
        try:
            if len(fields) != len(HEADER):
                raise ValueError(_field_count_problem(fields, final and i == len(chunk) - 1))
            ts[i] = _timestamp(fields[0])
            for j, column in enumerate(_VALUES):
                values[j, i] = _number(fields[j + 1], column)
        except ValueError as e:
            return (ts[:i], *values[:, :i]), f"{name}:{lines[i]}: {e}"
    return (ts, *values), None


def _field_count_problem(fields: list[str], last_line: bool) -> str:
    problem = f"expected {len(HEADER)} comma-separated fields, found {len(fields)}"
    if last_line and len(fields) < len(HEADER):
        return problem + "; the file looks truncated"
    if len(fields) == 1 and any(c in fields[0] for c in ";\t|"):
        return problem + " (columns must be separated by commas)"
    return problem


def _timestamp(field: str) -> int:
    """Epoch milliseconds from an integer or ISO 8601 field; ValueError says what is wrong."""
    s = field.strip()
    if not s:
        raise ValueError("timestamp is empty")
    try:
        ms = int(s)
    except ValueError:
        try:
            return iso_to_ms(s)
        except (ValueError, OverflowError):
            pass
        try:
            f = float(s)
        except ValueError:
            raise ValueError(f"timestamp {_show(s)} is neither epoch milliseconds nor ISO 8601") from None
        if not math.isfinite(f) or f != int(f):
            raise ValueError(f"timestamp {_show(s)} is not a whole number of milliseconds") from None
        ms = int(f)
    if not _MIN_MS <= ms < _MAX_MS:
        raise ValueError(_ts_range_problem(ms))
    return ms


def _iso_column(texts: list[str]) -> np.ndarray:
    """Epoch milliseconds of ISO 8601 times: numpy for plain UTC times, `_timestamp` for the rest."""
    plain = [s.strip().removesuffix("Z").removesuffix("+00:00") for s in texts]
    if all(s[4:5] == "-" for s in plain):  # numpy also reads words such as "now"
        ms = iso_utc_ms(plain)
        if ms is not None:
            return ms
    return np.array([_timestamp(s) for s in texts], dtype=np.int64)


def _number(field: str, column: str) -> float:
    s = field.strip()
    if not s:
        raise ValueError(f"{column} is empty")
    try:
        return float(s)
    except ValueError:
        raise ValueError(f"{column} {_show(s)} is not a number") from None


def _ts_range_problem(ms: int) -> str:
    if ms <= 0:
        return f"timestamp {ms} is not after 1970; use epoch milliseconds"
    if ms < _MIN_MS:
        return f"timestamp {ms} looks like epoch seconds; use milliseconds ({ms * 1000})"
    return f"timestamp {ms} looks like epoch micro- or nanoseconds; use milliseconds"


def _timeframe(ts: np.ndarray, wanted_ms: int | None, name: str) -> tuple[int | None, str | None]:
    """The bar spacing: the most common step between bars (the smallest on a tie), or what is
    wrong with it. A problem is reported only when no row has one."""
    values, counts = _step_counts(ts)
    if not values.size:
        if wanted_ms is not None:
            return wanted_ms, None
        return None, f"{name}: only one bar, so the timeframe cannot be inferred; give it explicitly"
    mode = int(values[np.argmax(counts)])
    if mode not in TIMEFRAME_MS.values():
        return None, (f"{name}: the bars are most often {_duration(mode)} apart, which is not a "
                      f"known timeframe ({', '.join(TIMEFRAME_MS)})")
    if wanted_ms is not None and wanted_ms != mode:
        return mode, f"{name}: the bars are {timeframe_name(mode)} apart, not {timeframe_name(wanted_ms)} as requested"
    return mode, None


def _step_counts(ts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(the distinct positive steps between bars, ascending; how often each occurs), counted a
    chunk at a time (no array of every step)."""
    found: dict[int, int] = {}
    for low in range(0, len(ts), _CHUNK_ROWS):
        steps = np.diff(ts[max(low - 1, 0):low + _CHUNK_ROWS])
        values, counts = np.unique(steps[steps > 0], return_counts=True)
        for value, count in zip(values.tolist(), counts.tolist()):
            found[value] = found.get(value, 0) + count
    steps_seen = sorted(found)
    return np.array(steps_seen, dtype=np.int64), np.array([found[s] for s in steps_seen], dtype=np.int64)


def _row_problem(cols: _Columns, lines: np.ndarray, name: str, tf_ms: int | None) -> str | None:
    """`name:line: problem` for the first row with a problem, or None. A row's checks run in the
    order listed; steps between bars are checked on the later bar's line."""
    ts, o, h, l, c, v = cols
    if not len(ts):
        return None
    with np.errstate(invalid="ignore"):
        top, bottom = np.maximum(o, c), np.minimum(o, c)
        step = np.empty_like(ts)
        step[0], step[1:] = tf_ms or 1, np.diff(ts)
        checks: list[tuple[np.ndarray, Callable[[int], str]]] = []
        for column, x in zip(_VALUES, (o, h, l, c, v)):
            checks.append((~np.isfinite(x), lambda i, column=column, x=x: f"{column} {_num(x[i])} is not a finite number"))
        for column, x in zip(_PRICES, (o, h, l, c)):
            checks.append((x <= 0, lambda i, column=column, x=x: f"{column} {_num(x[i])} is not above 0"))
        checks += [
            (v < 0, lambda i: f"volume {_num(v[i])} is negative"),
            (h < top, lambda i: f"high {_num(h[i])} is below {'open' if o[i] >= c[i] else 'close'} {_num(top[i])}"),
            (l > bottom, lambda i: f"low {_num(l[i])} is above {'open' if o[i] <= c[i] else 'close'} {_num(bottom[i])}"),
            ((ts < _MIN_MS) | (ts >= _MAX_MS), lambda i: _ts_range_problem(int(ts[i]))),
            (step <= 0, lambda i: _order_problem(ts, lines, i)),
        ]
        if tf_ms is not None:
            checks.append((step < tf_ms, lambda i: (
                f"timestamp {ms_to_iso(ts[i])} is only {_duration(int(step[i]))} after the bar on line "
                f"{lines[i - 1]}; the bars are {timeframe_name(tf_ms)} apart")))
    firsts = [int(np.argmax(mask)) if mask.any() else len(ts) for mask, _ in checks]
    i = min(firsts)
    if i == len(ts):
        return None
    message = next(say for (mask, say), first in zip(checks, firsts) if first == i)
    return f"{name}:{lines[i]}: {message(i)}"


def _order_problem(ts: np.ndarray, lines: np.ndarray, i: int) -> str:
    """Row i is not after row i-1; every row before i is in strictly ascending order."""
    earlier = int(np.searchsorted(ts[:i], ts[i]))
    if earlier < i and ts[earlier] == ts[i]:
        return f"duplicate timestamp {ms_to_iso(ts[i])} (also on line {lines[earlier]})"
    return (f"timestamp {ms_to_iso(ts[i])} is earlier than {ms_to_iso(ts[i - 1])} on line {lines[i - 1]}; "
            "rows must be in ascending time order")


def _gap_warnings(ts: np.ndarray, lines: np.ndarray, tf_ms: int, name: str) -> list[str]:
    """One sentence about missing bars (steps longer than the timeframe), or nothing."""
    found, lengths = [], []  # a chunk at a time (no array of every step): where each gap is, and its step
    for low in range(0, len(ts), _CHUNK_ROWS):
        first = max(low - 1, 0)
        steps = np.diff(ts[first:low + _CHUNK_ROWS])
        at = np.flatnonzero(steps > tf_ms)
        found.append(at + first)
        lengths.append(steps[at])
    gaps, spans = (np.concatenate(found), np.concatenate(lengths)) if found else (np.empty(0, np.int64), np.empty(0, np.int64))
    if not gaps.size:
        return []
    missing = int(((spans - 1) // tf_ms).sum())
    largest = int(np.argmax(spans))
    worst = int(gaps[largest])
    off_grid = int(np.count_nonzero(spans % tf_ms))
    n = gaps.size
    sentence = (f"{n} gap{'s' if n != 1 else ''} in {name} ({missing} missing bar{'s' if missing != 1 else ''}), "
                f"largest {_duration(int(spans[largest]) - tf_ms)} after line {lines[worst]}")
    if off_grid:
        sentence += f"; {off_grid} of them not a whole number of {timeframe_name(tf_ms)} bars"
    return [sentence]


def _concat(parts: list[_Columns]) -> _Columns:
    return tuple(np.concatenate([p[k] for p in parts]) for k in range(len(HEADER)))  # type: ignore[return-value]


def _duration(ms: int) -> str:
    """`45 min`, `1 h 30 min`, `2 d 3 h`, `30 s`: the two largest non-zero units."""
    units = (("d", 86_400_000), ("h", 3_600_000), ("min", 60_000), ("s", 1_000), ("ms", 1))
    parts = []
    for unit, size in units:
        count, ms = divmod(ms, size)
        if count:
            parts.append(f"{count} {unit}")
    return " ".join(parts[:2]) or "0 ms"


def _num(x: float | np.floating) -> str:
    return repr(float(x))


def _show(s: str, width: int = 40) -> str:
    return repr(s if len(s) <= width else s[:width] + "…")
