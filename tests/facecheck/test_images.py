from __future__ import annotations

import io

import pytest
from PIL import Image

from app.errors import BadImage, PayloadTooLarge
from app.facecheck.images import ImageLimits, check_image, check_images
from tests.fixtures.images import make_image

LIMITS = ImageLimits(max_bytes=2 * 1024 * 1024, max_pixels=40_000_000, min_side=16)


@pytest.mark.parametrize(("fmt", "ctype"), [("JPEG", "image/jpeg"), ("PNG", "image/png"),
                                            ("WEBP", "image/webp"), ("GIF", "image/gif"), ("BMP", "image/bmp")])
def test_real_images_pass_with_their_type_and_hash(fmt: str, ctype: str) -> None:
    data = make_image(1, fmt)
    checked = check_image(data, 1, LIMITS)
    assert checked.content_type == ctype
    assert checked.data == data
    assert len(checked.sha256) == 64


def test_text_file_named_jpg_is_refused() -> None:
    with pytest.raises(BadImage, match="not a JPEG"):
        check_image(b"hello, I am not a picture at all", 1, LIMITS)


def test_truncated_jpeg_is_refused() -> None:
    data = make_image(2, "JPEG", (256, 256))
    with pytest.raises(BadImage, match="could not be decoded"):
        check_image(data[: len(data) // 2], 2, LIMITS)


def test_magic_bytes_alone_are_not_enough() -> None:
    with pytest.raises(BadImage, match="Image 3 could not be decoded"):
        check_image(b"\x89PNG\r\n\x1a\n" + b"\x00" * 100, 3, LIMITS)


def test_decompression_bomb_is_refused_before_decoding() -> None:
    buf = io.BytesIO()
    Image.new("1", (9000, 9000)).save(buf, format="PNG")  # ~81 Mpx, a few KB on disk
    assert len(buf.getvalue()) < 100_000
    with pytest.raises(BadImage, match="pixels"):
        check_image(buf.getvalue(), 1, LIMITS)


def test_oversized_file_is_payload_too_large() -> None:
    with pytest.raises(PayloadTooLarge, match="Image 1"):
        check_image(b"\xff\xd8\xff" + b"\x00" * LIMITS.max_bytes, 1, LIMITS)


def test_tiny_image_is_refused() -> None:
    with pytest.raises(BadImage, match="at least 16"):
        check_image(make_image(0, "PNG", (4, 4)), 1, LIMITS)


def test_empty_file_is_refused() -> None:
    with pytest.raises(BadImage, match="empty"):
        check_image(b"", 1, LIMITS)


def test_check_images_names_the_bad_one() -> None:
    with pytest.raises(BadImage, match="Image 2"):
        check_images([make_image(1), b"nope", make_image(2)], LIMITS)
