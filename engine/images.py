"""Reading and writing pictures: any mode Pillow knows, EXIF rotation, alpha, 16-bit, limits.

Inside the engine a picture is `Picture`: RGB float32 in [0, 1] (H, W, 3) plus an optional alpha
channel (H, W) in [0, 1] that is carried to the output unchanged. A picture decoded from 8 bits
(or a result made in 8 bits) keeps them and makes the float RGB only when asked: a method that
works at a lower resolution never pays for the full-size float copy (288 MB at 24 MP). Sizes
are checked *before* the pixels are decoded, so a PNG whose header claims 100000x100000 costs
nothing.
"""

from __future__ import annotations

import functools
import io
import os
import tempfile
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from engine.errors import BadImage, ImageTooLarge

DEFAULT_MAX_PIXELS = 64_000_000  # about 8000 x 8000; a 24 MP photo fits with room to spare


def size_of(pixels: np.ndarray | Image.Image) -> tuple[int, int]:
    """(width, height) of an (H, W, ...) array or a Pillow image."""
    return pixels.size if isinstance(pixels, Image.Image) else (pixels.shape[1], pixels.shape[0])


class Picture:
    """RGB as float32 (H, W, 3) in 0..1 (`rgb`) and, when the pixels are 8-bit, as uint8 (`u8`)
    and as a Pillow "RGB" image (`pil`); give one or more. Whichever is asked for is made from
    what there is, once. `alpha`: float32 (H, W) in 0..1, or None when opaque.

    Why the Pillow image: a decoded photo is one already, and a method that works at a lower
    resolution and finishes in 8 bits (the any-painting network's working size) can read it and
    write its result without a numpy copy each way (each costs ~0.1 s at 24 MP)."""

    __slots__ = ("_rgb", "_u8", "_pil", "alpha")

    def __init__(self, rgb: np.ndarray | None = None, alpha: np.ndarray | None = None, *,
                 u8: np.ndarray | None = None, pil: Image.Image | None = None):
        if rgb is None and u8 is None and pil is None:
            raise ValueError("a Picture needs float RGB, 8-bit RGB or a Pillow RGB image")
        if pil is not None and pil.mode != "RGB":
            raise ValueError(f"a Picture's Pillow image is RGB, not {pil.mode}")
        self._rgb = rgb
        self._u8 = u8
        self._pil = pil
        self.alpha = alpha

    @property
    def eight_bit(self) -> bool:
        """Whether the pixels are 8-bit (decoded from 8 bits, or made in 8 bits)."""
        return self._u8 is not None or self._pil is not None

    @property
    def u8(self) -> np.ndarray | None:
        """The 8-bit RGB (H, W, 3), read-only; None for a float-only picture. Made from the
        Pillow image, which is then let go (Pillow keeps 4 bytes a pixel: 96 MB at 24 MP that a
        method working in numpy never reads again)."""
        if self._u8 is None and self._pil is not None:
            self._u8 = np.asarray(self._pil)
            self._pil = None
        return self._u8

    @property
    def pil(self) -> Image.Image | None:
        """The 8-bit RGB as a Pillow image; None for a float-only picture."""
        if self._pil is None and self._u8 is not None:
            self._pil = Image.fromarray(self._u8, "RGB")
        return self._pil

    @property
    def rgb(self) -> np.ndarray:
        if self._rgb is None:
            self._rgb = _unit_float(self.u8)
        return self._rgb

    @property
    def size(self) -> tuple[int, int]:
        """(width, height), like Pillow."""
        return size_of(next(p for p in (self._rgb, self._u8, self._pil) if p is not None))

    def to_u8(self) -> np.ndarray:
        """The RGB as uint8 (rounded from the float RGB when that is all there is)."""
        return self.u8 if self.eight_bit else unit_to_u8(self._rgb)


def _check_size(width: int, height: int, max_pixels: int, what: str) -> None:
    if width <= 0 or height <= 0:
        raise BadImage(f"{what} is empty ({width}x{height} pixels).")
    if width * height > max_pixels:
        raise ImageTooLarge(
            f"{what} is {width}x{height} = {width * height / 1e6:.1f} megapixels; the limit is "
            f"{max_pixels / 1e6:.1f} MP. Scale it down or raise the limit."
        )


def _to_picture(im: Image.Image) -> Picture:
    # In place: the default returns a copy even when there is nothing to rotate (72 MB at 24 MP).
    ImageOps.exif_transpose(im, in_place=True)
    if im.mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(im, dtype=np.float32)
        peak = 65535.0 if arr.max(initial=0) > 255 or im.mode.startswith("I;16") else 255.0
        gray = np.clip(arr / peak, 0.0, 1.0)
        return Picture(np.repeat(gray[..., None], 3, axis=2).astype(np.float32))
    if im.mode == "F":
        gray = np.clip(np.asarray(im, dtype=np.float32), 0.0, 1.0)
        return Picture(np.repeat(gray[..., None], 3, axis=2))
    has_alpha = im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info)
    if im.mode in ("RGBA;16B", "RGB;16B"):
        im = im.convert("RGBA" if has_alpha else "RGB")
    if has_alpha:
        rgba = np.asarray(im.convert("RGBA"))
        return Picture(alpha=_unit_float(rgba[..., 3]), u8=np.ascontiguousarray(rgba[..., :3]))
    # convert() copies even an RGB image (72 MB at 24 MP): only when the mode differs.
    return Picture(pil=im if im.mode == "RGB" else im.convert("RGB"))


