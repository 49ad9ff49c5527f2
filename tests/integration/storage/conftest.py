"""Storage backends against real servers: here, S3 served by ``rclone serve s3``."""

from tests.support.s3 import s3_server

__all__ = ["s3_server"]
