"""A trade log: closed trades as parallel numpy arrays sorted by close time, plus the capital.

This is the input of the paper phase's evaluation (`livegate.core.metrics`,
`livegate.core.statistics`). numpy is imported inside the functions, never at module level,
so importing the pure core stays light.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from numbers import Integral, Real
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # numpy stays out of the import of the core (see the module docstring)
    import numpy as np
    from numpy.typing import ArrayLike, NDArray

DAY_MS = 86_400_000


@dataclass(frozen=True, eq=False)
class TradeLog:
    """Closed trades sorted by close time (UTC; a stable sort, so ties keep input order).

    Arrays (numpy, read-only, all of length N):
      - `closed_at_ms`: int64 epoch milliseconds, UTC, non-decreasing;
      - `gross`: float64 PnL before fees; `fee`: float64, ≥ 0; `net` = gross − fee;
      - `symbol`: object array of str; `side`: object array or None;
      - `opened_at_ms`: int64 array or None.
    `capital` is C, the starting capital (> 0, finite).

    Build one with `TradeLog.from_rows` or `TradeLog.from_arrays`; they validate and sort.
    """

    closed_at_ms: NDArray[np.int64]
    gross: NDArray[np.float64]
    fee: NDArray[np.float64]
    net: NDArray[np.float64]
    symbol: NDArray[np.object_]
    capital: float
    opened_at_ms: NDArray[np.int64] | None = None
    side: NDArray[np.object_] | None = None

    def __post_init__(self) -> None:
        import numpy as np

        _check_capital(self.capital)
        n = len(self.closed_at_ms)
        for name in ("gross", "fee", "net", "symbol", "opened_at_ms", "side"):
            value = getattr(self, name)
            if value is not None and len(value) != n:
                raise ValueError(f"TradeLog.{name} has {len(value)} entries, closed_at_ms has {n}")
        if n > 1 and bool(np.any(np.diff(self.closed_at_ms) < 0)):
            raise ValueError("TradeLog arrays must be sorted by close time; build it with TradeLog.from_rows")

    def __len__(self) -> int:
        return len(self.closed_at_ms)

    @classmethod
    def from_rows(cls, rows: Iterable[Mapping[str, object]], capital: float, pnl_is_net: bool = False) -> TradeLog:
        """Build a log from mappings with keys `closed_at_ms` (int epoch ms, UTC), `symbol`,
        `pnl`, `fee` (≥ 0) and optionally `side` and `opened_at_ms`.

        By default `pnl` is before fees: gross = pnl, net = pnl − fee. With `pnl_is_net` the
        given pnl already has the fee taken off: net = pnl, gross = pnl + fee.
        Raises ValueError naming the (0-based, input order) row index of the first bad row.
        """
        _check_capital(capital)
        closed: list[int] = []
        pnl: list[float] = []
        fee: list[float] = []
        symbol: list[str] = []
        side: list[object] = []
        opened: list[int | None] = []
        for i, row in enumerate(rows):
            if not isinstance(row, Mapping):
                raise ValueError(f"row {i}: expected a mapping, got {type(row).__name__}")
            for key in ("closed_at_ms", "symbol", "pnl", "fee"):
                if key not in row or row[key] is None:
                    raise ValueError(f"row {i}: missing {key}")
            closed.append(_epoch_ms(row["closed_at_ms"], i, "closed_at_ms"))
            pnl.append(_finite(row["pnl"], i, "pnl"))
            f = _finite(row["fee"], i, "fee")
            if f < 0:
                raise ValueError(f"row {i}: fee must be >= 0 (got {f!r})")
            fee.append(f)
            symbol.append(str(row["symbol"]))
            side.append(row.get("side"))
            o = row.get("opened_at_ms")
            opened.append(None if o is None else _epoch_ms(o, i, "opened_at_ms"))

        has_open = [o is not None for o in opened]
        if any(has_open) and not all(has_open):
            i = has_open.index(False)
            raise ValueError(f"row {i}: missing opened_at_ms while other rows have it")
        for i, (o, c) in enumerate(zip(opened, closed)):
            if o is not None and o > c:
                raise ValueError(f"row {i}: opened_at_ms {o} is after closed_at_ms {c}")
        return cls.from_arrays(
            closed,
            pnl,
            fee,
            capital,
            symbol=symbol,
            side=side if any(s is not None for s in side) else None,
            opened_at_ms=[o for o in opened if o is not None] if all(has_open) and opened else None,
            pnl_is_net=pnl_is_net,
        )

    @classmethod
    def from_arrays(
        cls,
        closed_at_ms: ArrayLike,
        pnl: ArrayLike,
        fee: ArrayLike,
        capital: float,
        symbol: Iterable[object] | None = None,
        side: Iterable[object] | None = None,
        opened_at_ms: ArrayLike | None = None,
        pnl_is_net: bool = False,
    ) -> TradeLog:
        """Vectorized constructor (for large imports): validates, then sorts stably by
        close time. `pnl` is gross unless `pnl_is_net` (then gross = pnl + fee)."""
        import numpy as np

        _check_capital(capital)
        closed = np.asarray(closed_at_ms)
        if closed.size == 0:
            closed = closed.astype(np.int64)
        elif not np.issubdtype(closed.dtype, np.integer):
            as_float = closed.astype(np.float64)
            bad = ~np.isfinite(as_float) | (as_float != np.round(as_float))
            if bad.any():
                i = int(np.argmax(bad))
                raise ValueError(f"row {i}: closed_at_ms must be an integer epoch in ms (got {closed[i]!r})")
            closed = as_float.astype(np.int64)
        closed = closed.astype(np.int64).reshape(-1)
        n = closed.size
        p = _float_array(pnl, n, "pnl")
        f = _float_array(fee, n, "fee")
        negative = f < 0
        if negative.any():
            i = int(np.argmax(negative))
            raise ValueError(f"row {i}: fee must be >= 0 (got {f[i]!r})")
        if pnl_is_net:
            net, gross = p, p + f
        else:
            gross, net = p, p - f
        sym = np.array([""] * n if symbol is None else [str(s) for s in symbol], dtype=object)
        if sym.size != n:
            raise ValueError(f"symbol has {sym.size} entries, closed_at_ms has {n}")
        sd = None if side is None else np.array(list(side), dtype=object)
        if sd is not None and sd.size != n:
            raise ValueError(f"side has {sd.size} entries, closed_at_ms has {n}")
        op = None if opened_at_ms is None else np.asarray(opened_at_ms, dtype=np.int64).reshape(-1)
        if op is not None:
            if op.size != n:
                raise ValueError(f"opened_at_ms has {op.size} entries, closed_at_ms has {n}")
            late = op > closed
            if late.any():
                i = int(np.argmax(late))
                raise ValueError(f"row {i}: opened_at_ms {op[i]} is after closed_at_ms {closed[i]}")

        order = np.argsort(closed, kind="stable")
        columns = (closed[order], gross[order], f[order], net[order], sym[order])
        opened_sorted = None if op is None else op[order]
        side_sorted = None if sd is None else sd[order]
        for value in (*columns, opened_sorted, side_sorted):
            if value is not None:
                value.setflags(write=False)
        return cls(*columns, capital=float(capital), opened_at_ms=opened_sorted, side=side_sorted)

    def slice(self, start: int | None = None, stop: int | None = None) -> TradeLog:
        """Trades [start:stop] in close order, with the same capital."""
        s = slice(start, stop)
        return TradeLog(
            closed_at_ms=self.closed_at_ms[s],
            gross=self.gross[s],
            fee=self.fee[s],
            net=self.net[s],
            symbol=self.symbol[s],
            capital=self.capital,
            opened_at_ms=None if self.opened_at_ms is None else self.opened_at_ms[s],
            side=None if self.side is None else self.side[s],
        )


def _check_capital(capital: object) -> None:
    if isinstance(capital, bool) or not isinstance(capital, Real) or not math.isfinite(capital) or capital <= 0:
        raise ValueError(f"capital must be a finite number > 0 (got {capital!r})")


def _finite(value: object, i: int, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, Real):
        raise ValueError(f"row {i}: {name} must be a number (got {value!r})")
    x = float(value)
    if not math.isfinite(x):
        raise ValueError(f"row {i}: {name} must be finite (got {value!r})")
    return x


def _epoch_ms(value: object, i: int, name: str) -> int:
    if isinstance(value, bool):
        raise ValueError(f"row {i}: {name} must be an integer epoch in ms (got {value!r})")
    if isinstance(value, Integral):
        return int(value)
    if isinstance(value, Real) and math.isfinite(value) and float(value).is_integer():
        return int(float(value))
    raise ValueError(f"row {i}: {name} must be an integer epoch in ms (got {value!r})")


def _float_array(values: ArrayLike, n: int, name: str) -> NDArray[np.float64]:
    import numpy as np

    try:
        arr = np.asarray(values, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError) as e:
        raise ValueError(f"{name}: not numbers ({e})") from e
    if arr.size != n:
        raise ValueError(f"{name} has {arr.size} entries, closed_at_ms has {n}")
    bad = ~np.isfinite(arr)
    if bad.any():
        i = int(np.argmax(bad))
        raise ValueError(f"row {i}: {name} must be finite (got {arr[i]!r})")
    return arr
