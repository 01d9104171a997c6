# -*- coding: utf-8 -*-
"""The plug-ins' configuration and engine start-up: find the engine, start it when nothing answers.

Standard library only, Python 2.7 and 3, imported as a plain module (`import nst_engine`).

    load_config(path) -> dict      the plug-in's nst_config.json (written by install.py).
    ensure_engine(config, on_status=None, start_timeout=120.0) -> nst_client.Client
        health-checks the engine, starts config["engine_command"] detached when nothing answers
        (output to config["log_file"]) and waits for it. on_status(text) reports what it does.
"""

from __future__ import absolute_import, division

import json
import os
import subprocess
import time

from nst_client import DEFAULT_URL, Client, EngineError, native_str, to_text

def load_config(path):
    try:
        with open(path, "rb") as fh:
            config = json.loads(to_text(fh.read()))
    except (IOError, OSError) as exc:
        raise EngineError("bad_config", "Cannot read the plug-in configuration %s (%s). Run "
                          "install.py again." % (path, exc))
    except ValueError as exc:
        raise EngineError("bad_config", "The plug-in configuration %s is not valid JSON (%s). "
                          "Run install.py again." % (path, exc))
    if not isinstance(config, dict) or not config.get("token_file"):
        raise EngineError("bad_config", "The plug-in configuration %s has no token_file. Run "
                          "install.py again." % path)
    config.setdefault("engine_url", DEFAULT_URL)
    config.setdefault("engine_command", None)
    config.setdefault("log_file", None)
    return config


def _read_token(path):
    try:
        with open(path, "rb") as fh:
            return to_text(fh.read()).strip()
    except (IOError, OSError):
        return ""


def _start_engine(command, log_file):
    log = open(log_file, "ab") if log_file else open(os.devnull, "wb")
    kwargs = {"stdin": open(os.devnull, "rb"), "stdout": log, "stderr": subprocess.STDOUT}
    if os.name == "nt":
        # DETACHED_PROCESS | CREATE_NEW_PROCESS_GROUP: the engine outlives the plug-in. (Python
        # 2.7 on Windows refuses close_fds together with redirected handles.)
        kwargs["creationflags"] = 0x00000008 | 0x00000200
    else:
        kwargs["close_fds"] = True  # GIMP's pipes to the plug-in must not leak into the engine
        kwargs["preexec_fn"] = os.setsid  # own session: GIMP closing the plug-in leaves it running
    try:
        return subprocess.Popen([native_str(arg) for arg in command], **kwargs)
    except (OSError, ValueError) as exc:
        raise EngineError("engine_start_failed", "Could not start the style engine with %s (%s). "
                          "Run install.py again." % (" ".join(command), exc))
    finally:
        log.close()
        kwargs["stdin"].close()


def ensure_engine(config, on_status=None, start_timeout=120.0):
    url = config.get("engine_url") or DEFAULT_URL
    token_file = config.get("token_file")
    say = on_status or (lambda text: None)
    client = Client(url, _read_token(token_file), timeout=10.0)
    try:
        client.health()
        client.timeout = 30.0
        return client
    except EngineError as exc:
        starting = exc.code == "timeout"  # an engine is there but still loading: wait for it
        if not starting and (exc.code != "engine_unreachable"
                             or not config.get("engine_command")):
            if exc.code == "engine_unreachable":
                exc.message += " (No engine_command is configured: start the engine on %s.)" % url
            raise
    command = config.get("engine_command") or ["(the running engine)"]
    log_file = config.get("log_file")
    if starting:
        say("Waiting for the style engine to finish starting...")
        proc = None
    else:
        say("Starting the style engine...")
        proc = _start_engine(command, log_file)
    deadline = time.time() + start_timeout
    where = (" See the log file %s." % log_file) if log_file else ""
    last = None
    while time.time() < deadline:
        code = proc.poll() if proc is not None else None
        if code is not None:
            raise EngineError("engine_start_failed", "The style engine (%s) exited with code %s "
                              "while starting.%s" % (" ".join(command), code, where))
        client.token = _read_token(token_file)  # a first start creates the token file
        try:
            client.health()
            client.timeout = 30.0
            say("Style engine ready.")
            return client
        except EngineError as exc:
            if exc.code not in ("engine_unreachable", "timeout", "unauthorized"):
                raise
            last = exc
        time.sleep(0.5)
    raise EngineError("engine_start_failed", "The style engine (%s) did not answer within %.0f s "
                      "(last: %s).%s" % (" ".join(command), start_timeout, last, where))


__all__ = ["ensure_engine", "load_config"]
