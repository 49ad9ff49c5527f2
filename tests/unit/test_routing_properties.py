"""Docker Hub normalisation, as properties: every spelling of one Docker Hub repository
reaches one cache key, normalising twice changes nothing, and no other upstream's names are
touched. The same for cosign's reading of a signed ``docker-reference``."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from proxy.api.routing import Router
from proxy.oci.errors import RegistryError
from proxy.settings import UpstreamSettings
from proxy.signatures.cosign import _repository_of
from tests.support.properties import repository_components, repository_names, tags

HUB = UpstreamSettings(
    name="docker.io", url="https://registry-1.docker.io", default=True, aliases=("index.docker.io",)
)
OTHER = UpstreamSettings(name="ghcr.io", url="https://ghcr.io")
ROUTER = Router([HUB, OTHER])
PLAIN = Router([UpstreamSettings(name="127.0.0.1:5001", url="http://127.0.0.1:5001", default=True)])


def key(router: Router, name: str, ns: str | None = None) -> tuple[str, str]:
    target = router.route(f"{name}/manifests/latest", ns)
    return target.key.upstream, str(target.key.name)


# First components that name an upstream would route elsewhere: not Docker Hub names.
_HUB_NAMES = repository_names().filter(
    lambda n: n.split("/")[0] not in ("docker.io", "ghcr.io", "index.docker.io")
)


@given(repository_components())
def test_an_official_image_is_under_library(name: str) -> None:
    expected = ("docker.io", f"library/{name}")
    assert key(ROUTER, name) == expected
    assert key(ROUTER, f"library/{name}") == expected
    assert key(ROUTER, f"docker.io/{name}") == expected
    assert key(ROUTER, f"index.docker.io/library/{name}") == expected
    assert key(ROUTER, name, ns="docker.io") == expected


@given(_HUB_NAMES)
def test_normalisation_is_idempotent_and_only_adds_library(name: str) -> None:
    upstream, repository = key(ROUTER, name)
    assert upstream == "docker.io"
    assert repository == (name if "/" in name else f"library/{name}")
    assert key(ROUTER, repository) == (upstream, repository)
    assert key(ROUTER, f"docker.io/{repository}") == (upstream, repository)


@given(repository_names())
def test_other_upstreams_keep_names_as_given(name: str) -> None:
    assert key(ROUTER, f"ghcr.io/{name}") == ("ghcr.io", name)
    assert key(ROUTER, name, ns="ghcr.io") == ("ghcr.io", name)
    assert key(PLAIN, name) == ("127.0.0.1:5001", name)


@given(st.text(max_size=80))
def test_any_path_routes_or_answers_a_registry_error(tail: str) -> None:
    try:
        target = ROUTER.route(tail, None)
    except RegistryError as exc:
        assert 400 <= exc.status < 500
    else:
        assert "%" not in target.display_name and target.key.upstream in ("docker.io", "ghcr.io")


@given(repository_components(), st.one_of(st.none(), tags()))
def test_cosign_reads_every_docker_hub_spelling_as_one_repository(name: str, tag: str | None) -> None:
    suffix = f":{tag}" if tag else ""
    canonical = f"docker.io/library/{name}"
    for spelling in (name, f"library/{name}", f"docker.io/{name}", f"index.docker.io/library/{name}"):
        assert _repository_of(spelling + suffix) == canonical
    assert _repository_of(canonical) == canonical


@given(st.text(max_size=120))
def test_cosign_reference_reading_is_idempotent(reference: str) -> None:
    read = _repository_of(reference)
    if read is not None:
        assert _repository_of(read) == read
