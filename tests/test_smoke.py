def test_init_then_status(workspace, run_cli):
    result = run_cli("-w", workspace, "status", "--json")
    assert result.exit_code == 0, result.output
    import json

    data = json.loads(result.stdout)
    assert [s["step"] for s in data["steps"]] == ["env", "paper", "testnet", "4.1a", "4.1b", "4.1c", "4.1d", "production"]
    assert data["next_step"] == "env"
    assert data["ledger"]["ok"] is True
