"""FaceCheck's official Python example client, as published, with only the base URL and the
token made parameters. The gateway must work with it unchanged: raw token in Authorization,
`id_search: None` in `files` (requests drops that part), and a poll every second with
`status_only: false` until `output` is non-null."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import requests


def search_by_face(site: str, api_token: str, image_file: Path, testing_mode: bool = True) -> tuple[Any, Any]:
    headers = {"accept": "application/json", "Authorization": api_token}
    with image_file.open("rb") as fh:
        files = {"images": fh, "id_search": None}
        # The published client puts None in `files`; requests drops that part (stubs disallow it).
        response = requests.post(site + "/api/upload_pic", headers=headers, files=files, timeout=30).json()  # type: ignore[arg-type]

    if response["error"]:
        return f"{response['error']} ({response['code']})", None

    id_search = response["id_search"]
    print(response["message"] + " id_search=" + id_search)
    json_data = {"id_search": id_search, "with_progress": True, "status_only": False, "demo": testing_mode}

    while True:
        response = requests.post(site + "/api/search", headers=headers, json=json_data, timeout=30).json()
        if response["error"]:
            return f"{response['error']} ({response['code']})", None
        if response["output"]:
            return None, response["output"]["items"]
        print(f"{response['message']} progress: {response['progress']}%")
        time.sleep(1)  # the official client's own poll cadence, reproduced as published
