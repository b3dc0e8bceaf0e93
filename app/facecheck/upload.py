"""Reading an upload_pic request: multipart parsing and image checks, off the event loop."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import anyio
import anyio.to_thread
from fastapi import Request
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException

from app.config import Settings
from app.errors import BadRequest, NoImages, PayloadTooLarge, TooManyImages, UnsupportedMediaType
from app.facecheck.images import CheckedImage, ImageLimits, check_image

MAX_IMAGES = 3
# Values some clients send for "no id": Python drops the part, Node sends "", others worse.
_NO_ID = frozenset({"", "null", "none", "undefined"})
_MAX_ID_BYTES = 256


@dataclass(frozen=True, slots=True)
class Upload:
    images: list[CheckedImage]
    id_search: str | None


async def _field_text(part: UploadFile | str | None) -> str | None:
    """A form field's text. Some clients send every field as a file part: its content is the value
    (so an append is never silently turned into a new search)."""
    if not isinstance(part, UploadFile):
        return part
    raw = await part.read(_MAX_ID_BYTES + 1)
    text = raw.decode("utf-8", errors="replace")
    if len(raw) > _MAX_ID_BYTES or not text.isprintable() or "\ufffd" in text:
        raise BadRequest("The id_search part must be a short text value (the id_search of an upload).")
    return text


@cache
def _decode_gate(concurrency: int) -> anyio.CapacityLimiter:
    """How many images this process decodes at once, whatever the number of uploads: each decode
    may hold up to MAX_DECODED_IMAGE_BYTES. Made on first use, inside the running event loop."""
    return anyio.CapacityLimiter(concurrency)


async def read_upload(request: Request, settings: Settings) -> Upload:
    content_type = request.headers.get("content-type", "")
    if not content_type.lower().startswith("multipart/form-data"):
        raise UnsupportedMediaType(
            "upload_pic takes multipart/form-data with 1 to 3 files in the field 'images'."
        )
    try:
        # One file part more than the images: some clients send id_search as a file part too.
        async with request.form(max_files=MAX_IMAGES + 1, max_fields=16, max_part_size=64 * 1024) as form:
            parts = form.getlist("images")
            if any(not isinstance(p, UploadFile) for p in parts):
                raise BadRequest("Each 'images' part must be a file (with a filename).")
            files = [p for p in parts if isinstance(p, UploadFile)]
            if not files:
                raise NoImages()
            if len(files) > MAX_IMAGES:
                raise TooManyImages()
            for position, part in enumerate(files, start=1):
                if part.size is not None and part.size > settings.max_image_bytes:
                    raise PayloadTooLarge(
                        f"Image {position} is {part.size} bytes; the limit is {settings.max_image_bytes} bytes."
                    )
            datas = [await part.read() for part in files]
            raw_id = await _field_text(form.get("id_search"))
    except HTTPException as exc:  # Starlette's multipart limits and syntax errors
        detail = str(exc.detail)
        if detail.startswith("Too many files"):
            raise TooManyImages() from exc
        raise BadRequest(f"Malformed multipart body: {detail}") from exc
    limits = ImageLimits(settings.max_image_bytes, settings.max_image_pixels, settings.min_image_side,
                         settings.max_decoded_image_bytes)
    gate = _decode_gate(settings.image_decode_concurrency)
    images = [await anyio.to_thread.run_sync(check_image, data, i, limits, limiter=gate)
              for i, data in enumerate(datas, start=1)]
    id_search = raw_id.strip() if isinstance(raw_id, str) else None
    return Upload(images, None if id_search is None or id_search.lower() in _NO_ID else id_search)
