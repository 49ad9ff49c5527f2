"""Behaviour every storage backend must share, run once per backend."""
