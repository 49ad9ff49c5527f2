"""Benchmarks: pullgate against distribution's pull-through cache and nginx, on loopback."""
