"""Phase 1 — `livegate validate`: the environment checks."""
