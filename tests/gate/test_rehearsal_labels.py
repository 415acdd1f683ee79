"""Rehearsal labels: a result obtained on the local sandbox, the exchange's test network or
synthetic market data is recorded as a rehearsal (with why) and shown so by `status`; a result
on the venue itself is not. The gate treats both alike: a rehearsal's sign-off opens its own
workspace's next step (the demo walks the ladder that way), and no rule is loosened for it."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from livegate.adapters.exchange.venue import BASE_URL_ENV, rehearsal_venue
from tests.live.conftest import events
from tests.protocol_helpers import sign_off

SANDBOX = "the exchange is {url}, on this machine (the local sandbox), not binance itself"


@pytest.mark.parametrize(("base_url", "env_url", "testnet", "step", "expected"), [
    (None, None, False, "paper", None),
    ("https://api.binance.com", None, False, "paper", None),  # a proxy elsewhere: the venue's own data and orders
    ("http://127.0.0.1:8765", None, False, "paper", SANDBOX.format(url="http://127.0.0.1:8765")),
    ("http://localhost:9000/api", None, False, "4.1a", SANDBOX.format(url="http://localhost:9000/api")),
    ("http://[::1]:9000", None, False, "env", SANDBOX.format(url="http://[::1]:9000")),
    (None, "http://127.0.0.2:81", False, "paper", SANDBOX.format(url="http://127.0.0.2:81")),  # 127.0.0.0/8 from the environment
    ("http://10.0.0.5:8765", None, False, "paper", None),  # another machine
    (None, None, True, "4.1a", "exchange.testnet is on: binance's test network, no real money"),
    (None, None, True, "testnet", None),  # the testnet step is meant to run on the test network
])
def test_which_venues_are_a_rehearsal(monkeypatch, base_url, env_url, testnet, step, expected):
    if env_url:
        monkeypatch.setenv(BASE_URL_ENV, env_url)
    section = SimpleNamespace(id="binance", base_url=base_url, testnet=testnet)
    assert rehearsal_venue(section, step) == expected


def test_a_result_on_the_venue_itself_is_not_a_rehearsal_and_one_on_this_machine_is(workspace, operator_key, run_cli, monkeypatch):
    sign_off(workspace, operator_key, "env")
    [env] = events(workspace, "phase_result")
    assert env["rehearsal"] is False and env["rehearsal_reasons"] == []

    monkeypatch.setenv(BASE_URL_ENV, "http://127.0.0.1:9")  # every order would now go to this machine
    sign_off(workspace, operator_key, "paper")  # the env sign-off opens paper: the gate is unchanged
    paper = events(workspace, "phase_result")[-1]
    assert paper["step"] == "paper" and paper["rehearsal"] is True
    assert paper["rehearsal_reasons"] == [SANDBOX.format(url="http://127.0.0.1:9")]

    steps = {s["step"]: s for s in json.loads(run_cli("-w", workspace, "status", "--json").stdout)["steps"]}
    assert (steps["env"]["status"], steps["env"]["rehearsal"]) == ("signed", False)
    assert (steps["paper"]["status"], steps["paper"]["rehearsal"]) == ("signed", True)
    assert steps["paper"]["rehearsal_reasons"] == paper["rehearsal_reasons"]
    assert steps["4.1a"]["stage_run"] is None and steps["4.1a"]["status"] == "not run"
    text = run_cli("-w", workspace, "status").output
    [env_row] = [line for line in text.splitlines() if "│ env " in line]
    [paper_row] = [line for line in text.splitlines() if "│ paper " in line]
    assert "rehearsal" not in env_row and "(rehearsal)" in paper_row
    report = json.loads(run_cli("-w", workspace, "report", "--format", "json").stdout)
    assert {r["step"]: r["rehearsal"] for r in report["results"]} == {"env": False, "paper": True}
    assert report["meta"]["rehearsal_steps"] == "paper"


def test_a_rehearsals_sign_off_opens_its_own_workspace_but_nothing_on_the_real_venue(workspace, operator_key, run_cli, monkeypatch):
    monkeypatch.setenv(BASE_URL_ENV, "http://localhost:9")
    sign_off(workspace, operator_key, "env", "paper")
    shown = json.loads(run_cli("-w", workspace, "status", "--json").stdout)
    assert shown["next_step"] == "testnet" and shown["blocking"] == []  # on the sandbox: the rehearsal goes on

    monkeypatch.delenv(BASE_URL_ENV)  # the same workspace, now trading on binance itself
    shown = json.loads(run_cli("-w", workspace, "status", "--json").stdout)
    assert [s["status"] for s in shown["steps"][:2]] == ["signed", "signed"]  # still shown signed, and labelled a rehearsal
    assert [s["rehearsal"] for s in shown["steps"][:2]] == [True, True]
    assert shown["blocking"] == [
        "env was signed off on a rehearsal (the local sandbox, a test network or synthetic data), and the exchange is now the "
        "real venue: run `livegate validate` there and sign it off",
        "paper was signed off on a rehearsal (the local sandbox, a test network or synthetic data), and the exchange is now the "
        "real venue: run `livegate paper-run` there and sign it off"]
    refused = run_cli("-w", workspace, "testnet", "--yes")
    assert refused.exit_code == 3 and "signed off on a rehearsal" in refused.output, refused.output
