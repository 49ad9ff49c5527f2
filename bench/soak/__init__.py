"""The soak: pullgate under a long mixed load (`python -m bench.soak`); see `__main__`."""
