"""How big and how long: the full plan (the issue's sizes) and the quick one (< 2 minutes)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["FULL", "QUICK", "Plan"]

MB = 1000 * 1000


@dataclass(frozen=True)
class Plan:
    name: str
    blob_bytes: int  # the single-layer image of scenarios 1 and 2
    herd_bytes: int  # the multi-layer image of scenario 3
    memory_blob_bytes: int  # the single-layer image of scenario 5
    herd_clients: int
    blob_reps_single: int  # timed downloads by one client, per server
    blob_reps_parallel: int  # rounds of 16 concurrent downloads, per server
    blob_parallel_clients: int
    cold_reps: int
    herd_reps: int
    manifest_reps: int
    manifest_seconds: float
    manifest_preload_seconds: int  # unmeasured load before each server's runs (steady state)
    manifest_connections: int
    calibration_runs: int
    policy_rules: int  # rules scenario 4 asks the policy hook to load

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def deviations(self) -> list[str]:
        """Where this plan departs from the issue's sizes, to print beside the results."""
        notes = []
        if self.blob_bytes != FULL.blob_bytes:
            notes.append(
                f"blob/cold-pull image {self.blob_bytes // MB} MB instead of {FULL.blob_bytes // MB} MB"
            )
        if self.herd_bytes != FULL.herd_bytes:
            notes.append(f"herd image {self.herd_bytes // MB} MB instead of {FULL.herd_bytes // MB} MB")
        if self.memory_blob_bytes != FULL.memory_blob_bytes:
            notes.append(
                f"memory scenario blob {self.memory_blob_bytes // MB} MB instead of {FULL.memory_blob_bytes // MB} MB"
            )
        if self.manifest_seconds != FULL.manifest_seconds:
            notes.append(
                f"manifest runs {self.manifest_seconds:g} s after a {self.manifest_preload_seconds} s pre-load "
                f"(full: {FULL.manifest_seconds:g} s after {FULL.manifest_preload_seconds} s)"
            )
        return notes


FULL = Plan(
    name="full",
    blob_bytes=200 * MB,
    herd_bytes=200 * MB,
    memory_blob_bytes=1000 * MB,
    herd_clients=32,
    blob_reps_single=15,
    blob_reps_parallel=5,
    blob_parallel_clients=16,
    cold_reps=5,
    herd_reps=3,
    manifest_reps=3,
    manifest_seconds=5.0,
    manifest_preload_seconds=10,
    manifest_connections=64,
    calibration_runs=11,
    policy_rules=1000,
)

QUICK = Plan(
    name="quick",
    blob_bytes=50 * MB,
    herd_bytes=24 * MB,
    memory_blob_bytes=100 * MB,
    herd_clients=32,
    blob_reps_single=5,
    blob_reps_parallel=3,
    blob_parallel_clients=16,
    cold_reps=3,
    herd_reps=1,
    manifest_reps=1,
    manifest_seconds=1.0,
    manifest_preload_seconds=3,
    manifest_connections=64,
    calibration_runs=7,
    policy_rules=1000,
)
