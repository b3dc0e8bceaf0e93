"""The results table: Markdown for people, JSON for tools; both under bench/results/."""

from __future__ import annotations

import json
import os
import platform
import statistics
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench.load import LoadResult

POLL = "status poll (/api/search on a running search)"
ONE_WORKER, TWO_WORKERS = "production (PostgreSQL + Redis), 1 worker", "production (PostgreSQL + Redis), 2 workers"


@dataclass
class Side:
    """Medians over the rounds of one side (floor, sandbox or gateway) of one path: requests/s, latency
    and CPU per request under saturating load, and the latency at the steady open-loop rate."""

    rps: float
    p50_ms: float | None  # at the steady rate, from each request's scheduled time (not run on the floor)
    p99_ms: float | None
    loaded_p50_ms: float
    loaded_p99_ms: float
    errors: int
    cpu_ms_per_request: float | None = None

    @classmethod
    def of(cls, loaded: list[LoadResult], steady: list[LoadResult], cpu_ms: list[float] | None = None) -> Side:
        return cls(
            rps=statistics.median(r.rps for r in loaded),
            p50_ms=statistics.median(r.p50_ms for r in steady) if steady else None,
            p99_ms=statistics.median(r.p99_ms for r in steady) if steady else None,
            loaded_p50_ms=statistics.median(r.p50_ms for r in loaded),
            loaded_p99_ms=statistics.median(r.p99_ms for r in loaded),
            errors=sum(r.errors for r in loaded + steady),
            cpu_ms_per_request=statistics.median(cpu_ms) if cpu_ms else None,
        )


@dataclass
class Row:
    config: str
    path: str
    direct: Side | None = None  # the sandbox alone
    gateway: Side | None = None
    floor: Side | None = None  # the bare FastAPI route
    note: str = ""

    @property
    def added_p50_ms(self) -> float | None:
        return _minus(self.gateway.p50_ms, self.direct.p50_ms) if self.gateway and self.direct else None

    @property
    def added_p99_ms(self) -> float | None:
        return _minus(self.gateway.p99_ms, self.direct.p99_ms) if self.gateway and self.direct else None

    @property
    def ratio(self) -> float | None:
        if self.gateway and self.direct and self.direct.rps:
            return self.gateway.rps / self.direct.rps
        return None

    @property
    def efficiency(self) -> float | None:
        if self.gateway and self.floor and self.floor.rps:
            return self.gateway.rps / self.floor.rps
        return None

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "added_p50_ms": self.added_p50_ms, "added_p99_ms": self.added_p99_ms,
                "throughput_ratio": self.ratio, "efficiency": self.efficiency}


