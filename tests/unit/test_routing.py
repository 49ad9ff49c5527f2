import pytest

from proxy.api.routing import Router
from proxy.oci.errors import ErrorCode, RegistryError
from proxy.settings import UpstreamSettings

HEX = "b" * 64


@pytest.fixture
def router() -> Router:
    return Router(
        [
            UpstreamSettings(name="docker.io", url="https://registry-1.docker.io", default=True),
            UpstreamSettings(name="ghcr.io", url="https://ghcr.io", aliases=("github",)),
            UpstreamSettings(name="127.0.0.1:5001", url="http://127.0.0.1:5001"),
        ]
    )


@pytest.mark.parametrize(
    ("tail", "ns", "upstream", "name", "endpoint", "reference"),
    [
        ("alpine/manifests/3", None, "docker.io", "library/alpine", "manifests", "3"),
        ("library/alpine/manifests/3", None, "docker.io", "library/alpine", "manifests", "3"),
        ("docker.io/library/alpine/manifests/3", None, "docker.io", "library/alpine", "manifests", "3"),
        ("docker.io/alpine/manifests/3", None, "docker.io", "library/alpine", "manifests", "3"),
        ("ghcr.io/org/app/blobs/sha256:" + HEX, None, "ghcr.io", "org/app", "blobs", "sha256:" + HEX),
        ("github/org/app/tags/list", None, "ghcr.io", "org/app", "tags", None),
        ("org/app/manifests/1", "ghcr.io", "ghcr.io", "org/app", "manifests", "1"),
        ("library/demo/manifests/1", "127.0.0.1:5001", "127.0.0.1:5001", "library/demo", "manifests", "1"),
        ("demo/manifests/1", "127.0.0.1:5001", "127.0.0.1:5001", "demo", "manifests", "1"),
        ("a/manifests/b/manifests/c", None, "docker.io", "a/manifests/b", "manifests", "c"),
        (
            "ghcr.io/referrers/sha256:" + HEX,
            None,
            "docker.io",
            "library/ghcr.io",
            "referrers",
            "sha256:" + HEX,
        ),
        ("x/manifests/sha256%3A" + HEX, None, "docker.io", "library/x", "manifests", "sha256:" + HEX),
        ("x/blobs/uploads/", None, "docker.io", "library/x", "uploads", None),
        ("x/blobs/uploads/abc", None, "docker.io", "library/x", "uploads", None),
    ],
)
def test_routes(
    router: Router, tail: str, ns: str | None, upstream: str, name: str, endpoint: str, reference: str | None
) -> None:
    request = router.route(tail, ns)
    assert (request.key.upstream, str(request.key.name), request.endpoint, request.reference) == (
        upstream,
        name,
        endpoint,
        reference,
    )


@pytest.mark.parametrize(
    ("tail", "ns", "code"),
    [
        ("Library/alpine/manifests/1", None, ErrorCode.NAME_INVALID),
        ("library/../x/manifests/1", None, ErrorCode.NAME_INVALID),
        ("library%2Falpine/manifests/1", None, ErrorCode.NAME_INVALID),
        ("lib%72ary/alpine/manifests/1", None, ErrorCode.NAME_INVALID),
        ("a//b/manifests/1", None, ErrorCode.NAME_INVALID),
        ("/manifests/1", None, ErrorCode.NAME_INVALID),
        ("x" * 256 + "/manifests/1", None, ErrorCode.NAME_INVALID),
        ("alpine/manifests/1", "evil.example.com", ErrorCode.NAME_UNKNOWN),
        ("alpine/manifests/1", "not a host", ErrorCode.NAME_INVALID),
        ("alpine/something/1", None, ErrorCode.UNSUPPORTED),
        ("_catalog", None, ErrorCode.UNSUPPORTED),
    ],
)
def test_refused(router: Router, tail: str, ns: str | None, code: ErrorCode) -> None:
    with pytest.raises(RegistryError) as caught:
        router.route(tail, ns)
    assert caught.value.code is code


@pytest.mark.parametrize(
    ("reference", "code"),
    [
        ("sha256:abc", ErrorCode.DIGEST_INVALID),
        ("md5:" + HEX, ErrorCode.DIGEST_INVALID),
        (".bad", ErrorCode.MANIFEST_INVALID),
    ],
)
def test_invalid_references(router: Router, reference: str, code: ErrorCode) -> None:
    with pytest.raises(RegistryError) as caught:
        router.route(f"x/manifests/{reference}", None).manifest_reference()
    assert caught.value.code is code


def test_blob_digest_must_be_a_digest(router: Router) -> None:
    with pytest.raises(RegistryError) as caught:
        router.route("x/blobs/latest", None).digest()
    assert caught.value.code is ErrorCode.DIGEST_INVALID
