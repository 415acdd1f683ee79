"""How numbers and times read on every screen and in every report: money in fixed decimals,
percentages as `12.34 %`, measurements to a few significant digits — never in exponent form
(`3e-05`) and never as a negative zero (`-0.00`) — and timestamps short enough not to wrap."""

from __future__ import annotations

import math
import re

NONE = "—"
_NEGATIVE_ZERO = re.compile(r"-[0.,]*")


def _exponent(value: float, digits: int) -> int:
    """The power of ten of `value`'s first digit once rounded to `digits` significant digits."""
    return int(f"{abs(value):.{max(digits, 1) - 1}e}".split("e")[1])


def _clean(text: str) -> str:
    return text[1:] if _NEGATIVE_ZERO.fullmatch(text) else text


def _trimmed(text: str, keep: int = 0) -> str:
    """`text` without trailing zeros after the decimal point, keeping at least `keep` decimals."""
    if "." not in text:
        return text
    whole, decimals = text.split(".")
    decimals = decimals.rstrip("0").ljust(keep, "0")
    return f"{whole}.{decimals}" if decimals else whole


def fixed(value: float, decimals: int = 2) -> str:
    """`value` with `decimals` decimals and thousands separators; a value too small to show in
    them keeps two significant digits (0.00003, not 0.00) so that it does not read as zero."""
    if not math.isfinite(value):
        return str(value)
    if value != 0 and abs(value) < 0.5 * 10.0 ** -decimals:
        places = max(decimals, 1 - _exponent(value, 2))
        return _clean(_trimmed(f"{value:,.{places}f}", decimals))
    return _clean(f"{value:,.{decimals}f}")


def money(value: float | None, decimals: int = 2, sign: bool = False) -> str:
    """An amount of money: `1,234.50`; `sign` adds + to a gain (`+12.00`); — for none."""
    if value is None:
        return NONE
    text = fixed(float(value), decimals)
    return f"+{text}" if sign and value > 0 and not text.startswith("+") else text


def pct(value: float | None, decimals: int = 2) -> str:
    """A value already in percent: `12.34 %`; — for none."""
    return NONE if value is None else f"{fixed(float(value), decimals)} %"


def number(value: object, digits: int = 4) -> str:
    """A measured value or threshold: `digits` significant digits in plain decimals (0.00003,
    1,235, 12,346), whole numbers as they are, yes/no for a flag, — for none."""
    if value is None:
        return NONE
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        if value == 0:
            return "0"
        exponent = _exponent(value, digits)
        places = min(max(0, digits - 1 - exponent), 15)
        return _clean(_trimmed(f"{value:,.{places}f}"))
    if isinstance(value, list | tuple):
        return "[" + ", ".join(number(v, digits) for v in value) + "]"
    return str(value)


def when(iso: str | None) -> str:
    """A ledger timestamp (`2024-01-02T03:04:05.678901Z`) as `2024-01-02 03:04:05` (UTC), or ""."""
    return (iso or "")[:19].replace("T", " ")
