# Sent to the RUNNING GUI GIMP (a second `gimp-3.0 -b` forwards it over D-Bus) after the user's
# Edit ▸ Undo clicks: records the open image's layers.
import json
import os

import gi

gi.require_version("Gimp", "3.0")
from gi.repository import Gimp  # noqa: E402

OUT = json.load(open(os.environ["NST_E2E_SPEC"]))["out"]
image = Gimp.get_images()[0]
# One line per probe, in call order (a forwarded batch does not carry the sender's environment).
with open(os.path.join(OUT, "probes.jsonl"), "a") as fh:
    fh.write(json.dumps({"layers": [lay.get_name() for lay in image.get_layers()]}) + "\n")
