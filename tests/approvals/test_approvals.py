"""approve_each: requests, decisions from the CLI or a prompt, expiry (freezegun), races."""

from __future__ import annotations

import io
import json
import threading
from pathlib import Path

import pytest
from freezegun import freeze_time

from livegate.cli import prompts
from livegate.config.workspace import Workspace
from livegate.core.errors import UsageError
from livegate.core.orders import Block, Order
from livegate.ledger.queries import connect_readonly
from livegate.ledger.queries import events as iter_events
from livegate.services import approvals

START = "2030-01-02 03:04:05"


@pytest.fixture(autouse=True)
def _operator_key(operator_key):
    """Approvals count only with the operator's signature: every test here has the key (the
    ones about its absence remove it)."""
    return operator_key


def order(amount: float = 0.001) -> Order:
    return Order("", "BTC/USDT", "buy", "market", amount, None, 1_893_553_445_000)


def events(root: Path, kind: str) -> list[dict]:
    conn = connect_readonly(Workspace(root).ledger_path)
    try:
        return list(iter_events(conn, kinds=(kind,)))
    finally:
        conn.close()


def listed(run_cli, root: Path, *extra: str) -> list[dict]:
    result = run_cli("-w", root, "approvals", "list", "--json", *extra)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)["approvals"]


def waiting_gate(root: Path, on_sleep, expiry_s: float = 300, **kw):
    """An approve_each gate with no prompt whose every poll runs `on_sleep(seconds)` instead of sleeping."""
    return approvals.approval_gate(Workspace(root), mode="approve_each", expiry_s=expiry_s, sleep=on_sleep, poll_s=1, **kw)


def test_request_is_listed_then_approved_from_the_cli_and_the_gate_lets_the_order_through(workspace, run_cli):
    seen: list[list[dict]] = []

    def other_terminal(_seconds):
        seen.append(listed(run_cli, workspace))
        result = run_cli("-w", workspace, "approvals", "approve", seen[-1][0]["id"], "--by", "alice", "--yes")
        assert result.exit_code == 0, result.output
        assert "Approved A-1" in result.output and "alice" in result.output

    assert waiting_gate(workspace, other_terminal, context="binance testnet")(order()) is None
    [pending] = seen[0]
    assert pending["id"] == "A-1" and pending["state"] == "pending" and pending["context"] == "binance testnet"
    assert pending["order"]["symbol"] == "BTC/USDT" and pending["summary"] == "buy 0.001 BTC/USDT market"
    assert listed(run_cli, workspace) == []
    [decided] = listed(run_cli, workspace, "--all")
    assert (decided["state"], decided["decided_by"]) == ("approved", "alice")
    [event] = events(workspace, "approval_decided")
    assert event["actor"] == "alice" and event["payload"]["decision"] == "approved"


def test_rejection_from_the_cli_blocks_the_order_with_who_and_why(workspace, run_cli):
    def other_terminal(_seconds):
        result = run_cli("-w", workspace, "approvals", "reject", "1", "--by", "bob", "--reason", "too big for stage 4.1a")
        assert result.exit_code == 0, result.output

    block = waiting_gate(workspace, other_terminal)(order())
    assert block == Block("approval", "rejected by bob: too big for stage 4.1a")


def test_request_records_the_order_and_its_expiry(workspace):
    with freeze_time(START):
        a = approvals.request(Workspace(workspace), order(), expiry_s=90, context="paper")
    [event] = events(workspace, "approval_requested")
    assert event["payload"] == {
        "id": "A-1", "context": "paper", "expiry_seconds": 90,
        "requested_at": "2030-01-02T03:04:05Z", "expires_at": "2030-01-02T03:05:35Z",
        "order": {"symbol": "BTC/USDT", "side": "buy", "type": "market", "amount": 0.001, "price": None,
                  "created_ms": 1_893_553_445_000, "origin": "strategy", "reduce_only": False},
    }
    assert a.id == "A-1" and a.expires_at == "2030-01-02T03:05:35Z"


def test_expired_request_blocks_is_recorded_and_cannot_be_approved_afterwards(workspace, run_cli):
    with freeze_time(START) as clock:
        gate = waiting_gate(workspace, lambda seconds: clock.tick(seconds), expiry_s=60)
        assert gate(order()) == Block("approval", "expired after 60 s without a decision")
        [event] = events(workspace, "approval_decided")
        assert event["payload"]["decision"] == "expired" and event["payload"]["at"] == "2030-01-02T03:05:05Z"
        result = run_cli("-w", workspace, "approvals", "approve", "A-1", "--by", "alice", "--yes")
    assert result.exit_code == 2, result.output
    assert "A-1 (buy 0.001 BTC/USDT market) expired at 2030-01-02T03:05:05Z" in " ".join(result.output.split())
    assert "never execute" in result.output
    assert len(events(workspace, "approval_decided")) == 1


