"""Image checks, before anything goes upstream.

Each file must carry a known image signature *and* decode completely, so a renamed text file,
a truncated JPEG or a decompression bomb is refused here rather than spending an upstream call.
A small file can decode to a large bitmap (a 150 KB PNG to 160 MB), so the bitmap's size is worked
out from the header and held to a budget before any pixel is decoded; a JPEG is decoded at 1/8
scale (every coefficient is still read, so a truncated file still fails, at 1/64 of the memory).
"""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass

from PIL import Image

from app.errors import BadImage, PayloadTooLarge

# signature -> (Pillow format, content type, file extension)
_SIGNATURES: tuple[tuple[bytes, str, str, str], ...] = (
    (b"\xff\xd8\xff", "JPEG", "image/jpeg", "jpg"),
    (b"\x89PNG\r\n\x1a\n", "PNG", "image/png", "png"),
    (b"GIF87a", "GIF", "image/gif", "gif"),
    (b"GIF89a", "GIF", "image/gif", "gif"),
    (b"BM", "BMP", "image/bmp", "bmp"),
)
SUPPORTED = "JPEG, PNG, WebP, GIF or BMP"


@dataclass(frozen=True, slots=True)
class ImageLimits:
    max_bytes: int
    max_pixels: int
    min_side: int
    # Bytes the decoded bitmap may take in memory (width x height x bytes per pixel as Pillow holds it).
    max_decoded_bytes: int = 96 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class CheckedImage:
    data: bytes
    sha256: str
    content_type: str
    extension: str


def _sniff(data: bytes) -> tuple[str, str, str] | None:
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP", "image/webp", "webp"
    for magic, fmt, ctype, ext in _SIGNATURES:
        if data.startswith(magic):
            return fmt, ctype, ext
    return None


def _pixel_bytes(mode: str) -> int:
    """Bytes per pixel in Pillow's memory: one for bilevel, grey and palette; two for 16-bit grey;
    four for everything else (three-band colour is stored padded to four)."""
    if mode in ("1", "L", "P"):
        return 1
    return 2 if mode.startswith("I;16") else 4


def _decoded_bytes(img: Image.Image, fmt: str) -> int:
    """What decoding will allocate; a JPEG is first set to decode at its smallest DCT scale."""
    if fmt == "JPEG":
        width, height = img.size
        img.draft(img.mode, (max(1, width // 8), max(1, height // 8)))
    width, height = img.size
    return width * height * _pixel_bytes(img.mode)


def check_image(data: bytes, position: int, limits: ImageLimits) -> CheckedImage:
    """Validate one uploaded file (1-based `position` for the error message)."""
    label = f"Image {position}"
    if len(data) > limits.max_bytes:
        raise PayloadTooLarge(f"{label} is {len(data)} bytes; the limit is {limits.max_bytes} bytes.")
    if not data:
        raise BadImage(f"{label} is empty.")
    sniffed = _sniff(data)
    if sniffed is None:
        raise BadImage(f"{label} is not a {SUPPORTED} image.")
    fmt, ctype, ext = sniffed
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=[fmt]) as img:
                width, height = img.size
                if width * height > limits.max_pixels:
                    raise BadImage(
                        f"{label} has {width}x{height} pixels; the limit is {limits.max_pixels} pixels."
                    )
                if min(width, height) < limits.min_side:
                    raise BadImage(f"{label} is {width}x{height}; each side must be at least {limits.min_side}.")
                decoded = _decoded_bytes(img, fmt)
                if decoded > limits.max_decoded_bytes:
                    raise BadImage(
                        f"{label} ({width}x{height}, {img.mode}) would take {decoded} bytes to decode; "
                        f"the limit is {limits.max_decoded_bytes} bytes."
                    )
                img.load()
    except BadImage:
        raise
    except (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError,
            Image.DecompressionBombWarning) as exc:
        raise BadImage(f"{label} could not be decoded as {fmt} (corrupt or truncated).") from exc
    return CheckedImage(data, hashlib.sha256(data).hexdigest(), ctype, ext)


def check_images(files: list[bytes], limits: ImageLimits) -> list[CheckedImage]:
    return [check_image(data, i, limits) for i, data in enumerate(files, start=1)]
