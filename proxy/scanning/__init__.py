"""Knowing what is inside an image: layer analysis, package inventories, OSV vulnerability
data and matching, version comparison per ecosystem, and scanner backends (built-in, Trivy,
Harbor scanner adapters). The gate's scan service (`proxy.gate.scans`) drives them."""
