"""`livegate validate` end to end: ccxt's real client code against the local Binance emulator
(real HTTP, real HMAC signatures), git asked about `.env`, detect-secrets on the workspace."""

from __future__ import annotations

import json
import sqlite3

import pytest

from livegate.adapters.sandbox.defaults import DEFAULT_KEYS
from tests.conftest import by_id
from tests.envcheck.conftest import closed_port, git, set_config, write_env

ALL = {"config_schema_valid", "env_file_present", "env_file_not_tracked", "safe_flags_initial", "api_keys_present",
       "key_can_read", "key_can_trade", "key_withdrawal_disabled", "key_ip_whitelist", "signer_address_pinned",
       "exchange_latency_ms", "rpc_latency_ms", "chain_id_matches", "clock_skew_ms", "secret_findings",
       "allowlists_set", "rate_limits_set"}


def ledger_results(ws):
    conn = sqlite3.connect(ws / ".livegate" / "ledger.db")
    try:
        return [json.loads(p) for (p,) in conn.execute("SELECT payload FROM events WHERE kind = 'phase_result' ORDER BY id")]
    finally:
        conn.close()


def test_a_clean_workspace_passes_and_is_recorded_as_the_env_result(validate, env_ws, run_cli, operator_key):
    code, report, _ = validate()
    checks = by_id(report)
    assert code == 0, [c for c in report["checks"] if c["verdict"] not in ("pass", "skip")]
    assert set(checks) == ALL and report["verdict"] == "pass" and report["unreachable"] == []
    assert checks["key_withdrawal_disabled"]["evidence"]["source"] == "GET /sapi/v1/account/apiRestrictions"
    assert 0 <= checks["exchange_latency_ms"]["measured"] < 500 and checks["clock_skew_ms"]["measured"] < 1000
    assert checks["signer_address_pinned"]["verdict"] == "skip" and "chain.enabled is false" in checks["signer_address_pinned"]["message"]
    recorded = ledger_results(env_ws)
    assert [(r["step"], r["verdict"]) for r in recorded] == [("env", "pass")]
    signed = run_cli("-w", env_ws, "signoff", "env", "--by", "Ann", "--yes")
    assert signed.exit_code == 0, signed.output


def test_the_table_is_pre_commit_style(run_cli, env_ws):
    result = run_cli("-w", env_ws, "validate")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert any(line.startswith("key withdrawal disabled.") and line.endswith("Passed") for line in lines)
    assert any(line.startswith("signer address pinned.") and line.endswith("Skipped") for line in lines)
    assert "Next: `livegate signoff env --by NAME`." in result.stdout


@pytest.mark.parametrize("flags, detail", [
    ({"can_withdraw": True}, "enableWithdrawals"),
    ({"internal_transfer": True}, "enableInternalTransfer"),
    ({"universal_transfer": True}, "permitsUniversalTransfer"),
])
def test_a_key_that_can_move_funds_out_fails(validate, env_ws, new_key, flags, detail):
    key = new_key(**flags)
    write_env(env_ws, EXCHANGE_API_KEY=key.api_key, EXCHANGE_API_SECRET=key.secret)
    code, report, _ = validate()
    check = by_id(report)["key_withdrawal_disabled"]
    assert code == 1 and report["verdict"] == "fail"
    assert check["verdict"] == "fail" and check["evidence"]["withdraw_rights"] == [detail]
    assert "can move funds out" in check["message"]


def test_a_read_only_key_cannot_trade(validate, env_ws, new_key):
    key = new_key(can_trade=False)
    write_env(env_ws, EXCHANGE_API_KEY=key.api_key, EXCHANGE_API_SECRET=key.secret)
    code, report, _ = validate()
    checks = by_id(report)
    assert code == 1 and checks["key_can_trade"]["verdict"] == "fail" and checks["key_can_read"]["verdict"] == "pass"


