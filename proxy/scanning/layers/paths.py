"""Entry names, made safe: one normal form for every name, refusals for the rest.

A layer's names are chosen by whoever built it. The analyser never writes them to disk, but it
reasons about them (which file replaces which, what a whiteout deletes), so a name that could
mean two things is refused rather than guessed at: `usr/../etc/passwd` depends on whether
`usr` is a symbolic link, which only the runtime's unpacker decides.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["UnsafeName", "Whiteout", "normalise", "parse_whiteout"]

_WHITEOUT = ".wh."
_OPAQUE = ".wh..wh..opq"
_AUFS_META = ".wh..wh."  # other AUFS bookkeeping names (.wh..wh.plnk, .wh..wh.aufs): ignored


class UnsafeName(ValueError):
    """An entry name the analyser refuses; the message says why."""


@dataclass(frozen=True, slots=True)
class Whiteout:
    path: str  # what is deleted: a path, or the directory whose lower contents are hidden
    opaque: bool


def normalise(name: str, *, max_length: int) -> str:
    """`name` relative to the layer root without `.` components or repeated and trailing
    slashes (`./usr//bin/` becomes `usr/bin`; the root itself becomes "").

    Raises `UnsafeName` for names with NUL, absolute names, names with a `..` component and
    names longer than `max_length`.
    """
    if "\x00" in name:
        raise UnsafeName("name contains NUL")
    if len(name) > max_length:
        raise UnsafeName(f"name longer than {max_length} characters")
    if name.startswith("/"):
        raise UnsafeName("absolute path")
    parts = [part for part in name.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise UnsafeName("'..' component")
    return "/".join(parts)


def parse_whiteout(path: str) -> Whiteout | None:
    """The deletion a normalised entry name stands for, or None if it is an ordinary name.

    OCI image spec, "Whiteouts": `dir/.wh.NAME` deletes `dir/NAME` from the layers below;
    `dir/.wh..wh..opq` hides everything the layers below have in `dir`.
    """
    parent, _, base = path.rpartition("/")
    if not base.startswith(_WHITEOUT):
        return None
    if base == _OPAQUE:
        return Whiteout(parent, opaque=True)
    if base.startswith(_AUFS_META):
        return None
    target = base[len(_WHITEOUT) :]
    if target in ("", ".", ".."):
        raise UnsafeName("whiteout of no name, '.' or '..'")
    return Whiteout(f"{parent}/{target}" if parent else target, opaque=False)
