"""X.509 distinguished names as Notation's trusted identities compare them.

A trusted identity ``x509.subject: C=US, ST=WA, O=acme`` matches a signing certificate when
every attribute it names has the same value in the certificate's subject; order does not
matter and the certificate may have more attributes (trust-store-trust-policy.md, "Trusted
Identities Constraints"). Both sides become a mapping from attribute type to value, with the
rules notation-go applies: one value per RDN (no ``+``), each attribute type at most once.

The identity side is RFC 4514 text with its escapes (``\\,`` ``\\;`` ``\\\\`` ``\\ `` and
``\\XX`` hex pairs); the certificate side is read from the DER subject, so no string
round-trip can make two different subjects look alike.
"""

from __future__ import annotations

from collections.abc import Mapping

from cryptography import x509
from cryptography.x509.oid import NameOID

__all__ = ["MANDATORY", "format_subject", "is_subset", "parse_dn", "subject_attributes"]

MANDATORY = ("C", "ST", "O")  # every trusted identity must name these (spec)

# The short names Go's pkix.Name.String() prints, which is what Notation users copy into
# trust policies; other attribute types are compared by dotted OID.
_SHORT_NAMES = (
    (NameOID.COUNTRY_NAME, "C"),
    (NameOID.STATE_OR_PROVINCE_NAME, "ST"),
    (NameOID.LOCALITY_NAME, "L"),
    (NameOID.ORGANIZATION_NAME, "O"),
    (NameOID.ORGANIZATIONAL_UNIT_NAME, "OU"),
    (NameOID.COMMON_NAME, "CN"),
    (NameOID.SERIAL_NUMBER, "SERIALNUMBER"),
    (NameOID.STREET_ADDRESS, "STREET"),
    (NameOID.POSTAL_CODE, "POSTALCODE"),
)
_ESCAPABLE = frozenset(' "#+,;<=>\\')


def parse_dn(text: str) -> dict[str, str]:
    """``C=US, ST=WA, O=acme`` as {"C": "US", ...}; `ValueError` says what is wrong."""
    attributes: dict[str, str] = {}
    for rdn in _split(text, ",;"):
        if not rdn.strip():
            raise ValueError(f"distinguished name {text!r} has an empty RDN")
        if len(_split(rdn, "+")) > 1:
            raise ValueError(f"distinguished name {text!r} has a multi-valued RDN, which is not supported")
        parts = _split(rdn, "=", limit=1)
        if len(parts) != 2 or not parts[0].strip():
            raise ValueError(f"RDN {rdn.strip()!r} of {text!r} is not of the form TYPE=value")
        kind = parts[0].strip().upper()
        if kind in attributes:
            raise ValueError(f"distinguished name {text!r} names {kind} twice")
        attributes[kind] = _unescape(parts[1], text)
    missing = [kind for kind in MANDATORY if not attributes.get(kind)]
    if missing:
        raise ValueError(f"distinguished name {text!r} lacks {', '.join(missing)} (C, ST and O are required)")
    return attributes


def subject_attributes(name: x509.Name) -> dict[str, str]:
    """A certificate subject as {"C": "US", ...}; `ValueError` if it cannot be compared."""
    attributes: dict[str, str] = {}
    short = dict(_SHORT_NAMES)
    for rdn in name.rdns:
        if len(rdn) > 1:
            raise ValueError("the certificate subject has a multi-valued RDN")
        (attribute,) = tuple(rdn)
        kind = short.get(attribute.oid, attribute.oid.dotted_string)
        if kind in attributes:
            raise ValueError(f"the certificate subject names {kind} twice")
        value = attribute.value
        attributes[kind] = value if isinstance(value, str) else value.hex()
    return attributes


def format_subject(name: x509.Name) -> str:
    """``C=US, ST=WA, O=acme, CN=builder``: the subject as a trusted identity would name it."""
    try:
        attributes = subject_attributes(name)
    except ValueError:
        return name.rfc4514_string()
    return ", ".join(f"{kind}={_escape(value)}" for kind, value in attributes.items())


def is_subset(wanted: Mapping[str, str], actual: Mapping[str, str]) -> bool:
    return all(actual.get(kind) == value for kind, value in wanted.items())


def _escape(value: str) -> str:
    last = len(value) - 1
    return "".join(
        "\\" + c if c in ',;+"\\<>=' or (c == " " and i in (0, last)) or (c == "#" and i == 0) else c
        for i, c in enumerate(value)
    )


def _split(text: str, separators: str, limit: int = -1) -> list[str]:
    """`text` cut at unescaped separators (a backslash escapes the next character)."""
    parts: list[str] = []
    current: list[str] = []
    escaped = False
    for char in text:
        if escaped:
            current.append(char)
            escaped = False
        elif char == "\\":
            current.append(char)
            escaped = True
        elif char in separators and (limit < 0 or len(parts) < limit):
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


def _unescape(raw: str, text: str) -> str:
    value = _strip_unescaped_spaces(raw)
    if value.startswith("#"):
        raise ValueError(f"distinguished name {text!r}: hex-encoded (#...) values are not supported")
    out = bytearray()
    i = 0
    while i < len(value):
        char = value[i]
        if char != "\\":
            out += char.encode()
            i += 1
            continue
        pair = value[i + 1 : i + 3]
        if len(pair) == 2 and all(c in "0123456789abcdefABCDEF" for c in pair):
            out.append(int(pair, 16))
            i += 3
        elif i + 1 < len(value) and value[i + 1] in _ESCAPABLE:
            out += value[i + 1].encode()
            i += 2
        else:
            raise ValueError(f"distinguished name {text!r} has a bad escape in {raw.strip()!r}")
    try:
        return out.decode()
    except UnicodeDecodeError:
        raise ValueError(f"distinguished name {text!r}: escaped bytes are not UTF-8") from None


def _strip_unescaped_spaces(raw: str) -> str:
    value = raw.lstrip(" ")
    end = len(value)
    # A trailing space survives when a backslash escapes it ("\ "); count the backslashes.
    while end > 0 and value[end - 1] == " ":
        backslashes = len(value[: end - 1]) - len(value[: end - 1].rstrip("\\"))
        if backslashes % 2 == 1:
            break
        end -= 1
    return value[:end]
