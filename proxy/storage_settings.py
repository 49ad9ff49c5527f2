"""Storage settings: the filesystem store (embedded default) or S3-compatible object storage
(production and several replicas). Part of `proxy.settings`."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from proxy.config_values import Duration, PositiveDuration, Size

__all__ = ["S3StorageSettings", "StorageSettings", "StorageTLS"]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StorageTLS(_Section):
    ca_file: Path | None = None
    insecure: bool = False


class S3StorageSettings(_Section):
    bucket: str = Field(min_length=3, max_length=63)
    endpoint_url: str | None = None  # None: AWS itself, from the region
    region: str = "us-east-1"
    prefix: str = ""  # keys are <prefix>blobs/<algorithm>/<hex>
    access_key_id: str | None = None  # none of these: botocore's default credential chain
    secret_access_key: SecretStr | None = None
    secret_access_key_file: Path | None = None
    addressing_style: Literal["path", "virtual", "auto"] = "path"
    tls: StorageTLS = StorageTLS()
    connect_timeout: PositiveDuration = 5.0
    read_timeout: PositiveDuration = 60.0
    max_attempts: int = Field(default=3, ge=1, le=10)
    max_pool_connections: int = Field(default=32, ge=1)
    part_size: Size = 16 * 1024 * 1024  # multipart part size (S3: 5 MiB to 5 GiB)
    max_concurrent_parts: int = Field(default=4, ge=1)  # memory per upload: about this x part_size
    create_bucket: bool = False
    stale_upload_age: Duration | None = (
        86400.0  # incomplete multipart uploads older than this are aborted at start
    )
    spool_dir: Path = Path("./data/spool")  # local spool files that followers read while a blob arrives
    # Answer blob GETs of verified content with a 307 to a presigned URL (distribution's
    # "redirect"): the store serves the bytes, pullgate still decides who may have them.
    redirect: bool = False
    redirect_expiry: PositiveDuration = 600.0

    @model_validator(mode="after")
    def _one_secret(self) -> S3StorageSettings:
        if self.secret_access_key is not None and self.secret_access_key_file is not None:
            raise ValueError("give secret_access_key or secret_access_key_file, not both")
        if (self.secret_access_key or self.secret_access_key_file) and not self.access_key_id:
            raise ValueError("a secret access key needs access_key_id")
        return self

    def secret(self) -> str | None:
        if self.secret_access_key is not None:
            return self.secret_access_key.get_secret_value()
        if self.secret_access_key_file is not None:
            return self.secret_access_key_file.read_text().strip()
        return None


class StorageSettings(_Section):
    backend: Literal["filesystem", "s3"] = "filesystem"
    path: Path = Path("./data/blobs")  # the filesystem backend's directory
    s3: S3StorageSettings | None = None
    # Spool files a crashed process left are removed at start once their owner is provably
    # dead (same machine); any spool file nobody modified for this long goes too (another
    # machine's, on a shared directory). None: only the provably orphaned ones.
    stale_spool_age: Duration | None = 86400.0

    @model_validator(mode="after")
    def _s3_needs_settings(self) -> StorageSettings:
        if self.backend == "s3" and self.s3 is None:
            raise ValueError("storage.backend s3 needs storage.s3 (bucket, endpoint_url, credentials)")
        return self
