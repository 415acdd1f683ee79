from freqtrade.strategy import IStrategy
from pandas import DataFrame


class AlwaysIn(IStrategy):
    """Enters on every candle when flat; leaves at once (minimal ROI -1): round trips for a test."""

    INTERFACE_VERSION = 3
    timeframe = "1m"
    minimal_roi = {"0": -1}
    stoploss = -0.99
    process_only_new_candles = False
    startup_candle_count = 1

    def populate_indicators(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        return dataframe

    def populate_entry_trend(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        dataframe["enter_long"] = 1
        return dataframe

    def populate_exit_trend(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        dataframe["exit_long"] = 0
        return dataframe
