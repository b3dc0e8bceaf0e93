"""`make bench`: the gateway's overhead over the upstream alone, per configuration and path.

For each configuration a fresh gateway starts in front of one sandbox upstream; for each path the
same load runs directly against the sandbox and through the gateway in alternating rounds (direct
first, then gateway first, ...), so machine noise hits both sides alike, and the table reports medians.
"""

from __future__ import annotations

import argparse
import signal
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from bench import load, scaling
from bench.cpu import group_cpu_seconds
from bench.load import LoadResult, Request
from bench.paths import PATHS, Setup
from bench.report import Report, Row, Side, machine
from bench.stack import CONFIGS, Client, Config, Services, gateway, start_upstream
from tests.fixtures.processes import ManagedProcess

RESULTS = Path(__file__).resolve().parent / "results"
TENANT = "bench"


def measure_pair(direct: Request, through: Request, gateway_proc: ManagedProcess, args: argparse.Namespace,
                 tool: str) -> tuple[Side, Side]:
    """Each round runs both sides (their order alternating), each side twice: under load (`connections`,
    for requests/s and CPU per request) and alone (`latency_connections`, for the latency a request sees
    when the machine is not saturated, which is what the added-latency budget is about)."""
    pgid = gateway_proc.pid
    assert pgid is not None
    for request in (direct, through):  # warm-up: connections, caches, lazy imports
        load.run(request, seconds=1, connections=args.connections, tool=tool)
    loaded: dict[str, list[LoadResult]] = {"direct": [], "gateway": []}
    alone: dict[str, list[LoadResult]] = {"direct": [], "gateway": []}
    cpu: list[float] = []
    for round_no in range(args.rounds):
        order = ("direct", "gateway") if round_no % 2 == 0 else ("gateway", "direct")
        for side in order:
            request = direct if side == "direct" else through
            before = group_cpu_seconds(pgid)
            result = load.run(request, seconds=args.seconds, connections=args.connections, tool=tool)
            if side == "gateway" and result.requests:
                cpu.append((group_cpu_seconds(pgid) - before) * 1000 / result.requests)
            loaded[side].append(result)
            alone[side].append(load.run(request, seconds=args.seconds, connections=args.latency_connections,
                                        tool=tool))
    return Side.of(loaded["direct"], alone["direct"]), Side.of(loaded["gateway"], alone["gateway"], cpu)


def run_config(config: Config, tmp: Path, upstream: ManagedProcess, services: Services, args: argparse.Namespace,
               tool: str, report: Report) -> None:
    with gateway(tmp / config.name.split()[0] / str(config.workers), upstream, config, services) as proc:
        direct, through = Client(upstream.base_url), Client(proc.base_url)
        try:
            setup = Setup(direct, through, through.new_tenant(TENANT), pool=args.pool,
                          finish_deadline_s=args.search_seconds + 30)
            if "cache" in args.paths:
                setup.seed_cache()
            for name in args.paths:
                label, prepare = PATHS[name]
                started = time.monotonic()
                pair = prepare(setup)
                if isinstance(pair, str):
                    report.rows.append(Row(config.name, label, note=pair))
                else:
                    d, g = measure_pair(pair.direct, pair.gateway, proc, args, tool)
                    report.rows.append(Row(config.name, label, d, g))
                print(f"  {config.name} / {label}: {time.monotonic() - started:.0f} s", file=sys.stderr)
            if args.scaling and config.production and config.workers == 1:
                try:
                    report.scaling = scaling.run(through, proc, services, args, tool)
                except Exception as exc:  # keep the main table; the exit status still says it failed
                    report.meta["scaling_error"] = repr(exc)
        finally:
            direct.close()
            through.close()


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="one short round, embedded only: a smoke run")
    parser.add_argument("--seconds", type=int, default=2, help="length of one measured round per side")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=10, help="concurrent connections of the load runs")
    parser.add_argument("--latency-connections", type=int, default=1, help="connections of the latency runs")
    parser.add_argument("--pool", type=int, default=100, help="pre-uploaded searches for the cache-hit path")
    parser.add_argument("--paths", default=",".join(PATHS), help=f"comma-separated, of {','.join(PATHS)}")
    parser.add_argument("--configs", default="0,1,2", help="indexes into: " + "; ".join(
        f"{i}={c.name}" for i, c in enumerate(CONFIGS)))
    parser.add_argument("--no-scaling", dest="scaling", action="store_false")
    parser.add_argument("--tenants", default="1,10,100,1000", help="tenant counts of the scaling run")
    parser.add_argument("--generator", choices=("auto", "wrk", "python"), default="auto")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if args.quick:
        args.seconds, args.rounds, args.pool, args.scaling = 1, 1, 5, False
        if args.configs == "0,1,2":
            args.configs = "0"
    args.paths = [p for p in args.paths.split(",") if p]
    args.configs = [CONFIGS[int(i)] for i in args.configs.split(",") if i]
    args.tenants = [int(n) for n in args.tenants.split(",") if n]
    unknown = set(args.paths) - set(PATHS)
    if unknown:
        parser.error(f"unknown paths: {', '.join(sorted(unknown))}")
    # The status-poll search must still run during its rounds: warm-up plus every round, both sides.
    args.search_seconds = 2 * (2 * args.rounds * args.seconds + 1) + 10
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # A stopped benchmark must stop what it started: SIGTERM unwinds like Ctrl-C, through the finally blocks.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    tool = load.generator() if args.generator == "auto" else args.generator
    report = Report(meta={
        "started": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), "machine": machine(),
        "generator": tool if tool == "wrk" else "python async client" + (
            " (wrk not installed)" if load.generator() == "python" else ""),
        "connections": args.connections, "latency_connections": args.latency_connections,
        "rounds": args.rounds, "seconds": args.seconds, "quick": args.quick,
    })
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="facecheck-bench-") as tmp_name:
        tmp = Path(tmp_name)
        services = Services(tmp)
        upstream = start_upstream(tmp / "sandbox", args.search_seconds)
        try:
            for config in args.configs:
                run_config(config, tmp, upstream, services, args, tool, report)
        finally:
            upstream.terminate()
            services.close()
    md, js = report.write(args.out)
    sys.stdout.write(report.markdown())
    sys.stdout.write(f"\nWritten {md} and {js} in {time.monotonic() - started:.0f} s.\n")
    if "scaling_error" in report.meta:
        sys.stderr.write(f"scaling run failed: {report.meta['scaling_error']}\n")
        return 1
    return 0
