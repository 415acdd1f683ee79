"""livegate — the gate between a trading strategy and real money."""

__version__ = "0.1.0"
