"""Read another bot's closed trades (`livegate paper-import`): the trade-log CSV of SPEC §10,
JSONL with the same fields, a Freqtrade dry-run SQLite database and a Freqtrade backtest result.

Which of them can be a forward dry run (`--as-paper-result`, see `require_forward_dry_run`): a
Freqtrade database is the bot's own record of the trades it made while running (Freqtrade's
backtests never write one); a Freqtrade backtest result (`backtest-result-*.json`, or the `.zip`
newer versions write) never is; a CSV/JSONL trade log says nothing about where it came from, so
the operator's statement stands — and for every format only trades that closed after the env
sign-off count.

`import_trades` returns a `TradeLog` and a small dict of facts about the import (format,
rows read, rows skipped and why, the file's SHA-256, the quote currency, first and last
close). Every problem with the file is one `UsageError` naming the file and where:
`trades.csv:17: fee_quote -0.5 is negative; fees are >= 0`, or for a database
`dryrun.sqlite: trades id=7, close_date: ...`.
"""

from __future__ import annotations

import gc
import hashlib
import math
import re
from collections import Counter
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from livegate.adapters.freqtrade import read_trades_table
from livegate.core.errors import UsageError
from livegate.core.files import read_input
from livegate.core.timeparse import iso_to_ms, iso_utc_ms, ms_to_iso
from livegate.core.trades import TradeLog

FORMATS = ("csv", "jsonl", "freqtrade", "freqtrade-backtest")
BACKTEST_FORMATS = ("freqtrade-backtest",)  # never a forward dry run
ZIP_MAGIC = b"PK\x03\x04"
# A Freqtrade backtest result: one JSON object whose first key is `strategy` (an object of
# results by strategy name), `strategy_comparison` or `metadata`. A JSONL trade line may start
# with `"strategy": "name"` too, but there its value is a string.
_FREQTRADE_BACKTEST_HEAD = re.compile(rb'^\{\s*"(strategy"\s*:\s*\{|strategy_comparison"\s*:\s*\[|metadata"\s*:\s*\{)')
REQUIRED_COLUMNS = ("closed_at", "symbol", "side", "pnl_quote", "fee_quote")
OPTIONAL_COLUMNS = ("opened_at", "qty", "entry_price", "exit_price", "strategy")
SIDES = ("buy", "sell", "long", "short")
SQLITE_MAGIC = b"SQLite format 3\x00"
_NUMERIC = ("pnl_quote", "fee_quote", "qty", "entry_price", "exit_price")
_TEXT = ("closed_at", "opened_at", "symbol", "side", "strategy")

FREQTRADE_REQUIRED = ("id", "pair", "is_open", "close_date", "close_profit_abs", "fee_open", "fee_close", "amount", "open_rate")
FREQTRADE_OPTIONAL = ("open_trade_value", "close_rate", "is_short", "stake_currency", "open_date", "strategy", "max_stake_amount")



def import_trades(path: Path, capital: float, fmt: str | None = None, pnl_is_net: bool = False):
    """(TradeLog, facts) of the trades in `path`. `fmt` is one of FORMATS, or None to detect
    it from the content. `pnl_is_net`: the CSV/JSONL `pnl_quote` already has the fee taken off
    (a Freqtrade database's `close_profit_abs` always has)."""
    if fmt is not None and fmt not in FORMATS:
        raise UsageError(f"--format must be one of {', '.join(FORMATS)} (got {fmt!r})")
    path = Path(path)
    name = str(path)
    data = _read_bytes(path, name)
    detected = detect_format(data)
    source = "detected" if fmt is None else "--format"
    if fmt is None:
        fmt = detected
    elif fmt == "freqtrade" and detected != "freqtrade":
        raise UsageError(f"{name}: not a SQLite database, so not a Freqtrade database "
                         f"(a Freqtrade dry run keeps its trades in e.g. tradesv3.dryrun.sqlite)")
    elif fmt != "freqtrade" and detected == "freqtrade":
        raise UsageError(f"{name}: is a SQLite database, not {fmt.upper()} text; use --format freqtrade (or leave --format out)")
    elif fmt == "freqtrade-backtest" and detected != "freqtrade-backtest":
        raise UsageError(f"{name}: not a Freqtrade backtest result (the backtest-result-*.json or .zip that "
                         "`freqtrade backtesting --export trades` writes)")
    elif fmt != "freqtrade-backtest" and detected == "freqtrade-backtest":
        raise UsageError(f"{name}: is a Freqtrade backtest result, not {fmt.upper()}; use --format freqtrade-backtest (or leave --format out)")
    if fmt == "freqtrade":
        log, facts = _read_freqtrade(path, name, capital)
    elif fmt == "freqtrade-backtest":
        log, facts = _read_freqtrade_backtest(data, name, capital)
    else:
        with _gc_paused():
            columns = _csv_columns(data, name) if fmt == "csv" else _jsonl_columns(_decode(data, name), name)
            log, facts = _build_log(columns, name, capital, pnl_is_net)
    facts = {"file": name, "format": fmt, "format_from": source, "sha256": hashlib.sha256(data).hexdigest(), **facts}
    facts["first_close"] = ms_to_iso(int(log.closed_at_ms[0]))
    facts["last_close"] = ms_to_iso(int(log.closed_at_ms[-1]))
    return log, facts


FUTURE_TOLERANCE_MS = 5 * 60_000  # clocks of the bot's machine and this one may differ a little


