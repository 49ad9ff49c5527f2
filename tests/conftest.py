"""Fixtures shared by every test directory."""

pytest_plugins = ["tests.support.databases", "tests.support.fixtures", "tests.support.pullgate"]