def _unit_float(u8: np.ndarray) -> np.ndarray:
    """uint8 -> contiguous float32 in 0..1 with one full-size allocation (a 24 MP photo is
    288 MB as float; `asarray(dtype=float32) / 255` would allocate it twice)."""
    out = np.empty(u8.shape, np.float32)
    np.multiply(u8, np.float32(1 / 255), out=out, casting="unsafe")
    return out


def _open(source: Image.Image | bytes | str | os.PathLike[str], what: str,
          max_pixels: int) -> Picture:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            if isinstance(source, (bytes, bytearray)):
                if not source:
                    raise BadImage(f"{what} is empty (0 bytes).")
                im = Image.open(io.BytesIO(source))
            else:
                im = Image.open(source)
            _check_size(im.width, im.height, max_pixels, what)
            im.load()
            return _to_picture(im)
    except (BadImage, ImageTooLarge):
        raise
    except FileNotFoundError:
        raise BadImage(f"{what} not found: {source}") from None
    except IsADirectoryError:
        raise BadImage(f"{what} is a folder, not an image: {source}") from None
    except PermissionError:
        raise BadImage(f"{what} cannot be read (permission denied): {source}") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageTooLarge(f"{what} is too large to decode safely: {exc}") from None
    except UnidentifiedImageError:
        raise BadImage(f"{what} is not an image file Pillow can read.") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise BadImage(f"{what} is damaged or truncated ({exc}).") from None


def check_picture(data: bytes, what: str = "Image",
                  max_pixels: int = DEFAULT_MAX_PIXELS) -> tuple[int, int]:
    """(width, height) of an encoded image, without decoding its pixels: the header's size is
    checked against `max_pixels` and the file's structure (for PNG, every chunk and its CRC) is
    verified, so an upload that would fail later is refused now, at a fraction of a decode's
    cost (the pixels are decoded once, when the job runs)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            if not data:
                raise BadImage(f"{what} is empty (0 bytes).")
            im = Image.open(io.BytesIO(bytes(data)))
            _check_size(im.width, im.height, max_pixels, what)
            size = im.size
            im.verify()
            return size
    except (BadImage, ImageTooLarge):
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageTooLarge(f"{what} is too large to decode safely: {exc}") from None
    except UnidentifiedImageError:
        raise BadImage(f"{what} is not an image file Pillow can read.") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise BadImage(f"{what} is damaged or truncated ({exc}).") from None


def load_picture(path: str | os.PathLike[str], what: str = "Image",
                 max_pixels: int = DEFAULT_MAX_PIXELS) -> Picture:
    return _open(Path(path), f"{what} {os.fspath(path)!r}", max_pixels)


def decode_picture(data: bytes, what: str = "Image",
                   max_pixels: int = DEFAULT_MAX_PIXELS) -> Picture:
    return _open(bytes(data), what, max_pixels)


def decode_mask(data: bytes, size: tuple[int, int], max_pixels: int = DEFAULT_MAX_PIXELS
                ) -> np.ndarray:
    """An 8-bit mask (any mode; luminance is used), resized to `size` (w, h) if it differs."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im = Image.open(io.BytesIO(data))
            _check_size(im.width, im.height, max_pixels, "Mask")
            im = im.convert("L")
    except (BadImage, ImageTooLarge):
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageTooLarge(f"Mask is too large to decode safely: {exc}") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise BadImage(f"Mask is not a readable 8-bit image ({exc}).") from None
    if im.size != size:
        im = im.resize(size, Image.Resampling.BILINEAR)
    return np.asarray(im, dtype=np.float32) / 255.0


def unit_to_u8(unit: np.ndarray) -> np.ndarray:
    """float 0..1 -> uint8, rounded, with one float temporary."""
    tmp = np.multiply(unit, np.float32(255), dtype=np.float32)
    tmp += np.float32(0.5)
    np.clip(tmp, 0, 255, out=tmp)
    return tmp.astype(np.uint8)


def to_pil(picture: Picture) -> Image.Image:
    if picture.alpha is None:
        return picture.pil if picture.eight_bit else Image.fromarray(picture.to_u8(), "RGB")
    rgb = picture.to_u8()
    return Image.fromarray(np.dstack([rgb, unit_to_u8(picture.alpha)]), "RGBA")


