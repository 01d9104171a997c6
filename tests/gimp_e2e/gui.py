# Runs INSIDE a GUI GIMP 3 under Xvfb (python-fu-eval batch), driven by tests/test_gimp_e2e.py;
# GIMP itself opened the photo (about 1 MP) from its command line, as a user opens a file.
# 0. warms the engine up with a small job on an image of its own (the plug-in starts it);
# 1. opens Fast Neural Style's dialog on the whole layer: driver.py waits for the preview,
#    switches the network with the keyboard, waits for the new preview, presses Escape;
# 2. makes a feathered elliptical selection and adds a "Marker" layer (an undo step of its own);
# 3. opens Neural Style's dialog with a painting chosen: driver.py opens Advanced (Alt+A),
#    measures the window, waits for the approximate preview, presses Escape;
# 4. runs Neural Style from its dialog (OK) and cancels it with GIMP's own progress Cancel while
#    the engine computes: driver.py records the engine's job state after the click;
# 5. runs Fast Neural Style non-interactively and screenshots the result layer with its mask;
# 6. leaves a helper that, after this script has returned (GIMP greys out Undo while a script
#    runs), clicks Edit ▸ Undo twice like a user, then runs Fast Neural Style from GIMP's action
#    search (so it becomes the last used filter), OK, then Filters ▸ Repeat (Ctrl+F); after each
#    step it forwards probe.py to this GIMP over D-Bus to record the layers.
import json
import os
import subprocess
import time

import gi

gi.require_version("Gimp", "3.0")
from gi.repository import Gimp, Gio  # noqa: E402

SPEC = json.load(open(os.environ["NST_E2E_SPEC"]))
OUT = SPEC["out"]
DRIVER = os.path.join(os.path.dirname(SPEC["probe"]), "driver.py")
facts = {}


def shoot(name):
    subprocess.run(["import", "-window", "root", os.path.join(OUT, name)])


def drive(step):
    """The user, in the background: the dialog blocks this script until it closes."""
    return subprocess.Popen(["python3", DRIVER, step, OUT])


def settle(seconds):
    Gimp.displays_flush()
    time.sleep(seconds)


def config(proc, image, layer, mode=Gimp.RunMode.INTERACTIVE, **props):
    cfg = proc.create_config()
    cfg.set_property("run-mode", mode)
    cfg.set_property("image", image)
    cfg.set_core_object_array("drawables", [layer])
    for key, value in props.items():
        if key in ("style", "style-2", "style-3", "reference"):
            value = Gio.File.new_for_path(value) if value else None
        cfg.set_property(key, value)
    return cfg


try:
    pdb = Gimp.get_pdb()
    fast = pdb.lookup_procedure("python-fu-fast-neural-style")
    gatys = pdb.lookup_procedure("python-fu-neural-style")
    image = Gimp.get_images()[0]
    layer = image.get_layers()[0]
    facts["layer_size"] = [layer.get_width(), layer.get_height()]

    # 0. The engine, started by the plug-in, and the network loaded: what a user has after the
    # first use; the preview's 2 s are measured from there.
    warm = Gimp.Image.new(64, 48, Gimp.ImageBaseType.RGB)
    wl = Gimp.Layer.new(warm, "warm", 64, 48, Gimp.ImageType.RGB_IMAGE, 100.0,
                        Gimp.LayerMode.NORMAL)
    warm.insert_layer(wl, None, 0)
    t = time.time()
    facts["warm_status"] = fast.run(config(fast, warm, wl, Gimp.RunMode.NONINTERACTIVE,
                                           model=SPEC["model"])).index(0).value_nick
    facts["warm_s"] = time.time() - t
    warm.delete()
    settle(2)

    # 1. Fast Neural Style on the whole 1 MP layer: preview, then another network.
    helper = drive("fast-preview")
    facts["fast_dialog_status"] = fast.run(config(fast, image, layer, model=SPEC["model"])) \
        .index(0).value_nick
    helper.wait(timeout=120)

    # 2. The selection and a step of the user's own before the plug-in's.
    image.select_ellipse(Gimp.ChannelOps.REPLACE, *SPEC["ellipse"])
    Gimp.Selection.feather(image, SPEC["feather"])
    marker = Gimp.Layer.new(image, "Marker", 40, 30, Gimp.ImageType.RGBA_IMAGE, 100.0,
                            Gimp.LayerMode.NORMAL)
    image.insert_layer(marker, None, 1)
    image.set_selected_layers([layer])
    settle(2)

    # 3. Neural Style: Advanced open must fit the screen; the approximate preview.
    helper = drive("gatys-fit")
    facts["gatys_dialog_status"] = gatys.run(config(gatys, image, layer, style=SPEC["style"])) \
        .index(0).value_nick
    helper.wait(timeout=120)

    # 4. A real Neural Style run, cancelled with GIMP's own Cancel while the engine computes.
    helper = drive("gatys-cancel")
    t = time.time()
    facts["cancel_status"] = gatys.run(config(gatys, image, layer, style=SPEC["style"],
                                              size=SPEC["gatys_size"], quality="high")) \
        .index(0).value_nick
    facts["cancel_run_s"] = time.time() - t
    helper.wait(timeout=200)
    facts["layers_after_cancel"] = [lay.get_name() for lay in image.get_layers()]
    image.set_selected_layers([layer])

    # 5. The result of a run, for the screenshot and the undo steps.
    facts["run_status"] = fast.run(config(fast, image, layer, Gimp.RunMode.NONINTERACTIVE,
                                          model=SPEC["model"])).index(0).value_nick
    facts["layers_after_run"] = [lay.get_name() for lay in image.get_layers()]
    facts["mask"] = image.get_layers()[0].get_mask() is not None
    settle(3)
    shoot("result.png")

    # The user's clicks and keys once this script has returned (GIMP greys out Undo while a
    # script runs): driver.py "after" (Undo twice, the action search, OK, Repeat).
    subprocess.Popen(["python3", DRIVER, "after", OUT, SPEC["probe"]], start_new_session=True)
except Exception:
    import traceback

    facts["crash"] = traceback.format_exc()
    open(os.path.join(OUT, "undo-done"), "w").close()
with open(os.path.join(OUT, "gui.json"), "w") as fh:
    json.dump(facts, fh, indent=1)
