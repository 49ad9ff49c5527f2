"""Fixtures shared by every test directory, and one rule for CI.

In CI (``CI=true``) a skipped test is a failure: everything a test needs is installed by
the README's test command, so a skip there means a missing install step, not a missing tool.

Hypothesis profiles, chosen with ``HYPOTHESIS_PROFILE`` (default ``ci``):
  ci        100 examples per property (less for the expensive ones, see
            `tests.support.properties.examples`), derandomized so a run is reproducible, no
            deadline (a shared 2-core machine makes timings meaningless), no example database;
  dev       random examples, a local database in .hypothesis/ that replays past failures;
  campaign  200x the examples, for a long run outside the suite
            (``HYPOTHESIS_PROFILE=campaign pytest --timeout=0 tests/unit -k properties``).
"""

from __future__ import annotations

import os
from collections.abc import Generator
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

from tests.support.properties import CI_EXAMPLES

pytest_plugins = ["tests.support.databases", "tests.support.fixtures", "tests.support.pullgate"]

_QUIET = [HealthCheck.too_slow, HealthCheck.data_too_large]
settings.register_profile(
    "ci",
    max_examples=CI_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=_QUIET,
)
settings.register_profile("dev", max_examples=CI_EXAMPLES, deadline=None, suppress_health_check=_QUIET)
settings.register_profile(
    "campaign", max_examples=200 * CI_EXAMPLES, deadline=None, database=None, suppress_health_check=_QUIET
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


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
