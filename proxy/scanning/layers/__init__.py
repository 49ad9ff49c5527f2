"""Layer analysis: what one image layer contributes to the image's package inventory, read
once, streaming, from an untrusted blob (DESIGN §2 invariant 6).

`analyse_layer` is pure and synchronous: bytes in, a `LayerAnalysis` out, no disk and no
network. Each analysis depends on its layer alone, so it can be cached per digest;
`proxy.scanning.inventory.build_inventory` stacks them into the image's inventory.
"""

from __future__ import annotations

from proxy.scanning.layers.analyse import ANALYZER_VERSION, analyse_layer
from proxy.scanning.layers.compression import Compression, declared_compression
from proxy.scanning.layers.limits import Limits

__all__ = ["ANALYZER_VERSION", "Compression", "Limits", "analyse_layer", "declared_compression"]
