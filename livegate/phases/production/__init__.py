"""Phase 5 — `livegate production`: alerting, runbooks and the timed kill-switch drill, then
capital scaling (`scaling`)."""