def test_undecided_request_past_expiry_shows_expired_and_approving_it_records_the_expiry(workspace, run_cli):
    ws = Workspace(workspace)
    with freeze_time(START) as clock:
        approvals.request(ws, order(), expiry_s=30)
        clock.tick(30)
        assert [a.state(clock().timestamp()) for a in approvals.list_all(ws)] == ["expired"]
        assert approvals.pending(ws) == [] and events(workspace, "approval_decided") == []
        with pytest.raises(UsageError, match="expired at 2030-01-02T03:04:35Z without a decision; it will never execute"):
            approvals.decide(ws, "A-1", "approved", "alice")
        [event] = events(workspace, "approval_decided")
        assert event["payload"]["decision"] == "expired"
        result = run_cli("-w", workspace, "approvals", "reject", "A-1", "--by", "bob")
    assert result.exit_code == 2 and "never execute" in result.output
    assert len(events(workspace, "approval_decided")) == 1


def test_cleanup_expires_every_stale_request_once(workspace, run_cli):
    ws = Workspace(workspace)
    with freeze_time(START) as clock:
        for expiry in (10, 20, 600):
            approvals.request(ws, order(), expiry_s=expiry)
        clock.tick(25)
        assert [a.id for a in approvals.expire_stale(ws)] == ["A-1", "A-2"]
        assert approvals.expire_stale(ws) == []
        clock.tick(600)
        assert [a["id"] for a in listed(run_cli, workspace)] == []  # the CLI cleans up first
        assert [a["state"] for a in listed(run_cli, workspace, "--all")] == ["expired"] * 3
    assert [e["payload"]["id"] for e in events(workspace, "approval_decided")] == ["A-1", "A-2", "A-3"]


@pytest.mark.parametrize("first", ["approved", "rejected"])
@pytest.mark.parametrize("command", ["approve", "reject"])
def test_a_decided_request_cannot_be_decided_again(workspace, run_cli, first, command):
    ws = Workspace(workspace)
    approvals.request(ws, order(), expiry_s=300)
    approvals.decide(ws, "A-1", first, "alice", "first look")
    result = run_cli("-w", workspace, "approvals", command, "A-1", "--by", "bob", *(["--yes"] if command == "approve" else []))
    assert result.exit_code == 2, result.output
    assert f"approval A-1 was already {first} by alice at" in result.output
    [event] = events(workspace, "approval_decided")
    assert event["payload"]["by"] == "alice"


def test_unknown_id_is_refused(workspace, run_cli):
    result = run_cli("-w", workspace, "approvals", "approve", "A-9", "--yes")
    assert result.exit_code == 2 and "no approval request 'A-9'" in result.output
    with pytest.raises(UsageError, match="no approval request"):
        approvals.decide(Workspace(workspace), "A-9", "rejected", "bob")


