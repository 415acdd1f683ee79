"""ISO 8601 times to and from epoch milliseconds (UTC), one at a time or in bulk."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ONE_MS = timedelta(milliseconds=1)


def iso_to_ms(text: str) -> int:
    """Epoch milliseconds of an ISO 8601 time (`Z` or an offset; none means UTC). Raises
    ValueError (or OverflowError) when `text` is not one."""
    when = datetime.fromisoformat(text.strip())
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return (when - EPOCH) // ONE_MS


def ms_to_iso(ms: int) -> str:
    """`2024-01-01T00:05:00Z`, with milliseconds only when it has some."""
    try:
        when = EPOCH + int(ms) * ONE_MS
    except OverflowError:
        return str(int(ms))
    text = when.strftime("%Y-%m-%dT%H:%M:%S")
    return f"{text}.{when.microsecond // 1000:03d}Z" if when.microsecond else text + "Z"


def iso_utc_ms(plain: Sequence[str] | NDArray[np.str_] | NDArray[np.object_]) -> NDArray[np.int64] | None:
    """Epoch milliseconds of ISO 8601 times without an offset, all at once with numpy; None
    when numpy cannot read every one of them (the caller then parses one by one, to name the
    bad line)."""
    import warnings

    import numpy as np

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # numpy only warns about an offset it ignores
            ms = np.array(plain, dtype="datetime64[ms]").view(np.int64)
    except (ValueError, Warning):
        return None
    return None if np.any(ms == np.iinfo(np.int64).min) else ms  # NaT
