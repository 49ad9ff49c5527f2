"""The local test world: real registries, runtimes and fault-injecting fakes on loopback.

Modules here start real processes (``docker-registry``, ``containerd``) or in-process
aiohttp servers that speak the registry protocol, so integration and e2e tests exercise
the proxy against the same bytes and headers a production upstream would send.
"""
