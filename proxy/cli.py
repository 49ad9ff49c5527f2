"""The `pullgate` command: serve, migrate, config check, token, robot, policy, trust, vulndb, secrets, upstream, runtime-config."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from db.migrate import upgrade
from proxy.admin_cli import add_admin_commands, run_admin_command
from proxy.logs import configure_logging
from proxy.robot_cli import add_robot_commands, run_robot_command
from proxy.runtime_config import add_runtime_config_command, run_runtime_config
from proxy.secrets_cli import add_secrets_commands, generate_key_command, run_secrets_command
from proxy.serve import serve
from proxy.settings import ConfigError, Settings, load_settings
from proxy.vulndb_cli import add_vulndb_commands, run_vulndb_command

__all__ = ["main"]

log = logging.getLogger("pullgate")

DEFAULT_CONFIG = Path("config/pullgate.yaml")


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "runtime-config":  # reads no settings: works before any config exists
        return run_runtime_config(args)
    if args.command == "secrets" and args.secrets_command == "generate-key":  # nor does this
        return generate_key_command(args)
    try:
        settings = load_settings(_config_path(args.config))
    except ConfigError as exc:
        print(f"pullgate: {exc}", file=sys.stderr)
        return 2
    groups: dict[str, Callable[[Settings, argparse.Namespace], int]] = {
        "token": run_admin_command,
        "policy": run_admin_command,
        "trust": run_admin_command,
        "robot": run_robot_command,
        "vulndb": run_vulndb_command,
        "secrets": run_secrets_command,
        "upstream": run_secrets_command,
    }
    if args.command in groups:
        return groups[args.command](settings, args)
    handler = {"serve": serve, "migrate": _migrate, "config": _config_check}[args.command]
    return handler(settings)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pullgate", description="A pull-through OCI registry proxy that gates every pull."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    for name, text in (
        ("serve", "run the registry proxy"),
        ("migrate", "bring the database schema up to date"),
    ):
        sub = commands.add_parser(name, help=text)
        _config_option(sub)
    config = commands.add_parser("config", help="configuration tools")
    config_commands = config.add_subparsers(dest="config_command", required=True)
    _config_option(config_commands.add_parser("check", help="validate the configuration and print it"))
    add_admin_commands(commands, _config_option)
    add_robot_commands(commands, _config_option)
    add_vulndb_commands(commands, _config_option)
    add_secrets_commands(commands, _config_option)
    add_runtime_config_command(commands, _config_option)
    return parser


def _config_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        "-c",
        type=Path,
        default=None,
        help=f"YAML settings file (default: $PULLGATE_CONFIG, else {DEFAULT_CONFIG} when it exists)",
    )


def _config_path(given: Path | None) -> Path | None:
    if given is not None:
        return given
    if os.environ.get("PULLGATE_CONFIG"):
        return Path(os.environ["PULLGATE_CONFIG"])
    return DEFAULT_CONFIG if DEFAULT_CONFIG.is_file() else None


def _config_check(settings: Settings) -> int:
    # Secrets print as "**********" (SecretStr); files they come from print as paths.
    print(settings.model_dump_json(indent=2))
    for warning in settings.warnings():
        print(f"warning: {warning}", file=sys.stderr)
    ring = settings.secrets.key_ring()
    if ring is not None:
        print(f"secrets key ring: {len(ring)} keys, primary {ring.primary.id!r}", file=sys.stderr)
    print("configuration is valid", file=sys.stderr)
    return 0


def _migrate(settings: Settings) -> int:
    configure_logging(settings.log.level)
    upgrade(settings.database.url)
    log.info("database schema is up to date")
    return 0
