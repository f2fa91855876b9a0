"""Reference images sent to either API: JPEG, PNG or WebP, at most 20 MB, never a decompression bomb."""

from __future__ import annotations

import io
import warnings

from PIL import Image, UnidentifiedImageError

from emulators.sora.errors import ApiError

MAX_IMAGE_BYTES = 20 * 1024 * 1024
# Far above any size either API accepts; a header announcing more is treated as hostile before decoding.
MAX_IMAGE_PIXELS = 40_000_000
ALLOWED_FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}


def open_image(data: bytes, *, param: str) -> Image.Image:
    """Open an uploaded image (header only; pixels decode later), or raise the API's 400."""
    if len(data) > MAX_IMAGE_BYTES:
        raise ApiError(
            400,
            f"The '{param}' file is {len(data):,} bytes; the maximum is {MAX_IMAGE_BYTES:,} bytes (20 MB).",
            code="file_too_large",
            param=param,
        )
    if not data:
        raise ApiError(400, f"The '{param}' file is empty.", code="invalid_image", param=param)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning, OSError) as exc:
        raise ApiError(
            400,
            f"The '{param}' file is not a supported image: expected JPEG, PNG or WebP ({type(exc).__name__}).",
            code="invalid_image",
            param=param,
        ) from exc
    if image.format not in ALLOWED_FORMATS:
        raise ApiError(
            400,
            f"The '{param}' image format {image.format} is not supported: expected JPEG, PNG or WebP.",
            code="invalid_image_format",
            param=param,
        )
    width, height = image.size
    if width * height > MAX_IMAGE_PIXELS:
        raise ApiError(
            400,
            f"The '{param}' image is {width}x{height} pixels, more than the {MAX_IMAGE_PIXELS:,} pixels allowed.",
            code="image_too_large",
            param=param,
        )
    return image


def decode_pixels(image: Image.Image, *, param: str) -> Image.Image:
    """Decode the pixels of an opened image (a truncated or corrupt body is the API's 400)."""
    try:
        image.load()
    except (OSError, SyntaxError, ValueError) as exc:
        raise ApiError(
            400, f"The '{param}' image could not be decoded: {exc}.", code="invalid_image", param=param
        ) from exc
    return image
