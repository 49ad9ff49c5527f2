"""Scanning through pullgate is tested in the admin API's world: a real upstream registry,
pullgate on loopback, policy and reports through the API as an admin would use them."""

from tests.integration.admin.conftest import make_world, world

__all__ = ["make_world", "world"]
