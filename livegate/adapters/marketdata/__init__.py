"""Market data: the candle arrays every feed produces (replay CSV, synthetic, ccxt)."""
