"""What a strategy author imports: `Bar`, `OrderIntent`, `StrategyContext` and the `Strategy`
protocol. (`load_strategy` builds the workspace's configured strategy from `strategy.ref`.)"""

from livegate.config.strategy import load_strategy
from livegate.core.engine import Strategy, StrategyContext
from livegate.core.orders import Bar, OrderIntent

__all__ = ["Bar", "OrderIntent", "Strategy", "StrategyContext", "load_strategy"]
