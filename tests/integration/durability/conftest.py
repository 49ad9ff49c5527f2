"""Crashing, the disk filling up, nothing lost: real `pullgate serve` processes killed with
SIGKILL and restarted on the same store and database, real tmpfs mounts filled to the brim,
real S3 (``rclone serve s3``), PostgreSQL and SQLite."""

from tests.support.s3 import s3_server

__all__ = ["s3_server"]