def require_forward_dry_run(log: TradeLog, facts: dict[str, Any], env_signed_at: str, now_ms: int) -> None:
    """Refuse (UsageError, nothing recorded) trades that cannot be the paper phase result: a
    backtest file, any trade that closed at or before the env sign-off (`env_signed_at`, the
    ledger's ISO time) — the paper phase begins there — and any trade closing after now. The
    whole import is refused rather than the early trades dropped: the operator states the
    file is a forward dry run, and a file that is partly older is not one."""
    name = facts["file"]
    if facts["format"] in BACKTEST_FORMATS:
        raise UsageError(f"{name}: a Freqtrade backtest result: a backtest never counts as the paper phase result. "
                         "Import it without --as-paper-result (research evidence), or import the database of a forward "
                         "dry run (e.g. tradesv3.dryrun.sqlite)")
    since_ms = iso_to_ms(env_signed_at)
    closed = log.closed_at_ms
    early = int((closed <= since_ms).sum())
    if early:
        raise UsageError(f"{name}: {early} of {len(closed)} trades closed before the env sign-off ({env_signed_at}; "
                         f"the earliest at {facts['first_close']}); the paper phase result counts only trades a forward "
                         "dry run closed after it. Nothing was recorded: import only the later trades, or the whole "
                         "file without --as-paper-result (research evidence)")
    late = int((closed > now_ms + FUTURE_TOLERANCE_MS).sum())
    if late:
        raise UsageError(f"{name}: {late} of {len(closed)} trades close in the future (the latest at {facts['last_close']}, "
                         f"now is {ms_to_iso(now_ms)}); a dry run cannot have closed them yet. Nothing was recorded")


@contextmanager
def _gc_paused():
    """Reading a million rows makes millions of small lists and strings, none of them in a
    reference cycle; the cyclic collector would walk them again and again for nothing."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def detect_format(data: bytes) -> str:
    """`freqtrade` for a SQLite file, `freqtrade-backtest` for a ZIP archive or a JSON object
    that opens like a Freqtrade backtest result, `jsonl` when the first non-blank character is
    `{`, else `csv`."""
    if data.startswith(SQLITE_MAGIC):
        return "freqtrade"
    if data.startswith(ZIP_MAGIC):
        return "freqtrade-backtest"
    head = data[:4096].removeprefix(b"\xef\xbb\xbf").lstrip()
    if _FREQTRADE_BACKTEST_HEAD.match(head):
        return "freqtrade-backtest"
    return "jsonl" if head.startswith(b"{") else "csv"


def _read_bytes(path: Path, name: str) -> bytes:
    data = read_input(path, name)
    if not data or data.isspace():  # `not data.strip()`, without copying the file
        raise UsageError(f"{name}: the file is empty; expected a trade log ({', '.join(FORMATS)})")
    return data


def _decode(data: bytes, name: str) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise UsageError(f"{name}: the file is UTF-16 text; save it as UTF-8")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise UsageError(f"{name}:{line}: byte 0x{data[e.start]:02x} is not UTF-8 text; save the file as UTF-8") from None
    _refuse_nul(text, name)
    return text.removeprefix("\ufeff")


def _refuse_nul(text: str | bytes, name: str) -> None:
    """The text (or ASCII bytes) must hold no NUL: the error names its line."""
    nul, newline = ("\0", "\n") if isinstance(text, str) else (b"\0", b"\n")
    at = text.find(nul)
    if at >= 0:
        raise UsageError(f"{name}:{text.count(newline, 0, at) + 1}: contains a NUL byte; is this a binary file?")


# -- CSV and JSONL: both become columns of raw values with their line numbers ----------------------


class _Columns:
    """Raw values of the known columns, row by row, and each row's line number."""

    def __init__(self, fmt: str, present: tuple[str, ...]):
        self.fmt = fmt
        self.present = present  # optional columns the file has
        self.values: dict[str, list[Any]] = {c: [] for c in REQUIRED_COLUMNS + present}
        self.lines: list[int] = []
        self.skipped: Counter[str] = Counter()
        self.rows_read = 0


def _csv_columns(data: bytes, name: str) -> _Columns:
    if data.isascii():  # UTF-8 already: the text itself is needed only off the plain path
        text = None
        _refuse_nul(data, name)
    else:
        text = _decode(data, name)
    fast = _plain_csv_columns(data, name)
    if fast is not None:
        return fast
    if text is None:
        text = _decode(data, name)
    import csv
    import io

    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        if '"' in text:  # a quoted field may span lines: the reader says where each row ends
            numbered = [(reader.line_num, fields) for fields in reader]
            records, numbers = [f for _, f in numbered], [n for n, _ in numbered]
        else:  # no quoting: one row per line, split directly (3x faster than the csv module)
            lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
            if lines and lines[-1] == "":
                lines.pop()
            records = [line.split(",") if line else [] for line in lines]
            numbers = range(1, len(records) + 1)
    except csv.Error as e:
        raise UsageError(f"{name}:{reader.line_num}: not readable as CSV ({e})") from None
    head = next((i for i, f in enumerate(records) if any(x.strip() for x in f)), None)
    if head is None:
        raise UsageError(f"{name}: the file is empty; expected a header with {','.join(REQUIRED_COLUMNS)}")
    header = records[head]
    index = _header_index(header, numbers[head], name)
    cols = _Columns("csv", tuple(c for c in OPTIONAL_COLUMNS if c in index))
    body, lines = records[head + 1:], numbers[head + 1:]
    width = len(header)
    if set(map(len, body)) != {width} or [""] * width in body:  # blank lines or rows, or a bad row: look closer
        keep = [i for i, f in enumerate(body) if any(x.strip() for x in f)]
        empty_rows = sum(1 for f in body if f) - len(keep)
        if empty_rows:
            cols.skipped["empty row"] = empty_rows
        body, lines = [body[i] for i in keep], [lines[i] for i in keep]
    if not body:
        raise UsageError(f"{name}: no trades after the header")
    if set(map(len, body)) != {width}:
        bad = next(i for i, r in enumerate(body) if len(r) != width)
        got = len(body[bad])
        hint = "; the file looks truncated" if bad == len(body) - 1 and got < width else ""
        raise UsageError(f"{name}:{lines[bad]}: {got} fields, but the header has {width} columns{hint}")
    columns = list(zip(*body))
    for column in cols.values:
        cols.values[column] = list(columns[index[column]])
    cols.lines = lines
    cols.rows_read = len(body) + cols.skipped["empty row"]
    return cols


