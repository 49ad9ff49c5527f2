"""Scanner backends: external scanners behind one contract (`base.ScannerBackend`).

Each backend turns one image manifest, served by pullgate's scanner endpoint, into a
`ScanReport`, or raises `ScannerError`; the gate's scan service never sees a scanner's
own formats.
"""

from proxy.scanning.backends.base import ScannerBackend, ScannerError, ScanTarget

__all__ = ["ScanTarget", "ScannerBackend", "ScannerError"]
