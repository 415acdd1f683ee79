"""Parsers behind validate: `.env` files and each exchange's key-permission answer (sample
bodies as the exchanges document them)."""

from __future__ import annotations

from livegate.adapters.exchange.permissions import from_binance, from_bybit, from_coinbase, from_okx
from livegate.config.environment import load_env, parse_dotenv


def test_dotenv_lines_quotes_comments_and_problems():
    text = "# c\nexport A=1\nB = 'x y' # kept\nC=\"q\"\nD=v # comment\nnot a line\nE='open\n"
    settings, problems = parse_dotenv(text)
    assert {k: (s.value, s.source) for k, s in settings.items()} == {
        "A": ("1", ".env:2"), "B": ("x y", ".env:3"), "C": ("q", ".env:4"), "D": ("v", ".env:5")}
    assert problems == [".env:6: not a KEY=VALUE line", ".env:7 E: the quoted value is not closed"]


def test_the_process_environment_overrides_dotenv(tmp_path):
    (tmp_path / ".env").write_text("PAPER_MODE=true\nTRADING_HALTED=true\n")
    env = load_env(tmp_path, {"PAPER_MODE": "false", "UNRELATED": "x"})
    assert env.flag("PAPER_MODE") is False and env.where("PAPER_MODE") == "environment"
    assert env.flag("TRADING_HALTED") is True and env.where("TRADING_HALTED") == ".env:2"
    assert env.get("UNRELATED") is None


def test_binance_transfer_rights_count_as_withdrawal():
    body = {"ipRestrict": False, "createTime": 1698645219000, "enableReading": True, "enableWithdrawals": False,
            "enableInternalTransfer": False, "enableMargin": False, "enableFutures": False,
            "permitsUniversalTransfer": True, "enableVanillaOptions": False, "enableSpotAndMarginTrading": True}
    p = from_binance(body)
    assert (p.read, p.trade, p.withdraw, p.ip_restricted) == (True, True, True, False)
    assert p.withdraw_rights == ("permitsUniversalTransfer",)


def test_bybit_query_api():
    body = {"retCode": 0, "retMsg": "", "result": {
        "id": "13770661", "note": "x", "apiKey": "XXX", "readOnly": 0, "secret": "",
        "permissions": {"ContractTrade": ["Order", "Position"], "Spot": ["SpotTrade"], "Wallet": ["AccountTransfer"],
                        "Options": [], "Derivatives": [], "CopyTrading": [], "BlockTrade": [], "Exchange": [], "NFT": []},
        "ips": ["*"], "type": 1}}
    p = from_bybit(body)
    assert (p.read, p.trade, p.withdraw, p.ip_restricted) == (True, True, True, False)
    assert p.withdraw_rights == ("AccountTransfer",)
    body["result"].update(readOnly=1, permissions={"Wallet": []}, ips=["203.0.113.7"])
    p = from_bybit(body)
    assert (p.trade, p.withdraw, p.ip_restricted) == (False, False, True)


def test_okx_account_config():
    p = from_okx({"code": "0", "data": [{"uid": "1", "perm": "read_only,trade", "ip": "203.0.113.7"}]})
    assert (p.read, p.trade, p.withdraw, p.ip_restricted) == (True, True, False, True)
    p = from_okx({"code": "0", "data": [{"uid": "1", "perm": "read_only,withdraw", "ip": ""}]})
    assert (p.trade, p.withdraw, p.ip_restricted, p.withdraw_rights) == (False, True, False, ("withdraw",))


def test_coinbase_key_permissions():
    p = from_coinbase({"can_view": True, "can_trade": True, "can_transfer": False, "portfolio_uuid": "u", "portfolio_type": "DEFAULT"})
    assert (p.read, p.trade, p.withdraw, p.ip_restricted) == (True, True, False, None)
    assert from_coinbase({"can_view": True, "can_trade": False, "can_transfer": True}).withdraw is True
