"""Tests against real components: databases, registries, stores on temporary directories."""
