"""Reference images: formats by content, hostile files, size limits (also streamed), orientation, modes, exact fit."""

from __future__ import annotations

import io
import json
import struct
import zlib

import pytest
from PIL import Image

from soraflow.errors import RequestValidationError
from soraflow.reference_image import (
    MAX_REFERENCE_BYTES,
    detect_image_format,
    fit_reference_image,
    read_reference_bytes,
)

RED, GREEN, BLUE, BLACK, WHITE = (255, 0, 0), (0, 255, 0), (0, 0, 255), (0, 0, 0), (255, 255, 255)


def encode(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def decode(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def stripes(width: int = 400, height: int = 100) -> Image.Image:
    """Red left quarter, green middle half, blue right quarter."""
    image = Image.new("RGB", (width, height), GREEN)
    image.paste(RED, (0, 0, width // 4, height))
    image.paste(BLUE, (width * 3 // 4, 0, width, height))
    return image


def noise(width: int, height: int) -> Image.Image:
    # Incompressible pixels, so that cutting the file really cuts image data.
    return Image.frombytes("RGB", (width, height), bytes((i * 7919 + i // 3) % 251 for i in range(width * height * 3)))


def close(pixel, expected, tolerance=40) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(pixel, expected, strict=True))


def rejection(source, width=64, height=64, **options) -> str:
    with pytest.raises(RequestValidationError) as info:
        fit_reference_image(source, width, height, **options)
    [error] = info.value.errors
    assert error.field == options.get("field", "input_reference")
    return error.message


def png_declaring(width: int, height: int) -> bytes:
    """A tiny, well-formed PNG header claiming `width` x `height` pixels: the classic decompression bomb shape."""

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")
    )


# --- formats --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
@pytest.mark.parametrize("fit", ["cover", "contain"])
@pytest.mark.parametrize("size", [(720, 1280), (1280, 720), (1792, 1024)])
def test_each_accepted_format_is_fitted_to_the_exact_size(fmt, fit, size):
    result = fit_reference_image(encode(stripes(300, 200), fmt), *size, fit=fit)
    image = decode(result.data)
    assert (image.format, image.mode, image.size) == ("PNG", "RGB", size)
    assert (result.width, result.height, result.content_type, result.fit) == (*size, "image/png", fit)
    assert (result.original_format, result.original_width, result.original_height) == (fmt, 300, 200)


def test_format_is_judged_by_content_not_by_name():
    assert detect_image_format(encode(stripes(), "PNG")) == "png"
    assert detect_image_format(encode(stripes(), "JPEG")) == "jpeg"
    assert detect_image_format(encode(stripes(), "WEBP")) == "webp"
    assert detect_image_format(b"hello") is None


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (encode(stripes(), "GIF"), "got a GIF image"),
        (encode(stripes(), "BMP"), "got a BMP image"),
        (encode(stripes(), "TIFF"), "got a TIFF image"),
        (b"hello, I am a text file someone renamed to picture.png\n", "got 55 bytes that are not an image"),
        (b'<svg xmlns="http://www.w3.org/2000/svg" width="9" height="9"/>', "got an SVG or XML document"),
        (b'\xef\xbb\xbf<?xml version="1.0"?><svg/>', "got an SVG or XML document"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", "got a PDF document"),
        (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic", "got a HEIC image"),
        (b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1", "got an AVIF image"),
    ],
)
def test_other_formats_and_non_images_are_rejected(data, expected):
    message = rejection(data)
    assert message.startswith("input_reference must be a JPEG, PNG or WebP image; ")
    assert message.endswith(expected)


def test_empty_file_is_rejected():
    assert rejection(b"") == "input_reference is empty; expected a JPEG, PNG or WebP image"


def test_the_field_named_in_errors_can_be_chosen():
    assert rejection(b"nope", field="image").startswith("image must be a JPEG")


# --- hostile and broken files -----------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP"])
def test_truncated_files_are_rejected(fmt):
    data = encode(noise(256, 256), fmt, **({"quality": 95} if fmt != "PNG" else {}))
    message = rejection(data[: len(data) // 2])
    assert message == f"input_reference is a {fmt} image that is truncated or corrupt and cannot be decoded"


@pytest.mark.parametrize(
    ("width", "height"),
    [
        (100_000, 100_000),  # beyond twice Pillow's limit: Pillow raises DecompressionBombError
        (10_000, 10_000),  # beyond Pillow's limit: Pillow warns (DecompressionBombWarning)
        (9_000, 9_000),  # under Pillow's limit, over ours
    ],
)
def test_tiny_png_declaring_huge_dimensions_is_a_decompression_bomb(width, height):
    data = png_declaring(width, height)
    assert len(data) < 200
    message = rejection(data)
    assert message.startswith("input_reference has too many pixels (a decompression bomb")
    assert "at most 64,000,000 allowed" in message


@pytest.mark.parametrize("width", [10_000, 100_000])
def test_pillows_own_bomb_limits_hold_even_when_ours_is_raised(width):
    message = rejection(png_declaring(width, width), max_pixels=10**11)
    assert message.startswith("input_reference has too many pixels (a decompression bomb")
    assert f"at most {Image.MAX_IMAGE_PIXELS:,} allowed" in message


def test_jpeg_header_declaring_huge_dimensions_is_rejected():
    data = bytearray(encode(stripes(64, 64), "JPEG"))
    start = data.index(b"\xff\xc0")  # baseline frame header: length, precision, height, width
    data[start + 5 : start + 9] = struct.pack(">HH", 60_000, 60_000)
    assert "decompression bomb" in rejection(bytes(data))


def test_pixel_limit_is_checked_before_decoding():
    message = rejection(encode(stripes(40, 40), "PNG"), max_pixels=1_000)
    assert message.endswith("at most 1,000 allowed; got 40x40 = 1,600")


def test_a_file_at_the_size_limit_is_accepted_and_one_byte_more_is_not():
    image = encode(stripes(64, 64), "JPEG")
    at_limit = image + b"\0" * (MAX_REFERENCE_BYTES - len(image))  # trailing bytes after the JPEG's end marker
    assert fit_reference_image(at_limit, 32, 32).original_bytes == MAX_REFERENCE_BYTES
    message = rejection(at_limit + b"\0")
    assert message == "input_reference must be at most 20 MB (20,971,520 bytes); got 20,971,521 bytes"


def test_an_oversized_stream_is_refused_without_reading_it_all():
    stream = io.BytesIO(b"\0" * (MAX_REFERENCE_BYTES + 5_000_000))
    assert rejection(stream).endswith("at most 20 MB (20,971,520 bytes); got more than that")
    assert stream.tell() == MAX_REFERENCE_BYTES + 1


def test_an_endless_chunked_download_is_cut_off_at_the_limit():
    consumed = []

    def endless():
        while True:
            consumed.append(1)
            yield b"\0" * (1024 * 1024)

    with pytest.raises(RequestValidationError, match="got more than that"):
        read_reference_bytes(endless())
    assert len(consumed) == 21


def test_streams_and_chunks_within_the_limit_are_read_whole():
    data = encode(stripes(), "PNG")
    assert read_reference_bytes(io.BytesIO(data)) == data
    assert read_reference_bytes(iter([data[:10], data[10:]])) == data
    assert fit_reference_image(io.BytesIO(data), 100, 100).original_bytes == len(data)


# --- orientation, modes, animation ------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [(100, 200), (50, 100)])
def test_exif_orientation_is_honoured(size):
    stored = Image.new("RGB", (200, 100), GREEN)
    stored.paste(RED, (0, 0, 100, 100))  # left half red as stored; orientation 6 shows the left side on top
    exif = Image.Exif()
    exif[0x0112] = 6
    result = fit_reference_image(encode(stored, "JPEG", exif=exif.tobytes(), quality=95), *size)
    image = decode(result.data)
    assert image.size == size
    assert close(image.getpixel((size[0] // 2, 2)), RED)
    assert close(image.getpixel((size[0] // 2, size[1] - 3)), GREEN)
    assert result.exif_orientation == 6


def rgba_half_transparent() -> Image.Image:
    image = Image.new("RGBA", (64, 64), (0, 0, 255, 255))
    image.paste((255, 0, 0, 0), (0, 0, 32, 64))  # left half fully transparent
    return image


def palette_with_transparency() -> Image.Image:
    image = Image.new("P", (64, 64), 1)
    image.putpalette([0, 0, 0, 0, 0, 255] + [0] * 762)
    image.info["transparency"] = 0
    image.paste(0, (0, 0, 32, 64))
    return image


def cmyk_blue() -> Image.Image:
    image = Image.new("CMYK", (64, 64), (255, 255, 0, 0))
    image.paste((0, 255, 255, 0), (0, 0, 32, 64))  # left half red
    return image


def grey16() -> Image.Image:
    image = Image.new("I;16", (64, 64), 65535)
    image.paste(Image.new("I;16", (32, 64), 32768), (0, 0))  # left half mid grey
    return image


@pytest.mark.parametrize(
    ("make", "fmt", "mode", "left", "right"),
    [
        (rgba_half_transparent, "PNG", "RGBA", WHITE, BLUE),
        (rgba_half_transparent, "WEBP", "RGBA", WHITE, BLUE),
        (palette_with_transparency, "PNG", "P", WHITE, BLUE),
        (lambda: stripes(64, 64).convert("P"), "PNG", "P", RED, BLUE),
        (lambda: Image.new("LA", (64, 64), (100, 255)), "PNG", "LA", (100, 100, 100), (100, 100, 100)),
        (lambda: Image.new("1", (64, 64), 1), "PNG", "1", WHITE, WHITE),
        (cmyk_blue, "JPEG", "CMYK", RED, BLUE),
        (grey16, "PNG", "I;16", (128, 128, 128), WHITE),
    ],
)
def test_every_mode_ends_as_rgb_with_the_right_colours(make, fmt, mode, left, right):
    source = make()
    assert source.mode == mode
    result = fit_reference_image(encode(source, fmt), 64, 64)
    image = decode(result.data)
    assert image.mode == "RGB"
    assert close(image.getpixel((8, 32)), left, tolerance=12 if fmt == "PNG" else 40)
    assert close(image.getpixel((56, 32)), right, tolerance=12 if fmt == "PNG" else 40)
    assert result.original_mode == decode(encode(source, fmt)).mode


@pytest.mark.parametrize("fmt", ["PNG", "WEBP"])
def test_animated_images_give_their_first_frame(fmt):
    frames = [Image.new("RGB", (64, 64), RED), Image.new("RGB", (64, 64), BLUE)]
    data = encode(frames[0], fmt, save_all=True, append_images=frames[1:], duration=100, loop=0)
    result = fit_reference_image(data, 32, 32)
    assert result.frames == 2
    assert close(decode(result.data).getpixel((16, 16)), RED)


# --- fitting ----------------------------------------------------------------------------------------------------


def test_cover_resizes_and_crops_the_centre():
    image = decode(fit_reference_image(encode(stripes(400, 100), "PNG"), 100, 100, fit="cover").data)
    assert image.size == (100, 100)
    for point in [(0, 0), (99, 0), (0, 99), (99, 99), (50, 50)]:
        assert close(image.getpixel(point), GREEN, tolerance=8), point


def test_contain_letterboxes_with_black_bars():
    image = decode(fit_reference_image(encode(stripes(400, 100), "PNG"), 100, 100, fit="contain").data)
    assert image.size == (100, 100)
    assert image.getpixel((50, 2)) == BLACK and image.getpixel((50, 97)) == BLACK
    assert close(image.getpixel((5, 50)), RED, 8)
    assert close(image.getpixel((50, 50)), GREEN, 8)
    assert close(image.getpixel((95, 50)), BLUE, 8)


def test_an_image_of_the_right_size_keeps_its_pixels():
    source = noise(64, 48)
    assert decode(fit_reference_image(encode(source, "PNG"), 64, 48).data).tobytes() == source.tobytes()


def test_large_jpeg_is_decoded_at_reduced_scale_and_still_fitted_exactly():
    source = stripes(4000, 3000)
    result = fit_reference_image(encode(source, "JPEG", quality=90), 400, 300)
    image = decode(result.data)
    assert image.size == (400, 300)
    assert (result.original_width, result.original_height) == (4000, 3000)
    assert close(image.getpixel((10, 150)), RED) and close(image.getpixel((390, 150)), BLUE)


def test_jpeg_output_can_be_asked_for():
    result = fit_reference_image(encode(stripes(), "PNG"), 128, 72, output_format="JPEG")
    assert result.content_type == "image/jpeg"
    assert decode(result.data).format == "JPEG"


def test_description_is_small_and_json_able():
    data = encode(stripes(300, 200), "WEBP")
    described = json.loads(json.dumps(fit_reference_image(data, 120, 80, fit="contain").describe()))
    assert described["width"] == 120 and described["height"] == 80 and described["fit"] == "contain"
    assert described["original"] == {
        "format": "WEBP",
        "width": 300,
        "height": 200,
        "mode": "RGB",
        "bytes": len(data),
        "frames": 1,
        "exif_orientation": None,
    }


@pytest.mark.parametrize(
    ("options", "message"),
    [({"fit": "stretch"}, "fit must be one of"), ({"output_format": "GIF"}, "output_format"), ({"width": 0}, "size")],
)
def test_programming_errors_are_value_errors(options, message):
    arguments = {"width": 10, "height": 10, **options}
    with pytest.raises(ValueError, match=message):
        fit_reference_image(encode(stripes(), "PNG"), **arguments)
