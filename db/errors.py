"""Telling "the database is not there" apart from every other failure.

The gate fails closed either way, but an unreachable or unwritable database deserves its own
answer ("could not decide: the database is unavailable") and its own handling (decisions
made before the outage may still be reused, see docs/policy.md). What counts:

- SQLAlchemy's ``OperationalError`` (PostgreSQL gone, SQLite "unable to open", "attempt to
  write a readonly database", "disk I/O error", "database is locked" past busy_timeout),
  ``InterfaceError`` (a connection closed under us) and its pool ``TimeoutError``;
- any DBAPI error SQLAlchemy recognised as a disconnect;
- what asyncpg lets through unwrapped when it connects: refused, reset or unroutable
  connections, unresolvable hosts, and the ``TimeoutError`` of ``database.timeout``;
- asyncpg's own connection errors.

Anything else (a constraint violation, a bug in a query) is not "unavailable".
"""

from __future__ import annotations

import errno
import socket

import asyncpg
from sqlalchemy import exc as sa

__all__ = ["database_unavailable", "describe"]

_UNAVAILABLE: tuple[type[BaseException], ...] = (
    sa.OperationalError,
    sa.InterfaceError,
    sa.TimeoutError,
    ConnectionError,
    TimeoutError,
    socket.gaierror,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
)
# Network errors asyncpg raises as plain OSError (not ConnectionError); a full disk or a
# missing file is the store's problem, not the database's, and stays out.
_NETWORK_ERRNOS = frozenset(
    {errno.EHOSTUNREACH, errno.ENETUNREACH, errno.ETIMEDOUT, errno.EPIPE, errno.ECONNABORTED}
)


def database_unavailable(error: BaseException) -> bool:
    """Whether ``error`` (raised by a database call) means the database cannot be used now."""
    if isinstance(error, sa.DBAPIError) and error.connection_invalidated:
        return True
    if isinstance(error, _UNAVAILABLE):
        return True
    return isinstance(error, OSError) and error.errno in _NETWORK_ERRNOS


def describe(error: BaseException) -> str:
    """A short reason safe to show a client.

    For a driver error, its type and the first line of the driver's message ("attempt to
    write a readonly database"), never SQLAlchemy's wrapper text, which carries the SQL.
    For a socket error only its type: its text names the database server's address.
    """
    original = error.orig if isinstance(error, sa.DBAPIError) and error.orig is not None else error
    name = type(original).__name__
    if original is error:
        return name
    lines = str(original).strip().splitlines()
    return f"{name}: {lines[0][:160]}" if lines else name
