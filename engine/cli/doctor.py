"""`python -m engine doctor [--json]`: what a user pastes into a bug report. Every probe reports
its problem as text instead of failing, so the report always comes out whole."""

from __future__ import annotations

import argparse
import json
import os
import stat
import sys
from typing import Any

from engine import config


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("doctor", help="report versions, devices, weights, models and the server")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--url", default=config.DEFAULT_URL,
                   help=f"engine URL to check (default: {config.DEFAULT_URL})")
    p.add_argument("--token-file", default=None,
                   help="token file for that engine (default: the config folder's 'token')")


def _probe(fn, *args: Any) -> Any:
    try:
        return fn(*args)
    except Exception as exc:  # a doctor must report, never crash
        return {"error": f"{type(exc).__name__}: {exc}"}


def _torch() -> dict[str, Any]:
    import torch

    return {"version": torch.__version__, "cuda_build": torch.version.cuda,
            "cuda_available": bool(torch.cuda.is_available())}


def _fast_models() -> dict[str, Any]:
    try:
        from engine import fast
    except ImportError as exc:
        return {"available": False, "error": f"fast engine not importable: {exc}"}
    if not hasattr(fast, "scan_models"):
        return {"available": False, "error": "fast engine not installed (engine/fast is empty)"}
    models, problems = fast.scan_models()
    return {"available": True,
            "models": [m.to_dict() for m in sorted(models.values(), key=lambda m: m.id)],
            "problems": dict(sorted(problems.items()))}


def _onnxruntime() -> dict[str, Any]:
    from engine.health import onnxruntime_info

    return onnxruntime_info()


def _token(path: str) -> dict[str, Any]:
    out: dict[str, Any] = {"path": path, "present": os.path.isfile(path)}
    if out["present"]:
        mode = stat.S_IMODE(os.stat(path).st_mode)
        out["mode"] = oct(mode)
        out["private"] = os.name != "posix" or not mode & 0o077
    return out


def _server(url: str, token_file: str) -> dict[str, Any]:
    """Is an engine answering at `url`, and does it accept our token?"""
    # Imported here: every `python -m engine` command imports this module to build its parser,
    # and urllib.request (ssl, http.client) costs `stylize` 15 ms of start-up.
    import urllib.error
    import urllib.request

    try:
        token = config.read_token(token_file)
    except (OSError, ValueError):
        token = ""
    req = urllib.request.Request(url.rstrip("/") + "/v1/health",
                                 headers={"Authorization": f"Bearer {token}"})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(req, timeout=3) as resp:
            health = json.loads(resp.read())
        return {"url": url, "running": True, "token_accepted": True,
                "version": health.get("version"), "queue": health.get("queue")}
    except urllib.error.HTTPError as exc:
        if exc.code == 401:
            return {"url": url, "running": True, "token_accepted": False,
                    "note": "an engine answers but rejects this token file's secret"}
        return {"url": url, "running": True, "note": f"HTTP {exc.code}: not this engine?"}
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return {"url": url, "running": False, "note": str(reason)}


def collect(url: str = config.DEFAULT_URL, token_file: str | None = None) -> dict[str, Any]:
    from engine import health

    token_file = token_file or str(config.token_path())
    return {
        "engine": {"version": _probe(lambda: __import__("engine").__version__),
                   "python": sys.version.split()[0], "executable": sys.executable},
        "platform": _probe(lambda: __import__("platform").platform()),
        "torch": _probe(_torch),
        "devices": _probe(health.devices),
        "backbone": _probe(health.backbone_weights),
        "onnxruntime": _probe(_onnxruntime),
        "fast_models": _probe(_fast_models),
        "config": {"config_dir": str(config.config_dir()),
                   "settings_file": str(config.settings_path()),
                   "settings_file_present": config.settings_path().is_file(),
                   "models_dirs": [{"path": str(d), "exists": d.is_dir()}
                                   for d in config.models_dirs()]},
        "token": _probe(_token, token_file),
        "server": _probe(_server, url, token_file),
    }


def _text(report: dict[str, Any]) -> str:
    lines = []
    e = report["engine"]
    lines.append(f"engine      {e['version']}  (python {e['python']}, {e['executable']})")
    lines.append(f"platform    {report['platform']}")
    t = report["torch"]
    lines.append(f"torch       {t.get('version', t.get('error'))}"
                 + (f"  CUDA build {t['cuda_build']}, available: {t['cuda_available']}"
                    if "version" in t else ""))
    devices = report["devices"]
    for d in devices if isinstance(devices, list) else [devices]:
        extra = ", ".join(f"{k} {v}" for k, v in d.items() if k not in ("name", "kind"))
        lines.append(f"device      {d.get('name', '?')}  {extra}")
    b = report["backbone"]
    lines.append("backbone    " + (f"VGG19 {b['kind']} weights: {b['path']}" if b.get("found")
                                   else f"NOT FOUND ({b.get('hint') or b.get('error')})"))
    o = report["onnxruntime"]
    lines.append(f"onnxruntime {o.get('version')}  providers: {', '.join(o.get('providers', []))}"
                 + (f"  ({o['error']})" if o.get("error") else ""))
    f = report["fast_models"]
    if not f.get("available"):
        lines.append(f"fast models unavailable: {f.get('error')}")
    else:
        ids = ", ".join(m["id"] for m in f["models"]) or "none installed"
        lines.append(f"fast models {ids}")
        for model_id, why in f["problems"].items():
            lines.append(f"            UNUSABLE {model_id}: {why}")
    c = report["config"]
    lines.append(f"config      {c['config_dir']}")
    lines.append(f"settings    {c['settings_file']}"
                 + ("" if c["settings_file_present"] else "  (absent: defaults)"))
    for d in c["models_dirs"]:
        lines.append(f"models dir  {d['path']}" + ("" if d["exists"] else "  (absent)"))
    tk = report["token"]
    if tk.get("present"):
        lines.append(f"token       {tk['path']}  mode {tk['mode']}"
                     + ("" if tk["private"] else "  WARNING: readable by others"))
    else:
        lines.append(f"token       {tk.get('path')}  absent (the engine creates it on start)")
    s = report["server"]
    if s.get("running") and s.get("token_accepted"):
        lines.append(f"server      running at {s['url']} (version {s['version']}, "
                     f"queue {s['queue']})")
    elif s.get("running"):
        lines.append(f"server      something answers at {s['url']}: {s.get('note')}")
    else:
        lines.append(f"server      not running at {s.get('url')} ({s.get('note', s.get('error'))})")
    return "\n".join(lines) + "\n"


def run(args: argparse.Namespace) -> int:
    report = collect(args.url, args.token_file)
    if args.json:
        sys.stdout.write(json.dumps(report, indent=2) + "\n")
    else:
        sys.stdout.write(_text(report))
    return 0