def test_a_key_without_ip_whitelist_warns_but_does_not_block(validate, env_ws, new_key):
    key = new_key(ip_restrict=False)
    write_env(env_ws, EXCHANGE_API_KEY=key.api_key, EXCHANGE_API_SECRET=key.secret)
    code, report, _ = validate()
    assert by_id(report)["key_ip_whitelist"]["verdict"] == "warn"
    assert code == 0 and report["verdict"] == "pass"


def test_a_wrong_secret_is_a_clear_auth_error_and_never_shown(validate, env_ws, run_cli):
    bad = "wrong-secret-Zq81vT3k"
    write_env(env_ws, EXCHANGE_API_KEY=DEFAULT_KEYS["trader"].api_key, EXCHANGE_API_SECRET=bad)
    code, report, output = validate()
    check = by_id(report)["key_can_read"]
    assert code == 1 and check["verdict"] == "error"
    assert "refused the API credentials" in check["message"] and "-1022" in check["message"]
    human = run_cli("-w", env_ws, "validate")
    assert bad not in output and bad not in human.output
    assert bad not in (env_ws / ".livegate" / "ledger.db").read_bytes().decode("utf-8", "replace")


def test_a_skewed_exchange_clock_is_caught(validate, sandbox):
    sandbox.set_fault(clock_skew_ms=3000)
    code, report, _ = validate()
    check = by_id(report)["clock_skew_ms"]
    assert code == 1 and check["verdict"] == "fail"
    assert 2800 < check["measured"] < 3200 and "ahead of this machine's" in check["message"]


def test_a_429_storm_is_retried_then_reported_not_crashed(validate, sandbox):
    sandbox.set_fault(rate_limit_rate=1.0, retry_after_s=0)
    code, report, output = validate()
    check = by_id(report)["exchange_latency_ms"]
    assert code == 5 and check["verdict"] == "error"
    assert "after 3 attempts" in check["message"] and "rate-limiting" in check["message"]
    assert "Traceback" not in output


def test_an_intermittent_429_is_retried_and_counted(sandbox):
    from livegate.adapters.envcheck.venues import ExchangeProbe
    from livegate.adapters.exchange.retry import Retry

    sandbox.set_fault(rate_limit_rate=0.4, retry_after_s=0)
    client = sandbox.client()
    probe = ExchangeProbe(client, "sandbox", samples=8, retry=Retry(attempts=12, base_delay=0.01, venue="binance", client=client))
    timing = probe.timing()
    assert timing["samples"] == 8 and timing["retries"] >= 1 and timing["rate_limited"] == timing["retries"]


def test_an_unreachable_exchange_exits_5_naming_the_url(validate, env_ws):
    url = f"http://127.0.0.1:{closed_port()}"
    set_config(env_ws, exchange={"base_url": url})
    code, report, output = validate()
    assert code == 5 and report["unreachable"] and url in report["unreachable"][0]
    assert url in output and by_id(report)["exchange_latency_ms"]["verdict"] == "error"
    assert ledger_results(env_ws)[-1]["verdict"] == "fail"  # recorded, as a failure


def test_an_unreachable_rpc_exits_5_naming_the_url(validate, env_ws):
    url = f"http://127.0.0.1:{closed_port()}"
    set_config(env_ws, chain={"enabled": True, "rpc_url": url})
    code, report, output = validate()
    assert code == 5 and any(url in m for m in report["unreachable"])
    assert by_id(report)["rpc_latency_ms"]["verdict"] == "error" and url in by_id(report)["rpc_latency_ms"]["message"]


def test_on_a_testnet_the_permission_checks_do_not_apply(validate, env_ws):
    set_config(env_ws, exchange={"testnet": True})
    code, report, _ = validate()
    checks = by_id(report)
    assert code == 0, report
    for name in ("key_can_trade", "key_withdrawal_disabled", "key_ip_whitelist"):
        assert checks[name]["verdict"] == "skip" and "testnet" in checks[name]["message"]
    assert checks["key_can_read"]["verdict"] == "pass"


# -- .env and git ----------------------------------------------------------------------------------

