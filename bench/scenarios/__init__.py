"""The benchmark scenarios, numbered as in the benchmark issue; each returns rows and raw data."""
