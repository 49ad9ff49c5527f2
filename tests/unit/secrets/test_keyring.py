"""Key ring text: entries, separators, comments, and every problem reported at once."""

from __future__ import annotations

import base64
import os
import re
from datetime import UTC, datetime

import pytest

from proxy.secrets import KeyRing, KeyRingError, generate_key, parse_key_ring
from proxy.secrets.keyring import default_key_id


def entry(key_id: str, material: bytes | None = None, *, urlsafe: bool = False) -> str:
    material = material if material is not None else os.urandom(32)
    encode = base64.urlsafe_b64encode if urlsafe else base64.b64encode
    return f"{key_id}:{encode(material).decode()}"


def test_file_format_first_key_is_primary() -> None:
    new, old = os.urandom(32), os.urandom(32)
    text = f"# pullgate key ring\n\n{entry('2026-11', new)}   # current\n{entry('2026-05', old)}\n"
    keys = parse_key_ring(text)
    assert keys.ids == ("2026-11", "2026-05") and keys.primary.id == "2026-11"
    assert keys.get("2026-11").material == new and keys.get("2026-05").material == old
    assert "2026-05" in keys and "nope" not in keys and len(keys) == 2


def test_environment_style_separators_and_urlsafe_unpadded_keys() -> None:
    material = os.urandom(32)
    unpadded = entry("b", material, urlsafe=True).rstrip("=")
    keys = parse_key_ring(f"{entry('a')},{unpadded} {entry('c')}")
    assert keys.ids == ("a", "b", "c") and keys.get("b").material == material


def test_every_problem_is_listed_by_position_without_the_key() -> None:
    short = os.urandom(16)
    dup = os.urandom(32)
    text = "\n".join(
        [
            entry("good"),
            entry("short", short),
            "no-colon-here",
            "bad id!:" + base64.b64encode(os.urandom(32)).decode(),
            "nob64:@@@@",
            entry("good"),
            entry("x1", dup),
            entry("x2", dup),
        ]
    )
    with pytest.raises(KeyRingError) as caught:
        parse_key_ring(text)
    problems = caught.value.problems
    # "bad id!" is split at the space: "bad" has no colon, "id!:..." has a bad id.
    assert problems == [
        "entry 2 (line 2): the key is 16 bytes; AES-256 needs 32",
        "entry 3 (line 3) is not ID:KEY",
        "entry 4 (line 4) is not ID:KEY",
        "entry 5 (line 4): key id 'id!' must be 1-64 letters, digits, '.', '_' or '-'",
        "entry 6 (line 5): the key is not base64",
        "key id 'good' is used twice",
        "keys 'x1' and 'x2' are the same key",
    ]
    message = str(caught.value)
    for material in (short, dup):
        assert base64.b64encode(material).decode() not in message


def test_an_empty_ring_is_refused() -> None:
    for text in ("", "# only a comment\n", " , \n"):
        with pytest.raises(KeyRingError, match="holds no key"):
            parse_key_ring(text)
    with pytest.raises(KeyRingError):
        KeyRing([])


def test_generated_keys_parse_and_differ() -> None:
    first, second = generate_key("k1"), generate_key("k2")
    keys = parse_key_ring(f"{first}\n{second}")
    assert keys.ids == ("k1", "k2") and keys.get("k1").material != keys.get("k2").material
    assert len(keys.get("k1").material) == 32
    assert parse_key_ring(generate_key()).primary.id.startswith("key-")
    assert re.fullmatch(r"key-20261123-[0-9a-f]{4}", default_key_id(datetime(2026, 11, 23, tzinfo=UTC)))
    with pytest.raises(KeyRingError, match="key id"):
        generate_key("not valid")