def test_a_committed_env_in_git_history_fails(validate, env_ws):
    git(env_ws, "init", "-q")
    git(env_ws, "add", "-A")
    git(env_ws, "commit", "-qm", "init")
    git(env_ws, "add", "-f", ".env")
    git(env_ws, "commit", "-qm", "oops")
    git(env_ws, "rm", "-q", "--cached", ".env")
    git(env_ws, "commit", "-qm", "untrack it")
    code, report, _ = validate()
    check = by_id(report)["env_file_not_tracked"]
    assert code == 1 and check["verdict"] == "fail"
    assert len(check["evidence"]["commits"]) == 2 and not check["evidence"]["tracked"]
    assert "in the git history" in check["message"]
    scan = by_id(report)["secret_findings"]
    assert scan["verdict"] == "fail" and any(f["detector"] == "value of EXCHANGE_API_SECRET" and "commit" in f
                                              for f in scan["evidence"]["findings"])


def test_a_tracked_env_fails_and_a_clean_repo_passes(validate, env_ws):
    git(env_ws, "init", "-q")
    git(env_ws, "add", "-A")
    git(env_ws, "commit", "-qm", "init")
    code, report, _ = validate()
    assert code == 0 and by_id(report)["env_file_not_tracked"]["evidence"]["repository"]
    git(env_ws, "add", "-f", ".env")
    code, report, _ = validate()
    check = by_id(report)["env_file_not_tracked"]
    assert code == 1 and check["evidence"]["tracked"] and "git rm --cached .env" in check["message"]


def test_an_env_not_ignored_fails(validate, env_ws):
    (env_ws / ".gitignore").write_text(".livegate/\n")
    code, report, _ = validate()
    assert code == 1 and "not git-ignored" in by_id(report)["env_file_not_tracked"]["message"]


def test_a_missing_env_file_fails(validate, env_ws):
    (env_ws / ".env").unlink()
    code, report, _ = validate()
    checks = by_id(report)
    assert code == 1 and checks["env_file_present"]["verdict"] == "fail" and checks["api_keys_present"]["verdict"] == "fail"
    assert checks["key_can_read"]["verdict"] == "fail" and checks["exchange_latency_ms"]["verdict"] == "pass"


def test_unsafe_flags_and_bad_env_values_are_named_by_line(validate, env_ws):
    write_env(env_ws, EXCHANGE_API_KEY=DEFAULT_KEYS["trader"].api_key, EXCHANGE_API_SECRET=DEFAULT_KEYS["trader"].secret,
              LIVE_TRADING_ENABLED="true")
    code, report, _ = validate()
    assert code == 1
    assert "LIVE_TRADING_ENABLED is true (.env:4), must be false" in by_id(report)["safe_flags_initial"]["message"]
    recorded = len(ledger_results(env_ws))

    # a value livegate cannot use at all is a configuration error: exit 2, each named by line, nothing recorded
    write_env(env_ws, EXCHANGE_API_KEY=DEFAULT_KEYS["trader"].api_key, EXCHANGE_API_SECRET=DEFAULT_KEYS["trader"].secret,
              PAPER_MODE="maybe", MAX_TRADE_AMOUNT="-5")
    code, report, output = validate()
    assert code == 2 and report is None and "Traceback" not in output
    assert ".env:3 PAPER_MODE: must be true or false" in output and ".env:11 MAX_TRADE_AMOUNT: must be a positive, finite amount" in output
    assert len(ledger_results(env_ws)) == recorded


def test_allowlists_and_rate_limits(validate, env_ws):
    write_env(env_ws, EXCHANGE_API_KEY=DEFAULT_KEYS["trader"].api_key, EXCHANGE_API_SECRET=DEFAULT_KEYS["trader"].secret,
              ALLOW_EXCHANGES="kraken")
    set_config(env_ws, exchange={"rate_limit_per_minute": 5000})
    code, report, _ = validate()
    checks = by_id(report)
    assert code == 1
    assert "does not include exchange.id binance" in checks["allowlists_set"]["message"]
    assert "faster than binance's published pace (1200/min)" in checks["rate_limits_set"]["message"]


