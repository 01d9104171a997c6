"""`python -m engine doctor`: a whole report whatever is missing, and the server check."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from server_fixtures import ROOT, ServerThread

from engine.cli import doctor as cli_doctor
from engine.config import ServerSettings
from engine.server import create_app


def _doctor(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "engine", "doctor", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, **env})


def test_doctor_json_with_no_server(tmp_path) -> None:
    cfg = tmp_path / "cfg"
    proc = _doctor("--json", "--url", "http://127.0.0.1:9", env={"NST_CONFIG_DIR": str(cfg)})
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["engine"]["python"] == sys.version.split()[0]
    assert report["devices"][0]["name"] == "cpu" and "bf16" in report["devices"][0]
    assert report["backbone"]["found"] is True and report["backbone"]["kind"] == "caffe"
    assert "CPUExecutionProvider" in report["onnxruntime"]["providers"]
    assert report["config"]["config_dir"] == str(cfg)
    assert report["token"] == {"path": str(cfg / "token"), "present": False}
    assert report["server"]["running"] is False


def test_doctor_text_sees_models_token_and_a_running_server(tmp_path) -> None:
    from fast_fixtures import write_tiny_model

    cfg, models = tmp_path / "cfg", tmp_path / "models"
    cfg.mkdir()
    models.mkdir()
    write_tiny_model(models, model_id="tiny")
    (cfg / "token").write_text("doctor-token\n")
    os.chmod(cfg / "token", 0o600)
    env = {"NST_CONFIG_DIR": str(cfg), "NST_MODEL_PATH": str(models)}
    with ServerThread(create_app(ServerSettings(), "doctor-token")) as srv:
        proc = _doctor("--url", srv.url, env=env)
        wrong = tmp_path / "wrong"
        wrong.write_text("nope")
        rejected = _doctor("--json", "--url", srv.url, "--token-file", str(wrong), env=env)
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout
    models_line = next(line for line in text.splitlines() if line.startswith("fast models "))
    listed = models_line.removeprefix("fast models ").split(", ")
    assert "tiny" in listed and "starry_night" in listed  # NST_MODEL_PATH and the shipped ones
    assert f"token       {cfg / 'token'}  mode 0o600" in text
    assert f"server      running at {srv.url}" in text
    assert f"models dir  {models}" in text
    server = json.loads(rejected.stdout)["server"]
    assert server["running"] is True and server["token_accepted"] is False


def test_doctor_survives_a_missing_fast_engine(monkeypatch) -> None:
    import engine

    monkeypatch.setitem(sys.modules, "engine.fast", None)  # import fails as if not installed
    monkeypatch.delattr(engine, "fast", raising=False)
    report = cli_doctor.collect("http://127.0.0.1:9")
    assert report["fast_models"]["available"] is False
    assert "not importable" in report["fast_models"]["error"]
    assert "fast models unavailable" in cli_doctor._text(report)


def test_doctor_reports_probe_errors_instead_of_crashing(monkeypatch) -> None:
    def broken():
        raise RuntimeError("driver exploded")

    monkeypatch.setattr(cli_doctor, "_torch", broken)
    report = cli_doctor.collect("http://127.0.0.1:9")
    assert report["torch"] == {"error": "RuntimeError: driver exploded"}
    assert "driver exploded" in cli_doctor._text(report)
