"""`pullgate serve`: the process around the application — schema check, listener, TLS,
signals and the open-file limit.

aiohttp's `run_app` cannot be told which protocol to serve or what SIGHUP means, so the
loop is run here: SIGTERM and SIGINT stop gracefully (requests in flight get
`SHUTDOWN_TIMEOUT` to finish, then the audit queue is flushed); SIGHUP reloads the TLS
certificate and key, keeping the old pair if the new one is unusable.
"""

from __future__ import annotations

import asyncio
import logging
import resource
import signal

from aiohttp import web

from db.migrate import current_revision, head_revision, upgrade
from proxy.api.connections import ConnectionGuard
from proxy.api.context import SERVICES
from proxy.api.listener import ListenerSite
from proxy.app import build_app
from proxy.gate.credential_sync import CredentialsUnusable
from proxy.logs import configure_logging
from proxy.secrets import KeyRingError
from proxy.settings import Settings
from proxy.tls import ReloadableContext, TLSError

__all__ = ["connection_cap", "raise_open_file_limit", "serve"]

log = logging.getLogger("pullgate")

SHUTDOWN_TIMEOUT = 30.0
# Descriptors kept back from client connections: upstream and database connections, blob
# and spool files, logs. Without them a full house of clients makes every fill fail.
FD_RESERVE = 256
_UNLIMITED_FILES = 1 << 20  # what "unlimited" means for a hard limit: Linux's default nr_open


def serve(settings: Settings) -> int:
    configure_logging(settings.log.level)
    if settings.database.migrate_on_start:
        upgrade(settings.database.url)
    elif current_revision(settings.database.url) != head_revision():
        log.error("the database schema is not current: run `pullgate migrate` first")
        return 2
    if settings.server.event_loop == "uvloop" and not _install_uvloop():
        log.error("server.event_loop is uvloop, but uvloop is not installed")
        return 2
    tls = None
    if settings.server.tls is not None:
        try:  # checked when the settings were read; the files may have changed since
            tls = ReloadableContext(settings.server.tls.context_options())
        except TLSError as exc:
            log.error("cannot serve TLS: %s", exc)
            return 2
        _log_certificate("serving TLS with", tls)
    max_connections = connection_cap(settings.server.max_connections, raise_open_file_limit())
    return asyncio.run(_run(settings, tls, max_connections))


async def _run(settings: Settings, tls: ReloadableContext | None, max_connections: int) -> int:
    app = build_app(settings)
    runner = web.AppRunner(app, shutdown_timeout=SHUTDOWN_TIMEOUT)
    try:
        await runner.setup()
    except (CredentialsUnusable, KeyRingError) as exc:
        # Refused before serving a request: see proxy.gate.credential_sync for why.
        log.error("pullgate did not start: %s", exc)
        await runner.cleanup()
        return 2
    try:
        guard = ConnectionGuard(settings.server, app[SERVICES].metrics, max_connections=max_connections)
        site = ListenerSite(
            runner,
            guard,
            settings.listen_host,
            settings.listen_port,
            ssl_context=tls.context if tls is not None else None,
        )
        try:
            await site.start()
        except OSError as exc:
            log.error("cannot listen on %s: %s", settings.listen, exc.strerror or exc)
            return 2
        log.info("pullgate listening on %s (at most %d connections)", site.name, max_connections)
        await _until_stopped(tls)
    finally:
        await runner.cleanup()
    return 0


async def _until_stopped(tls: ReloadableContext | None) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    # Without a handler SIGHUP would end the process: reload, or say there is nothing to reload.
    loop.add_signal_handler(signal.SIGHUP, _reload, tls)
    try:
        await stop.wait()
        log.info("stopping: finishing requests in flight (up to %g s)", SHUTDOWN_TIMEOUT)
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            loop.remove_signal_handler(signum)


def _reload(tls: ReloadableContext | None) -> None:
    if tls is None:
        log.info("SIGHUP: nothing to reload (server.tls is not set)")
        return
    try:
        tls.reload()
    except TLSError as exc:
        log.error("TLS reload failed; still serving the previous certificate: %s", exc)
        return
    _log_certificate("TLS certificate reloaded:", tls)


def _log_certificate(what: str, tls: ReloadableContext) -> None:
    log.info("%s %s", what, tls.info.describe(), extra={"tls_serial": f"{tls.info.serial:x}"})
    if tls.info.expires_soon:
        log.warning("the TLS certificate expires on %s UTC: renew it", f"{tls.info.not_after:%Y-%m-%d %H:%M}")


def raise_open_file_limit() -> int:
    """Raise the soft RLIMIT_NOFILE to the hard limit (every connection is a descriptor); the result."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = _UNLIMITED_FILES if hard == resource.RLIM_INFINITY else hard
    if soft == resource.RLIM_INFINITY or soft >= target:
        return _UNLIMITED_FILES if soft == resource.RLIM_INFINITY else soft
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    except (ValueError, OSError) as exc:
        log.warning("could not raise the open-file limit from %d to %d: %s", soft, target, exc)
        return soft
    log.info("raised the open-file limit from %d to %d", soft, target)
    return target


def connection_cap(wanted: int, open_files: int) -> int:
    """`server.max_connections`, lowered to what the open-file limit leaves room for."""
    room = max(1, open_files - FD_RESERVE)
    if wanted <= room:
        return wanted
    log.warning(
        "server.max_connections is %d, but the open-file limit of %d leaves room for %d client "
        "connections: serving at most %d (raise the limit, e.g. LimitNOFILE= in systemd)",
        wanted,
        open_files,
        room,
        room,
    )
    return room


def _install_uvloop() -> bool:
    try:
        import uvloop  # noqa: PLC0415 - optional: absent on platforms without a wheel
    except ImportError:
        return False
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    return True
