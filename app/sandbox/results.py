"""Deterministic fake search results and real WebP thumbnails.

Results are a pure function of the input image hashes, the demo flag and the seed, so the same photos
give the same answer on every run (what a result cache in front of the upstream relies on), and every
thumbnail is a genuine WebP so clients that decode it keep working.
"""

from __future__ import annotations

import base64
import hashlib
import io
import random
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from PIL import Image, ImageDraw, ImageOps

WEBP_PREFIX = "data:image/webp;base64,"
DEMO_FACES = 100_000
INPUT_THUMB_SIZE = (96, 96)
RESULT_THUMB_SIZE = 48
_SITES = ("www.example.com", "social.example", "news.example.org", "forum.example.net", "pics.test")


class InvalidImage(ValueError):
    """The uploaded bytes are not an image Pillow can decode."""


@dataclass(frozen=True)
class ResultItem:
    score: int
    url: str
    thumb_seed: str
    group: int
    guid: str
    index: int
    index_db: int
    seen: int


@dataclass(frozen=True)
class Results:
    items: tuple[ResultItem, ...]
    searched_faces: int
    took_seconds: float
    took_seconds_download: float
    took_seconds_queue: float
    face_per_sec: int
    free_ram: float
    images_in_bundle: int
    demo: bool


def results_key(image_hashes: Iterable[str], demo: bool, seed: int) -> str:
    """Identify a result set; order-free so re-uploading the same photos in another order matches."""
    material = "\n".join(sorted(image_hashes)) + f"\ndemo={demo}\nseed={seed}"
    return hashlib.sha256(material.encode()).hexdigest()


@lru_cache(maxsize=128)
def build_results(key: str, demo: bool, faces: int, images: int) -> Results:
    """Derive a plausible result set from ``key``; cached (and immutable) so polling stays cheap."""
    rng = random.Random(key)
    searched = DEMO_FACES if demo else faces
    if demo:
        count, low, high = rng.randint(2, 6), 50, 78
    else:
        count, low, high = rng.randint(5, 20), 50, 99
    scores = sorted((rng.randint(low, high) for _ in range(count)), reverse=True)
    items = []
    for i, score in enumerate(scores):
        token = f"{rng.getrandbits(64):016x}"
        site = _SITES[rng.randrange(len(_SITES))]
        items.append(
            ResultItem(
                score=score,
                url=f"https://{site}/p/{token}",
                thumb_seed=f"{key}:{i}",
                group=rng.randint(0, 9),
                guid=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                index=i,
                index_db=rng.randrange(1, max(searched, 2)),
                seen=rng.randint(1, 40),
            )
        )
    took = round(rng.uniform(2.0, 9.0), 2)
    return Results(
        items=tuple(items),
        searched_faces=searched,
        took_seconds=took,
        took_seconds_download=round(rng.uniform(0.1, 1.5), 2),
        took_seconds_queue=round(rng.uniform(0.0, 3.0), 2),
        face_per_sec=int(searched / took),
        free_ram=round(rng.uniform(8.0, 64.0), 1),
        images_in_bundle=images,
        demo=demo,
    )


def render_output(results: Results, *, url_shape: str, base64_prefix: bool, extra_fields: bool) -> dict[str, Any]:
    """Shape ``output`` the way the configured upstream revision would send it."""
    items: list[dict[str, Any]] = []
    for item in results.items:
        rendered: dict[str, Any] = {
            "score": item.score,
            "url": {"value": item.url} if url_shape == "object" else item.url,
            "base64": with_prefix(result_thumbnail(item.thumb_seed), base64_prefix),
            "group": item.group,
            "guid": item.guid,
            "index": item.index,
            "indexDB": item.index_db,
        }
        if extra_fields:
            rendered["seen"] = item.seen
        items.append(rendered)
    output: dict[str, Any] = {
        "items": items,
        "max_score": results.items[0].score if results.items else 0,
        "searchedFaces": results.searched_faces,
        "tookSeconds": results.took_seconds,
        "tookSecondsDownload": results.took_seconds_download,
        "tookSecondsQueue": results.took_seconds_queue,
        "face_per_sec": results.face_per_sec,
        "freeRam": results.free_ram,
        "images_in_bundle": results.images_in_bundle,
        "performance": f"{results.face_per_sec:,} faces/sec",
        "demo": results.demo,
    }
    if extra_fields:
        output["scaned_till_index"] = results.searched_faces
    return output


def with_prefix(b64: str, prefix: bool) -> str:
    return WEBP_PREFIX + b64 if prefix else b64


def _webp_base64(image: Image.Image) -> str:
    buffer = io.BytesIO()
    image.save(buffer, format="WEBP", quality=60)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


@lru_cache(maxsize=1024)
def result_thumbnail(seed: str) -> str:
    """A small cartoon face whose colours and features follow ``seed``; base64 WebP, no prefix."""
    rng = random.Random(seed)
    size = RESULT_THUMB_SIZE
    background = (rng.randint(40, 220), rng.randint(40, 220), rng.randint(40, 220))
    skin = (rng.randint(150, 240), rng.randint(110, 200), rng.randint(80, 170))
    image = Image.new("RGB", (size, size), background)
    draw = ImageDraw.Draw(image)
    margin = rng.randint(6, 10)
    draw.ellipse((margin, margin - 2, size - margin, size - margin + 4), fill=skin)
    eye_y = rng.randint(17, 21)
    for eye_x in (17, 31):
        draw.ellipse((eye_x - 2, eye_y - 2, eye_x + 2, eye_y + 2), fill=(30, 30, 30))
    mouth_y = rng.randint(31, 35)
    draw.arc((17, mouth_y - 5, 31, mouth_y + 3), start=20, end=160, fill=(120, 30, 30), width=2)
    return _webp_base64(image)


def input_thumbnail(data: bytes) -> str:
    """Decode an uploaded image fully and return its preview as base64 WebP (no prefix).

    Raises InvalidImage for anything Pillow cannot decode, so garbage never becomes a search.
    """
    try:
        with Image.open(io.BytesIO(data)) as opened:
            opened.load()
            image = ImageOps.exif_transpose(opened).convert("RGB")
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise InvalidImage("The uploaded file is not a valid image.") from exc
    image.thumbnail(INPUT_THUMB_SIZE)
    return _webp_base64(image)
