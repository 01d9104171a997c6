# Runs INSIDE GIMP 3 (python-fu-eval batch interpreter), driven by tests/test_gimp_e2e.py:
#   gimp-console-3.0 -i --batch-interpreter=python-fu-eval \
#       -b "exec(open('/path/scenarios.py').read())" --quit
# with NST_E2E_SPEC=/path/spec.json naming the scenarios and an output folder. For each scenario
# it builds the image, records the "before" state, runs the procedure exactly as a script user
# would (non-interactive, every argument set through the procedure's config), records the
# "after" state, and writes facts + raw pixel dumps; the pytest side makes the assertions.
import json
import os
import time
import traceback

import gi

gi.require_version("Gimp", "3.0")
gi.require_version("Gegl", "0.4")
from gi.repository import Gegl, Gimp, Gio  # noqa: E402

RGBA = "R'G'B'A u8"
SPEC = json.load(open(os.environ["NST_E2E_SPEC"]))
OUT = SPEC["out"]


def pixels(drawable, fmt=RGBA):
    w, h = drawable.get_width(), drawable.get_height()
    return bytes(drawable.get_buffer().get(Gegl.Rectangle.new(0, 0, w, h), 1.0, fmt,
                                           Gegl.AbyssPolicy.CLAMP))


def dump(name, data):
    with open(os.path.join(OUT, name), "wb") as fh:
        fh.write(data)


def composite(image):
    dup = image.duplicate()
    flat = dup.flatten()
    data = pixels(flat)
    info = {"w": flat.get_width(), "h": flat.get_height(), "offsets": list(flat.get_offsets()[1:])}
    dup.delete()
    return data, info


def selection_mask(image):
    sel = image.get_selection()
    return pixels(sel, "Y u8")


def build(sc):
    image = Gimp.file_load(Gimp.RunMode.NONINTERACTIVE, Gio.File.new_for_path(sc["photo"]))
    layer = image.get_layers()[0]
    if sc.get("gray"):
        image.convert_grayscale()
    if sc.get("indexed"):
        image.convert_indexed(Gimp.ConvertDitherType.NONE, Gimp.ConvertPaletteType.GENERATE, 16,
                              False, False, "")
    if sc.get("canvas"):  # image larger than the layer, layer at an offset
        cw, ch = sc["canvas"]
        image.resize(cw, ch, 0, 0)
        layer.set_offsets(*sc["layer_offset"])
    if sc.get("alpha"):  # a transparent hole in the layer
        layer.add_alpha()
        image.select_rectangle(Gimp.ChannelOps.REPLACE, *sc["alpha"])
        layer.edit_clear()
        Gimp.Selection.none(image)
    target = layer
    if sc.get("group"):
        group = Gimp.GroupLayer.new(image, "a group")
        image.insert_layer(group, None, 0)
        target = group
    if sc.get("ellipse"):
        image.select_ellipse(Gimp.ChannelOps.REPLACE, *sc["ellipse"])
        if sc.get("feather"):
            Gimp.Selection.feather(image, sc["feather"])
    return image, layer, target


def add_reference_layer(image, path):
    """A second picture as a layer on top of the image (an analogy's reference)."""
    ref = Gimp.file_load_layer(Gimp.RunMode.NONINTERACTIVE, image, Gio.File.new_for_path(path))
    image.insert_layer(ref, None, 0)
    return ref


def run_procedure(image, target, sc, props=None):
    proc = Gimp.get_pdb().lookup_procedure(sc["procedure"])
    cfg = proc.create_config()
    cfg.set_property("run-mode", Gimp.RunMode.NONINTERACTIVE)
    cfg.set_property("image", image)
    cfg.set_core_object_array("drawables", [target])
    for key, path in sc.get("files", {}).items():
        cfg.set_property(key, Gio.File.new_for_path(path))
    for key, value in list(sc.get("args", {}).items()) + list((props or {}).items()):
        cfg.set_property(key, value)
    result = proc.run(cfg)
    status = result.index(0)
    message = ""
    if status != Gimp.PDBStatusType.SUCCESS and result.length() > 1:
        message = str(result.index(1))
    return status.value_nick, message


def layer_facts(image):
    out = []
    for item in image.get_layers():
        mask = item.get_mask()
        out.append({"name": item.get_name(), "offsets": list(item.get_offsets()[1:]),
                    "w": item.get_width(), "h": item.get_height(),
                    "alpha": item.has_alpha(), "mask": mask is not None,
                    "group": item.is_group()})
    return out


def scenario(sc):
    name = sc["name"]
    image, layer, target = build(sc)
    props = {}
    if sc.get("reference_layer"):
        props["reference-layer"] = add_reference_layer(image, sc["reference_layer"])
    facts = {"name": name, "canvas": [image.get_width(), image.get_height()],
             "base_type": image.get_base_type().value_nick}
    facts["layers_before"] = layer_facts(image)
    facts["source"] = {"offsets": list(layer.get_offsets()[1:]), "w": layer.get_width(),
                       "h": layer.get_height()}
    sel = Gimp.Selection.bounds(image)
    facts["selection"] = list(sel[2:6]) if sel[1] else None
    dump(name + ".source_before", pixels(layer))
    before, facts["composite"] = composite(image)
    dump(name + ".composite_before", before)
    dump(name + ".selection", selection_mask(image))
    t0 = time.monotonic()
    facts["status"], facts["message"] = run_procedure(image, target, sc, props)
    facts["seconds"] = round(time.monotonic() - t0, 2)
    facts["layers_after"] = layer_facts(image)
    dump(name + ".source_after", pixels(layer))
    after, _ = composite(image)
    dump(name + ".composite_after", after)
    layers = image.get_layers()
    if len(layers) > len(facts["layers_before"]):
        new = layers[image.get_item_position(layer) - 1]
        dump(name + ".result", pixels(new))
        if new.get_mask() is not None:
            dump(name + ".mask", pixels(new.get_mask(), "Y u8"))
    image.delete()
    return facts


results = []
for sc in SPEC["scenarios"]:
    try:
        results.append(scenario(sc))
    except Exception:
        results.append({"name": sc["name"], "crash": traceback.format_exc()})
    with open(os.path.join(OUT, "results.json"), "w") as fh:
        json.dump(results, fh, indent=1)
