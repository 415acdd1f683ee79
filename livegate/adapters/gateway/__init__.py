"""The Binance-compatible gateway a trader's own bot trades through (see server.py)."""