def test_two_decisions_racing_leave_exactly_one(workspace):
    ws = Workspace(workspace)
    approvals.request(ws, order(), expiry_s=300)
    start = threading.Barrier(2)
    outcomes: dict[str, str] = {}

    def decide(name: str, decision: str) -> None:
        start.wait()
        try:
            outcomes[name] = approvals.decide(ws, "A-1", decision, name).decision
        except UsageError as exc:
            outcomes[name] = str(exc)

    threads = [threading.Thread(target=decide, args=args) for args in (("alice", "approved"), ("bob", "rejected"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    [event] = events(workspace, "approval_decided")
    winner, loser = ("alice", "bob") if event["payload"]["by"] == "alice" else ("bob", "alice")
    assert outcomes[winner] == event["payload"]["decision"]
    assert "already" in outcomes[loser] and winner in outcomes[loser]


def test_a_gate_waiting_in_one_thread_proceeds_when_another_thread_approves(workspace):
    ws = Workspace(workspace)
    gate = approvals.approval_gate(ws, mode="approve_each", expiry_s=30, poll_s=0.01)
    result: list = []
    waiter = threading.Thread(target=lambda: result.append(gate(order())))
    waiter.start()
    for _ in range(500):
        if approvals.pending(ws):
            break
        threading.Event().wait(0.01)
    approvals.decide(ws, approvals.pending(ws)[0].id, "approved", "carol")
    waiter.join(10)
    assert result == [None]


def test_prompt_answers_are_recorded_as_the_operator(workspace):
    config = workspace / "livegate.yaml"
    text = config.read_text()
    assert 'operator: ""' in text
    config.write_text(text.replace('operator: ""', "operator: dana"))
    ws = Workspace(workspace)
    answers = iter([True, False])
    gate = approvals.approval_gate(ws, mode="approve_each", expiry_s=300, ask=lambda a: next(answers))
    assert gate(order()) is None
    assert gate(order()) == Block("approval", "rejected by dana")
    decided = [e["payload"] for e in events(workspace, "approval_decided")]
    assert [(p["id"], p["decision"], p["by"]) for p in decided] == [("A-1", "approved", "dana"), ("A-2", "rejected", "dana")]


def test_a_prompt_answered_after_the_expiry_never_executes(workspace):
    with freeze_time(START) as clock:
        def slow_yes(_approval):
            clock.tick(301)
            return True

        gate = approvals.approval_gate(Workspace(workspace), mode="approve_each", expiry_s=300, ask=slow_yes)
        assert gate(order()) == Block("approval", "expired after 300 s without a decision")
    assert [e["payload"]["decision"] for e in events(workspace, "approval_decided")] == ["expired"]


def test_no_answer_at_the_prompt_waits_for_another_terminal(workspace):
    ws = Workspace(workspace)
    asked = []
    gate = approvals.approval_gate(ws, mode="approve_each", expiry_s=300, ask=lambda a: asked.append(a.id),
                                   sleep=lambda s: approvals.decide(ws, "A-1", "approved", "erin"))
    assert gate(order()) is None and asked == ["A-1"]


def test_auto_mode_never_records_a_request(workspace):
    gate = approvals.approval_gate(Workspace(workspace), mode="auto", expiry_s=300)
    assert [gate(order()) for _ in range(3)] == [None, None, None]
    assert events(workspace, "approval_requested") == []


def test_mode_comes_from_the_environment_and_missing_means_approve_each(workspace):
    ws = Workspace(workspace)
    with freeze_time(START) as clock:
        gate = approvals.gate_for(ws, environ={}, sleep=lambda s: clock.tick(s))
        assert gate(order()).rule == "approval"
    assert events(workspace, "approval_requested")[0]["payload"]["expiry_seconds"] == 300
    assert approvals.gate_for(ws, environ={"EXECUTION_APPROVAL_MODE": "auto"})(order()) is None
    with pytest.raises(UsageError, match="must be one of approve_each, auto"):
        approvals.gate_for(ws, environ={"EXECUTION_APPROVAL_MODE": "yolo"})


def test_approve_asks_with_the_order_and_declining_keeps_it_pending(workspace, run_cli, monkeypatch):
    ws = Workspace(workspace)
    approvals.request(ws, order(), expiry_s=300, context="binance testnet")
    prompter = prompts.ScriptedPrompter([False, True])
    monkeypatch.setattr(prompts, "PROMPTER", prompter)
    result = run_cli("-w", workspace, "approvals", "approve", "a-1", "--by", "alice")
    assert result.exit_code == 0 and "still pending" in result.output
    assert "A-1: buy 0.001 BTC/USDT market on binance testnet, expires in" in prompter.asked[0]
    assert run_cli("-w", workspace, "approvals", "approve", "a-1", "--by", "alice").exit_code == 0
    assert approvals.get(ws, "1").decision == "approved"


def test_list_table_shows_pending_requests(workspace, run_cli):
    with freeze_time(START):
        approvals.request(Workspace(workspace), order(), expiry_s=300)
        result = run_cli("-w", workspace, "approvals", "list")
    assert result.exit_code == 0, result.output
    assert "A-1" in result.output and "buy 0.001 BTC/USDT market" in result.output and "5m 00s" in result.output
    approvals.decide(Workspace(workspace), "A-1", "rejected", "bob")
    assert "No pending approvals." in run_cli("-w", workspace, "approvals", "list").output
    assert "rejected by bob" in run_cli("-w", workspace, "approvals", "list", "--all").output


def test_every_decision_names_who_and_when(workspace):
    ws = Workspace(workspace)
    with freeze_time(START) as clock:
        for _ in range(3):
            approvals.request(ws, order(), expiry_s=60)
        approvals.decide(ws, "A-1", "approved", "alice")
        approvals.decide(ws, "A-2", "rejected", "bob", "no")
        clock.tick(61)
        approvals.expire_stale(ws)
    decided = [e["payload"] for e in events(workspace, "approval_decided")]
    assert [p["decision"] for p in decided] == ["approved", "rejected", "expired"]
    assert all(p["by"] and p["at"].startswith("2030-01-02T03:0") for p in decided)
    assert decided[2]["by"] == "livegate"


def test_without_by_or_operator_the_os_user_decides(workspace, run_cli):
    from livegate.ledger.store import default_actor

    approvals.request(Workspace(workspace), order(), expiry_s=300)
    assert run_cli("-w", workspace, "approvals", "reject", "A-1").exit_code == 0
    assert events(workspace, "approval_decided")[0]["payload"]["by"] == default_actor()


def test_terminal_prompt_answers_or_defers_to_another_terminal(workspace, monkeypatch):
    from livegate.cli.prompts import ask_in_terminal

    a = approvals.request(Workspace(workspace), order(), expiry_s=300)
    monkeypatch.setattr(prompts, "PROMPTER", prompts.ScriptedPrompter([False]))
    assert ask_in_terminal(a) is False
    monkeypatch.setattr(prompts, "PROMPTER", prompts.QuestionaryPrompter())
    monkeypatch.setattr("sys.stdin", io.StringIO())
    assert ask_in_terminal(a) is None
