"""The console's serving tests read packaged files and headers, not database rows: their
pullgate runs on SQLite only (the admin API the console calls is tested on both databases
in tests/integration/admin)."""

from __future__ import annotations

import pytest

from tests.integration.admin.conftest import make_world, world

__all__ = ["app_database", "make_world", "world"]


@pytest.fixture
def app_database(sqlite_url: str) -> str:
    return sqlite_url
