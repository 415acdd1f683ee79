"""The signer check: the address derived from a keystore or an env key, pinned by
ALLOW_SIGNER_ADDRESSES; the key itself never appears anywhere."""

from __future__ import annotations

import json

from eth_account import Account

from livegate.adapters.sandbox.defaults import DEFAULT_KEYS
from tests.conftest import by_id
from tests.envcheck.conftest import closed_port, set_config, write_env

# Anvil's first well-known development account (public test key, never holds real funds).
DEV_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
DEV_ADDRESS = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"


def chain_ws(env_ws, **env):
    set_config(env_ws, chain={"enabled": True, "rpc_url": f"http://127.0.0.1:{closed_port()}"})
    trader = DEFAULT_KEYS["trader"]
    write_env(env_ws, EXCHANGE_API_KEY=trader.api_key, EXCHANGE_API_SECRET=trader.secret, **env)


def test_an_env_key_whose_address_is_pinned_passes_with_a_note(validate, env_ws):
    chain_ws(env_ws, SIGNER_PRIVATE_KEY=DEV_KEY, ALLOW_SIGNER_ADDRESSES=DEV_ADDRESS.lower())
    _, report, output = validate()
    check = by_id(report)["signer_address_pinned"]
    assert check["verdict"] == "pass" and check["evidence"]["address"] == DEV_ADDRESS
    assert "use a keystore" in check["message"]
    assert DEV_KEY not in output and DEV_KEY[2:] not in output


def test_an_address_not_pinned_fails(validate, env_ws):
    chain_ws(env_ws, SIGNER_PRIVATE_KEY=DEV_KEY, ALLOW_SIGNER_ADDRESSES="0x" + "11" * 20)
    _, report, _ = validate()
    check = by_id(report)["signer_address_pinned"]
    assert check["verdict"] == "fail" and f"{DEV_ADDRESS} is not in ALLOW_SIGNER_ADDRESSES" in check["message"]


def test_a_keystore_is_opened_with_its_password(validate, env_ws):
    keystore = Account.encrypt(DEV_KEY, "correct horse", kdf="pbkdf2", iterations=1000)
    keystore["address"] = "00" * 20  # a keystore's own address field is not trusted
    (env_ws / "signer.json").write_text(json.dumps(keystore))
    chain_ws(env_ws, SIGNER_KEYSTORE_PATH="signer.json", SIGNER_KEYSTORE_PASSWORD="correct horse", ALLOW_SIGNER_ADDRESSES=DEV_ADDRESS)
    _, report, output = validate()
    check = by_id(report)["signer_address_pinned"]
    assert check["verdict"] == "pass" and check["evidence"] == {"address": DEV_ADDRESS, "signer": "keystore", "allowed": [DEV_ADDRESS]}
    assert check["message"] == "" and "correct horse" not in output


def test_a_wrong_keystore_password_is_a_clear_error(validate, env_ws):
    keystore = Account.encrypt(DEV_KEY, "right", kdf="pbkdf2", iterations=1000)
    (env_ws / "signer.json").write_text(json.dumps(keystore))
    chain_ws(env_ws, SIGNER_KEYSTORE_PATH="signer.json", SIGNER_KEYSTORE_PASSWORD="n0t-the-pa55", ALLOW_SIGNER_ADDRESSES=DEV_ADDRESS)
    _, report, _ = validate()
    check = by_id(report)["signer_address_pinned"]
    assert check["verdict"] == "error" and "signer.json cannot be opened (wrong password)" in check["message"]


def test_no_signer_with_a_chain_enabled_fails(validate, env_ws):
    chain_ws(env_ws)
    _, report, _ = validate()
    checks = by_id(report)
    assert checks["signer_address_pinned"]["verdict"] == "fail"
    assert "SIGNER_KEYSTORE_PATH or SIGNER_PRIVATE_KEY" in checks["api_keys_present"]["message"]
    assert "ALLOW_CHAINS" in checks["allowlists_set"]["message"] and "ALLOW_TOKENS is empty" in checks["allowlists_set"]["message"]
