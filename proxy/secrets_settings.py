"""The secrets key ring: where it comes from and how often replicas look for credential changes.
Part of `proxy.settings`.

The ring is read from `key_file` (a file only pullgate can read: a Kubernetes Secret, a
Docker secret) or from `keys` (usually `PULLGATE_SECRETS__KEYS`), never both; the format is
described in `proxy.secrets.keyring`. It is validated with the rest of the settings, so a
short key, a duplicate id or an unreadable file stops `serve` and `config check` with every
other problem. Without a ring, pullgate refuses to store credentials: never in clear.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, SecretStr, field_validator, model_validator

from proxy.config_values import PositiveDuration
from proxy.secrets import KeyRing, KeyRingError, parse_key_ring

__all__ = ["SecretsSettings"]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SecretsSettings(_Section):
    key_file: Path | None = None
    keys: SecretStr | None = None
    # How soon a credential change made on another replica (or by the CLI) is used here.
    refresh_interval: PositiveDuration = 5.0

    @field_validator("keys", mode="before")
    @classmethod
    def _keys_text(cls, value: Any) -> Any:
        # From YAML (or a YAML-valued environment variable) a list of entries is natural too.
        if isinstance(value, list | tuple) and all(isinstance(entry, str) for entry in value):
            return "\n".join(value)
        if value is not None and not isinstance(value, str | SecretStr):
            raise ValueError("must be text: ID:KEY entries separated by newlines, commas or spaces")
        return value

    @field_validator("keys")
    @classmethod
    def _keys_parse(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            _problems_as_value_error(lambda: parse_key_ring(value.get_secret_value()))
        return value

    @field_validator("key_file")
    @classmethod
    def _file_parses(cls, value: Path | None) -> Path | None:
        if value is not None:
            _problems_as_value_error(lambda: parse_key_ring(_read(value)))
        return value

    @model_validator(mode="after")
    def _one_source(self) -> SecretsSettings:
        if self.key_file is not None and self.keys is not None:
            raise ValueError("give secrets.key_file or secrets.keys, not both")
        return self

    @property
    def configured(self) -> bool:
        return self.key_file is not None or self.keys is not None

    def key_ring(self) -> KeyRing | None:
        """The ring (the file read again); None if none is configured. Raises `KeyRingError`."""
        if self.key_file is not None:
            return parse_key_ring(_read(self.key_file))
        if self.keys is not None:
            return parse_key_ring(self.keys.get_secret_value())
        return None

    def warnings(self) -> list[str]:
        """What `config check` points out without refusing the configuration."""
        if self.key_file is None:
            return []
        mode = self.key_file.stat().st_mode
        if mode & 0o077:
            return [f"secrets.key_file {self.key_file} is readable by other users (mode {mode & 0o777:o})"]
        return []


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError as exc:
        raise KeyRingError([f"cannot read {path}: {exc.strerror}"]) from None
    except UnicodeDecodeError:
        raise KeyRingError([f"{path} is not a text file of ID:KEY entries"]) from None


def _problems_as_value_error(parse: Callable[[], KeyRing]) -> None:
    try:
        parse()
    except KeyRingError as exc:
        raise ValueError("invalid key ring: " + "; ".join(exc.problems)) from None