def _plain_csv_columns(data: bytes, name: str) -> _Columns | None:
    """The common export — no quotes, no CR, no blank lines, every row as wide as the header —
    located in one numpy pass over the bytes: each column becomes a `_Cells` (where its cells
    start and end), converted whole by `_build_log`. None when the file is not that plain:
    the general reader then finds and names any bad line."""
    import numpy as np

    if b'"' in data or b"\r" in data or not data.endswith(b"\n"):
        return None
    begin = 3 if data.startswith(b"\xef\xbb\xbf") else 0  # `_decode` dropped the BOM from the text
    head_end = data.find(b"\n", begin)
    header = data[begin:head_end].decode("utf-8").split(",")
    width = len(header)
    if width < 2:  # one column cannot hold the required ones; below, a comma on every line means no blank line
        if b"," not in data and b"\n\n" not in data and data.count(b"\n") >= 2:
            _header_index(header, 1, name)  # raises, naming line 1 as the plain reader always has
        return None
    raw = np.frombuffer(data, dtype=np.uint8)
    offset = np.int32 if len(data) < 2**31 - 64 else np.int64  # half the memory for files under 2 GB
    seps, newlines = [], 0
    for start in range(head_end + 1, len(raw), _CHUNK):  # in slices: small temporaries stay in memory already mapped
        chunk = raw[start:start + _CHUNK]
        newline = chunk == 10
        newlines += int(np.count_nonzero(newline))
        seps.append(np.flatnonzero(newline | (chunk == 44)).astype(offset) + offset(start))  # every comma and line end, in order
    seps = np.concatenate(seps) if seps else np.empty(0, dtype=offset)
    rows = len(seps) // width
    if rows < 1 or len(seps) != rows * width or newlines != rows:
        return None
    seps = seps.reshape(rows, width)  # row r: width - 1 commas, then its newline
    if not (raw[seps[:, -1]] == 10).all():
        return None
    index = _header_index(header, 1, name)
    cols = _Columns("csv", tuple(c for c in OPTIONAL_COLUMNS if c in index))
    line_starts = np.concatenate(([head_end + 1], seps[:-1, -1] + 1))
    for column in cols.values:
        c = index[column]
        cols.values[column] = _Cells(data, raw, line_starts if c == 0 else seps[:, c - 1] + 1, seps[:, c])
    if not cols.values[REQUIRED_COLUMNS[0]][0].strip():
        return None
    cols.lines = range(2, rows + 2)
    cols.rows_read = rows
    return cols


