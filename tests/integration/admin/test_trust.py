"""Trust material through the admin API: validated before it is stored, versioned with the
policy, audited by digest, readable by auditors, writable by admins only."""

from __future__ import annotations

import hashlib

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tests.integration.admin.conftest import World
from tests.support.cosign import generate_key, public_pem


async def test_put_read_list_delete(world: World) -> None:
    pem = public_pem(generate_key())
    before = (await world.admin.get("/policy")).json["version"]
    created = await world.admin.put("/trust/ci-key", {"kind": "public_key", "content": pem})
    assert created.status == 201 and created.headers["Location"] == "/api/v1/trust/ci-key"
    assert created.json["created"] and created.json["changed"]
    assert created.json["policy_version"] == before + 1
    assert created.json["material"]["sha256"] == hashlib.sha256(pem.encode()).hexdigest()

    same = await world.admin.put("/trust/ci-key", {"kind": "public_key", "content": pem})
    assert same.status == 200 and not same.json["changed"] and same.json["policy_version"] == before + 1

    read = await world.admin.get("/trust/ci-key")
    assert (read.json["kind"], read.json["content"]) == ("public_key", pem)
    listed = await world.auditor.get("/trust")
    assert [(m["name"], m["content"]) for m in listed.json["items"]] == [("ci-key", None)]

    deleted = await world.admin.delete("/trust/ci-key")
    assert deleted.json == {"name": "ci-key", "policy_version": before + 2}
    assert (await world.admin.get("/trust/ci-key")).status == 404
    assert (await world.admin.delete("/trust/ci-key")).status == 404

    actions = [e["detail"]["action"] for e in await world.audited(2, kind="admin")]
    assert {"trust.create", "trust.delete"} <= set(actions)


async def test_unusable_material_is_refused_and_nothing_is_stored(world: World) -> None:
    private = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    cases = [
        ({"kind": "public_key", "content": private.decode()}, "private key"),
        ({"kind": "public_key", "content": "not a key"}, "public_key 'bad'"),
        ({"kind": "trusted_root", "content": "{}"}, "trusted_root 'bad'"),
        ({"kind": "notation_trust_policy", "content": '{"version": "2"}'}, "notation_trust_policy 'bad'"),
        (
            {
                "kind": "notation_ca",
                "content": "-----BEGIN CERTIFICATE-----\nxx\n-----END CERTIFICATE-----\n",
            },
            "notation_ca",
        ),
    ]
    for body, problem in cases:
        refused = await world.admin.put("/trust/bad", body)
        assert refused.status == 422, (body, refused.json)
        assert problem in refused.error["message"], refused.error
        assert refused.error["field"] == "content"
    assert (await world.admin.put("/trust/bad", {"kind": "gpg", "content": "x"})).status == 422
    assert (await world.admin.put("/trust/bad", {"kind": "public_key"})).status == 422
    assert (await world.admin.get("/trust")).json["items"] == []


async def test_auditors_and_strangers_cannot_write(world: World) -> None:
    body = {"kind": "public_key", "content": public_pem(generate_key())}
    assert (await world.auditor.put("/trust/ci-key", body)).status == 403
    assert (await world.anonymous.put("/trust/ci-key", body)).status == 401
    assert (await world.admin.put("/trust/bad%20name", body)).status == 404
    assert (await world.admin.get("/trust")).json["items"] == []


async def test_requirements_travel_with_the_policy_document(world: World) -> None:
    document = {
        "default_action": "allow",
        "rules": [],
        "signature_requirements": [
            {
                "id": "team",
                "match": {"repository": "team/**"},
                "authorities": [{"name": "ci", "key": {"trust": "ci-key"}, "check_reference": True}],
            }
        ],
    }
    assert (await world.admin.put("/policy", document)).json["changed"] is True
    exported = (await world.admin.get("/policy")).json["document"]
    (requirement,) = exported["signature_requirements"]
    assert requirement["id"] == "team" and requirement["authorities"][0]["key"] == {"trust": "ci-key"}
    assert (await world.admin.put("/policy", exported)).json["changed"] is False
    invalid = {**document, "signature_requirements": [{"id": "x", "authorities": [{"name": "a"}]}]}
    refused = await world.admin.put("/policy", invalid)
    assert refused.status == 422 and "exactly one of key, keyless and notation" in refused.error["message"]
