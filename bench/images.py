"""Benchmark images: real JPEGs of a chosen size, made in memory, distinct per seed."""

from __future__ import annotations

import io
import random

from PIL import Image

BOUNDARY = "bench-boundary-7d1f0c"


def jpeg(target_bytes: int = 200 * 1024, seed: int = 0) -> bytes:
    """A photo-sized JPEG of about `target_bytes` (noise compresses poorly, so the size is predictable)."""
    rng = random.Random(seed)
    side = 64
    while True:
        img = Image.frombytes("RGB", (side, side), rng.randbytes(side * side * 3))
        buf = io.BytesIO()
        img.save(buf, format="JPEG", quality=85)
        if buf.tell() >= target_bytes:
            return buf.getvalue()
        side = int(side * max(1.05, (target_bytes / buf.tell()) ** 0.5))


def multipart(image: bytes) -> tuple[bytes, str]:
    """An upload_pic body with one image, and its Content-Type."""
    body = (
        f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"images\"; filename=\"photo.jpg\"\r\n"
        "Content-Type: image/jpeg\r\n\r\n"
    ).encode() + image + f"\r\n--{BOUNDARY}--\r\n".encode()
    return body, f"multipart/form-data; boundary={BOUNDARY}"
