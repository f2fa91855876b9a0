"""Reference images: JPEG, PNG or WebP only (judged by content), bounded in bytes and pixels, fitted to the video size.

The videos API rejects a reference whose dimensions differ from `size` (seeds: "must match size exactly"), so every
reference is fitted here: "cover" (default) resizes and centre-crops, "contain" letterboxes onto black bars. EXIF
orientation is applied first and every mode (palette, alpha, CMYK, 16-bit) ends as 8-bit RGB; transparency is
flattened onto white, as a browser shows it. An animated PNG or WebP gives its first frame (a reference anchors the
first frame of the video; the frame count is kept in the description). Sizes are checked before decoding: at most
20 MB of bytes (also when streamed, stopping at the limit) and 64 megapixels (a decompression bomb declares huge
dimensions in a tiny file; Pillow's own DecompressionBombError/Warning become the same clear error).
"""

from __future__ import annotations

import io
import math
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, BinaryIO, NoReturn

from soraflow.errors import FieldError, RequestValidationError

# Pillow is imported by the functions that decode: only an image-to-video request needs it.
if TYPE_CHECKING:
    from PIL import Image

MAX_REFERENCE_BYTES = 20 * 1024 * 1024  # the seeds' 20 MB, as the OpenAPI spec's 20,971,520
# 8,000 x 8,000: a 61-megapixel camera photo fits; decoded as RGBA it is at most 256 MB.
MAX_REFERENCE_PIXELS = 64_000_000
READ_CHUNK_BYTES = 1024 * 1024
ACCEPTED_FORMATS = {"jpeg": "JPEG", "png": "PNG", "webp": "WEBP"}
FITS = ("cover", "contain")
OUTPUT_FORMATS = {"PNG": "image/png", "JPEG": "image/jpeg"}
LETTERBOX_COLOR = (0, 0, 0)
TRANSPARENT_BACKGROUND = (255, 255, 255)
FIELD = "input_reference"
ALLOWED = "a JPEG, PNG or WebP image"
REJECTED_KINDS = {
    "gif": "a GIF image",
    "bmp": "a BMP image",
    "tiff": "a TIFF image",
    "ico": "an ICO image",
    "heic": "a HEIC image",
    "avif": "an AVIF image",
    "pdf": "a PDF document",
    "svg": "an SVG or XML document",
}
EXIF_ORIENTATION = 0x0112
# Orientations 5-8 turn the picture a quarter: the stored width is the shown height.
QUARTER_TURNS = (5, 6, 7, 8)


@dataclass(frozen=True)
class FittedImage:
    """A reference image fitted to the video size, encoded, with what was done to it."""

    data: bytes
    content_type: str
    width: int
    height: int
    fit: str
    original_format: str
    original_width: int
    original_height: int
    original_mode: str
    original_bytes: int
    frames: int = 1
    exif_orientation: int | None = None

    def describe(self) -> dict:
        """A small JSON-able account of the image (no bytes), for the manifest and the run resource."""
        return {
            "width": self.width,
            "height": self.height,
            "content_type": self.content_type,
            "bytes": len(self.data),
            "fit": self.fit,
            "original": {
                "format": self.original_format,
                "width": self.original_width,
                "height": self.original_height,
                "mode": self.original_mode,
                "bytes": self.original_bytes,
                "frames": self.frames,
                "exif_orientation": self.exif_orientation,
            },
        }


def detect_image_format(head: bytes) -> str | None:
    """The kind of image the first bytes announce ("jpeg", "png", "webp", "gif", "svg", ...), or None."""
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if head[:2] == b"BM":
        return "bmp"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "tiff"
    if head[:4] == b"\x00\x00\x01\x00":
        return "ico"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in (b"avif", b"avis"):
            return "avif"
        if brand in (b"heic", b"heix", b"hevc", b"hevx", b"mif1", b"msf1"):
            return "heic"
    if head.startswith(b"%PDF"):
        return "pdf"
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if text.startswith((b"<svg", b"<?xml", b"<!doctype svg")):
        return "svg"
    return None


def read_reference_bytes(
    source: bytes | bytearray | memoryview | BinaryIO | Iterable[bytes],
    *,
    max_bytes: int = MAX_REFERENCE_BYTES,
    field: str = FIELD,
) -> bytes:
    """All the bytes of `source` (bytes, a readable file, or an iterable of chunks), refusing more than `max_bytes`."""
    if isinstance(source, bytes | bytearray | memoryview):
        data = bytes(source)
        if len(data) > max_bytes:
            _reject(field, f"{field} must be at most {_mb(max_bytes)}; got {len(data):,} bytes")
        return data
    buffer = bytearray()
    if hasattr(source, "read"):
        # Read at most one byte past the limit: enough to know it is too big, without reading the rest.
        while chunk := source.read(min(READ_CHUNK_BYTES, max_bytes + 1 - len(buffer))):
            buffer += chunk
            if len(buffer) > max_bytes:
                break
    else:
        for chunk in source:
            buffer += chunk
            if len(buffer) > max_bytes:
                break
    if len(buffer) > max_bytes:
        _reject(field, f"{field} must be at most {_mb(max_bytes)}; got more than that")
    return bytes(buffer)


