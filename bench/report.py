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


@dataclass
class Side:
    """Medians over the rounds of one side (direct or gateway) of one path: requests/s (and the latency)
    under load, the latency of requests sent one at a time, CPU per request under load."""

    rps: float
    p50_ms: float
    p99_ms: float
    loaded_p50_ms: float
    loaded_p99_ms: float
    errors: int
    cpu_ms_per_request: float | None = None

    @classmethod
    def of(cls, loaded: list[LoadResult], alone: list[LoadResult], cpu_ms: list[float] | None = None) -> Side:
        return cls(
            rps=statistics.median(r.rps for r in loaded),
            p50_ms=statistics.median(r.p50_ms for r in alone),
            p99_ms=statistics.median(r.p99_ms for r in alone),
            loaded_p50_ms=statistics.median(r.p50_ms for r in loaded),
            loaded_p99_ms=statistics.median(r.p99_ms for r in loaded),
            errors=sum(r.errors for r in loaded + alone),
            cpu_ms_per_request=statistics.median(cpu_ms) if cpu_ms else None,
        )


@dataclass
class Row:
    config: str
    path: str
    direct: Side | None = None
    gateway: Side | None = None
    note: str = ""

    @property
    def added_p50_ms(self) -> float | None:
        return self.gateway.p50_ms - self.direct.p50_ms if self.gateway and self.direct else None

    @property
    def added_p99_ms(self) -> float | None:
        return self.gateway.p99_ms - self.direct.p99_ms if self.gateway and self.direct else None

    @property
    def ratio(self) -> float | None:
        if self.gateway and self.direct and self.direct.rps:
            return self.gateway.rps / self.direct.rps
        return None

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "added_p50_ms": self.added_p50_ms, "added_p99_ms": self.added_p99_ms,
                "throughput_ratio": self.ratio}


@dataclass
class Report:
    meta: dict[str, Any]
    rows: list[Row] = field(default_factory=list)
    scaling: list[dict[str, Any]] = field(default_factory=list)

    def markdown(self) -> str:
        m = self.meta
        lines = [
            f"# Gateway overhead ({m['started']})",
            "",
            f"Machine: {m['machine']}. Load generator: {m['generator']}; {m['rounds']} rounds alternating "
            f"direct and gateway, each side {m['seconds']} s with {m['connections']} connections (req/s, CPU) "
            f"and {m['seconds']} s with {m['latency_connections']} (latency); medians over the rounds. Added "
            "latency = gateway minus direct at the same percentile; ratio = gateway req/s over direct req/s; "
            "CPU = the gateway's CPU time (all its processes) per request.",
            "",
            "| configuration | path | direct req/s | direct p50 | direct p99 | gateway req/s | gateway p50 | "
            "gateway p99 | added p50 | added p99 | ratio | gateway CPU/req | errors |",
            "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        for row in self.rows:
            if row.direct is None or row.gateway is None:
                lines.append(f"| {row.config} | {row.path} | {row.note} |" + " |" * 11)
                continue
            d, g = row.direct, row.gateway
            lines.append(
                f"| {row.config} | {row.path} | {d.rps:,.0f} | {_ms(d.p50_ms)} | {_ms(d.p99_ms)} | {g.rps:,.0f} | "
                f"{_ms(g.p50_ms)} | {_ms(g.p99_ms)} | {_ms(row.added_p50_ms)} | {_ms(row.added_p99_ms)} | "
                f"{row.ratio:.2f} | {_ms(g.cpu_ms_per_request)} | {d.errors + g.errors} |"
            )
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
                                  "scaling": self.scaling}, indent=2) + "\n")
        return md, js


def _ms(value: float | None) -> str:
    return "" if value is None else f"{value:.2f} ms"


def machine() -> str:
    """CPU count, model and memory, for the README's figures."""
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
