"""Typed settings: one YAML document, `PULLGATE_*` environment overrides, validated at start-up.

Every problem is reported at once (pydantic collects them), so an operator fixes a config in
one round. Unknown keys are errors: a misspelt key silently falling back to a default is the
kind of mistake a gatekeeper cannot afford.

Environment overrides address nested keys with double underscores and take YAML values:
``PULLGATE_DATABASE__URL=postgresql+asyncpg://...``, ``PULLGATE_CACHE__MAX_BYTES=20GiB``,
``PULLGATE_UPSTREAMS='[{name: docker.io, url: "https://registry-1.docker.io", default: true}]'``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from proxy.auth_settings import AuthSettings, PullAuthSettings
from proxy.config_values import Duration, PositiveDuration, Size
from proxy.scan_settings import ScanningSettings
from proxy.secrets_settings import SecretsSettings
from proxy.server_settings import ServerSettings
from proxy.storage_settings import StorageSettings
from proxy.ui_settings import UiSettings

__all__ = ["ConfigError", "Settings", "UpstreamSettings", "load_settings"]

ENV_PREFIX = "PULLGATE_"
DOCKER_HUB_NAME = "docker.io"
DOCKER_HUB_HOSTS = frozenset({"registry-1.docker.io", "index.docker.io", "docker.io"})


class ConfigError(Exception):
    """The configuration cannot be used; `problems` lists every reason."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("invalid configuration:\n" + "\n".join(f"  - {p}" for p in problems))


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TLSSettings(_Section):
    ca_file: Path | None = None
    insecure: bool = False  # skip certificate verification: for test registries only

    @field_validator("ca_file")
    @classmethod
    def _ca_exists(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_file():
            raise ValueError(f"CA file {value} does not exist")
        return value


class UpstreamSettings(_Section):
    name: str = Field(description="registry host this upstream stands for, as clients name it (docker.io)")
    url: str
    default: bool = False
    aliases: tuple[str, ...] = ()  # further first path segments that route here
    username: str | None = None
    password: SecretStr | None = None
    password_file: Path | None = None  # read at start-up; keeps secrets out of the YAML
    tls: TLSSettings = TLSSettings()

    @field_validator("name")
    @classmethod
    def _name_is_host(cls, value: str) -> str:
        if not re.fullmatch(r"[a-z0-9.-]+(:[0-9]{1,5})?", value):
            raise ValueError(f"{value!r} is not a registry host name (lowercase host[:port])")
        return value

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{value!r} must be an http:// or https:// URL")
        if parts.username or parts.password:
            raise ValueError("put credentials in username/password, not in the URL")
        if parts.query or parts.fragment:
            raise ValueError("the upstream URL takes no query or fragment")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _credentials(self) -> UpstreamSettings:
        if self.password is not None and self.password_file is not None:
            raise ValueError("give password or password_file, not both")
        if (self.password is not None or self.password_file is not None) and not self.username:
            raise ValueError("a password needs a username")
        if self.password_file is not None and not self.password_file.is_file():
            raise ValueError(f"password_file {self.password_file} does not exist")
        return self

    @property
    def is_docker_hub(self) -> bool:
        return self.name == DOCKER_HUB_NAME or (urlsplit(self.url).hostname or "") in DOCKER_HUB_HOSTS

    def secret(self) -> str | None:
        if self.password is not None:
            return self.password.get_secret_value()
        if self.password_file is not None:
            return self.password_file.read_text().strip()
        return None


class CircuitBreakerSettings(_Section):
    # Per upstream and per replica: after `failures` consecutive attempts that timed out, could
    # not connect or got a 5xx, requests fail at once for `open_for`, then one trial decides.
    failures: int = Field(default=5, ge=0)  # 0: no breaker
    open_for: PositiveDuration = 10.0
    hold_max: Duration = 300.0  # a 429/503 Retry-After pauses the whole upstream, at most this long


class UpstreamClientSettings(_Section):
    connect_timeout: PositiveDuration = 5.0
    read_timeout: PositiveDuration = 30.0  # longest silence tolerated while reading a response
    retries: int = Field(default=2, ge=0, le=10)  # further attempts for temporary failures
    backoff_initial: Duration = 0.2
    backoff_max: Duration = 5.0
    retry_after_max: Duration = 10.0  # wait out a 429/503 Retry-After up to this long, else fail fast
    max_connections: int = Field(default=100, ge=1)
    circuit_breaker: CircuitBreakerSettings = CircuitBreakerSettings()


class DatabaseSettings(_Section):
    url: str = "sqlite+aiosqlite:///./data/pullgate.db"
    pool_size: int = Field(default=10, ge=1)
    # PostgreSQL: longest wait to connect, and for any one statement. An unreachable or
    # silent server then fails requests closed within this bound instead of hanging them.
    timeout: PositiveDuration = 15.0
    auto_migrate: bool | None = None  # None: migrate on start for SQLite, check the revision otherwise

    @field_validator("url")
    @classmethod
    def _driver(cls, value: str) -> str:
        if not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError("database.url must use sqlite+aiosqlite:// or postgresql+asyncpg://")
        return value

    @property
    def is_sqlite(self) -> bool:
        return self.url.startswith("sqlite")

    @property
    def migrate_on_start(self) -> bool:
        return self.is_sqlite if self.auto_migrate is None else self.auto_migrate


class CacheSettings(_Section):
    max_bytes: Size | None = None  # None: unbounded
    eviction_interval: PositiveDuration = 60.0
    tag_ttl: Duration = 300.0  # within it a tag resolves without asking the upstream
    tag_max_stale: Duration = 86400.0  # serve a known digest this long when the upstream fails
    tag_forget_on_404: bool = True  # upstream 404 for a tag removes it; False keeps serving it stale
    memory_bytes: Size = 64 * 1024 * 1024  # hot manifests and tag answers kept in memory, per replica
    access_flush_interval: PositiveDuration = 5.0  # last-access times are batched, not written per hit


class GateSettings(_Section):
    # Rules and the default action live in the database (admin API, `pullgate policy apply`),
    # so every replica decides alike; these settings tune how the gate runs.
    policy_refresh_interval: PositiveDuration = 1.0  # how soon a rule change made elsewhere is seen
    decision_cache_ttl: PositiveDuration = 60.0  # a decision is reused this long (same policy version)
    quarantine_prefetch_blobs: bool = False  # fetch a quarantined image's blobs so review is instant
    audit_queue_size: int = Field(default=10_000, ge=1)  # full: requests wait, records are never dropped
    audit_batch_size: int = Field(default=500, ge=1)
    # ack: a pull is answered only once its audit record is committed (a crash loses none a
    # client was told); async: records are queued and written behind the answer (faster,
    # a crash loses what was queued). See proxy/gate/audit.py.
    audit_durability: Literal["ack", "async"] = "ack"
    audit_ack_timeout: PositiveDuration = 10.0  # ack: a record not committed by then fails its pull (503)
    audit_flush_interval: PositiveDuration = 0.5  # async: longest a record waits for its batch


class AdminSettings(_Section):
    enabled: bool = True  # the /api/v1 admin API on the same listener


class LogSettings(_Section):
    level: Literal["debug", "info", "warning", "error"] = "info"
    access_log: bool = True


class Settings(_Section):
    listen: str = "127.0.0.1:5000"
    server: ServerSettings = ServerSettings()
    storage: StorageSettings = StorageSettings()
    database: DatabaseSettings = DatabaseSettings()
    upstreams: tuple[UpstreamSettings, ...] = (
        UpstreamSettings(name=DOCKER_HUB_NAME, url="https://registry-1.docker.io", default=True),
    )
    upstream_client: UpstreamClientSettings = UpstreamClientSettings()
    cache: CacheSettings = CacheSettings()
    gate: GateSettings = GateSettings()
    admin: AdminSettings = AdminSettings()
    ui: UiSettings = UiSettings()
    auth: AuthSettings = AuthSettings()
    pull_auth: PullAuthSettings = PullAuthSettings()
    scanning: ScanningSettings = ScanningSettings()
    secrets: SecretsSettings = SecretsSettings()
    log: LogSettings = LogSettings()

    @field_validator("listen")
    @classmethod
    def _listen(cls, value: str) -> str:
        host, sep, port = value.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"listen {value!r} must be host:port")
        return value

    @field_validator("upstreams")
    @classmethod
    def _upstreams(cls, upstreams: tuple[UpstreamSettings, ...]) -> tuple[UpstreamSettings, ...]:
        # A field validator, not a model one: it runs even when other fields fail, so its
        # problems are listed together with theirs.
        if not upstreams:
            raise ValueError("at least one upstream is required")
        defaults = [u.name for u in upstreams if u.default]
        if len(defaults) != 1:
            raise ValueError(f"exactly one upstream must be default: true (found {len(defaults)})")
        seen: set[str] = set()
        for upstream in upstreams:
            for label in (upstream.name, *upstream.aliases):
                if label in seen:
                    raise ValueError(f"upstream name or alias {label!r} is used twice")
                seen.add(label)
        return upstreams

    @model_validator(mode="after")
    def _console_needs_admin(self) -> Settings:
        if self.ui.enabled and not self.admin.enabled:
            raise ValueError("ui.enabled: the console is built on the admin API; enable admin too")
        return self

    @property
    def console_enabled(self) -> bool:
        return self.admin.enabled and self.ui.enabled is not False

    @property
    def decision_url_base(self) -> str | None:
        """Where a decision's console page lives, less its id (None: not configured or no console)."""
        if self.ui.public_url is None or not self.console_enabled:
            return None
        return f"{self.ui.public_url}/ui/#/decisions/"

    @property
    def listen_host(self) -> str:
        return self.listen.rpartition(":")[0].strip("[]")

    @property
    def listen_port(self) -> int:
        return int(self.listen.rpartition(":")[2])

    @property
    def default_upstream(self) -> UpstreamSettings:
        return next(u for u in self.upstreams if u.default)

    def warnings(self) -> list[str]:
        """What is allowed but deserves a second look (`pullgate config check` prints these)."""
        found = [
            f"upstreams[{i}] ({u.name}): password is written in the configuration in clear; use "
            "password_file, or `pullgate upstream credentials set` (stored encrypted)"
            for i, u in enumerate(self.upstreams)
            if u.password is not None
        ]
        return found + self.secrets.warnings()


