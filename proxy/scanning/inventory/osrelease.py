"""os-release (https://www.freedesktop.org/software/systemd/man/os-release.html) and the OSV
ecosystem each distribution's advisories are filed under."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from types import MappingProxyType

from proxy.scanning.model import OperatingSystem

__all__ = ["osv_ecosystem", "parse_os_release"]

_LINE = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)=(.*)$")
_ESCAPE = re.compile(r"\\(.)")


def parse_os_release(data: bytes) -> OperatingSystem | None:
    """The operating system an os-release file describes, or None if it has no ID and no
    VERSION_ID (an empty or foreign file). Unknown keys and malformed lines are skipped, as
    systemd does."""
    fields: dict[str, str] = {}
    for line in data.decode("utf-8", "replace").splitlines():
        match = _LINE.match(line.strip())
        if match:
            fields[match[1]] = _unquote(match[2].strip())
    if "ID" not in fields and "VERSION_ID" not in fields:
        return None
    # "If not set, a default of ID=linux may be used."
    os_id = fields.get("ID", "linux").lower()
    version_id = fields.get("VERSION_ID", "")
    return OperatingSystem(
        id=os_id,
        version_id=version_id,
        pretty_name=fields.get("PRETTY_NAME", ""),
        ecosystem=osv_ecosystem(os_id, version_id, fields.get("VERSION", "")),
    )


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return _ESCAPE.sub(r"\1", value[1:-1])
    if len(value) >= 2 and value[0] == value[-1] == "'":
        return value[1:-1]
    return value


def _major(version_id: str) -> str:
    return version_id.split(".", 1)[0]


def _major_minor(version_id: str) -> str:
    return ".".join(version_id.split(".")[:2])


def _ubuntu(version_id: str, version: str) -> str:
    # OSV files LTS releases as "Ubuntu:22.04:LTS"; every even year's April release is one.
    year, _, month = version_id.partition(".")
    lts = "LTS" in version or (month == "04" and year.isdigit() and int(year) % 2 == 0)
    return f"Ubuntu:{version_id}:LTS" if lts else f"Ubuntu:{version_id}"


# os-release ID -> the OSV ecosystem (https://ossf.github.io/osv-schema/#affectedpackage-field)
# given VERSION_ID and VERSION. Red Hat's OSV records name products, not releases, so the
# matcher narrows those by package version.
_ECOSYSTEMS: Mapping[str, Callable[[str, str], str]] = MappingProxyType(
    {
        "debian": lambda vid, _: f"Debian:{_major(vid)}",
        "ubuntu": _ubuntu,
        "alpine": lambda vid, _: f"Alpine:v{_major_minor(vid)}",
        "rhel": lambda _vid, _: "Red Hat",
        "rocky": lambda vid, _: f"Rocky Linux:{_major(vid)}",
        "almalinux": lambda vid, _: f"AlmaLinux:{_major(vid)}",
        "opensuse-leap": lambda vid, _: f"openSUSE:Leap {vid}",
        "photon": lambda vid, _: f"Photon OS:{vid}",
        "mageia": lambda vid, _: f"Mageia:{vid}",
    }
)
# Rolling distributions: one ecosystem, no release.
_ROLLING: Mapping[str, str] = MappingProxyType({"wolfi": "Wolfi", "chainguard": "Chainguard"})


def osv_ecosystem(os_id: str, version_id: str, version: str = "") -> str | None:
    """The OSV ecosystem of a release, or None when OSV has none for it (CentOS, Fedora,
    Amazon Linux) or the release is unknown (Debian testing has no VERSION_ID)."""
    if os_id in _ROLLING:
        return _ROLLING[os_id]
    build = _ECOSYSTEMS.get(os_id)
    if build is None or not version_id:
        return None
    return build(version_id, version)
