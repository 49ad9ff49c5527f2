"""Trust material: public keys, Sigstore trusted roots, Notation trust stores and policies.

Material is validated with the verifiers' own parsers before it is stored (so what is stored
is usable), stored under the policy lock with a version bump (so every replica re-decides
with it), and every change is audited with the content's sha256, never the content itself
(a trust store can be large; the digest identifies it).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime

from db.signing_queries import MaterialNotFound, SigningStore, StoredMaterial
from proxy.gate.manage.actions import ActionLog, Actor
from proxy.gate.manage.errors import AdminError, AdminErrorKind, not_found
from proxy.gate.service import Gate
from proxy.signatures.errors import TrustMaterialError
from proxy.signatures.trust import MaterialKind, parse_material

__all__ = ["MaterialView", "TrustAdmin", "TrustChange"]


@dataclass(frozen=True, slots=True)
class MaterialView:
    name: str
    kind: MaterialKind
    sha256: str
    content: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class TrustChange:
    material: MaterialView
    created: bool
    changed: bool
    policy_version: int


class TrustAdmin:
    def __init__(self, signing: SigningStore, gate: Gate, actions: ActionLog) -> None:
        self._signing = signing
        self._gate = gate
        self._actions = actions

    async def list(self) -> list[MaterialView]:
        return [_view(m) for m in await self._signing.materials()]

    async def get(self, name: str) -> MaterialView:
        stored = await self._signing.material(name)
        if stored is None:
            raise not_found(f"trust material {name!r}")
        return _view(stored)

    async def put(self, actor: Actor, name: str, kind: MaterialKind, content: str) -> TrustChange:
        try:
            # Parsing a trusted root or trust store checks every certificate: not on the loop.
            await asyncio.to_thread(parse_material, kind, content)
        except TrustMaterialError as exc:
            raise AdminError(
                AdminErrorKind.INVALID, f"{kind.value} {name!r}: {exc}", field="content"
            ) from exc
        before = await self._signing.material(name)
        stored, changed, version = await self._signing.put_material(name, kind.value, content)
        if changed:
            self._gate.forget()
            await self._actions.record(
                actor,
                "trust.create" if before is None else "trust.update",
                policy_version=version,
                name=name,
                kind=kind.value,
                sha256=stored.sha256,
                previous_sha256=before.sha256 if before else None,
            )
        return TrustChange(_view(stored), before is None, changed, version)

    async def delete(self, actor: Actor, name: str) -> int:
        before = await self.get(name)
        try:
            version = await self._signing.delete_material(name)
        except MaterialNotFound as exc:
            raise not_found(f"trust material {name!r}") from exc
        self._gate.forget()
        await self._actions.record(
            actor,
            "trust.delete",
            policy_version=version,
            name=name,
            kind=before.kind.value,
            sha256=before.sha256,
        )
        return version


def _view(stored: StoredMaterial) -> MaterialView:
    return MaterialView(
        stored.name,
        MaterialKind(stored.kind),
        stored.sha256,
        stored.content,
        stored.created_at,
        stored.updated_at,
    )
