"""The floor: a bare FastAPI app whose POST routes answer a poll-sized envelope, served by the same
uvicorn settings as the gateway (`app.cli serve`). No FastAPI app can answer these paths for less, so
the gateway's req/s over the floor's says how much of the machine the gateway's own work takes.

    python -m bench.floor --port 8100
"""

from __future__ import annotations

import argparse
from typing import Any

import uvicorn
from fastapi import FastAPI

# A running search's status envelope, as FaceCheck sends it while a search is in progress.
POLL_ENVELOPE: dict[str, Any] = {
    "id_search": "Zm9vYmFyZm9vYmFyZm9vYmFyZm9vYmFyZm9v",
    "message": "Searching 2,456,123 faces...",
    "progress": 42,
    "error": None,
    "code": None,
    "output": None,
    "input": [{"base64": "", "id_pic": "Zm9vYmFyMTIzNDU2Nzg5MA", "url_source": None}],
}

app = FastAPI()


@app.post("/api/search")
@app.post("/api/info")
async def answer() -> dict[str, Any]:
    return POLL_ENVELOPE


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.floor", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8100)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args(argv)
    # The gateway's own uvicorn settings (app/cli.py, cmd_serve).
    uvicorn.run("bench.floor:app", host=args.host, port=args.port, workers=args.workers, log_config=None,
                access_log=False, proxy_headers=False)


if __name__ == "__main__":
    main()
