"""One load run against one URL: wrk when it is installed, else a Python async client.

Both generators are closed-loop (each connection sends its next request when the previous answer
arrives) with the same connection count, and report the same numbers: completed requests, requests
per second, p50 and p99 latency, and answers that were not 2xx (the gateway runs with
API_ERROR_STATUS=http for the benchmark, so an error cannot hide behind a 200).
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

WRK_MARK = "BENCH_RESULT "


@dataclass(frozen=True)
class Request:
    """What every request of a run sends. `{id}` in the body is replaced by the next of `ids`, and the
    Authorization header by the next of `keys`, in turn (so a run can cycle over searches or tenants)."""

    url: str
    headers: dict[str, str]
    body: bytes = b""
    ids: tuple[str, ...] = ()
    keys: tuple[str, ...] = ()


@dataclass
class LoadResult:
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: int
    extra: dict[str, float] = field(default_factory=dict)

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds > 0 else 0.0


def generator() -> str:
    """`wrk` when it is on PATH, else `python` (this module's async client)."""
    return "wrk" if shutil.which("wrk") else "python"


def run(request: Request, *, seconds: float, connections: int, tool: str) -> LoadResult:
    if tool == "wrk":
        return _run_wrk(request, seconds, connections)
    return asyncio.run(_run_python(request, seconds, connections))


# ------------------------------------------------------------------------------------------------ wrk

_LUA = """
wrk.method = "POST"
{headers}
local f = assert(io.open("{body_path}", "rb"))
local body = f:read("*a")
f:close()
local ids = {{{ids}}}
local keys = {{{keys}}}
if #ids == 0 and #keys == 0 then
  wrk.body = body
else
  local i, j = 0, 0
  local pre, post = body:match("^(.-){{id}}(.*)$")
  request = function()
    local b = body
    if #ids > 0 then
      i = i % #ids + 1
      b = pre .. ids[i] .. post
    end
    if #keys > 0 then
      j = j % #keys + 1
      wrk.headers["Authorization"] = keys[j]
    end
    return wrk.format(nil, nil, nil, b)
  end
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("{mark}{{\\"requests\\": %d, \\"us\\": %d, \\"p50\\": %d, \\"p99\\": %d, "
    .. "\\"status\\": %d, \\"socket\\": %d}}\\n", summary.requests, summary.duration,
    latency:percentile(50.0), latency:percentile(99.0), e.status, e.connect + e.read + e.write + e.timeout))
end
"""


def _lua_string(value: str) -> str:
    return json.dumps(value)  # a JSON string literal is a valid Lua string literal for these values


def _lua_list(values: tuple[str, ...]) -> str:
    return ", ".join(_lua_string(v) for v in values)


def _run_wrk(request: Request, seconds: float, connections: int) -> LoadResult:
    with tempfile.TemporaryDirectory(prefix="bench-wrk-") as tmp:
        body_path = Path(tmp) / "body"
        body_path.write_bytes(request.body)
        headers = "\n".join(f"wrk.headers[{_lua_string(k)}] = {_lua_string(v)}" for k, v in request.headers.items())
        script = Path(tmp) / "script.lua"
        script.write_text(_LUA.format(headers=headers, body_path=body_path, mark=WRK_MARK,
                                      ids=_lua_list(request.ids), keys=_lua_list(request.keys)))
        cmd = ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--timeout", "10s",
               "-s", str(script), request.url]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60, check=True).stdout
    line = next((ln for ln in out.splitlines() if ln.startswith(WRK_MARK)), None)
    if line is None:
        raise RuntimeError(f"wrk printed no result:\n{out}")
    raw = json.loads(line[len(WRK_MARK):])
    return LoadResult(raw["requests"], raw["us"] / 1e6, raw["p50"] / 1000, raw["p99"] / 1000,
                      raw["status"] + raw["socket"])


# --------------------------------------------------------------------------------------------- python


def percentile(sorted_ms: list[float], pct: float) -> float:
    if not sorted_ms:
        return 0.0
    return sorted_ms[min(len(sorted_ms) - 1, int(len(sorted_ms) * pct / 100))]


async def _run_python(request: Request, seconds: float, connections: int) -> LoadResult:
    latencies: list[float] = []
    errors = 0
    template = request.body
    counter = 0

    async def worker(client: httpx.AsyncClient, deadline: float) -> None:
        nonlocal errors, counter
        while time.perf_counter() < deadline:
            body, headers = template, request.headers
            if request.ids:
                body = template.replace(b"{id}", request.ids[counter % len(request.ids)].encode())
            if request.keys:
                headers = {**headers, "Authorization": request.keys[counter % len(request.keys)]}
            counter += 1
            started = time.perf_counter()
            try:
                response = await client.post(request.url, content=body, headers=headers)
                ok = 200 <= response.status_code < 400
            except httpx.HTTPError:
                ok = False
            latencies.append((time.perf_counter() - started) * 1000)
            errors += not ok

    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(limits=limits, timeout=10, trust_env=False) as client:
        started = time.perf_counter()
        deadline = started + seconds
        await asyncio.gather(*(worker(client, deadline) for _ in range(connections)))
        elapsed = time.perf_counter() - started
    latencies.sort()
    return LoadResult(len(latencies), elapsed, percentile(latencies, 50), percentile(latencies, 99), errors)