def _env_overrides(environ: Mapping[str, str]) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for key, raw in environ.items():
        if not key.startswith(ENV_PREFIX) or key == f"{ENV_PREFIX}CONFIG":
            continue
        path = key[len(ENV_PREFIX) :].lower().split("__")
        node = tree
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = yaml.safe_load(raw) if raw.strip() else raw
    return tree


def _merge(base: dict[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def load_settings(path: Path | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Read the YAML file (if any), apply environment overrides, validate everything."""
    environ = os.environ if environ is None else environ
    document: dict[str, Any] = {}
    if path is not None:
        try:
            loaded = yaml.safe_load(path.read_text()) or {}
        except OSError as exc:
            raise ConfigError([f"cannot read {path}: {exc.strerror}"]) from exc
        except yaml.YAMLError as exc:
            raise ConfigError([f"{path} is not valid YAML: {exc}"]) from exc
        if not isinstance(loaded, dict):
            raise ConfigError([f"{path} must hold a mapping of settings"])
        document = loaded
    document = _merge(document, _env_overrides(environ))
    try:
        return Settings.model_validate(document)
    except ValidationError as exc:
        raise ConfigError([_describe(err) for err in exc.errors()]) from exc


def _describe(error: Any) -> str:
    location = ".".join(str(part) for part in error["loc"]) or "(top level)"
    message = str(error["msg"]).removeprefix("Value error, ")
    return f"{location}: {message}"
