"""Which failures mean "the database cannot be used now", and what a client may be told."""

from __future__ import annotations

import errno
import socket
import sqlite3

import pytest
from sqlalchemy import exc as sa

from db.errors import database_unavailable, describe


def _wrapped(orig: Exception, cls: type[sa.DBAPIError] = sa.OperationalError) -> sa.DBAPIError:
    return cls("INSERT INTO audit_events (secret_column) VALUES (?)", ("a secret value",), orig)


@pytest.mark.parametrize(
    "error",
    [
        _wrapped(sqlite3.OperationalError("attempt to write a readonly database")),
        _wrapped(sqlite3.OperationalError("disk I/O error")),
        _wrapped(sqlite3.InterfaceError("connection closed"), sa.InterfaceError),
        sa.TimeoutError("QueuePool limit reached"),
        ConnectionRefusedError(errno.ECONNREFUSED, "Connect call failed"),
        ConnectionResetError(errno.ECONNRESET, "Connection reset by peer"),
        OSError(errno.EHOSTUNREACH, "No route to host"),
        socket.gaierror(-2, "Name or service not known"),
        TimeoutError(),
    ],
    ids=lambda e: type(e).__name__,
)
def test_unavailable(error: Exception) -> None:
    assert database_unavailable(error)


@pytest.mark.parametrize(
    "error",
    [
        _wrapped(sqlite3.IntegrityError("UNIQUE constraint failed"), sa.IntegrityError),
        OSError(errno.ENOSPC, "No space left on device"),  # the store's problem, not the database's
        FileNotFoundError(errno.ENOENT, "missing"),
        ValueError("a bug"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_not_unavailable(error: Exception) -> None:
    assert not database_unavailable(error)


def test_a_disconnect_sqlalchemy_recognised_counts_whatever_its_class() -> None:
    error = _wrapped(Exception("server closed the connection"), sa.DBAPIError)
    error.connection_invalidated = True
    assert database_unavailable(error)


def test_the_description_names_the_driver_error_and_never_the_statement() -> None:
    text = describe(_wrapped(sqlite3.OperationalError("attempt to write a readonly database")))
    assert text == "OperationalError: attempt to write a readonly database"
    assert "INSERT" not in text and "secret" not in text
    # A socket error's text names the server's address: only its type is told.
    assert describe(ConnectionRefusedError(errno.ECONNREFUSED, "Connect call failed ('10.0.0.5', 5432)")) == (
        "ConnectionRefusedError"
    )
