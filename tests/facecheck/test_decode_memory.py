"""Small files that decode to huge bitmaps cannot blow up the gateway's memory: an image over the
decoded-memory budget is refused before a pixel is decoded, images within it decode a bounded number
at a time, and the memory comes back after the burst. The gateway's own peak (VmHWM) is the witness."""

from __future__ import annotations

import io
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from PIL import Image

from tests.fixtures.stack import Stack, running_stack

MiB = 1024 * 1024
SIDE = 6300  # 6300 x 6300 RGBA: about 160 MB decoded, about 150 KB as a PNG


@pytest.fixture(scope="module")
def bombs() -> list[bytes]:
    """Three distinct 6300x6300 RGBA PNGs, small on disk."""
    made = []
    for shade in range(3):
        buf = io.BytesIO()
        Image.new("RGBA", (SIDE, SIDE), (shade * 40, 90, 200, 255)).save(buf, format="PNG", compress_level=9)
        made.append(buf.getvalue())
    assert all(len(data) < 1 * MiB for data in made)
    return made


def memory_kib(stack: Stack, field: str) -> int:
    """VmHWM (peak resident set) or VmRSS (now) of the gateway process, in KiB."""
    for line in Path(f"/proc/{stack.gateway.pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"{field} not in /proc status")


def burst(stack: Stack, key: str, images: list[bytes], clients: int) -> list[dict[str, object]]:
    def one(_: int) -> dict[str, object]:
        files = [("images", (f"{i}.png", data, "image/png")) for i, data in enumerate(images)]
        response = requests.post(stack.url + "/api/upload_pic", headers={"Authorization": key}, files=files,
                                 timeout=120)
        body: dict[str, object] = response.json()
        return body

    with ThreadPoolExecutor(clients) as pool:
        return list(pool.map(one, range(clients)))


@pytest.fixture(scope="module")
def default_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack(tmp_path_factory.mktemp("decode-default")) as s:
        yield s


def test_images_over_the_budget_are_refused_before_decoding(default_stack: Stack, bombs: list[bytes]) -> None:
    key = default_stack.new_tenant("bombs")[1]
    assert default_stack.post("/api/info", key).json().get("is_online") is True  # warm: the baseline is steady
    peak_before = memory_kib(default_stack, "VmHWM")
    answers = burst(default_stack, key, bombs, clients=8)
    assert [a.get("code") for a in answers] == ["BAD_IMAGE"] * 8
    assert all("limit is" in str(a["error"]) for a in answers)
    assert memory_kib(default_stack, "VmHWM") - peak_before <= 512 * 1024


@pytest.fixture(scope="module")
def roomy_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A budget that lets the 160 MB bitmaps decode, one image at a time (the sandbox upstream makes a
    thumbnail of each, slowly: it gets time to answer)."""
    with running_stack(tmp_path_factory.mktemp("decode-roomy"), MAX_DECODED_IMAGE_BYTES=str(200 * MiB),
                       IMAGE_DECODE_CONCURRENCY="1", UPSTREAM_TIMEOUT_SECONDS="60") as s:
        yield s


def test_decodes_within_the_budget_run_a_bounded_number_at_a_time(roomy_stack: Stack, bombs: list[bytes]) -> None:
    key = roomy_stack.new_tenant("roomy")[1]
    assert roomy_stack.post("/api/info", key).json().get("is_online") is True
    peak_before = memory_kib(roomy_stack, "VmHWM")
    resident_before = memory_kib(roomy_stack, "VmRSS")
    answers = burst(roomy_stack, key, bombs[:1], clients=4)  # four decodes at once would need 640 MB
    assert [a.get("error") for a in answers] == [None] * 4 and all(a["id_search"] for a in answers)
    assert memory_kib(roomy_stack, "VmHWM") - peak_before <= 512 * 1024
    # The bitmaps are gone once the burst is over: resident memory is back near where it was.
    assert memory_kib(roomy_stack, "VmRSS") - resident_before <= 64 * 1024