def encode_png(picture: Picture) -> bytes:
    buf = io.BytesIO()
    to_pil(picture).save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


# The usual suffixes, known without `Image.registered_extensions()`, which imports every Pillow
# plug-in (40 ms: a tenth of a fast run on a 1 MP photo).
_COMMON_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG"}


def output_format(path: str | os.PathLike[str]) -> str:
    """Pillow's format name for an output file name; BadImage when the suffix is unknown."""
    suffix = Path(path).suffix.lower()
    fmt = _COMMON_FORMATS.get(suffix) or Image.registered_extensions().get(suffix)
    if fmt is None:
        raise BadImage(f"Cannot tell the image format from the file name {str(path)!r}; "
                       "use .png, .jpg, .tif or .webp.")
    return fmt


@functools.lru_cache(maxsize=64)
def _writes(fmt: str, mode: str) -> bool:
    """Whether Pillow can write `mode` pictures as `fmt`: it knows the suffix of many formats it
    can only read (.psd, .fli, .h5) or write only in other modes (.xbm, .msp: 1-bit)."""
    try:
        Image.new(mode, (2, 2)).save(io.BytesIO(), format=fmt)
    except Exception:  # KeyError, OSError, ValueError: the kinds Pillow raises for "cannot"
        return False
    return True


def check_output(path: str | os.PathLike[str]) -> str:
    """Fail before the work, not after: the format must be one Pillow writes in colour, the folder
    must exist and take a new file (tried for real: permission bits say nothing to root, nor
    about a read-only mount), and the path must not be a folder. Returns the format name."""
    out = Path(path)
    fmt = output_format(out)
    if not _writes(fmt, "RGB"):
        raise BadImage(f"Cannot write {out.suffix or fmt} files ({fmt} is read-only, or only "
                       "black-and-white, in Pillow); use .png, .jpg, .tif or .webp.")
    if out.is_dir():
        raise BadImage(f"Output {str(path)!r} is a folder.")
    folder = out.parent if str(out.parent) else Path(".")
    if not folder.is_dir():
        raise BadImage(f"Output folder does not exist: {str(folder)!r}")
    try:
        fd, probe = tempfile.mkstemp(dir=folder, prefix=f".{out.name}.", suffix=".part")
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise BadImage(f"Output folder {str(folder)!r} does not take new files "
                       f"({exc.strerror or exc}).") from None
    return fmt


# PNG at zlib level 3, not Pillow's 6: measured on an 18 MP result, 2.45 s instead of 8.38 s for
# a file 4 % larger (level 1: 1.76 s, 9 % larger).
_SAVE_OPTIONS: dict[str, dict[str, int]] = {"JPEG": {"quality": 95}, "PNG": {"compress_level": 3}}


def save_picture(picture: Picture, path: str | os.PathLike[str]) -> None:
    """Write atomically (temp file + rename), so a failure never leaves a partial output file."""
    path = Path(path)
    fmt = output_format(path)
    im = to_pil(picture)
    if im.mode == "RGBA" and not _writes(fmt, "RGBA"):
        im = im.convert("RGB")  # JPEG, EPS, PCX...: no alpha channel in the format
    fd, tmp = tempfile.mkstemp(dir=path.parent if str(path.parent) else ".",
                               prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as fh:
            im.save(fh, format=fmt, **_SAVE_OPTIONS.get(fmt, {}))
        # mkstemp creates 0600; a picture the user asked for gets the usual umask-based mode.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_rescue_copy(picture: Picture, stem: str) -> Path:
    """Save a finished result that could not be written where asked, as PNG (writes every
    picture, alpha included) in the temporary folder; returns its path."""
    fd, tmp = tempfile.mkstemp(prefix=f"{stem}-", suffix=".png")
    with os.fdopen(fd, "wb") as fh:
        to_pil(picture).save(fh, format="PNG", compress_level=1)
    return Path(tmp)


def resize_rgb(rgb: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize float RGB to (w, h) with Lanczos, per channel in float (no 8-bit round trip)."""
    if (rgb.shape[1], rgb.shape[0]) == size:
        return rgb
    chans = [np.asarray(Image.fromarray(rgb[..., c], "F").resize(size, Image.Resampling.LANCZOS))
             for c in range(rgb.shape[2])]
    return np.clip(np.stack(chans, axis=2), 0.0, 1.0).astype(np.float32)


def resize_gray(gray: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    if (gray.shape[1], gray.shape[0]) == size:
        return gray
    im = Image.fromarray(gray.astype(np.float32), "F").resize(size, Image.Resampling.BILINEAR)
    return np.clip(np.asarray(im), 0.0, 1.0).astype(np.float32)


def fit_longest_side(size: tuple[int, int], longest: int) -> tuple[int, int]:
    w, h = size
    s = longest / max(w, h)
    return max(1, round(w * s)), max(1, round(h * s))
