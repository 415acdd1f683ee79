"""Pointing a workspace at the sandbox edits values in place: comments and other lines stay."""

from __future__ import annotations

from livegate.adapters.sandbox.configure import set_env_values, set_yaml_scalars

CONFIG = """# top comment
exchange:
  id: binance
  base_url: null   # keep me
  testnet: true

chain:
  enabled: false
"""


def test_yaml_values_are_replaced_in_place_added_or_appended():
    out = set_yaml_scalars(CONFIG, {("exchange", "base_url"): "http://127.0.0.1:9", ("exchange", "testnet"): False,
                                    ("chain", "rpc_url"): "http://127.0.0.1:8", ("new", "x"): 3})
    assert out == """# top comment
exchange:
  id: binance
  base_url: "http://127.0.0.1:9"   # keep me
  testnet: false

chain:
  rpc_url: "http://127.0.0.1:8"
  enabled: false
new:
  x: 3
"""


def test_env_values_are_replaced_or_appended():
    out = set_env_values("# c\nEXCHANGE_API_KEY=\nexport PAPER_MODE=true\n", {"EXCHANGE_API_KEY": "k", "ALLOW_CHAINS": "anvil"})
    assert out == "# c\nEXCHANGE_API_KEY=k\nexport PAPER_MODE=true\nALLOW_CHAINS=anvil\n"