class _Cells:
    """One column of a plain CSV as the byte offsets of its cells in the file. It reads as a
    list of str (the row-by-row code and the error messages use it so); `numbers`, `times`
    and `distinct` convert the whole column in numpy, or return None when some cell is not
    plainly what they read, and the row-by-row code then decides about it. They work through
    the rows a slice at a time: small temporaries stay in the CPU cache and in memory already
    mapped (a fresh 100 MB temporary costs more in page faults than the arithmetic on it)."""

    def __init__(self, data: bytes, raw, starts, ends):
        self.data, self.raw, self.starts, self.ends = data, raw, starts, ends
        self.lens = ends - starts
        self._list: list[str] | None = None

    def __len__(self) -> int:
        return len(self.starts)

    def __getitem__(self, i: int) -> str:
        return self.data[self.starts[i]:self.ends[i]].decode("utf-8")

    def __iter__(self):
        return iter(self.tolist())

    def tolist(self) -> list[str]:
        if self._list is None:
            data = self.data
            self._list = [data[a:b].decode("utf-8") for a, b in zip(self.starts.tolist(), self.ends.tolist())]
        return self._list

    def rows(self, which) -> _Cells:
        return _Cells(self.data, self.raw, self.starts[which], self.ends[which])

    def _in_parts(self, convert, dtype):
        """`convert(cells, rows)` of each slice `rows` of `_ROWS` rows, joined; None if one gives None."""
        import numpy as np

        if len(self) <= _ROWS:
            return convert(self, slice(None))
        out = np.empty(len(self), dtype=dtype)
        for start in range(0, len(self), _ROWS):
            rows = slice(start, start + _ROWS)
            part = convert(self.rows(rows), rows)
            if part is None:
                return None
            out[rows] = part
        return out

    def words(self, count: int):
        """(rows, count) uint64: each cell's first 8·count bytes, little-endian, zero past its
        end; one gather per 8 bytes through an unaligned view of the file."""
        import numpy as np

        size = len(self.data)
        view = np.ndarray((size - 7,), dtype="<u8", buffer=self.data, strides=(1,))
        masks = np.array([(1 << 8 * k) - 1 for k in range(9)], dtype=np.uint64)
        out = np.empty((len(self), count), dtype=np.uint64)
        for k in range(count):
            at = self.starts + 8 * k
            keep = np.clip(self.lens - 8 * k, 0, 8)
            out[:, k] = view[np.minimum(at, size - 8)] & masks[keep]
            for i in np.flatnonzero((at > size - 8) & (keep > 0)).tolist():  # the last few bytes of the file
                out[i, k] = int.from_bytes(self.data[at[i]:at[i] + keep[i]], "little")
        return out

    def chars(self, width: int):
        """(width, rows) uint8: byte j of every cell in row j, zero past a cell's end (no cell
        holds a NUL: a file with one was refused)."""
        import numpy as np

        count = -(-width // 8)
        return np.ascontiguousarray(self.words(count).view(np.uint8).reshape(len(self), 8 * count)[:, :width].T)

    def numbers(self):
        """float64 of the cells, as `_number_column` reads them; None if some cell is not a finite number."""
        import numpy as np

        return self._in_parts(lambda part, _: part._numbers(), np.float64)

    def _numbers(self):
        """A plain decimal (`-12.345`, at most 15 digits) is its digits as an integer over a
        power of ten: both exact in a float64, so the one division rounds correctly, as
        `float` and numpy do. Other cells (`1e-05`, ` 3`) go through numpy as in `_number_column`."""
        import numpy as np

        n, lens = len(self), self.lens
        width = min(max(1, int(lens.max())), _PLAIN_NUMBER_CHARS)
        chars = self.chars(width)
        digits = np.zeros(n, dtype=np.int8)
        dots = np.zeros(n, dtype=np.int8)
        frac = np.zeros(n, dtype=np.int8)
        mantissa = np.zeros(n, dtype=np.int64)
        plain = (lens > 0) & (lens <= _PLAIN_NUMBER_CHARS)
        for j in range(width):
            c = chars[j]
            d = c - np.uint8(48)
            digit = d <= 9
            dot = c == 46
            plain &= digit | dot | (c == 0) | ((c == 45) if j == 0 else False)
            mantissa = np.where(digit, mantissa * 10 + d, mantissa)
            frac += digit & (dots > 0)
            dots += dot
            digits += digit
        plain &= (dots <= 1) & (digits >= 1) & (digits <= 15)
        pow10 = np.array([10.0 ** k for k in range(16)])  # exact: 10**15 < 2**53
        value = mantissa / pow10[np.where(plain, frac, 0)]
        value = np.where(chars[0] == 45, -value, value)
        if not plain.all():
            others = np.flatnonzero(~plain)
            try:
                converted = np.array([self[i] for i in others.tolist()], dtype=np.float64)
            except (TypeError, ValueError, OverflowError):
                return None
            if not np.isfinite(converted).all():
                return None
            value[others] = converted
        return value

    def times(self):
        """int64 epoch milliseconds when every cell is a plain UTC time (`YYYY-MM-DD`, or that
        and `[T ]HH:MM[:SS[.f…]]` with an optional `Z` or `+00:00`), else None."""
        import numpy as np

        if int(self.lens.max()) > 40:
            return None
        return self._in_parts(lambda part, _: part._times(), np.int64)

    def _times(self):
        import numpy as np

        lens = self.lens
        widths = np.flatnonzero(np.bincount(lens)).tolist()
        if len(widths) > 8 or widths[0] < 10:
            return None
        chars = self.chars(widths[-1])
        if len(widths) == 1:
            return _plain_times(chars, widths[0])
        out = np.empty(len(lens), dtype=np.int64)
        for width in widths:
            rows = np.flatnonzero(lens == width)
            ms = _plain_times(chars[:width, rows], width)
            if ms is None:
                return None
            out[rows] = ms
        return out

    def distinct(self):
        """(the distinct cells as str, each row's index into them): each cell's bytes hashed
        to one uint64, the hashes made unique, every row then checked against its group's first."""
        import numpy as np

        count = -(-int(self.lens.max()) // 8)
        if not 0 < count <= 8:
            return _distinct_list(self.tolist())

        def hashed(part: _Cells, _rows):
            words = part.words(count)
            key = words[:, 0].copy()
            for k in range(1, count):
                key = key * np.uint64(0x9E3779B97F4A7C15) + words[:, k]
            return key

        _, first, codes = np.unique(self._in_parts(hashed, np.uint64), return_index=True, return_inverse=True)
        codes = codes.reshape(-1)
        if count > 1:  # two different cells with one hash are unlikely, not impossible
            group_words = self.rows(first).words(count)

            def same(part: _Cells, rows):
                return (part.words(count) == group_words[codes[rows]]).all(axis=1)

            if not self._in_parts(same, bool).all():
                return _distinct_list(self.tolist())
        return [self[i] for i in first.tolist()], codes


_PLAIN_NUMBER_CHARS = 17  # a sign, 15 digits and the point
_CHUNK = 1 << 22  # bytes of the file scanned at a time for separators
_ROWS = 1 << 16  # cells converted at a time


def _plain_times(chars, width: int):
    """Epoch ms of cells `width` bytes long (`chars`: byte j of each in row j), or None unless
    every one is a valid `YYYY-MM-DD[(T| )HH:MM[:SS[.f…]]][Z|+00:00]` (no suffix on a bare date).
    Digits past the millisecond are dropped, as numpy and `datetime.fromisoformat` both do."""
    import numpy as np

    def all_are(p: int, allowed: bytes) -> bool:
        return bool(np.logical_or.reduce([chars[p] == b for b in allowed]).all())

    body = width
    if width > 16 and all(all_are(width - 6 + k, bytes([b])) for k, b in enumerate(b"+00:00")):
        body = width - 6
    elif width > 11 and all_are(width - 1, b"Z"):
        body = width - 1
    if not (body in (10, 16, 19) or 21 <= body <= 26):
        return None
    layout = {4: b"-", 7: b"-", 10: b"T ", 13: b":", 16: b":", 19: b"."}
    if not all(all_are(p, allowed) for p, allowed in layout.items() if p < body):
        return None
    digits = [p for p in range(body) if p not in layout]
    if not (chars[digits] - np.uint8(48) <= 9).all():
        return None

    def number(first: int, last: int):
        value = chars[first].astype(np.int64) - 48
        for p in range(first + 1, last):
            value = value * 10 + (chars[p] - np.uint8(48))
        return value

    year, month, day = number(0, 4), number(5, 7), number(8, 10)
    ms, ok = 0, True
    if body >= 16:
        hour = number(11, 13)
        ms = hour * 3_600_000 + number(14, 16) * 60_000
        ok = (hour <= 23) & (chars[14] <= ord("5"))
    if body >= 19:
        ms = ms + number(17, 19) * 1000
        ok &= chars[17] <= ord("5")
    if body >= 21:
        ms = ms + number(20, min(body, 23)) * 10 ** max(0, 23 - body)
    days, valid = _civil_days(year, month, day)
    if not (ok & valid).all():
        return None
    return days * 86_400_000 + ms


def _civil_days(year, month, day):
    """(days since 1970-01-01, valid) of proleptic Gregorian dates, by table look-ups."""
    import numpy as np

    y = np.arange(10_000)
    before = y - 1
    leap = (y % 4 == 0) & ((y % 100 != 0) | (y % 400 == 0))
    year_start = before * 365 + before // 4 - before // 100 + before // 400 - 719_162  # 0001-01-01 is day -719162
    month_start = np.array([0, 0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334])
    month_days = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])
    m = np.clip(month, 0, 12)
    in_leap = leap[year] & (m == 2)
    valid = (year >= 1) & (m == month) & (m >= 1) & (day >= 1) & (day <= month_days[m] + in_leap)
    days = year_start[year] + month_start[m] + (leap[year] & (m > 2)) + day - 1
    return days, valid


def _distinct_list(values) -> tuple[list, Any]:
    """(the distinct values in first-seen order, each row's index into them)."""
    import numpy as np

    table: dict[Any, int] = {}
    codes = np.fromiter((table.setdefault(v, len(table)) for v in values), dtype=np.intp, count=len(values))
    return list(table), codes


