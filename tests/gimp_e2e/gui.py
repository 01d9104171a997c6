# Runs INSIDE a GUI GIMP 3 under Xvfb (python-fu-eval batch), driven by tests/test_gimp_e2e.py;
# GIMP itself opened the photo from its command line, as a user opens a file.
# 1. makes a feathered elliptical selection and adds a "Marker" layer (an undo step of its own);
# 2. opens Fast Neural Style's and Neural Style's dialogs (INTERACTIVE runs), screenshots
#    them, presses Escape;
# 3. runs the procedure non-interactively and screenshots the result layer with its mask;
# 4. leaves a helper that, after this script has returned (GIMP greys out Undo while a script
#    runs), clicks Edit ▸ Undo twice like a user, and after each click forwards probe.py to this
#    GIMP over D-Bus to record the layers: one undo must remove exactly the plug-in's result.
import json
import os
import subprocess
import time

import gi

gi.require_version("Gimp", "3.0")
from gi.repository import Gimp  # noqa: E402

SPEC = json.load(open(os.environ["NST_E2E_SPEC"]))
OUT = SPEC["out"]
facts = {}


def shoot(name):
    subprocess.run(["import", "-window", "root", os.path.join(OUT, name)])


def shoot_and_close(title_regex, path):
    """In the background: wait for the window, screenshot the screen, close it with Escape
    (the dialog blocks this script until it closes). Returns the helper process."""
    return subprocess.Popen([
        "sh", "-c",
        f"w=$(xdotool search --sync --name '{title_regex}' | head -1); sleep 3;"
        f" import -window root {path}; xdotool windowfocus --sync $w;"
        f" xdotool key --clearmodifiers Escape"])


def settle(seconds):
    Gimp.displays_flush()
    time.sleep(seconds)


try:
    image = Gimp.get_images()[0]
    layer = image.get_layers()[0]
    image.select_ellipse(Gimp.ChannelOps.REPLACE, *SPEC["ellipse"])
    Gimp.Selection.feather(image, SPEC["feather"])
    marker = Gimp.Layer.new(image, "Marker", 40, 30, Gimp.ImageType.RGBA_IMAGE, 100.0,
                            Gimp.LayerMode.NORMAL)
    image.insert_layer(marker, None, 1)
    image.set_selected_layers([layer])
    settle(3)
    shoot("s0.png")
    proc = Gimp.get_pdb().lookup_procedure("python-fu-fast-neural-style")

    helper = shoot_and_close("Fast Neural Style", os.path.join(OUT, "dialog.png"))
    cfg = proc.create_config()
    cfg.set_property("run-mode", Gimp.RunMode.INTERACTIVE)
    cfg.set_property("image", image)
    cfg.set_core_object_array("drawables", [layer])
    cfg.set_property("model", SPEC["model"])
    facts["dialog_status"] = proc.run(cfg).index(0).value_nick
    helper.wait(timeout=120)

    # Neural Style's dialog too (files, style layer, weights, quality...): opened and closed.
    helper = shoot_and_close("^Neural Style", os.path.join(OUT, "dialog-gatys.png"))
    gatys = Gimp.get_pdb().lookup_procedure("python-fu-neural-style")
    gcfg = gatys.create_config()
    gcfg.set_property("run-mode", Gimp.RunMode.INTERACTIVE)
    gcfg.set_property("image", image)
    gcfg.set_core_object_array("drawables", [layer])
    facts["gatys_dialog_status"] = gatys.run(gcfg).index(0).value_nick
    helper.wait(timeout=120)

    cfg.set_property("run-mode", Gimp.RunMode.NONINTERACTIVE)
    facts["run_status"] = proc.run(cfg).index(0).value_nick
    facts["layers_after_run"] = [lay.get_name() for lay in image.get_layers()]
    facts["mask"] = image.get_layers()[0].get_mask() is not None
    settle(3)
    shoot("result.png")

    probe = "exec(open('{}').read())".format(SPEC["probe"])
    undo = ("xdotool mousemove 59 12 click 1; sleep 1.5; import -window root {o}/{m};"
            " xdotool mousemove 100 37 click 1; sleep 3; import -window root {o}/{s};"
            " gimp-3.0 --batch-interpreter=python-fu-eval -b \"{p}\"; sleep 1;")
    subprocess.Popen(["sh", "-c",
                      "sleep 3;"
                      + undo.format(o=OUT, m="menu1.png", s="undo1.png", p=probe)
                      + undo.format(o=OUT, m="menu2.png", s="undo2.png", p=probe)
                      + f" touch {OUT}/undo-done"],
                     start_new_session=True)
except Exception:
    import traceback

    facts["crash"] = traceback.format_exc()
    open(os.path.join(OUT, "undo-done"), "w").close()
with open(os.path.join(OUT, "gui.json"), "w") as fh:
    json.dump(facts, fh, indent=1)
