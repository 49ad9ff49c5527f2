"""The starting corpus of each fuzz target: published test vectors, and inputs made the way
the unit tests make them (images, layers with every kind of file the scanner reads, Notation
envelopes signed by a test PKI, timestamps from the test TSA).

Each seed is laid out as its target reads it (`targets.py`): where the first byte chooses a
content type or a wrapping, the seed carries that byte.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import cbor2
from cryptography.hazmat.primitives.serialization import Encoding

from tests.support.layers import Layer, compress
from tests.support.notation import make_ca, make_key, make_leaf, sign_cose, sign_jws
from tests.support.tsa import TestTSA
from tests.unit.scanning.inventory.formats import go_binary, jar, modinfo, rpm_header, rpmdb_sqlite
from tests.unit.scanning.inventory.samples import (
    APK_INSTALLED,
    DEBIAN_OS_RELEASE,
    DPKG_STATUS,
    NPM_PACKAGE,
    PYTHON_METADATA,
)

__all__ = ["SEEDS", "write_seeds"]

VECTORS = Path(__file__).resolve().parents[1] / "unit" / "signatures" / "vectors"
_MEDIA = {
    "oci": "application/vnd.oci.image.manifest.v1+json",
    "oci-index": "application/vnd.oci.image.index.v1+json",
    "docker": "application/vnd.docker.distribution.manifest.v2+json",
    "docker-list": "application/vnd.docker.distribution.manifest.list.v2+json",
}


def _vector(name: str) -> Any:
    return json.loads((VECTORS / name).read_text())


def _descriptor(media_type: str, n: int, **extra: Any) -> dict[str, Any]:
    return {"mediaType": media_type, "digest": "sha256:" + f"{n:02x}" * 32, "size": 100 + n, **extra}


def manifest() -> Iterator[bytes]:
    layers = [_descriptor("application/vnd.oci.image.layer.v1.tar+gzip", n) for n in range(3)]
    config = _descriptor("application/vnd.oci.image.config.v1+json", 9)
    platform = {"os": "linux", "architecture": "arm64", "variant": "v8"}
    children = [_descriptor(_MEDIA["oci"], n, platform=platform, annotations={"a": "b"}) for n in range(2)]
    documents = [
        {"schemaVersion": 2, "mediaType": _MEDIA["oci"], "config": config, "layers": layers},
        {
            "schemaVersion": 2,
            "config": config,
            "layers": layers,
            "subject": children[0],
            "artifactType": "x/y",
        },
        {"schemaVersion": 2, "mediaType": _MEDIA["docker"], "config": config, "layers": layers},
        {
            "schemaVersion": 2,
            "mediaType": _MEDIA["oci-index"],
            "manifests": children,
            "annotations": {"k": "v"},
        },
        {"schemaVersion": 2, "mediaType": _MEDIA["docker-list"], "manifests": children},
    ]
    for choice, document in enumerate(documents):
        yield bytes([choice]) + json.dumps(document).encode()


def layer() -> Iterator[bytes]:
    rich = (
        Layer()
        .file("etc/os-release", DEBIAN_OS_RELEASE)
        .file("var/lib/dpkg/status", DPKG_STATUS)
        .file("lib/apk/db/installed", APK_INSTALLED)
        .file("usr/lib/python3/x.dist-info/METADATA", PYTHON_METADATA)
        .file("app/node_modules/@babel/core/package.json", NPM_PACKAGE)
        .file("app/lib/a.war", jar([("g", "a", "1")], nested={"WEB-INF/lib/x.jar": jar([("g", "x", "2")])}))
        .file("usr/bin/app", go_binary("go1.21.3", modinfo("a", ("a", "v1.0.0"))), mode=0o755)
        .file("var/lib/rpm/rpmdb.sqlite", rpmdb_sqlite([rpm_header("bash", "5.1", "1", epoch=2)]))
    )
    hostile = (
        Layer()
        .symlink("var/lib/dpkg/status", "/etc/shadow")
        .hardlink("var/lib/dpkg/status.d/x", "../../etc/passwd")
        .file("../escape", "x")
        .file("a/" * 60 + "long", "x")
        .whiteout("opt/old")
        .opaque("usr/share")
        .device("dev/null")
    )
    for built in (rich, hostile):
        tar = built.tar()
        yield bytes([0]) + tar  # as is, declared uncompressed
        yield bytes([1 + 3]) + tar  # gzip-wrapped by the harness, declared gzip
        yield bytes([2 + 6]) + tar  # zstd-wrapped, declared zstd
        yield bytes([3]) + compress(tar, "gzip")  # an already compressed stream, as is


def simple_signing() -> Iterator[bytes]:
    yield _vector("sigstore-rs-key-busybox.json")["payload"].encode()
    yield _vector("cosign-legacy-server_image.json")["payload"].encode()
    yield b'{"critical":{"identity":{"docker-reference":"x"},"image":{"docker-manifest-digest":"sha256:'
    yield json.dumps({"critical": {}, "optional": {"a": [1, 2.5, None, True]}}).encode()


def bundle() -> Iterator[bytes]:
    yield (VECTORS / "bundle-v03-server_linux_amd64.sigstore.json").read_bytes()
    annotations = _vector("cosign-legacy-server_image.json")["layer"]["annotations"]
    yield annotations["dev.sigstore.cosign/bundle"].encode()


def rekor_body() -> Iterator[bytes]:
    document = _vector("bundle-v03-server_linux_amd64.sigstore.json")
    for entry in document["verificationMaterial"]["tlogEntries"]:
        yield base64.b64decode(entry["canonicalizedBody"])
    yield b'{"kind":"dsse","apiVersion":"0.0.1","spec":{"envelopeHash":{"algorithm":"sha256","value":"00"}}}'
    yield b'{"kind":"intoto","apiVersion":"0.0.2","spec":{"content":{"envelope":{"signatures":[]}}}}'


def in_toto() -> Iterator[bytes]:
    subject = [{"name": "image", "digest": {"sha256": "ab" * 32}}]
    yield json.dumps(
        {"_type": "https://in-toto.io/Statement/v1", "subject": subject, "predicateType": "x"}
    ).encode()
    yield json.dumps(
        {"_type": "https://in-toto.io/Statement/v0.1", "subject": [{}], "predicate": {}}
    ).encode()


def _notation() -> tuple[list[bytes], list[bytes]]:
    now = datetime.now(UTC)
    root = make_ca()
    leaf = make_leaf(make_ca("Intermediate", issuer=root, key=make_key("ec", 256)))
    tsa = TestTSA(name="fuzz-tsa")
    chain = [leaf.cert, root.cert]
    content = json.dumps(
        {"targetArtifact": {"mediaType": _MEDIA["oci"], "digest": "sha256:" + "1" * 64}}
    ).encode()
    authority = "notary.x509.signingAuthority"
    jws = [
        sign_jws(leaf, chain, content, signing_time=now),
        sign_jws(leaf, chain, content, scheme=authority, signing_time=now),
        sign_jws(
            leaf,
            chain,
            content,
            signing_time=now,
            expiry=now + timedelta(days=1),
            countersign=tsa.countersigner(now),
        ),
    ]
    cose = [
        sign_cose(leaf, chain, content, signing_time=now),
        sign_cose(leaf, chain, content, scheme=authority, signing_time=now, expiry=now + timedelta(days=1)),
        sign_cose(leaf, chain, content, signing_time=now, countersign=tsa.countersigner(now)),
    ]
    return jws, cose


def jws() -> Iterator[bytes]:
    yield (VECTORS / "notation" / "ca_valid_sig_env.json").read_bytes()
    yield (VECTORS / "notation" / "withoutTimestamp.sig").read_bytes()
    yield from _notation()[0]


def jws_signed() -> Iterator[bytes]:
    for envelope in _notation()[0]:
        protected = json.loads(envelope)["protected"]
        yield base64.urlsafe_b64decode(protected + "=" * (-len(protected) % 4))


def cose() -> Iterator[bytes]:
    yield from _notation()[1]


def cose_signed() -> Iterator[bytes]:
    for envelope in _notation()[1]:
        yield cbor2.loads(envelope).value[0]


def rfc3161() -> Iterator[bytes]:
    for token in _vector("sigstore-python-tsa-timestamps.json")["signed_timestamps"]:
        der = base64.b64decode(token)
        yield bytes([0]) + der
        yield bytes([2]) + json.dumps({"SignedRFC3161Timestamp": token}).encode()
    tsa = TestTSA(name="fuzz-tsa")
    now = datetime.now(UTC)
    yield bytes([0]) + tsa.timestamp(b"signature", now)
    yield bytes([1]) + tsa.timestamp(b"signature", now, response=False, embed=True, accuracy=(1, 500, 7))
    yield bytes([0]) + tsa.timestamp(b"signature", now, ess_v1=True, by_key_id=True, imprint_hash="sha384")


def trusted_root() -> Iterator[bytes]:
    public_good = _vector("public-good-trusted_root.json")
    yield json.dumps(public_good).encode()
    tsa = _vector("sigstore-python-tsa-timestamps.json")["timestamp_authority"]
    yield json.dumps(
        {"mediaType": public_good["mediaType"], "timestampAuthorities": [tsa], "tlogs": public_good["tlogs"]}
    ).encode()


def certificate() -> Iterator[bytes]:
    root = _vector("public-good-trusted_root.json")
    for authority in root["certificateAuthorities"] + root["timestampAuthorities"]:
        for cert in authority["certChain"]["certificates"]:
            yield base64.b64decode(cert["rawBytes"])
    yield base64.b64decode(
        _vector("bundle-v03-server_linux_amd64.sigstore.json")["verificationMaterial"]["certificate"][
            "rawBytes"
        ]
    )
    ca = make_ca()
    yield make_leaf(ca, crl_url="http://crl.example/ca.crl").cert.public_bytes(Encoding.DER)


SEEDS: dict[str, Callable[[], Iterator[bytes]]] = {
    "manifest": manifest,
    "layer": layer,
    "simple-signing": simple_signing,
    "bundle": bundle,
    "rekor-body": rekor_body,
    "in-toto": in_toto,
    "jws": jws,
    "jws-signed": jws_signed,
    "cose": cose,
    "cose-signed": cose_signed,
    "rfc3161": rfc3161,
    "trusted-root": trusted_root,
    "certificate": certificate,
}


def write_seeds(target: str, directory: Path) -> int:
    """Write `target`'s seeds into `directory` (one file each); how many there are."""
    directory.mkdir(parents=True, exist_ok=True)
    count = 0
    for count, seed in enumerate(SEEDS[target](), 1):
        (directory / f"seed-{count:03d}").write_bytes(seed)
    return count
