"""`python -m engine serve`: loopback by default, --allow-remote for anything else, token file
created private, flags and settings file, clear errors, idle exit."""

from __future__ import annotations

import argparse
import json
import os
import socket
import stat
import subprocess
import sys
import time

import pytest
from server_fixtures import ROOT, import_client

from engine import config
from engine.cli import serve as cli_serve

nst_client = import_client()


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    cli_serve.add_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(["serve", *argv])


@pytest.mark.parametrize("host,ok", [("127.0.0.1", True), ("127.3.2.1", True), ("::1", True),
                                     ("localhost", True), ("[::1]", True), ("0.0.0.0", False),
                                     ("::", False), ("192.168.1.20", False),
                                     ("example.org", False)])
def test_is_loopback(host: str, ok: bool) -> None:
    assert cli_serve.is_loopback(host) is ok


def test_non_loopback_needs_allow_remote(capsys, monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("NST_CONFIG_DIR", str(tmp_path))
    bound = []
    monkeypatch.setattr(cli_serve, "_bind", lambda host, port: bound.append(host) or (
        _ for _ in ()).throw(OSError(98, "Address already in use")))
    assert cli_serve.run(_args("--host", "0.0.0.0")) == 2
    err = capsys.readouterr().err
    assert "refusing to listen on 0.0.0.0" in err and "--allow-remote" in err
    assert bound == []  # nothing was opened
    # With the flag: a warning about TLS, then (here) the bind fails with a clear message.
    assert cli_serve.run(_args("--host", "0.0.0.0", "--allow-remote")) == 1
    err = capsys.readouterr().err
    assert "WARNING" in err and "TLS" in err and bound == ["0.0.0.0"]
    assert "Address already in use" in err and "another engine" in err


def test_flags_override_settings_file_and_bad_flags_fail(tmp_path) -> None:
    path = tmp_path / "engine.json"
    path.write_text(json.dumps({"port": 9100, "max_queued_jobs": 3, "idle_exit_minutes": 5}))
    s = cli_serve._settings(_args("--settings", str(path), "--max-queued-jobs", "7",
                                  "--idle-exit", "0.5"))
    assert (s.port, s.max_queued_jobs, s.idle_exit_minutes) == (9100, 7, 0.5)
    with pytest.raises(SystemExit) as info:
        cli_serve._settings(_args("--max-pixels", "lots"))
    assert "--max-pixels" in str(info.value)
    with pytest.raises(SystemExit):
        cli_serve._settings(_args("--port", "70000"))


def _start(tmp_path, *flags: str) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen([sys.executable, "-m", "engine", "serve", "--port", "0", *flags],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "NST_CONFIG_DIR": str(tmp_path / "cfg")})
    line = proc.stdout.readline()
    assert "listening on http://127.0.0.1:" in line, line + proc.stderr.read()
    return proc, line.split("listening on ")[1].split()[0]


def test_serve_subprocess_token_limits_and_port_in_use(tmp_path) -> None:
    proc, url = _start(tmp_path, "--max-pixels", "1234", "--max-queued-jobs", "2")
    try:
        token_file = tmp_path / "cfg" / "token"
        assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
        client = nst_client.Client(url, token_file.read_text().strip())
        assert client.health()["limits"]["max_pixels"] == 1234
        port = url.rsplit(":", 1)[1]
        second = subprocess.run([sys.executable, "-m", "engine", "serve", "--port", port],
                                cwd=ROOT, capture_output=True, text=True, timeout=60,
                                env={**os.environ, "NST_CONFIG_DIR": str(tmp_path / "cfg")})
        assert second.returncode == 1 and "another engine" in second.stderr
        assert client.health()["api"] == 1  # the first one is unaffected
    finally:
        proc.terminate()
        proc.wait(15)


def test_serve_idle_exit(tmp_path) -> None:
    t0 = time.monotonic()
    proc, url = _start(tmp_path, "--idle-exit", "0.03", "--token-file", str(tmp_path / "tok"))
    try:
        assert config.read_token(tmp_path / "tok")
        host, port = url.split("//")[1].rsplit(":", 1)
        assert proc.wait(30) == 0  # ~2 s of no requests
        assert time.monotonic() - t0 < 30
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection((host, int(port)), timeout=2)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
