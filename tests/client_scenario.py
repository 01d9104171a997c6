# -*- coding: utf-8 -*-
# ruff: noqa: UP009, UP010, UP031
"""Run by tests/test_server_api.py under an isolated interpreter (Python 3 with -I -S, and Python
2.7 when present): imports nst_client the way a GIMP plug-in does and drives a running engine.
Standard library only; Python 2.7 and 3 compatible (hence the py2-isms ruff would modernise).
Prints one JSON report line.

usage: client_scenario.py PLUGIN_DIR CONFIG RGBA_FILE WIDTH HEIGHT MODEL_ID
"""

from __future__ import print_function

import json
import sys


def main(argv):
    plugin_dir, config_path, rgba_path, width, height, model = argv[1:7]
    width, height = int(width), int(height)
    sys.path.insert(0, plugin_dir)
    import nst_client
    import nst_engine
    import nst_png

    report = {"python": "%d.%d" % sys.version_info[:2]}
    config = nst_engine.load_config(config_path)
    client = nst_engine.ensure_engine(config)
    report["health_api"] = client.health()["api"]
    with open(rgba_path, "rb") as fh:
        rgba = fh.read()
    content = nst_png.png_encode(width, height, rgba, 4)
    job = client.submit({"method": "fast", "params": {"model": model}}, content)
    seen = []
    final = client.wait(job, on_progress=lambda s: seen.append(s["progress"]), poll=0.02)
    report["final_state"] = final["state"]
    report["progress_rises"] = seen == sorted(seen) and seen[-1] == 1.0
    w, h, channels, pixels = nst_png.png_decode(client.result(job))
    assert len(pixels) == w * h * channels
    report["result"] = [w, h, channels]

    def error_of(call):
        try:
            call()
        except nst_client.EngineError as exc:
            return [exc.http_status, exc.code if exc.http_status != 400 else exc.message]
        return None

    bad = nst_client.Client(config["engine_url"], "not-the-token")
    report["bad_token"] = error_of(bad.health)
    report["unknown_job"] = error_of(lambda: client.status("feedfeedfeedfeed"))
    report["out_of_range"] = error_of(lambda: client.submit(
        {"method": "fast", "params": {"model": model, "strength": 7}}, content))
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
