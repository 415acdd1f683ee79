"""The OHLCV CSV reader: valid files round-trip exactly, every bad file is one UsageError naming
file and line, and nothing else ever escapes (property tests with hypothesis)."""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from unittest.mock import patch

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from livegate.adapters.marketdata import ohlcv
from livegate.adapters.marketdata.candles import TIMEFRAME_MS
from livegate.adapters.marketdata.ohlcv import load_ohlcv_csv, parse_ohlcv_text
from livegate.core.errors import UsageError

HEADER = "timestamp,open,high,low,close,volume\n"
T0 = 1_704_067_200_000  # 2024-01-01T00:00:00Z
MIN = 60_000
PROPERTY = settings(max_examples=120, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])


def row(i: int, o=100.0, h=101.0, l=99.0, c=100.5, v=5.0, ts: object = None) -> str:
    return f"{T0 + i * MIN if ts is None else ts},{o},{h},{l},{c},{v}\n"


def good(n: int = 6) -> list[str]:
    return [row(i) for i in range(n)]


def csv(*rows: str) -> str:
    return HEADER + "".join(rows)


def load(content: str | bytes, timeframe: str | None = None):
    """Write data.csv in the current (temporary) directory and load it by its relative name."""
    path = Path("data.csv")
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return load_ohlcv_csv(path, "BTC/USDT", timeframe)


# --- bad input, table-driven: (content, line, what the message says) ---------------------------

