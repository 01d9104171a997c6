"""The ONNX files the engine runs: checked against the sha256 their json gives, and opened through
a per-machine cache of their optimised graphs.

Why the cache: onnxruntime optimises a graph every time it opens it (fusions, then the CPU's own
blocked layouts and weight packing), which for the any-painting pair costs more than a whole
384 px run's network time (about 55 of the command's 420 ms on the 2-core CPU). It can write the
optimised graph out; opened again with optimisation off, the same pair loads in about 30 ms and
computes exactly the same numbers (onnxruntime's "offline" mode). That graph is tied to this
CPU, this onnxruntime and this exact file, so it lives in the user's cache folder under a name
made of all three, is written once (atomically: a half-written file never has the final name),
and any failure to read or write it falls back to the shipped file.

Why a hit skips the sha256: the cache name holds the json's sha256 and the source file's size,
mtime and inode, and the cached graph was made from that file right after it was verified; a
replaced or rewritten source file misses the cache and is verified again. The weights that run
are always ones that passed the check.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import platform
import threading
from pathlib import Path

from engine import config, runtime
from engine.errors import BadModel

log = logging.getLogger(__name__)

CACHE_ENV = "NST_GRAPH_CACHE"  # "0" turns the optimised-graph cache off

_verified: dict[tuple[str, int, int], str] = {}
_lock = threading.Lock()


def sha256_file(path: Path) -> str:
    """The digest a model's json records for its file (streamed: models can be large)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def verify(path: Path, sha256: str | None, model_id: str) -> None:
    """A file whose sha256 differs from its json is corrupt or replaced: refuse it. Each file
    version is hashed once per process."""
    if sha256 is None:
        return
    st = path.stat()
    key = (str(path), st.st_mtime_ns, st.st_size)
    with _lock:
        if _verified.get(key) == sha256:
            return
    if sha256_file(path) != sha256:
        raise BadModel(f"{path.name} does not match the sha256 in {model_id}.json (corrupt or "
                       "replaced file); install or convert the model again")
    with _lock:
        _verified[key] = sha256


def cache_folder() -> Path:
    return config.cache_dir() / "graphs"


@functools.cache
def _machine() -> str:
    """What an optimised CPU graph depends on besides onnxruntime: the CPU's model and
    instruction-set flags (AVX2 and AVX-512 machines get different blocked layouts)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            first_cpu = []
            for line in f:
                if not line.strip():
                    break
                if line.startswith(("vendor_id", "model name", "flags")):
                    first_cpu.append(line.strip())
        if first_cpu:
            return "\n".join(first_cpu)
    except OSError:
        pass
    return f"{platform.machine()} {platform.processor()}"


def _cache_path(path: Path, sha256: str, ort_version: str) -> Path:
    st = path.stat()
    tag = hashlib.blake2b("\n".join([
        sha256, ort_version, _machine(), str(st.st_size), str(st.st_mtime_ns), str(st.st_ino),
    ]).encode(), digest_size=10).hexdigest()
    return cache_folder() / f"{path.stem}-{tag}.onnx"


def _options(ort, optimise: bool = True, save_to: Path | None = None):
    opts = ort.SessionOptions()
    opts.graph_optimization_level = (ort.GraphOptimizationLevel.ORT_ENABLE_ALL if optimise else
                                     ort.GraphOptimizationLevel.ORT_DISABLE_ALL)
    # Memory patterns pre-plan one block per input shape; with the arena's power-of-two growth
    # that made the peak erratic (1.1 GB for a 2048x2048 tile, 0.57 GB for 2068x2088). Without
    # them the peak is steady, <= 160 MB per megapixel for the shipped networks, at the same
    # speed (benchmarks/fast_memory.py).
    opts.enable_mem_pattern = False
    opts.log_severity_level = 3  # onnxruntime's own warnings go to stderr otherwise
    if save_to is not None:
        opts.optimized_model_filepath = str(save_to)
    return opts


def _open(ort, path: Path, opts, lane: str):
    try:
        return ort.InferenceSession(str(path), sess_options=opts,
                                    providers=runtime.providers(lane))
    except Exception as exc:  # onnxruntime raises several unrelated types for bad files
        raise BadModel(f"{path.name} could not be loaded by onnxruntime "
                       f"({type(exc).__name__}: {str(exc).splitlines()[0][:200]})") from exc


def _cache_on(lane: str, sha256: str | None) -> bool:
    # CPU only: a CUDA graph is partitioned for the device it was made on. A file without a
    # sha256 is the user's own and may change under the same name: not cached.
    return (lane == runtime.CPU and sha256 is not None
            and os.environ.get(CACHE_ENV, "1").strip() != "0")


def session(path: Path, lane: str, *, sha256: str | None = None, model_id: str = ""):
    """An onnxruntime session for `path` on `lane`, its file verified against `sha256`."""
    import onnxruntime as ort

    path = Path(path)
    if not _cache_on(lane, sha256):
        verify(path, sha256, model_id)
        return _open(ort, path, _options(ort), lane)
    cached = _cache_path(path, sha256, ort.__version__)
    if cached.is_file():
        try:
            return _open(ort, cached, _options(ort, optimise=False), lane)
        except BadModel as exc:  # unreadable or truncated: make it again from the source
            log.warning("optimised graph %s unusable (%s); rebuilding it", cached.name, exc)
            cached.unlink(missing_ok=True)
    verify(path, sha256, model_id)
    tmp = cached.with_name(f".{cached.stem}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # a read-only home: run without the cache
        log.debug("no graph cache: %s", exc)
        return _open(ort, path, _options(ort), lane)
    try:
        sess = _open(ort, path, _options(ort, save_to=tmp), lane)
    except BadModel:  # the file, or only the writing of its optimised copy (a full disk)?
        tmp.unlink(missing_ok=True)
        return _open(ort, path, _options(ort), lane)
    try:
        os.replace(tmp, cached)
        for old in cached.parent.glob(f"{path.stem}-*.onnx"):  # earlier versions of this file
            if old != cached and old.stem.rsplit("-", 1)[0] == path.stem:
                old.unlink(missing_ok=True)
    except OSError as exc:
        log.debug("optimised graph not kept: %s", exc)
        tmp.unlink(missing_ok=True)
    return sess
