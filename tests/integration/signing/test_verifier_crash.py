"""A signature verifier that crashes never lets an image through: it stays `pending`.

End to end: a real upstream with a correctly signed image, pullgate enforcing the signature
requirement, and the verifier made to raise (a bug no real signature can be made to
trigger on demand). The pull is refused as pending, again on the next pull, its blobs are
not served, and once the verifier works the same image is served: nothing was recorded as
a verdict about the signature.
"""

from __future__ import annotations

from typing import Any

import pytest

from proxy.gate.signing import check as check_module
from tests.integration.admin.conftest import MakeWorld
from tests.integration.signing.test_cosign_key import FRESH, _sign, _world
from tests.support.cosign import generate_key
from tests.support.http import http_get

pytestmark = pytest.mark.parametrize("app_database", ["sqlite"], indirect=True)


async def test_a_crashing_verifier_leaves_a_signed_image_pending(
    make_world: MakeWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = generate_key("p256")
    world = await _world(make_world, key, **FRESH)
    image = await world.push("team/app", "1")
    await _sign(world, "team/app", image.digest, key)
    real = check_module.verify_artifact

    def crash(*_args: Any) -> Any:
        raise RuntimeError("a verifier bug")

    monkeypatch.setattr(check_module, "verify_artifact", crash)
    for _ in range(2):
        pull = await world.pull("team/app", "1")
        assert pull.status == 403 and pull.error["detail"]["outcome"] == "pending", pull.body
        assert "the verifier failed (RuntimeError)" in pull.error["message"]
        assert "Retry-After" in pull.headers
    blob = f"{world.pullgate.url}/v2/team/app/blobs/{image.layer_digests[0]}"
    assert (await http_get(blob))[0] == 403
    decisions = await world.audited(2, repository="team/app")
    assert {d["outcome"] for d in decisions} == {"pending"}

    monkeypatch.setattr(check_module, "verify_artifact", real)
    pull = await world.pull("team/app", "1")
    assert pull.status == 200 and pull.body == image.manifest_bytes
    assert (await http_get(blob))[0] == 200
