"""`python -m engine serve`: the local HTTP service the GIMP plug-ins talk to.

Flags come from `engine.config.ServerSettings` (declared once); an optional JSON settings file
(default: the config folder's engine.json) is read first and flags override it.
"""

from __future__ import annotations

import argparse
import dataclasses
import ipaddress
import logging
import socket
import sys
import threading
from pathlib import Path

from engine import config
from engine.cli.flags import add_flags, given_values
from engine.contract import ParamError

log = logging.getLogger("engine.serve")

# Flags whose name differs from the setting (kept short, as the issue spells them).
FLAG_NAMES = {"idle_exit_minutes": "--idle-exit"}
METAVARS = {"host": "ADDR", "port": "N", "token_file": "FILE", "idle_exit_minutes": "MINUTES",
            "max_pixels": "N", "max_body_bytes": "BYTES", "max_queued_jobs": "N",
            "result_ttl_s": "SECONDS", "abandon_after_s": "SECONDS",
            "request_timeout_s": "SECONDS", "max_log_bytes": "BYTES"}
LOOPBACK_NAMES = {"localhost", "ip6-localhost"}


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="run the local HTTP service for the GIMP plug-ins",
                       description="Run the engine as an HTTP service (API v1, bearer token).")
    p.add_argument("--settings", metavar="FILE",
                   help=f"JSON settings file (default: {config.settings_path()})")
    add_flags(p, config.ServerSettings, flags=FLAG_NAMES, metavars=METAVARS)


def is_loopback(host: str) -> bool:
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _settings(args: argparse.Namespace) -> config.ServerSettings:
    base = config.load_server_settings(args.settings)
    # Flags arrive as text; the same coercion as the settings file, but a bad flag is an error.
    try:
        given = given_values(config.ServerSettings, args)
    except ParamError as exc:
        name = FLAG_NAMES.get(exc.name, "--" + exc.name.replace("_", "-"))
        raise SystemExit(f"error: {name} {getattr(args, exc.name)!r}: "
                         f"{str(exc).split(': ', 1)[-1]}") from None
    return dataclasses.replace(base, **given)


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host.strip("[]"), port))
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def _idle_watch(server: object, app: object, minutes: float) -> None:
    from engine.server import idle_seconds

    limit = minutes * 60.0
    tick = min(5.0, max(0.2, limit / 20))
    while not getattr(server, "should_exit", False):
        if idle_seconds(app) > limit:
            log.warning("no requests or jobs for %.1f minutes; exiting", minutes)
            server.should_exit = True  # type: ignore[attr-defined]
            return
        threading.Event().wait(tick)


def _preload_methods() -> None:
    from engine import health, methods
    from engine.contract import Method

    health.describe()  # devices and weights, probed once (GET /v1/health serves the cache)

    for method in Method:
        try:
            methods.get(method)
        except Exception:  # a broken method must not stop the server; its jobs will say why
            log.exception("could not load the %s method", method.value)


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from engine.server import create_app, logs
    from engine.server.connections import max_connections, protocol_class, shorten_accept_retry

    settings = _settings(args)
    logs.configure(settings.max_log_bytes)
    logging.getLogger("engine").setLevel(min(logging.INFO, logging.getLogger().level))
    if not is_loopback(settings.host):
        if not settings.allow_remote:
            sys.stderr.write(
                f"error: refusing to listen on {settings.host}: only loopback is allowed without "
                "--allow-remote (anyone who can reach the port could use this machine).\n")
            return 2
        sys.stderr.write(
            f"WARNING: listening on {settings.host}, reachable from other machines. The token "
            "travels in clear text over plain HTTP: put a TLS reverse proxy in front.\n")
    # Load the methods (torch, onnxruntime) and probe the devices before the token exists and
    # the port listens: a plug-in that finds the port open gets answers at once, the first job
    # does not wait for imports, and the connection cap below counts the files they hold.
    _preload_methods()
    token_file = Path(settings.token_file) if settings.token_file else config.token_path()
    try:
        token = config.ensure_token(token_file)
    except OSError as exc:
        sys.stderr.write(f"error: cannot create or read the token file {token_file}: {exc}\n")
        return 1
    try:
        sock = _bind(settings.host, settings.port)
    except OSError as exc:
        sys.stderr.write(f"error: cannot listen on {settings.host}:{settings.port}: "
                         f"{exc.strerror or exc}. Is another engine already running there? "
                         "(`python -m engine doctor` checks.)\n")
        return 1
    port = sock.getsockname()[1]
    app = create_app(settings, token)
    # The h11 protocol with a request-head deadline and a connection cap (see connections.py):
    # no local program without the token can stall the service or fill the log.
    http = protocol_class(max_connections(), settings.request_timeout_s)
    shorten_accept_retry()
    server = uvicorn.Server(uvicorn.Config(app, http=http, log_config=None, access_log=False,
                                           timeout_keep_alive=5, timeout_graceful_shutdown=5))
    if settings.idle_exit_minutes > 0:
        threading.Thread(target=_idle_watch, args=(server, app, settings.idle_exit_minutes),
                         daemon=True, name="nst-idle").start()
    shown = f"[{settings.host}]" if ":" in settings.host else settings.host
    sys.stdout.write(f"neural-style engine listening on http://{shown}:{port} "
                     f"(token file: {token_file})\n")
    sys.stdout.flush()
    server.run(sockets=[sock])
    return 0