# -- the secret scan -------------------------------------------------------------------------------

def test_the_secret_scan_finds_keys_in_files_but_honours_the_allowlist_pragma(validate, env_ws):
    (env_ws / "strategies" / "notes.py").write_text(
        f'API = "{DEFAULT_KEYS["trader"].secret}"\n'
        'aws = "AKIAIOSFODNN7EXAMPLE"\n'
        'doc = "AKIAIOSFODNN7EXAMPLE"  # pragma: allowlist secret\n')
    code, report, output = validate()
    check = by_id(report)["secret_findings"]
    found = {(f["file"], f["line"], f["detector"]) for f in check["evidence"]["findings"]}
    assert code == 1 and check["measured"] == 2
    assert found == {("strategies/notes.py", 1, "value of EXCHANGE_API_SECRET"), ("strategies/notes.py", 2, "AWS Access Key")}
    assert DEFAULT_KEYS["trader"].secret not in output


def test_the_secret_scan_reads_git_history(validate, env_ws):
    git(env_ws, "init", "-q")
    (env_ws / "old.py").write_text('aws = "AKIAIOSFODNN7EXAMPLE"\n')
    git(env_ws, "add", "-A")
    git(env_ws, "commit", "-qm", "with a key")
    git(env_ws, "rm", "-q", "old.py")
    git(env_ws, "commit", "-qm", "removed it")
    code, report, _ = validate()
    check = by_id(report)["secret_findings"]
    assert code == 1 and check["evidence"]["commits_scanned"] == 2
    assert [(f["file"], f["detector"]) for f in check["evidence"]["findings"]] == [("old.py", "AWS Access Key")]


# -- an exchange whose permissions cannot be read --------------------------------------------------

def test_unreadable_permissions_fail_until_a_signed_attestation(validate, env_ws, run_cli, operator_key):
    set_config(env_ws, exchange={"id": "binanceus"})  # the same API; livegate has no permission reader for it
    write_env(env_ws, EXCHANGE_API_KEY=DEFAULT_KEYS["trader"].api_key, EXCHANGE_API_SECRET=DEFAULT_KEYS["trader"].secret,
              ALLOW_EXCHANGES="binanceus")
    code, report, _ = validate()
    check = by_id(report)["key_withdrawal_disabled"]
    assert code == 1 and check["verdict"] == "fail" and "--attest-no-withdrawal" in check["message"]
    code, report, output = validate("--attest-no-withdrawal", "--by", "Ann", "--yes")
    checks = by_id(report)
    assert code == 0, [c for c in report["checks"] if c["verdict"] not in ("pass", "skip")]
    assert checks["key_withdrawal_disabled"]["verdict"] == "pass" and "attested by Ann" in checks["key_withdrawal_disabled"]["message"]
    assert checks["key_ip_whitelist"]["verdict"] == "skip"
    verified = run_cli("-w", env_ws, "ledger", "verify")
    assert verified.exit_code == 0, verified.output
    # A different key is not covered by that attestation.
    write_env(env_ws, EXCHANGE_API_KEY=DEFAULT_KEYS["unrestricted"].api_key,
              EXCHANGE_API_SECRET=DEFAULT_KEYS["unrestricted"].secret, ALLOW_EXCHANGES="binanceus")
    code, report, _ = validate()
    assert code == 1 and by_id(report)["key_withdrawal_disabled"]["verdict"] == "fail"


def test_an_attestation_needs_a_name_and_the_operator_key(run_cli, env_ws):
    result = run_cli("-w", env_ws, "validate", "--attest-no-withdrawal", "--yes")
    assert result.exit_code == 2 and "--by NAME" in result.output


def test_a_broken_config_is_exit_2_naming_the_line_and_records_nothing(run_cli, env_ws):
    with (env_ws / "livegate.yaml").open("a") as fh:
        fh.write("exchange: [1\n")
    result = run_cli("-w", env_ws, "validate")
    assert result.exit_code == 2 and "livegate.yaml:" in result.output and "Traceback" not in result.output
    assert ledger_results(env_ws) == []
