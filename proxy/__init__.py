"""pullgate: a pull-through OCI registry proxy that gates every pull."""

__version__ = "0.1.0"