@dataclass
class Report:
    meta: dict[str, Any]
    rows: list[Row] = field(default_factory=list)
    scaling: list[dict[str, Any]] = field(default_factory=list)

    def two_workers_speedup(self) -> float | None:
        """The gateway's poll req/s with two workers over one worker (production)."""
        rps = {r.config: r.gateway.rps for r in self.rows if r.path == POLL and r.gateway}
        if rps.get(ONE_WORKER) and TWO_WORKERS in rps:
            return rps[TWO_WORKERS] / rps[ONE_WORKER]
        return None

    def _cores(self, config: str) -> str:
        for row in self.rows:
            if row.config == config and row.path == POLL and row.gateway and row.gateway.cpu_ms_per_request:
                return f"{row.gateway.rps * row.gateway.cpu_ms_per_request / 1000:.2f}"
        return "?"

    def markdown(self) -> str:
        m = self.meta
        lines = [
            f"# Gateway overhead ({m['started']})",
            "",
            f"Machine: {m['machine']}; load average {m.get('load_average', '?')} before the run, "
            f"{m.get('load_average_after', '?')} after. Saturating load: {m['generator']}, "
            f"{m['connections']} connections, {m['seconds']} s per side (req/s, CPU per request). Steady "
            f"load: open loop, {m['rate']:g} req/s from {m['clients']} clients for {m['seconds']} s, latency "
            f"from each request's scheduled time (p50, p99), sandbox and gateway. {m['rounds']} rounds "
            "rotating the order of floor, sandbox and gateway; medians over the rounds. Floor = a bare FastAPI "
            "route answering a poll-sized envelope on the gateway's uvicorn settings, one worker; efficiency = "
            "gateway req/s over floor req/s; added = gateway minus sandbox at the steady rate; CPU = the "
            "server's CPU time (all its processes) per request.",
            "",
            "| configuration | path | floor req/s | sandbox req/s | gateway req/s | efficiency | floor CPU/req | "
            "sandbox CPU/req | gateway CPU/req | sandbox p50 | sandbox p99 | gateway p50 | gateway p99 | "
            "added p50 | added p99 | errors |",
            "| --- | --- |" + " ---: |" * 14,
        ]
        for row in self.rows:
            if row.direct is None or row.gateway is None or row.floor is None:
                lines.append(f"| {row.config} | {row.path} | {row.note} |" + " |" * 13)
                continue
            f, d, g = row.floor, row.direct, row.gateway
            lines.append(
                f"| {row.config} | {row.path} | {f.rps:,.0f} | {d.rps:,.0f} | {g.rps:,.0f} | {row.efficiency:.2f} | "
                f"{_ms(f.cpu_ms_per_request)} | {_ms(d.cpu_ms_per_request)} | {_ms(g.cpu_ms_per_request)} | "
                f"{_ms(d.p50_ms)} | {_ms(d.p99_ms)} | {_ms(g.p50_ms)} | {_ms(g.p99_ms)} | "
                f"{_ms(row.added_p50_ms)} | {_ms(row.added_p99_ms)} | {f.errors + d.errors + g.errors} |"
            )
        speedup = self.two_workers_speedup()
        if speedup is not None:
            lines += ["", f"Two workers over one worker on polls (production, gateway req/s): {speedup:.2f}x. "
                      f"Cores the gateway kept busy under that load (req/s x CPU/req): {self._cores(ONE_WORKER)} "
                      f"with one worker, {self._cores(TWO_WORKERS)} with two, of the machine's {os.cpu_count()} "
                      "(the load generator, Redis and the sandbox run on the same cores)."]
        if self.scaling:
            lines += ["", "## Tenant scaling", "",
                      f"Per-request cost with the load spread over N tenants (production, 1 worker, "
                      f"{m['connections']} connections): `/api/info` "
                      "through the gateway cycling over every tenant's key (auth, credits read), and the "
                      "reservation check (concurrency + credits, reserve then commit) on the Redis store.", "",
                      "| tenants | info req/s | info p50 | info p99 | gateway CPU/req | reserve+commit p50 | "
                      "reserve+commit p99 | errors |",
                      "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
            for s in self.scaling:
                lines.append(f"| {s['tenants']:,} | {s['rps']:,.0f} | {_ms(s['p50_ms'])} | {_ms(s['p99_ms'])} | "
                             f"{_ms(s['cpu_ms_per_request'])} | {_ms(s['reserve_p50_ms'])} | "
                             f"{_ms(s['reserve_p99_ms'])} | {s['errors']} |")
        return "\n".join(lines) + "\n"

    def write(self, out_dir: Path) -> tuple[Path, Path]:
        out_dir.mkdir(parents=True, exist_ok=True)
        md, js = out_dir / "latest.md", out_dir / "latest.json"
        md.write_text(self.markdown())
        js.write_text(json.dumps({"meta": self.meta, "rows": [r.as_dict() for r in self.rows],
                                  "two_workers_over_one_on_polls": self.two_workers_speedup(),
                                  "scaling": self.scaling}, indent=2) + "\n")
        return md, js


def _minus(a: float | None, b: float | None) -> float | None:
    return a - b if a is not None and b is not None else None


def _ms(value: float | None) -> str:
    return "" if value is None else f"{value:.2f} ms"


def load_average() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


def machine() -> str:
    """CPU count, model and memory, for the performance page's figures."""
    model = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
        mem_kb = next(int(ln.split()[1]) for ln in Path("/proc/meminfo").read_text().splitlines()
                      if ln.startswith("MemTotal"))
        memory = f"{mem_kb / 1024 / 1024:.0f} GB RAM"
    except (OSError, StopIteration, ValueError):
        memory = "unknown RAM"
    return f"{os.cpu_count()} CPU ({model}), {memory}, {platform.system()} {platform.release()}"
