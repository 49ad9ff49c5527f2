"""`pullgate runtime-config`: node configuration that makes pullgate the only way to pull.

A runtime that lists pullgate as a *mirror* falls back to the real registry whenever the
mirror errors, a 403 included (DESIGN.md §3): the gate becomes advice. These generators
write the configurations in which pullgate is the registry itself:

- containerd: ``certs.d/<registry>/hosts.toml`` and ``certs.d/_default/hosts.toml`` with
  pullgate as ``server`` and only host; containerd adds ``?ns=<registry>``, pullgate routes it.
- CRI-O / podman: ``registries.conf`` rewriting each registry's location to
  ``<pullgate>/<registry>`` (pullgate's path-prefix routing), never a ``[[registry.mirror]]``.
- Docker: ``daemon.json`` with ``registry-mirrors``. Docker Hub only, and it falls back: the
  notes say so, because only a network egress block can enforce anything there.

The generators are pure, returning ``{relative path: content}``; notes for the operator are
a separate list so that a single generated file can be printed to stdout as it is.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

__all__ = [
    "RUNTIMES",
    "PullgateURL",
    "RuntimeConfigError",
    "add_runtime_config_command",
    "containerd_hosts",
    "daemon_json",
    "parse_pullgate_url",
    "parse_registries",
    "path_segment",
    "registries_conf",
    "run_runtime_config",
    "runtime_notes",
]

RUNTIMES = ("containerd", "crio", "podman", "docker")
DOCKER_HUB = "docker.io"
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
# Lowercase only: runtimes compare registry names byte for byte, so "Docker.io" in a
# registries.conf prefix or a certs.d directory would silently never match.
_REGISTRY = re.compile(rf"(?P<host>{_LABEL}(?:\.{_LABEL})*)(?::(?P<port>[0-9]{{1,5}}))?")
_CONTAINERD_KEYS = """\
# Enable config_path in /etc/containerd/config.toml (then restart containerd):
#   containerd 1.x, config version 2:
#     [plugins."io.containerd.grpc.v1.cri".registry]
#       config_path = "/etc/containerd/certs.d"
#   containerd 2.x, config version 3:
#     [plugins."io.containerd.cri.v1.images".registry]
#       config_path = "/etc/containerd/certs.d"
# and remove any registry.mirrors / registry.configs there: containerd refuses to combine them
# with config_path. ctr reads the same layout with: ctr image pull --hosts-dir /etc/containerd/certs.d
"""


class RuntimeConfigError(ValueError):
    """A command-line value that cannot produce a working configuration."""


@dataclass(frozen=True, slots=True)
class PullgateURL:
    scheme: str
    netloc: str  # host[:port], lowercase: how runtimes name pullgate

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.netloc}"

    @property
    def plain_http(self) -> bool:
        return self.scheme == "http"


def parse_pullgate_url(text: str) -> PullgateURL:
    """pullgate's base URL: http(s), a host, an optional port, nothing else."""
    parts = urlsplit(text.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise RuntimeConfigError(f"--url {text!r} must be http://HOST[:PORT] or https://HOST[:PORT]")
    try:
        port = parts.port
    except ValueError as exc:
        raise RuntimeConfigError(f"--url {text!r} has an invalid port") from exc
    host = parts.hostname.lower()
    if port == 0 or (":" not in host and not _REGISTRY.fullmatch(host)):
        raise RuntimeConfigError(f"--url {text!r} has an invalid host or port")
    # The registry API lives at /v2/ on the root; a path, query or credentials would be lost.
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username is not None:
        raise RuntimeConfigError(f"--url {text!r} takes no path, query, fragment or credentials")
    host = f"[{host}]" if ":" in host else host  # IPv6 literals keep their brackets
    return PullgateURL(parts.scheme, host if port is None else f"{host}:{port}")


def parse_registries(text: str) -> tuple[str, ...]:
    """Comma-separated registry hosts (host[:port]), in order, without duplicates."""
    names: list[str] = []
    for raw in text.split(","):
        name = raw.strip()
        if not name:
            continue
        match = _REGISTRY.fullmatch(name)
        if match is None or len(match["host"]) > 253:
            raise RuntimeConfigError(f"registry {name!r} is not a lowercase host[:port] (e.g. docker.io)")
        if match["port"] is not None and not 0 < int(match["port"]) < 65536:
            raise RuntimeConfigError(f"registry {name!r} has an invalid port")
        if name not in names:
            names.append(name)
    if not names:
        raise RuntimeConfigError("--registries names no registry")
    return tuple(names)


def path_segment(registry: str) -> str:
    """The first path segment naming ``registry`` on pullgate (podman/CRI-O rewrites).

    A repository path cannot contain ':', so ``host:port`` becomes ``host-port``, which
    pullgate routes only when its upstream for that registry lists it under ``aliases``.
    """
    return registry.replace(":", "-")


def containerd_hosts(
    pullgate: PullgateURL, registries: Sequence[str], *, ca_file: str | None = None, insecure: bool = False
) -> dict[str, str]:
    """``certs.d/<registry>/hosts.toml`` per registry, and ``certs.d/_default`` for all others."""
    _check_tls(pullgate, ca_file, insecure)
    files = {
        f"certs.d/{name}/hosts.toml": _hosts_toml(pullgate, name, ca_file, insecure) for name in registries
    }
    files["certs.d/_default/hosts.toml"] = _hosts_toml(pullgate, None, ca_file, insecure)
    return files


def _hosts_toml(pullgate: PullgateURL, registry: str | None, ca_file: str | None, insecure: bool) -> str:
    covers = f"pulls of {registry}" if registry else "every registry without its own directory here"
    tls = [f"  ca = {json.dumps(ca_file)}"] if ca_file else []
    tls += ["  skip_verify = true  # --insecure: no certificate check; for tests only"] if insecure else []
    if pullgate.plain_http:
        tls = ["  # plain HTTP; for TLS: an https:// --url, with --ca-file (ca) or --insecure (skip_verify)"]
    return "\n".join(
        [
            f"# pullgate is the only host containerd may use for {covers}.",
            "# Generated by `pullgate runtime-config containerd`.",
            "# Do not add the real registry as another [host]: containerd tries the next host on",
            "# any error, a 403 from pullgate included, and the gate would become advice.",
            "# containerd adds ?ns=<registry> to every request; pullgate routes by it and refuses",
            "# a registry it has no upstream for.",
            _CONTAINERD_KEYS.rstrip("\n"),
            f'server = "{pullgate.url}"',
            "",
            f'[host."{pullgate.url}"]',
            '  capabilities = ["pull", "resolve"]',
            *tls,
            "",
        ]
    )


def registries_conf(
    pullgate: PullgateURL, registries: Sequence[str], *, ca_file: str | None = None, insecure: bool = False
) -> dict[str, str]:
    """One ``registries.conf`` (v2) for CRI-O and podman: every registry rewritten to pullgate."""
    _check_tls(pullgate, ca_file, insecure)
    if pullgate.netloc in registries:  # its own entry follows; containers/image refuses a prefix twice
        raise RuntimeConfigError(f"--registries names pullgate itself ({pullgate.netloc})")
    insecure_line = _insecure_line(pullgate.plain_http or insecure, pullgate)
    search = ", ".join(json.dumps(name) for name in registries)
    lines = [
        "# registries.conf (v2) for CRI-O and podman, generated by `pullgate runtime-config`.",
        "# Each [[registry]] REWRITES its prefix to pullgate (location = <pullgate>/<registry>, routed",
        "# by pullgate's path prefix). It is deliberately not a [[registry.mirror]]: mirrors are tried",
        "# first and the real registry after them, on any error, a 403 from pullgate included.",
        "# Registries NOT listed below are NOT covered: there is no catch-all rewrite, so images from",
        "# them are pulled directly. List every registry your nodes use (--registries) and block",
        "# egress to public registries at the network.",
        "# Short names resolve only through these registries, all of them gated:",
        f"unqualified-search-registries = [{search}]",
        "",
    ]
    for name in registries:
        if ":" in name:  # a repository path cannot hold ':'
            lines.append(f"# routed only if pullgate's upstream {name} has aliases: [{path_segment(name)}]")
        location = f"{pullgate.netloc}/{path_segment(name)}"
        lines += ["[[registry]]", f'prefix = "{name}"', f'location = "{location}"', *insecure_line, ""]
    lines += ["# pullgate by its own name (podman login, direct pulls).", "[[registry]]"]
    lines += [f'location = "{pullgate.netloc}"', *insecure_line, ""]
    return {"registries.conf": "\n".join(lines)}


def _insecure_line(skip_tls: bool, pullgate: PullgateURL) -> list[str]:
    if not skip_tls:
        return []
    why = "pullgate speaks plain HTTP" if pullgate.plain_http else "--insecure: no certificate check"
    return [f"insecure = true  # {why}"]


def daemon_json(
    pullgate: PullgateURL,
    registries: Sequence[str],
    *,
    ca_file: str | None = None,
    insecure: bool = False,
) -> dict[str, str]:
    """``daemon.json`` with pullgate as Docker Hub's mirror: a cache, not a gate (see the notes)."""
    _check_tls(pullgate, ca_file, insecure)
    config: dict[str, Any] = {"registry-mirrors": [pullgate.url]}
    if pullgate.plain_http or insecure:
        config["insecure-registries"] = [pullgate.netloc]
    return {"daemon.json": json.dumps(config, indent=2) + "\n"}


_EGRESS = "Block egress from every node to public registries, allowing only pullgate: otherwise nothing stops a bypass (docs/runtimes.md)."
_NOTES = {
    "containerd": (
        _EGRESS,
        "pullgate needs an upstream (upstreams[].name) for every registry nodes pull from: a ?ns= naming no upstream is refused.",
    ),
    "registries.conf": (
        _EGRESS,
        "Registries not listed in --registries are NOT covered: registries.conf has no catch-all rewrite.",
    ),
    "docker": (
        "Docker treats pullgate as a MIRROR: on any mirror error, a 403 denial included, it pulls from the real registry. pullgate is a cache here, not a gate.",
        "registry-mirrors covers docker.io only: images from other registries never reach pullgate.",
        "Enforcement therefore rests entirely on blocking egress to registries at the network (docs/runtimes.md).",
    ),
}


def runtime_notes(
    runtime: str, pullgate: PullgateURL, registries: Sequence[str], ca_file: str | None = None
) -> list[str]:
    """What the operator must know beyond the files, printed to stderr."""
    if runtime == "containerd":
        return list(_NOTES["containerd"])
    if runtime == "docker":
        notes = list(_NOTES["docker"])
        if others := [name for name in registries if name != DOCKER_HUB]:
            notes.append(f"Not covered by Docker at all: {', '.join(others)}.")
        certs = "/etc/docker/certs.d"
    else:
        notes = list(_NOTES["registries.conf"])
        if aliased := [f"{name} -> aliases: [{path_segment(name)}]" for name in registries if ":" in name]:
            notes.append(
                "A repository path cannot hold ':'; add to pullgate's upstreams " + ", ".join(aliased)
            )
        certs = "/etc/containers/certs.d"
    if ca_file:
        notes.append(f"Install the CA as {certs}/{pullgate.netloc}/ca.crt (the file format has no CA key).")
    return notes


def _check_tls(pullgate: PullgateURL, ca_file: str | None, insecure: bool) -> None:
    if pullgate.plain_http and (ca_file or insecure):
        raise RuntimeConfigError("--ca-file and --insecure apply to an https:// --url only")


_GENERATORS: dict[str, Callable[..., dict[str, str]]] = {
    "containerd": containerd_hosts,
    "crio": registries_conf,
    "podman": registries_conf,
    "docker": daemon_json,
}


def add_runtime_config_command(
    commands: Any, config_option: Callable[[argparse.ArgumentParser], None]
) -> None:
    parser = commands.add_parser(
        "runtime-config", help="print node configuration that makes pullgate the only path for pulls"
    )
    parser.add_argument("runtime", choices=RUNTIMES)
    parser.add_argument(
        "--url", required=True, metavar="URL", help="pullgate as nodes reach it: http(s)://HOST[:PORT]"
    )
    parser.add_argument(
        "--registries",
        default=DOCKER_HUB,
        metavar="LIST",
        help="comma-separated registries (default: docker.io)",
    )
    parser.add_argument(
        "--output", type=Path, metavar="DIR", help="write the files under DIR instead of printing them"
    )
    parser.add_argument("--ca-file", metavar="PATH", help="CA bundle on the node for an https:// pullgate")
    parser.add_argument("--insecure", action="store_true", help="skip certificate verification (tests only)")
    config_option(parser)  # accepted for uniformity; the command reads no settings


def run_runtime_config(args: argparse.Namespace) -> int:
    try:
        pullgate = parse_pullgate_url(args.url)
        registries = parse_registries(args.registries)
        files = _GENERATORS[args.runtime](pullgate, registries, ca_file=args.ca_file, insecure=args.insecure)
    except RuntimeConfigError as exc:
        print(f"pullgate runtime-config: {exc}", file=sys.stderr)
        return 2
    if args.output is None:
        _print_files(files)
    else:
        try:
            _write_files(args.output, files)
        except OSError as exc:
            print(f"pullgate runtime-config: cannot write under {args.output}: {exc}", file=sys.stderr)
            return 1
    for note in runtime_notes(args.runtime, pullgate, registries, args.ca_file):
        print(f"note: {note}", file=sys.stderr)
    return 0


def _print_files(files: dict[str, str]) -> None:
    if len(files) == 1:  # as is, so that `... > /etc/docker/daemon.json` works
        sys.stdout.write(next(iter(files.values())))
        return
    for path, content in files.items():
        sys.stdout.write(f"# ===== {path} =====\n{content}\n")


def _write_files(root: Path, files: dict[str, str]) -> None:
    for relative, content in files.items():
        target = root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content)
        print(f"wrote {target}", file=sys.stderr)
