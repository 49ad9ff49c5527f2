"""Signature verification: cosign (key-based, keyless, sigstore bundles) and Notation.

Pure and offline: this package is handed bytes (signature artifacts found by the gate, trust
material the admin configured) and answers whether they verify. It never touches the network,
the database or the cache; `proxy.gate.signing` discovers artifacts and enforces results.
"""
