"""The reasons a verdict carries: written for the person whose pull was refused.

A rule reason reads ``rule no-latest (deny): repository library/* tag latest — pin a
version``: the rule id, what it does, what of the image it matched (a glob or regex is shown
with the tag it accepted), then the rule's description. Its ``detail`` holds the same facts
as data for the audit log and the admin API.
"""

from __future__ import annotations

from typing import Any

from proxy.policy.compiled import CompiledRule
from proxy.policy.model import Action, Mode, Reason, Subject

__all__ = ["default_reason", "rule_reason"]


def rule_reason(compiled: CompiledRule, tag: str | None) -> Reason:
    rule = compiled.rule
    warn = rule.mode is Mode.WARN
    effect = f"warn, would {rule.action}" if warn else str(rule.action)
    message = f"rule {rule.id} ({effect}): {_matched(compiled, tag)}"
    if rule.description:
        message += f" — {rule.description}"
    detail: dict[str, Any] = {
        "action": str(rule.action),
        "mode": str(rule.mode),
        "match": _match_fields(compiled),
    }
    if tag is not None:
        detail["tag"] = tag
    if rule.expires_at is not None:
        detail["expires_at"] = rule.expires_at.isoformat()
    if rule.owner:
        detail["owner"] = rule.owner
    return Reason(check="rule", message=message, rule_id=rule.id, detail=detail)


def default_reason(subject: Subject, action: Action) -> Reason:
    image = f"{subject.registry}/{subject.repository}@{subject.digest}"
    return Reason(
        check="default",
        message=f"no policy rule matches {image}; the default action is {action}",
        detail={"action": str(action)},
    )


def _matched(compiled: CompiledRule, tag: str | None) -> str:
    match = compiled.rule.match
    parts: list[str] = []
    if compiled.registry is not None:
        parts.append(f"registry {compiled.registry.pattern}")
    if compiled.repository.pattern != "**":
        parts.append(f"repository {compiled.repository.pattern}")
    if compiled.tag is not None:
        shown = compiled.tag.pattern
        parts.append(f"tag {shown}" if tag == shown else f"tag {tag} (matches {shown})")
    elif match.tag_regex is not None:
        parts.append(f"tag {tag} (matches /{match.tag_regex}/)")
    if compiled.digest is not None:
        parts.append(f"digest {compiled.digest}")
    return " ".join(parts) or "any repository"


def _match_fields(compiled: CompiledRule) -> dict[str, str]:
    match = compiled.rule.match
    fields = {
        "registry": None if compiled.registry is None else compiled.registry.pattern,
        "repository": compiled.repository.pattern,
        "tag": match.tag,
        "tag_regex": match.tag_regex,
        "digest": compiled.digest,
    }
    return {name: value for name, value in fields.items() if value is not None}