G = good()
LINE_CASES = {
    "missing header": ("".join(G), 1, "the header is missing"),
    "wrong header": ("time,o,h,l,c,v\n" + "".join(G), 1, "the header must be timestamp,open,high,low,close,volume"),
    "semicolons": ("timestamp;open;high;low;close;volume\n", 1, "columns must be separated by commas"),
    "extra column": (csv(*G[:3], G[3].rstrip() + ",7\n", *G[4:]), 5, "expected 6 comma-separated fields, found 7"),
    "truncated last line": (csv(*G, "1704067560000,100.0,10"), 8, "found 3; the file looks truncated"),
    "truncated inner line": (csv(*G[:2], "1704067320000,100\n", *G[3:]), 4, "found 2"),
    "not a number": (csv(*G[:1], row(1, o="abc"), *G[2:]), 3, "open 'abc' is not a number"),
    "empty field": (csv(*G[:3], row(3, v=""), *G[4:]), 5, "volume is empty"),
    "nan": (csv(*G[:1], row(1, c="nan"), *G[2:]), 3, "close nan is not a finite number"),
    "inf": (csv(*G[:4], row(4, h="inf"), *G[5:]), 6, "high inf is not a finite number"),
    "zero price": (csv(*G[:2], row(2, o=0, l=0), *G[3:]), 4, "open 0.0 is not above 0"),
    "negative price": (csv(row(0, o=-1, l=-2)), 2, "open -1.0 is not above 0"),
    "negative volume": (csv(*G[:2], row(2, v=-0.5), *G[3:]), 4, "volume -0.5 is negative"),
    "high below close": (csv(*G[:2], row(2, o=100, h=99, l=98, c=101), *G[3:]), 4, "high 99.0 is below close 101.0"),
    "high below open": (csv(row(0, o=102, h=101, l=99, c=100)), 2, "high 101.0 is below open 102.0"),
    "low above open": (csv(*G[:3], row(3, o=100, h=102, l=100.5, c=101), *G[4:]), 5, "low 100.5 is above open 100.0"),
    "low above close": (csv(*G[:1], row(1, o=101, h=102, l=100.5, c=100)), 3, "low 100.5 is above close 100.0"),
    "duplicate timestamp": (csv(*G[:3], G[2], *G[3:]), 5, "duplicate timestamp 2024-01-01T00:02:00Z (also on line 4)"),
    "duplicate, not adjacent": (csv(*G, G[1]), 8, "duplicate timestamp 2024-01-01T00:01:00Z (also on line 3)"),
    "out of order": (csv(G[0], G[2], G[1], *G[3:]), 4, "2024-01-01T00:01:00Z is earlier than 2024-01-01T00:02:00Z on line 3"),
    "epoch seconds": (csv(row(0, ts=T0 // 1000), row(1, ts=T0 // 1000 + 60)), 2,
                      "timestamp 1704067200 looks like epoch seconds; use milliseconds (1704067200000)"),
    "epoch seconds, later line": (csv(*G[:3], row(3, ts=T0 // 1000)), 5, "looks like epoch seconds; use milliseconds"),
    "epoch microseconds": (csv(row(0, ts=T0 * 1000)), 2, "looks like epoch micro- or nanoseconds"),
    "fractional ms": (csv(row(0, ts=f"{T0}.5")), 2, "is not a whole number of milliseconds"),
    "long ISO field": (csv(row(0, ts="2024-01-01T00:00:00" + " " * 50 + "junk")), 2, "is neither epoch milliseconds nor ISO 8601"),
    "bad ISO date": (csv(row(0, ts="2024-01-01T00:00:00Z"), row(1, ts="2024-13-01T00:01:00Z")), 3,
                     "timestamp '2024-13-01T00:01:00Z' is neither epoch milliseconds nor ISO 8601"),
    "step below timeframe": (csv(*G[:3], row(2, ts=T0 + 2 * MIN + 30_000), *G[3:]), 5,
                             "timestamp 2024-01-01T00:02:30Z is only 30 s after the bar on line 4; the bars are 1m apart"),
    "nul byte": (csv(*G[:2]) + "\0" + "".join(G[2:]), 4, "contains a NUL byte"),
    "not utf-8": (csv(*G[:1]).encode() + b"\xff" + "".join(G[1:]).encode(), 3, "byte 0xff is not UTF-8 text"),
    "blank lines count": ("\n" + HEADER + "\n" + G[0] + "  \n" + row(1, v=-1), 6, "volume -1.0 is negative"),
    "CRLF": (csv(*G[:2], row(2, c="x"), *G[3:]).replace("\n", "\r\n"), 4, "close 'x' is not a number"),
    "first problem wins": (csv(G[0], row(1, h=1), *G[2:], "1704067560000,1"), 3, "high 1.0 is below close 100.5"),
}


@pytest.mark.parametrize("content, line, says", LINE_CASES.values(), ids=LINE_CASES.keys())
def test_bad_line_is_named(content, line, says):
    with pytest.raises(UsageError) as e:
        load(content)
    assert str(e.value).startswith(f"data.csv:{line}: "), str(e.value)
    assert says in str(e.value)
    assert "\n" not in str(e.value)


FILE_CASES = {
    "empty file": ("", None, "data.csv: the file is empty"),
    "whitespace only": (" \n\r\n\t\n", None, "data.csv: the file is empty"),
    "header only": (HEADER + "\n\n", None, "data.csv: no data rows after the header"),
    "one bar, no timeframe": (csv(G[0]), None, "data.csv: only one bar, so the timeframe cannot be inferred"),
    "unknown spacing": (csv(*(row(7 * i) for i in range(4))), None, "data.csv: the bars are most often 7 min apart, which is not a known timeframe"),
    "timeframe disagrees": (csv(*G), "5m", "data.csv: the bars are 1m apart, not 5m as requested"),
    "utf-16": ("timestamp".encode("utf-16"), None, "data.csv: the file is UTF-16 text"),
}


@pytest.mark.parametrize("content, timeframe, says", FILE_CASES.values(), ids=FILE_CASES.keys())
def test_bad_file_is_named(content, timeframe, says):
    with pytest.raises(UsageError, match="^" + says.replace(".", r"\.")):
        load(content, timeframe)


def test_unknown_timeframe_argument():
    with pytest.raises(UsageError, match=r"unknown timeframe '7m' \(known: 1m, 3m"):
        load(csv(*G), "7m")


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(UsageError, match="nope.csv: no such file"):
        load_ohlcv_csv(tmp_path / "nope.csv", "BTC/USDT")
    with pytest.raises(UsageError, match="is a directory"):
        load_ohlcv_csv(tmp_path, "BTC/USDT")


# --- valid input --------------------------------------------------------------------------------

def test_reads_columns_and_metadata():
    c = load(csv(*G))
    assert (c.symbol, c.timeframe_ms, c.source, c.synthetic, c.warnings) == ("BTC/USDT", MIN, "data.csv", False, [])
    assert c.ts.dtype == np.int64 and c.close.dtype == np.float64
    assert c.ts.tolist() == [T0 + i * MIN for i in range(6)]
    assert c.high.tolist() == [101.0] * 6 and c.volume.tolist() == [5.0] * 6


def test_iso_forms_equal_epoch_ms():
    forms = ["2024-01-01T00:00:00Z", "2024-01-01 00:05:00", "2024-01-01T01:10:00+01:00", "2024-01-01T00:15:00.000+00:00",
             "2023-12-31T19:20:00-05:00", f"{T0 + 25 * MIN}"]
    c = load(csv(*(row(0, ts=f) for f in forms)))
    assert c.timeframe_ms == 5 * MIN
    assert c.ts.tolist() == [T0 + 5 * i * MIN for i in range(6)]


def test_epoch_ms_after_iso_is_not_read_as_a_basic_iso_date():
    # datetime.fromisoformat reads "1565071200000" as 1565-07-12T00:00
    c = load(csv(row(0, ts="2019-08-06T05:00:00Z"), row(1, ts=1_565_071_200_000)))
    assert c.ts.tolist() == [1_565_067_600_000, 1_565_071_200_000]


def test_bom_crlf_case_and_whitespace():
    text = "\ufeff  Timestamp , OPEN,High,low,Close ,VOLUME \r\n" + "".join(r.replace(",", " , ") for r in G).replace("\n", "\r\n")
    c = load(text)
    assert len(c) == 6 and c.open[0] == 100.0


def test_integral_float_timestamps_are_accepted():
    assert load(csv(row(0, ts=f"{T0}.0"), row(1, ts=f"{T0 + MIN}.0"))).ts.tolist() == [T0, T0 + MIN]


def test_given_timeframe_and_single_bar():
    assert load(csv(*G), "1m").timeframe_ms == MIN
    assert len(load(csv(G[0]), "1h")) == 1


def test_gaps_are_a_warning():
    c = load(csv(*(row(i) for i in (0, 1, 5, 6, 7, 60, 61, 62, 63))))
    assert c.warnings == ["2 gaps in data.csv (55 missing bars), largest 52 min after line 6"]


def test_gap_off_the_grid_is_a_warning_too():
    c = load(csv(*G[:3], *(row(i, ts=T0 + i * MIN + 30_000) for i in range(4, 8))))
    assert c.warnings == ["1 gap in data.csv (2 missing bars), largest 1 min 30 s after line 4; "
                          "1 of them not a whole number of 1m bars"]


def test_errors_in_later_chunks_keep_their_line(monkeypatch):
    monkeypatch.setattr(ohlcv, "_CHUNK_ROWS", 3)
    rows = good(12)
    assert load(csv(*rows)).ts.tolist() == [T0 + i * MIN for i in range(12)]
    with pytest.raises(UsageError, match="^data.csv:12: close 'x'"):
        load(csv(*rows[:10], row(10, c="x"), rows[11]))
    # a value problem in the first chunk is reported before a broken line in the third
    with pytest.raises(UsageError, match="^data.csv:3: volume -1.0 is negative"):
        load(csv(rows[0], row(1, v=-1), *rows[2:7], "garbage\n", *rows[8:]))
    iso = [row(i, ts=(datetime(2024, 1, 1, tzinfo=UTC) + timedelta(minutes=i)).strftime("%Y-%m-%d %H:%M:%S")) for i in range(6, 12)]
    assert load(csv(*rows[:6], *iso)).ts.tolist() == [T0 + i * MIN for i in range(12)]


# --- property tests -----------------------------------------------------------------------------

finite_price = st.floats(min_value=1e-3, max_value=1e6, allow_nan=False, allow_infinity=False)


def _iso(ms: int, form: str, offset_hours: int) -> str:
    when = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=ms)
    if form == "Z":
        return when.strftime("%Y-%m-%dT%H:%M:%SZ")
    if form == "naive":
        return when.strftime("%Y-%m-%d %H:%M:%S")
    return when.astimezone(timezone(timedelta(hours=offset_hours))).isoformat(timespec="milliseconds")


@st.composite
def candle_files(draw):
    """(file text, expected columns, timeframe name, has gaps): a valid file in one of many styles."""
    tf_name = draw(st.sampled_from(list(TIMEFRAME_MS)))
    tf = TIMEFRAME_MS[tf_name]
    n = draw(st.integers(1, 25))
    steps = draw(st.lists(st.sampled_from([1, 1, 1, 2, 3, 10]), min_size=n - 1, max_size=n - 1))
    assume(all(steps.count(1) >= steps.count(k) for k in steps))
    start = draw(st.integers(1_500_000_000_000 // tf, 1_900_000_000_000 // tf)) * tf
    ts = [start + tf * s for s in np.cumsum([0, *steps]).tolist()]
    cols: list[list[float]] = [[], [], [], [], []]
    for _ in ts:
        o, c = draw(finite_price), draw(finite_price)
        h = max(o, c) + draw(st.floats(0, 1e3))
        l = min(o, c) * draw(st.floats(0.5, 1.0))
        for col, x in zip(cols, (o, h, l, c, draw(st.floats(0, 1e9)))):
            col.append(x)
    forms = draw(st.lists(st.sampled_from(["ms", "Z", "naive", "offset"]), min_size=n, max_size=n))
    offset = draw(st.integers(-12, 14))
    sep = draw(st.sampled_from([",", ", "]))
    lines = [draw(st.sampled_from(["timestamp,open,high,low,close,volume", "Timestamp, Open, High, Low, Close, Volume ",
                                   "TIMESTAMP,OPEN,HIGH,LOW,CLOSE,VOLUME"]))]
    for i, t in enumerate(ts):
        stamp = str(t) if forms[i] == "ms" else _iso(t, forms[i], offset)
        lines.append(sep.join([stamp, *(repr(col[i]) for col in cols)]))
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    text = draw(st.sampled_from(["", "\ufeff"])) + newline.join(lines) + draw(st.sampled_from(["", newline, newline * 2]))
    return text, (np.array(ts, dtype=np.int64), *map(np.array, cols)), tf_name, any(s > 1 for s in steps)


def _write(directory: str, data: bytes) -> Path:
    path = Path(directory) / "bars file.csv"
    path.write_bytes(data)
    return path


@PROPERTY
@given(candle_files(), st.sampled_from([2, 5, 65_536]), st.booleans())
def test_valid_files_round_trip(file, chunk_rows, slow_only):
    text, expected, tf_name, gaps = file
    with tempfile.TemporaryDirectory() as d, patch.object(ohlcv, "_CHUNK_ROWS", chunk_rows):
        path = _write(d, text.encode())
        if slow_only:  # the line-by-line path must agree with numpy's
            with patch.object(ohlcv, "_fast_chunk", lambda chunk: None):
                c = load_ohlcv_csv(path, "ETH/USDT", tf_name if len(expected[0]) == 1 else None)
        else:
            c = load_ohlcv_csv(path, "ETH/USDT", tf_name if len(expected[0]) == 1 else None)
    assert c.timeframe_ms == TIMEFRAME_MS[tf_name]
    for got, want in zip((c.ts, c.open, c.high, c.low, c.close, c.volume), expected):
        assert got.dtype == want.dtype and np.array_equal(got, want)
    assert bool(c.warnings) == gaps
    assert c.source == str(path)


def _corrupt(draw, data: bytes) -> bytes:
    lines = data.split(b"\n")
    kind = draw(st.sampled_from(["truncate", "field", "swap", "duplicate", "delete", "insert"]))
    if kind == "truncate":
        return data[: draw(st.integers(0, len(data)))]
    if kind == "insert":
        at = draw(st.integers(0, len(data)))
        return data[:at] + draw(st.binary(min_size=1, max_size=6)) + data[at:]
    i, j = draw(st.integers(0, len(lines) - 1)), draw(st.integers(0, len(lines) - 1))
    if kind == "field":
        fields = lines[i].split(b",")
        k = draw(st.integers(0, len(fields) - 1))
        fields[k] = draw(st.sampled_from([b"", b"nan", b"-inf", b"-1", b"0", b"1e400", b"abc", b"2024-13-01", b"\xff",
                                          b"\x00", b"9" * 25, b"1704067200", b" 12 ", "١٢".encode()])
                         | st.text(max_size=8).map(str.encode))
        lines[i] = b",".join(fields)
    elif kind == "swap":
        lines[i], lines[j] = lines[j], lines[i]
    elif kind == "duplicate":
        lines.insert(j, lines[i])
    else:
        del lines[i]
    return b"\n".join(lines)


@PROPERTY
@given(candle_files(), st.data(), st.sampled_from([3, 65_536]))
def test_corrupt_files_fail_cleanly(file, data, chunk_rows):
    text, _, tf_name, _ = file
    broken = _corrupt(data.draw, text.encode())
    timeframe = data.draw(st.sampled_from([None, tf_name]))
    with tempfile.TemporaryDirectory() as d, patch.object(ohlcv, "_CHUNK_ROWS", chunk_rows):
        path = _write(d, broken)
        try:
            c = load_ohlcv_csv(path, "BTC/USDT", timeframe)
        except UsageError as e:
            assert str(e).startswith(str(path)) and "\n" not in str(e), str(e)
            return
    assert len(c) >= 1 and c.timeframe_ms in TIMEFRAME_MS.values()
    assert np.all(np.diff(c.ts) > 0) and np.all(c.ts >= 10**11)
    for x in (c.open, c.high, c.low, c.close, c.volume):
        assert np.all(np.isfinite(x))
    assert np.all(c.low > 0) and np.all(c.volume >= 0)
    assert np.all(c.high >= np.maximum(c.open, c.close)) and np.all(c.low <= np.minimum(c.open, c.close))


@settings(max_examples=60, deadline=None, database=None)
@given(st.text(max_size=200))
def test_any_text_fails_cleanly(text):
    try:
        parse_ohlcv_text(text, "x.csv", "BTC/USDT")
    except UsageError as e:
        assert str(e).startswith("x.csv")


# --- streaming: a well-formed file is read a chunk of lines at a time --------------------------

def _walk(n: int, gap_after: int | None = None) -> list[str]:
    rows, price = [], 100.0
    for i in range(n):
        minute = i + (3 if gap_after is not None and i > gap_after else 0)
        o, price = price, price * (1.0 + 0.001 * ((i * 7919) % 13 - 6))
        rows.append(row(minute, o=o, h=max(o, price) + 0.25, l=min(o, price) - 0.25, c=price, v=0.5 + i % 5))
    return rows


@pytest.mark.parametrize("content, gaps", [
    (csv(*_walk(50)), 0),
    (csv(*_walk(50, gap_after=17)), 1),  # a gap: its warning names the same line
    ("\ufeff" + csv(*_walk(23)).replace("\n", "\r\n"), 0),  # a byte-order mark and Windows line ends
    (csv(*_walk(31)).rstrip("\n"), 0),  # no newline at the end
])
def test_a_streamed_file_is_read_as_the_whole_text_is(tmp_path, monkeypatch, content, gaps):
    monkeypatch.setattr(ohlcv, "_STREAM_ROWS", 4)  # many chunks, and boundaries inside every check
    monkeypatch.setattr(ohlcv, "_CHUNK_ROWS", 5)
    path = tmp_path / "data.csv"
    path.write_bytes(content.encode())
    whole = parse_ohlcv_text(content.removeprefix("\ufeff").replace("\r\n", "\n"), str(path), "BTC/USDT")
    with patch.object(ohlcv, "read_input", side_effect=AssertionError("read whole")):  # the stream alone
        streamed = load_ohlcv_csv(path, "BTC/USDT")
    assert streamed.timeframe_ms == whole.timeframe_ms == MIN and streamed.warnings == whole.warnings
    for column in ("ts", "open", "high", "low", "close", "volume"):
        assert getattr(streamed, column).tolist() == getattr(whole, column).tolist()
    assert len(streamed.warnings) == gaps and (not gaps or "after line 19" in streamed.warnings[0])  # row 17 is on line 19


@pytest.mark.parametrize("bad, line, says", [
    (row(21, h=1.0), 23, "high 1.0 is below"),  # a row problem in a later chunk
    (row(3), 23, "duplicate timestamp 2024-01-01T00:03:00Z (also on line 5)"),  # against a row chunks earlier
    ("\n", 23, None),  # a blank line: read whole, no problem
])
def test_a_problem_in_a_later_chunk_reads_as_the_whole_file_does(tmp_path, monkeypatch, bad, line, says):
    monkeypatch.setattr(ohlcv, "_STREAM_ROWS", 4)
    monkeypatch.setattr(ohlcv, "_CHUNK_ROWS", 5)
    rows = _walk(30)
    content = csv(*rows[:21], bad, *rows[22:])
    path = tmp_path / "data.csv"
    path.write_text(content)
    if says is None:
        assert load_ohlcv_csv(path, "BTC/USDT").ts.tolist() == parse_ohlcv_text(content, str(path), "BTC/USDT").ts.tolist()
        return
    with pytest.raises(UsageError) as streamed:
        load_ohlcv_csv(path, "BTC/USDT")
    with pytest.raises(UsageError) as whole:
        parse_ohlcv_text(content, str(path), "BTC/USDT")
    assert str(streamed.value) == str(whole.value) and str(streamed.value).startswith(f"{path}:{line}: ") and says in str(whole.value)
