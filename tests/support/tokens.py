"""A docker token server (https://distribution.github.io/distribution/spec/auth/token/).

It issues JWTs that distribution 2.8 verifies: signed ES256 or RS256 with a key made by
``cryptography``, the self-signed certificate in the ``x5c`` header doubling as the
registry's ``rootcertbundle``. It runs in its own thread (see ``serve.ServerThread``)
and counts every token it hands out.
"""

from __future__ import annotations

import base64
import datetime
import json
import secrets
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID

from tests.support.serve import ServedInThread, ServerThread

__all__ = ["TokenServer", "parse_scope"]

Algorithm = Literal["ES256", "RS256"]
_SigningKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def parse_scope(scope: str) -> dict[str, Any]:
    """``repository:library/x:pull,push`` -> one ``access`` claim entry."""
    kind, rest = scope.split(":", 1)
    name, _, actions = rest.rpartition(":")
    return {"type": kind, "name": name, "actions": [a for a in actions.split(",") if a]}


class TokenServer(ServedInThread):
    """Issue registry tokens; ``allow_anonymous`` grants ``pull`` without credentials."""

    def __init__(
        self,
        *,
        users: Mapping[str, str] | None = None,
        allow_anonymous: bool = True,
        algorithm: Algorithm = "ES256",
        service: str = "pullgate-test-registry",
        issuer: str = "pullgate-test-issuer",
        expires_in: int = 300,
    ) -> None:
        self.users = dict(users if users is not None else {"alice": "wonderland"})
        self.allow_anonymous = allow_anonymous
        self.algorithm = algorithm
        self.service = service
        self.issuer = issuer
        self.expires_in = expires_in
        self.requests: list[dict[str, Any]] = []
        self.tokens: list[str] = []  # every token handed out, for tests that prove none leaks
        self._issued = 0
        self._lock = threading.Lock()
        self._key: _SigningKey = (
            ec.generate_private_key(ec.SECP256R1())
            if algorithm == "ES256"
            else rsa.generate_private_key(public_exponent=65537, key_size=2048)
        )
        self._certificate = _self_signed(self._key, issuer)
        app = web.Application()
        app.router.add_get("/token", self._handle)
        app.router.add_post("/token", self._handle)
        self._server = ServerThread(app)

    @property
    def issued(self) -> int:
        """How many tokens this server has handed out so far."""
        with self._lock:
            return self._issued

    @property
    def realm(self) -> str:
        return f"{self._server.url}/token"

    @property
    def certificate_pem(self) -> bytes:
        return self._certificate.public_bytes(serialization.Encoding.PEM)

    def mint(self, scopes: Sequence[str] = (), *, subject: str = "", expires_in: int | None = None) -> str:
        """Sign a token for ``scopes`` directly, without the HTTP exchange (not counted)."""
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "sub": subject,
            "aud": self.service,
            "exp": now + (self.expires_in if expires_in is None else expires_in),
            "nbf": now - 1,
            "iat": now,
            "jti": secrets.token_hex(16),
            "access": [parse_scope(scope) for scope in scopes],
        }
        cert_der = self._certificate.public_bytes(serialization.Encoding.DER)
        header = {"typ": "JWT", "alg": self.algorithm, "x5c": [base64.b64encode(cert_der).decode()]}
        signing_input = f"{_b64url(json.dumps(header).encode())}.{_b64url(json.dumps(claims).encode())}"
        return f"{signing_input}.{_b64url(self._sign(signing_input.encode()))}"

    def _sign(self, data: bytes) -> bytes:
        if isinstance(self._key, ec.EllipticCurvePrivateKey):
            # JWS wants the raw 32-byte r || s, not the DER sequence cryptography returns.
            r, s = decode_dss_signature(self._key.sign(data, ec.ECDSA(hashes.SHA256())))
            return r.to_bytes(32, "big") + s.to_bytes(32, "big")
        return self._key.sign(data, padding.PKCS1v15(), hashes.SHA256())

    async def _handle(self, request: web.Request) -> web.Response:
        params: dict[str, Any] = dict(request.query)
        scopes = request.query.getall("scope", [])
        if request.method == "POST":  # OAuth2 password grant, as containerd sends it
            form = await request.post()
            params.update({k: str(v) for k, v in form.items()})
            scopes = " ".join(str(s) for s in form.getall("scope", [])).split()
        self.requests.append({"method": request.method, **params})
        subject = self._authenticate(request, params)
        if subject is None:
            return web.json_response(
                {"errors": [{"code": "UNAUTHORIZED", "message": "authentication required"}]},
                status=401,
                headers={"WWW-Authenticate": 'Basic realm="pullgate-test-token"'},
            )
        granted = [self._grant(scope, subject) for scope in " ".join(scopes).split()]
        token = self.mint([g for g in granted if g], subject=subject)
        with self._lock:
            self._issued += 1
            self.tokens.append(token)
        issued_at = datetime.datetime.now(datetime.UTC).isoformat()
        body = {"token": token, "access_token": token, "expires_in": self.expires_in, "issued_at": issued_at}
        return web.json_response(body)

    def _authenticate(self, request: web.Request, params: Mapping[str, str]) -> str | None:
        """The subject ("" for anonymous), or None when the caller must be refused."""
        if "username" in params:
            user, password = params["username"], params.get("password", "")
        elif request.headers.get("Authorization", "").startswith("Basic "):
            decoded = base64.b64decode(request.headers["Authorization"][6:]).decode()
            user, _, password = decoded.partition(":")
        else:
            return "" if self.allow_anonymous else None
        ok = user in self.users and secrets.compare_digest(self.users[user], password)
        return user if ok else None

    def _grant(self, scope: str, subject: str) -> str:
        """Users get what they ask for; anonymous callers get at most ``pull``."""
        if subject:
            return scope
        entry = parse_scope(scope)
        if "pull" not in entry["actions"]:
            return ""
        return f"{entry['type']}:{entry['name']}:pull"


def _self_signed(key: _SigningKey, common_name: str) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