def _header_index(header: list[str], line: int, name: str) -> dict[str, int]:
    names = [h.strip().lower() for h in header]
    seen: dict[str, int] = {}
    for i, column in enumerate(names):
        if column in seen and column in REQUIRED_COLUMNS + OPTIONAL_COLUMNS:
            raise UsageError(f"{name}:{line}: the column {column} appears twice in the header")
        seen.setdefault(column, i)
    missing = [c for c in REQUIRED_COLUMNS if c not in seen]
    if missing:
        found = ",".join(h.strip() for h in header)
        if len(header) == 1 and any(c in header[0] for c in ";\t|"):
            hint = " (columns must be separated by commas)"
        elif header[0].lstrip().startswith("["):
            hint = " (a JSON array? write one JSON object per line: JSONL)"
        elif header[0].strip()[:1].isdigit():
            hint = " (the header line is missing)"
        else:
            hint = ""
        raise UsageError(f"{name}:{line}: missing column{'s' if len(missing) > 1 else ''} {', '.join(missing)}; "
                         f"the header needs {','.join(REQUIRED_COLUMNS)}, found {_show(found, 80)}{hint}")
    return seen


def _jsonl_columns(text: str, name: str) -> _Columns:
    import json

    records: list[tuple[int, dict]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise UsageError(f"{name}:{number}: not valid JSON ({e.msg} at column {e.colno})") from None
        if not isinstance(obj, dict):
            raise UsageError(f"{name}:{number}: expected one JSON object per line, found {_json_type(obj)}")
        records.append((number, obj))
    if not records:
        raise UsageError(f"{name}: the file is empty; expected one JSON object per line")
    present = tuple(c for c in OPTIONAL_COLUMNS if any(c in obj for _, obj in records))
    cols = _Columns("jsonl", present)
    for number, obj in records:
        for column in REQUIRED_COLUMNS:
            if obj.get(column) is None:
                raise UsageError(f"{name}:{number}: missing {column}" + (" (it is null)" if column in obj else ""))
        for column in cols.values:
            value = obj.get(column)
            if isinstance(value, bool) or isinstance(value, (dict, list)):
                raise UsageError(f"{name}:{number}: {column} must be a {'number' if column in _NUMERIC else 'string'}, "
                                 f"found {_json_type(value)}")
            if column in _TEXT and value is not None and not isinstance(value, str):
                raise UsageError(f"{name}:{number}: {column} must be a string"
                                 + (" (an ISO 8601 time such as 2024-01-31T12:00:00Z)" if column.endswith("_at") else "")
                                 + f", found {_json_type(value)} {value!r}")
            cols.values[column].append("" if value is None else value)
        cols.lines.append(number)
    cols.rows_read = len(records)
    return cols


def _json_type(value: Any) -> str:
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(type(value), "a number")


def _build_log(cols: _Columns, name: str, capital: float, pnl_is_net: bool):
    import numpy as np

    lines = cols.lines
    v = cols.values
    closed = _iso_column(v["closed_at"], lines, name, "closed_at")
    pnl = _number_column(v["pnl_quote"], lines, name, "pnl_quote")
    fee = _number_column(v["fee_quote"], lines, name, "fee_quote")
    negative = fee < 0
    if negative.any():
        i = int(np.argmax(negative))
        raise UsageError(f"{name}:{lines[i]}: fee_quote {_num(fee[i])} is negative; fees are >= 0")
    symbols, symbol_codes = _normalized(v["symbol"], str.strip)
    i = _first_row(symbol_codes, [not s for s in symbols])
    if i is not None:
        raise UsageError(f"{name}:{lines[i]}: symbol is empty")
    sides, side_codes = _normalized(v["side"], lambda s: s.strip().lower())
    wrong = _first_row(side_codes, [s not in SIDES for s in sides])
    if wrong is not None:
        raise UsageError(f"{name}:{lines[wrong]}: side {_show(v['side'][wrong])} is not one of {', '.join(SIDES)}")
    warnings: list[str] = []
    opened = None
    if "opened_at" in cols.present:
        column = v["opened_at"]
        opened = column.times() if isinstance(column, _Cells) else None
        if opened is None:
            texts = [s.strip() for s in column]
            given = [i for i, s in enumerate(texts) if s]
            parsed = _iso_column([texts[i] for i in given], [lines[i] for i in given], name, "opened_at") if given else None
            if len(given) == len(texts):
                opened = parsed
            else:
                warnings.append(f"opened_at is empty on {len(texts) - len(given)} of {len(texts)} rows; holding times are not used")
        if opened is not None:
            late = opened > closed
            if late.any():
                i = int(np.argmax(late))
                raise UsageError(f"{name}:{lines[i]}: opened_at {_show(column[i].strip())} is after closed_at {_show(str(v['closed_at'][i]).strip())}")
    quote, problem = _quote_currency(symbols)
    if problem:
        warnings.append(problem)
    facts: dict[str, Any] = {"rows_read": cols.rows_read, "trades": len(lines), "rows_skipped": sum(cols.skipped.values()),
                             "skipped": dict(cols.skipped), "quote_currency": quote, "pnl_is_net": pnl_is_net}
    if "strategy" in cols.present:
        facts["strategies"] = sorted(s for s in set(_normalized(v["strategy"], str.strip)[0]) if s)
        if len(facts["strategies"]) > 1:
            warnings.append(f"the file mixes {len(facts['strategies'])} strategies ({', '.join(facts['strategies'])}); they are evaluated as one account")
    facts["warnings"] = warnings
    try:
        log = TradeLog.from_arrays(closed, pnl, fee, capital, symbol=np.array(symbols, dtype=object)[symbol_codes],
                                   side=np.array(sides, dtype=object)[side_codes], opened_at_ms=opened, pnl_is_net=pnl_is_net)
    except ValueError as e:
        raise UsageError(f"{name}: {e}") from None
    return log, facts


def _normalized(values, normalize) -> tuple[list[str], Any]:
    """(`normalize` of each distinct value, each row's index into them): computed once per
    distinct value (symbols and sides repeat)."""
    distinct, codes = values.distinct() if isinstance(values, _Cells) else _distinct_list(values)
    return [normalize(value) for value in distinct], codes


def _first_row(codes, flags: list[bool]) -> int | None:
    """The first row whose distinct value is flagged, or None."""
    import numpy as np

    hit = np.array(flags, dtype=bool)[codes]
    return int(np.argmax(hit)) if hit.any() else None


def _number_column(values: list[Any], lines: list[int], name: str, column: str):
    """float64 array of a column; the first value that is not a finite number is named by line."""
    import numpy as np

    if isinstance(values, _Cells):
        arr = values.numbers()
        if arr is not None:
            return arr
        values = values.tolist()
    try:
        arr = np.array(values, dtype=np.float64)
        bad = ~np.isfinite(arr)
        first = int(np.argmax(bad)) if bad.any() else None
    except (TypeError, ValueError, OverflowError):
        first = next((i for i, value in enumerate(values) if _number_problem(value, column)), None)
        if first is None:
            arr = np.array([float(x) for x in values], dtype=np.float64)
    if first is not None:
        raise UsageError(f"{name}:{lines[first]}: {_number_problem(values[first], column) or f'{column} is not a number'}")
    return arr


def _number_problem(value: Any, column: str) -> str | None:
    if isinstance(value, str):
        s = value.strip()
        if not s:
            return f"{column} is empty"
        try:
            x = float(s)
        except ValueError:
            return f"{column} {_show(s)} is not a number"
    else:
        try:
            x = float(value)
        except (TypeError, ValueError, OverflowError):
            return f"{column} {_show(value)} is not a number"
    if not math.isfinite(x):
        return f"{column} {value!r} is not a finite number"
    return None


def _iso_column(values: list[Any], lines: list[int], name: str, column: str):
    """int64 epoch milliseconds of ISO 8601 times (a time without an offset is UTC): numpy
    for plain UTC times, `datetime.fromisoformat` row by row for the rest, which also names
    the first bad row."""
    import numpy as np

    if isinstance(values, _Cells):
        ms = values.times()
        if ms is not None:
            return ms
        values = values.tolist()
    plain = _plain_utc(values)
    if plain is not None:
        ms = iso_utc_ms(plain)
        if ms is not None:
            return ms
    texts = [s.strip() for s in values]
    out = np.empty(len(texts), dtype=np.int64)
    for i, s in enumerate(texts):
        try:
            out[i] = iso_to_ms(s)
        except (ValueError, OverflowError):
            what = f"{column} is empty" if not s else f"{column} {_show(s)} is not an ISO 8601 time (e.g. 2024-01-31T12:00:00Z)"
            raise UsageError(f"{name}:{lines[i]}: {what}") from None
    return out


def _plain_utc(values: list[str]) -> list[str] | None:
    """The times without a `Z`/`+00:00` suffix, for numpy to parse, or None when some are not
    plainly `YYYY-MM-DD...` (numpy also reads "now" and "2024-01", which are not taken here).
    Times of one width, the usual export, are checked column-wise on one joined string."""
    n = len(values)
    widths = set(map(len, values))
    if len(widths) == 1 and (w := widths.pop()) >= 10:
        joined = "".join(values)
        if joined[4::w] != "-" * n or joined[7::w] != "-" * n:
            return None
        for suffix in ("Z", "+00:00"):
            if w - len(suffix) >= 10 and all(joined[w - len(suffix) + k::w] == c * n for k, c in enumerate(suffix)):
                import numpy as np

                return np.array(values, dtype=f"U{w - len(suffix)}")  # a shorter width drops the suffix, in C
        return values
    plain = [s.strip().removesuffix("Z").removesuffix("+00:00") for s in values]
    if all(len(s) >= 10 and s[4:5] == "-" and s[7:8] == "-" for s in plain):
        return plain
    return None


def _quote_currency(symbols: list[str]) -> tuple[str | None, str | None]:
    """The quote currency all symbols share (`BTC/USDT`, `BTC/USDT:USDT` → USDT), None when
    some symbol does not say; a second value warns when they quote in several currencies."""
    quotes = set()
    for symbol in set(symbols):
        if "/" not in symbol:
            return None, None
        quotes.add(symbol.split("/", 1)[1].split(":", 1)[0].strip().upper())
    if len(quotes) == 1:
        return quotes.pop(), None
    return None, f"the symbols quote in several currencies ({', '.join(sorted(quotes))}); their PnL is added up as if in one"


# -- Freqtrade ----------------------------------------------------------------------------------


def _read_freqtrade(path: Path, name: str, capital: float):
    """Closed trades of a Freqtrade dry-run database's `trades` table.

    `close_profit_abs` is Freqtrade's realized profit, already net of both fees. The fees are
    fee_open × open value + fee_close × close value, the values being amount × rate (the open
    value from `open_trade_value`, which Freqtrade stores with the open fee included, when the
    column is there). A short (`is_short = 1`) keeps its sign: its profit is what it is.

    The trade unit: a row is one trade, entry to flat — Freqtrade already adds an order's
    partial fills into the order and the orders into the row, as livegate adds fills into one
    trade per reducing order. The two differ only for a row that exited in parts (position
    adjustment): livegate would count each exit order. Such a row is recognised by its stake:
    Freqtrade leaves `amount` at what the last exit sold, so amount × open_rate falls short of
    `max_stake_amount`, all that was bought. Its exit orders are in the `orders` table, which
    this reader does not split; the facts warn, naming the rows, and their fees are estimated
    from the last exit's amount."""

    wanted, rows = read_trades_table(path, name, tuple(FREQTRADE_REQUIRED), tuple(FREQTRADE_OPTIONAL))

    skipped: Counter[str] = Counter()
    closed, net, fee, symbol, side, opened, stakes, strategies = [], [], [], [], [], [], [], set()
    in_parts: list[int] = []
    for raw in rows:
        row = dict(zip(wanted, raw))
        where = f"{name}: trades id={row['id']}"
        if _flag(row["is_open"], where, "is_open"):
            skipped["open trade (is_open = 1)"] += 1
            continue
        if row["close_date"] is None:
            skipped["closed without a close_date"] += 1
            continue
        closed_ms = _db_time(row["close_date"], where, "close_date")
        profit = _db_number(row["close_profit_abs"], where, "close_profit_abs", "a closed trade has its profit")
        fee_open = _db_number(row["fee_open"], where, "fee_open", nullable=True) or 0.0
        fee_close = _db_number(row["fee_close"], where, "fee_close", nullable=True) or 0.0
        for column, rate in (("fee_open", fee_open), ("fee_close", fee_close)):
            if rate < 0:
                raise UsageError(f"{where}, {column}: {_num(rate)} is negative; a fee rate is >= 0")
        short = _flag(row.get("is_short"), where, "is_short")
        amount = _db_number(row["amount"], where, "amount", "the fees need it")
        open_rate = _db_number(row["open_rate"], where, "open_rate", "the fees need it")
        for column, value in (("amount", amount), ("open_rate", open_rate)):
            if value <= 0:
                raise UsageError(f"{where}, {column}: {_num(value)} must be > 0")
        sign = -1.0 if short else 1.0
        max_stake = _db_number(row.get("max_stake_amount"), where, "max_stake_amount", nullable=True)
        if max_stake is not None and amount * open_rate < max_stake * (1 - 1e-3):
            in_parts.append(row["id"])
        open_trade_value = _db_number(row.get("open_trade_value"), where, "open_trade_value", nullable=True)
        open_value = open_trade_value / (1 + sign * fee_open) if open_trade_value else amount * open_rate
        close_rate = _db_number(row.get("close_rate"), where, "close_rate", nullable=True)
        if close_rate is not None:
            close_value = amount * close_rate
        else:  # Freqtrade: profit = ±(open value incl. fee − close value net of fee)
            close_value = (open_value * (1 + sign * fee_open) + sign * profit) / (1 - sign * fee_close)
        if close_value < 0:
            raise UsageError(f"{where}, close_rate: the close value {_num(close_value)} is negative")
        closed.append(closed_ms)
        net.append(profit)
        fee.append(fee_open * open_value + fee_close * close_value)
        pair = row["pair"]
        if not isinstance(pair, str) or not pair.strip():
            raise UsageError(f"{where}, pair: empty")
        symbol.append(pair.strip())
        side.append("short" if short else "long")
        if "open_date" in row:
            opened.append(None if row["open_date"] is None else _db_time(row["open_date"], where, "open_date"))
            if opened[-1] is not None and opened[-1] > closed_ms:
                raise UsageError(f"{where}, open_date: {row['open_date']} is after close_date {row['close_date']}")
        stakes.append((row.get("stake_currency") or "").strip().upper() or None)
        if row.get("strategy"):
            strategies.add(str(row["strategy"]))

    described = ", ".join(f"{n} {why}" for why, n in skipped.items())
    if not closed:
        raise UsageError(f"{name}: no closed trades in the trades table" + (f" ({described})" if described else " (it is empty)"))
    currency = _stake_currency(stakes, symbol, name)
    if opened and any(o is None for o in opened):
        opened = []
    try:
        log = TradeLog.from_arrays(closed, net, fee, capital, symbol=symbol, side=side, opened_at_ms=opened or None, pnl_is_net=True)
    except ValueError as e:
        raise UsageError(f"{name}: {e}") from None
    facts = {"rows_read": len(rows), "trades": len(closed), "rows_skipped": sum(skipped.values()), "skipped": dict(skipped),
             "quote_currency": currency, "stake_currency": currency, "pnl_is_net": True, "strategies": sorted(strategies),
             "warnings": []}
    if len(strategies) > 1:
        facts["warnings"].append(f"the database holds {len(strategies)} strategies ({', '.join(sorted(strategies))}); they are evaluated as one account")
    if in_parts:
        shown = ", ".join(str(i) for i in in_parts[:10]) + (f" and {len(in_parts) - 10} more" if len(in_parts) > 10 else "")
        facts["warnings"].append(f"{len(in_parts)} closed trade{'s' if len(in_parts) > 1 else ''} exited in parts (trades id {shown}): "
                                 "each counts as one trade here, where livegate's own runs count one trade per exit order, "
                                 "and its fees are estimated from the amount of its last exit")
    return log, facts


def _stake_currency(stakes: list[str | None], symbols: list[str], name: str) -> str | None:
    """The one stake currency of the closed trades: the `stake_currency` column, or for a row
    without one the pair's quote currency (Freqtrade pairs are BASE/STAKE)."""
    per_trade = [s or (sym.split("/", 1)[1].split(":", 1)[0].strip().upper() if "/" in sym else None) for s, sym in zip(stakes, symbols)]
    counts = Counter(c for c in per_trade if c)
    if len(counts) > 1:
        listed = ", ".join(f"{c} ({n} trade{'s' if n > 1 else ''})" for c, n in counts.most_common())
        raise UsageError(f"{name}: the closed trades are in several stake currencies: {listed}; "
                         "livegate evaluates one account in one currency")
    return next(iter(counts), None)


# -- Freqtrade backtest results ---------------------------------------------------------------------

FREQTRADE_BACKTEST_REQUIRED = ("pair", "profit_abs", "amount", "open_rate", "fee_open", "fee_close")  # the order read below


def _read_freqtrade_backtest(data: bytes, name: str, capital: float):
    """Closed trades of a Freqtrade backtest result (`freqtrade backtesting --export trades`):
    `{"strategy": {NAME: {"trades": [...], "stake_currency": ...}}, "strategy_comparison": [...]}`,
    as a JSON file or inside the `.zip` newer Freqtrade versions write. One strategy per file.
    `profit_abs` is net of both fees, as in the database; the fees are fee_open × amount ×
    open_rate + fee_close × amount × close_rate."""
    result = _backtest_document(data, name)
    strategies = result.get("strategy")
    if not isinstance(strategies, dict) or not strategies:
        raise UsageError(f"{name}: a Freqtrade backtest result without a `strategy` object of results")
    if len(strategies) > 1:
        raise UsageError(f"{name}: holds the backtests of {len(strategies)} strategies ({', '.join(sorted(map(str, strategies)))}); "
                         "livegate evaluates one: export one strategy's backtest")
    strategy, stats = next(iter(strategies.items()))
    trades = stats.get("trades") if isinstance(stats, dict) else None
    if not isinstance(trades, list):
        raise UsageError(f"{name}: strategy {strategy}: no `trades` list (export with `--export trades`)")
    skipped: Counter[str] = Counter()
    closed, net, fee, symbol, side, opened = [], [], [], [], [], []
    for i, trade in enumerate(trades):
        where = f"{name}: strategy {strategy} trades[{i}]"
        if not isinstance(trade, dict):
            raise UsageError(f"{where}: expected an object, found {_json_type(trade)}")
        missing = [c for c in FREQTRADE_BACKTEST_REQUIRED if trade.get(c) is None]
        if missing:
            raise UsageError(f"{where}: missing {', '.join(missing)}")
        if _flag(trade.get("is_open"), where, "is_open"):
            skipped["open at the end of the backtest"] += 1
            continue
        closed.append(_backtest_time(trade, "close", where))
        if trade.get("open_date") is not None or trade.get("open_timestamp") is not None:
            opened.append(_backtest_time(trade, "open", where))
        profit, amount, open_rate, fee_open, fee_close = (float(_db_number(trade[c], where, c) or 0.0) for c in FREQTRADE_BACKTEST_REQUIRED[1:])
        close_rate = _db_number(trade.get("close_rate"), where, "close_rate", nullable=True)
        for column, value in (("amount", amount), ("open_rate", open_rate)):
            if value <= 0:
                raise UsageError(f"{where}, {column}: {_num(value)} must be > 0")
        for column, rate in (("fee_open", fee_open), ("fee_close", fee_close)):
            if rate < 0:
                raise UsageError(f"{where}, {column}: {_num(rate)} is negative; a fee rate is >= 0")
        net.append(profit)
        fee.append(fee_open * amount * open_rate + fee_close * amount * (open_rate if close_rate is None else close_rate))
        pair = trade["pair"]
        if not isinstance(pair, str) or not pair.strip():
            raise UsageError(f"{where}, pair: empty")
        symbol.append(pair.strip())
        side.append("short" if _flag(trade.get("is_short"), where, "is_short") else "long")
    if not closed:
        raise UsageError(f"{name}: strategy {strategy}: no closed trades in the backtest")
    if len(opened) != len(closed):
        opened = []
    currency = stats.get("stake_currency") if isinstance(stats.get("stake_currency"), str) else None
    try:
        log = TradeLog.from_arrays(closed, net, fee, capital, symbol=symbol, side=side, opened_at_ms=opened or None, pnl_is_net=True)
    except ValueError as e:
        raise UsageError(f"{name}: {e}") from None
    facts = {"rows_read": len(trades), "trades": len(closed), "rows_skipped": sum(skipped.values()), "skipped": dict(skipped),
             "quote_currency": currency.strip().upper() if currency else _quote_currency(symbol)[0], "pnl_is_net": True,
             "strategies": [str(strategy)], "warnings": []}
    for key in ("backtest_start", "backtest_end"):
        if isinstance(stats.get(key), str):
            facts[key] = stats[key]
    return log, facts


def _backtest_document(data: bytes, name: str) -> dict:
    """The backtest result object: the file itself, or the result JSON inside a `.zip`."""
    import io
    import json
    import zipfile

    if not data.startswith(ZIP_MAGIC):
        try:
            document = json.loads(_decode(data, name))
        except json.JSONDecodeError as e:
            raise UsageError(f"{name}:{e.lineno}: not valid JSON ({e.msg} at column {e.colno})") from None
        if not isinstance(document, dict):
            raise UsageError(f"{name}: expected a Freqtrade backtest result (a JSON object), found {_json_type(document)}")
        return document
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            for member in archive.infolist():
                if not member.filename.endswith(".json") or member.filename.endswith(("_config.json", ".meta.json")):
                    continue
                if member.file_size > 1 << 31:
                    raise UsageError(f"{name}: {member.filename} is too large to read")
                try:
                    document = json.loads(archive.read(member).decode("utf-8"))
                except (UnicodeDecodeError, json.JSONDecodeError):
                    continue
                if isinstance(document, dict) and isinstance(document.get("strategy"), dict):
                    return document
    except (zipfile.BadZipFile, OSError, RuntimeError, NotImplementedError) as e:
        raise UsageError(f"{name}: not a readable ZIP archive ({e})") from None
    raise UsageError(f"{name}: a ZIP archive without a Freqtrade backtest result in it (a .json with a `strategy` object)")


def _backtest_time(trade: dict, which: str, where: str) -> int:
    """A trade's `close_date` / `open_date` (`2024-01-31 12:00:00+00:00`), else its
    `close_timestamp` / `open_timestamp` (epoch milliseconds)."""
    text, stamp = trade.get(f"{which}_date"), trade.get(f"{which}_timestamp")
    if text is not None:
        return _db_time(text, where, f"{which}_date")
    if isinstance(stamp, int) and not isinstance(stamp, bool):
        return stamp
    raise UsageError(f"{where}: missing {which}_date")


def _flag(value: Any, where: str, column: str) -> bool:
    if value in (None, 0, 1, "0", "1"):
        return value in (1, "1")
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise UsageError(f"{where}, {column}: {value!r} is not a boolean (0 or 1)")


def _db_number(value: Any, where: str, column: str, why: str = "", nullable: bool = False) -> float | None:
    if value is None:
        if nullable:
            return None
        raise UsageError(f"{where}, {column}: empty" + (f" ({why})" if why else ""))
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            raise UsageError(f"{where}, {column}: {_show(value)} is not a number") from None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise UsageError(f"{where}, {column}: {value!r} is not a finite number")
    return float(value)


def _db_time(value: Any, where: str, column: str) -> int:
    """Freqtrade writes naive UTC times (`2024-01-31 12:00:00.123456`)."""
    if isinstance(value, str):
        try:
            return iso_to_ms(value.strip())
        except (ValueError, OverflowError):
            pass
    raise UsageError(f"{where}, {column}: {value!r} is not a date and time (expected e.g. 2024-01-31 12:00:00.000000, UTC)")


def _num(x: float) -> str:
    return repr(float(x))


def _show(s: Any, width: int = 40) -> str:
    s = str(s)
    return repr(s if len(s) <= width else s[:width] + "…")
