"""End-to-end tests are about the runtimes: their pullgate runs on SQLite only (every
app-level behaviour is already tested on both databases by the integration suite)."""

from __future__ import annotations

import pytest


@pytest.fixture
def app_database(sqlite_url: str) -> str:
    return sqlite_url
