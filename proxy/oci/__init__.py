"""Pure OCI domain types: digests, references, media types, manifests, the error table.

Nothing in this package performs I/O or imports another part of pullgate.
"""
