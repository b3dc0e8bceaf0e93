"""Test images made in memory with Pillow: distinct, small, real."""

from __future__ import annotations

import io

from PIL import Image


def make_image(seed: int = 0, fmt: str = "JPEG", size: tuple[int, int] = (64, 64)) -> bytes:
    """A real image whose bytes differ per seed (so each seed is a distinct search)."""
    img = Image.new("RGB", size, ((seed * 37) % 256, (seed * 91) % 256, (seed * 53 + 7) % 256))
    for i in range(min(size)):
        img.putpixel((i, (i * (seed + 3)) % size[1]), (255 - (seed % 256), i % 256, seed % 200))
    buf = io.BytesIO()
    img.save(buf, format=fmt)
    return buf.getvalue()