def fit_reference_image(
    source: bytes | bytearray | memoryview | BinaryIO | Iterable[bytes],
    width: int,
    height: int,
    *,
    fit: str = "cover",
    output_format: str = "PNG",
    max_bytes: int = MAX_REFERENCE_BYTES,
    max_pixels: int = MAX_REFERENCE_PIXELS,
    field: str = FIELD,
) -> FittedImage:
    """Check an uploaded image and fit it to exactly `width` x `height`; RequestValidationError naming `field`."""
    from PIL import Image, ImageOps

    if fit not in FITS:
        raise ValueError(f"fit must be one of {FITS}, got {fit!r}")
    if output_format not in OUTPUT_FORMATS:
        raise ValueError(f"output_format must be one of {tuple(OUTPUT_FORMATS)}, got {output_format!r}")
    if width < 1 or height < 1:
        raise ValueError(f"size must be positive, got {width}x{height}")
    data = read_reference_bytes(source, max_bytes=max_bytes, field=field)
    if not data:
        _reject(field, f"{field} is empty; expected {ALLOWED}")
    kind = detect_image_format(data[:64])
    if kind not in ACCEPTED_FORMATS:
        got = REJECTED_KINDS.get(kind or "", f"{len(data):,} bytes that are not an image")
        _reject(field, f"{field} must be {ALLOWED}; got {got}")

    image = _open(data, kind, max_pixels, field)
    original = (image.format or ACCEPTED_FORMATS[kind], image.width, image.height, image.mode)
    frames = getattr(image, "n_frames", 1)
    orientation = _orientation(image)
    if kind == "jpeg":
        # Let libjpeg decode at 1/2, 1/4 or 1/8 scale when the target is that much smaller: far less memory and time.
        image.draft(None, _decode_size(image.size, (width, height), fit, orientation))
    try:
        image.load()
        image = ImageOps.exif_transpose(image)
    except (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError):
        _reject(field, _corrupt(field, kind))
    image = _to_rgb(image)
    if fit == "cover":
        fitted = ImageOps.fit(image, (width, height), Image.Resampling.LANCZOS)
    else:
        fitted = ImageOps.pad(image, (width, height), Image.Resampling.LANCZOS, color=LETTERBOX_COLOR)
    output = io.BytesIO()
    if output_format == "JPEG":
        fitted.save(output, "JPEG", quality=95)
    else:
        fitted.save(output, "PNG")
    return FittedImage(
        data=output.getvalue(),
        content_type=OUTPUT_FORMATS[output_format],
        width=fitted.width,
        height=fitted.height,
        fit=fit,
        original_format=original[0],
        original_width=original[1],
        original_height=original[2],
        original_mode=original[3],
        original_bytes=len(data),
        frames=frames,
        exif_orientation=orientation,
    )


def _open(data: bytes, kind: str, max_pixels: int, field: str) -> Image.Image:
    from PIL import Image, UnidentifiedImageError

    # Pillow's own limit (a process-wide setting) also applies when it is the lower one.
    limit = min(max_pixels, Image.MAX_IMAGE_PIXELS or max_pixels)
    bomb = f"{field} has too many pixels (a decompression bomb, or an image too large to fit): at most {limit:,}"
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data), formats=[ACCEPTED_FORMATS[kind]])
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            _reject(field, f"{bomb} allowed")
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError):
            _reject(field, _corrupt(field, kind))
    pixels = image.width * image.height
    if pixels > max_pixels:
        _reject(field, f"{bomb} allowed; got {image.width}x{image.height} = {pixels:,}")
    return image


def _orientation(image: Image.Image) -> int | None:
    try:
        value = image.getexif().get(EXIF_ORIENTATION)
    except Exception:  # a malformed EXIF block is not worth refusing the picture for; it is then not rotated
        return None
    return value if isinstance(value, int) and 1 <= value <= 8 else None


def _decode_size(size: tuple[int, int], target: tuple[int, int], fit: str, orientation: int | None) -> tuple[int, int]:
    """The smallest decoded size (in stored orientation) that still covers or contains the target after fitting."""
    width, height = size
    target_w, target_h = (target[1], target[0]) if orientation in QUARTER_TURNS else target
    scale = (max if fit == "cover" else min)(target_w / width, target_h / height)
    return max(1, math.ceil(width * scale)), max(1, math.ceil(height * scale))


def _to_rgb(image: Image.Image) -> Image.Image:
    from PIL import Image

    if image.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        # 16-bit grey: scale to 8 bits (a plain convert would clip everything above 255 to white).
        image = image.convert("I").point(lambda value: value * (1 / 256)).convert("L")
    has_alpha = "A" in image.getbands() or "transparency" in image.info or image.mode in ("RGBa", "La", "PA")
    if not has_alpha:
        return image if image.mode == "RGB" else image.convert("RGB")
    rgba = image.convert("RGBA")
    background = Image.new("RGB", rgba.size, TRANSPARENT_BACKGROUND)
    background.paste(rgba, mask=rgba.getchannel("A"))
    return background


def _corrupt(field: str, kind: str) -> str:
    return f"{field} is a {ACCEPTED_FORMATS[kind]} image that is truncated or corrupt and cannot be decoded"


def _mb(count: int) -> str:
    return f"{count / (1024 * 1024):g} MB ({count:,} bytes)"


def _reject(field: str, message: str) -> NoReturn:
    raise RequestValidationError([FieldError(field, message)])
