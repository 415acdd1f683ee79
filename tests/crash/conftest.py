"""Fixtures of the crash tests."""

from tests.crash.harness import killer  # noqa: F401 - fixture
