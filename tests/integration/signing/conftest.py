"""Signature enforcement is tested through the admin API's world: a real upstream registry,
pullgate on loopback, trust material and policy set as an admin would set them."""

from tests.integration.admin.conftest import make_world, world

__all__ = ["make_world", "world"]
