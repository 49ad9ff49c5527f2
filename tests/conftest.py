"""Fixtures shared by every test directory, and one rule for CI.

In CI (``CI=true``) a skipped test is a failure: everything a test needs is installed by
the README's test command, so a skip there means a missing install step, not a missing tool.
"""

from __future__ import annotations

import os
from collections.abc import Generator
from typing import Any

import pytest

pytest_plugins = ["tests.support.databases", "tests.support.fixtures", "tests.support.pullgate"]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]) -> Generator[None, Any, None]:
    outcome = yield
    report = outcome.get_result()
    if (
        os.environ.get("CI", "").lower() in ("true", "1")
        and report.skipped
        and not hasattr(report, "wasxfail")
    ):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"skipped in CI, where every tool must be installed: {reason}"
