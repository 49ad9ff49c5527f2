"""The vulnerability gate: the scan queue and workers, rescans, verdicts from scan results,
and webhooks when a verdict changes."""
