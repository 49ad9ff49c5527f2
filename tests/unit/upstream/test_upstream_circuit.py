"""The circuit breaker and the Retry-After hold, driven by a hand-moved clock, then through
the client against a loopback server that fails on demand (counting what reached it)."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp import web

from proxy.oci.reference import RepositoryName
from proxy.upstream import CircuitState, UpstreamError, UpstreamErrorKind
from proxy.upstream.circuit import Circuit
from tests.unit.upstream.conftest import FakeClock, oci_error

K = UpstreamErrorKind


def _err(
    kind: UpstreamErrorKind, status: int | None = None, retry_after: float | None = None
) -> UpstreamError:
    return UpstreamError("up.test", kind, f"{kind.value} (test)", status=status, retry_after=retry_after)


def _attempt(circuit: Circuit, error: UpstreamError | None = None) -> None:
    with circuit.guard():
        if error is not None:
            raise error


def _fail(circuit: Circuit, error: UpstreamError) -> None:
    with pytest.raises(UpstreamError) as caught:
        _attempt(circuit, error)
    assert caught.value is error, "the attempt went out and its own error came back"


def _refused(circuit: Circuit) -> UpstreamError:
    with pytest.raises(UpstreamError) as caught:
        _attempt(circuit)
    return caught.value


def _circuit(clock: FakeClock, failures: int = 3, open_for: float = 10.0, hold_max: float = 60.0) -> Circuit:
    return Circuit("up.test", failures=failures, open_for=open_for, hold_max=hold_max, clock=clock)


def test_consecutive_failures_open_the_circuit_and_a_trial_closes_it(clock: FakeClock) -> None:
    circuit = _circuit(clock)
    for _ in range(3):
        _fail(circuit, _err(K.UNAVAILABLE, 503))
    assert circuit.status().state is CircuitState.OPEN
    refused = _refused(circuit)
    assert refused.circuit_open and refused.kind is K.UNAVAILABLE and refused.temporary
    assert (
        "circuit open after 3 consecutive failures" in refused.message
        and "unavailable (test)" in refused.message
    )
    assert refused.retry_after == pytest.approx(10.0)
    clock.now += 10.0
    assert circuit.status().state is CircuitState.HALF_OPEN
    _attempt(circuit)  # the trial succeeds
    status = circuit.status()
    assert (status.state, status.consecutive_failures, status.opened, status.rejected) == (
        CircuitState.CLOSED,
        0,
        1,
        1,
    )


def test_a_failed_trial_opens_it_again_and_only_one_trial_goes_out(clock: FakeClock) -> None:
    circuit = _circuit(clock, failures=1)
    _fail(circuit, _err(K.TIMEOUT))
    clock.now += 10.0
    with pytest.raises(UpstreamError), circuit.guard():
        assert circuit.status().state is CircuitState.HALF_OPEN
        assert "trial request is under way" in _refused(circuit).message  # a second one waits
        raise _err(K.TIMEOUT)
    assert circuit.status().state is CircuitState.OPEN and circuit.status().opened == 2


def test_a_cancelled_trial_lets_the_next_request_try(clock: FakeClock) -> None:
    circuit = _circuit(clock, failures=1)
    _fail(circuit, _err(K.UNAVAILABLE))
    clock.now += 10.0
    with pytest.raises(asyncio.CancelledError), circuit.guard():
        raise asyncio.CancelledError
    _attempt(circuit)
    assert circuit.status().state is CircuitState.CLOSED


@pytest.mark.parametrize(
    "answer",
    [_err(K.NOT_FOUND, 404), _err(K.UNAUTHORIZED, 401), _err(K.PROTOCOL)],
    ids=["404", "401", "protocol"],
)
def test_an_upstream_that_answers_is_there(clock: FakeClock, answer: UpstreamError) -> None:
    circuit = _circuit(clock)
    for _ in range(2):
        _fail(circuit, _err(K.UNAVAILABLE, 500))
    _fail(circuit, answer)  # resets the count: failures must be consecutive to open
    for _ in range(2):
        _fail(circuit, _err(K.UNAVAILABLE, 500))
    assert circuit.status().state is CircuitState.CLOSED


def test_zero_failures_disables_the_breaker(clock: FakeClock) -> None:
    circuit = _circuit(clock, failures=0)
    for _ in range(20):
        _fail(circuit, _err(K.UNAVAILABLE, 502))
    assert circuit.status().state is CircuitState.DISABLED


def test_retry_after_holds_the_upstream_up_to_hold_max(clock: FakeClock) -> None:
    circuit = _circuit(clock, hold_max=60.0)
    _fail(circuit, _err(K.RATE_LIMITED, 429, retry_after=3600))
    held = _refused(circuit)
    assert held.kind is K.RATE_LIMITED and held.status == 429 and not held.circuit_open
    # Clients are told what the upstream asked for; the hold itself ends after hold_max, so
    # an upstream cannot silence itself for an hour.
    assert held.retry_after == pytest.approx(3600.0)
    assert circuit.status().held_for == pytest.approx(60.0)
    clock.now += 59.0
    assert _refused(circuit).retry_after == pytest.approx(3541.0)
    clock.now += 1.0
    _attempt(circuit)
    assert circuit.status().held_for is None and circuit.status().rejected == 2


def test_a_503_with_retry_after_holds_too_and_counts_as_a_failure(clock: FakeClock) -> None:
    circuit = _circuit(clock)
    _fail(circuit, _err(K.UNAVAILABLE, 503, retry_after=5))
    held = _refused(circuit)
    assert held.kind is K.UNAVAILABLE and held.status == 503 and "asked to wait" in held.message
    assert circuit.status().consecutive_failures == 1


# -- through the client -------------------------------------------------------------------


@pytest.fixture
async def failing(serve) -> tuple[str, list[str]]:
    """An upstream answering 503 to every manifest request; returns (url, paths seen)."""
    seen: list[str] = []

    async def manifest(request: web.Request) -> web.Response:
        seen.append(request.path)
        return oci_error(503, "UNAVAILABLE", "storm")

    async def ping(request: web.Request) -> web.Response:
        return web.json_response({})

    app = web.Application()
    app.router.add_route("*", "/v2/{name:.+}/manifests/{reference}", manifest)
    app.router.add_get("/v2/", ping)
    return await serve(app), seen


async def test_an_open_circuit_spares_the_upstream(failing, make_upstream) -> None:
    url, seen = failing
    upstream = await make_upstream(url, retries=2, circuit_breaker={"failures": 4, "open_for": 60})
    repo = RepositoryName.parse("team/app")
    for _ in range(2):
        with pytest.raises(UpstreamError):
            await upstream.get_manifest(repo, "1")
    assert len(seen) == 4, "2 requests: 1 + 2 retries, then the breaker opened before the 6th attempt"
    for _ in range(10):
        with pytest.raises(UpstreamError) as caught:
            await upstream.get_manifest(repo, "1")
        assert caught.value.circuit_open
    assert len(seen) == 4, "an open circuit does not ask the upstream"
    status = upstream.circuit()
    # The second request's retry was refused too, then the ten that followed.
    assert status.state is CircuitState.OPEN and status.rejected == 11
    await upstream.ping()  # the health probe goes around the breaker: /v2/ answers
