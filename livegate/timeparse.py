"""Parsing ISO 8601 UTC times in bulk."""

from __future__ import annotations

from typing import Any


def iso_utc_ms(plain: list[str]) -> Any:
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
