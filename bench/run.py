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

from bench import load, openloop, scaling
from bench.cpu import group_cpu_seconds
from bench.load import LoadResult
from bench.paths import PATHS, Pair, Setup
from bench.report import Report, Row, Side, load_average, machine
from bench.stack import CONFIGS, Client, Config, Services, gateway, start_floor, start_upstream
from tests.fixtures.processes import ManagedProcess

RESULTS = Path(__file__).resolve().parent / "results"
TENANT = "bench"


SIDES = ("floor", "direct", "gateway")


def measure(pair: Pair, servers: dict[str, ManagedProcess], args: argparse.Namespace, tool: str) -> dict[str, Side]:
    """Each round runs the three sides (floor, sandbox, gateway), their order rotating, under saturating
    load (`connections`, for requests/s and CPU per request); the sandbox and the gateway also at the
    steady open-loop rate (`rate` from `clients`, for the latency a request sees when the server keeps up,
    which is what the added-latency budget is about)."""
    requests = {"floor": pair.floor, "direct": pair.direct, "gateway": pair.gateway}
    for request in requests.values():  # warm-up: connections, caches, lazy imports
        load.run(request, seconds=1, connections=args.connections, tool=tool)
    loaded: dict[str, list[LoadResult]] = {side: [] for side in SIDES}
    steady: dict[str, list[LoadResult]] = {side: [] for side in SIDES}
    cpu: dict[str, list[float]] = {side: [] for side in SIDES}
    for round_no in range(args.rounds):
        shift = round_no % len(SIDES)
        for side in SIDES[shift:] + SIDES[:shift]:
            pgid = servers[side].pid
            assert pgid is not None
            before = group_cpu_seconds(pgid)
            result = load.run(requests[side], seconds=args.seconds, connections=args.connections, tool=tool)
            if result.requests:
                cpu[side].append((group_cpu_seconds(pgid) - before) * 1000 / result.requests)
            loaded[side].append(result)
            if side != "floor":  # the floor is the throughput reference; latency is added over the sandbox
                steady[side].append(openloop.run(requests[side], rate=args.rate, seconds=args.seconds,
                                                 clients=args.clients))
    return {side: Side.of(loaded[side], steady[side], cpu[side]) for side in SIDES}


def run_config(config: Config, tmp: Path, upstream: ManagedProcess, floor: ManagedProcess, services: Services,
               args: argparse.Namespace, tool: str, report: Report) -> None:
    with gateway(tmp / config.name.split()[0] / str(config.workers), upstream, config, services) as proc:
        direct, through = Client(upstream.base_url), Client(proc.base_url)
        try:
            setup = Setup(direct, through, through.new_tenant(TENANT), pool=args.pool,
                          finish_deadline_s=args.search_seconds + 30, floor_url=floor.base_url)
            if "cache" in args.paths:
                setup.seed_cache()
            for name in args.paths:
                label, prepare = PATHS[name]
                started = time.monotonic()
                pair = prepare(setup)
                if isinstance(pair, str):
                    report.rows.append(Row(config.name, label, note=pair))
                else:
                    sides = measure(pair, {"floor": floor, "direct": upstream, "gateway": proc}, args, tool)
                    report.rows.append(Row(config.name, label, sides["direct"], sides["gateway"], sides["floor"]))
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
    parser.add_argument("--rate", type=float, default=200, help="requests/s of the steady open-loop runs")
    parser.add_argument("--clients", type=int, default=10, help="connections of the steady open-loop runs")
    parser.add_argument("--pool", type=int, default=100, help="pre-uploaded searches for the cache-hit path")
    parser.add_argument("--paths", default="status,info,cache", help=f"comma-separated, of {','.join(PATHS)}")
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
    # The status-poll search must still run during its rounds: warm-up plus every round, every side.
    args.search_seconds = 3 * (2 * args.rounds * args.seconds + 1) + 10
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
        "connections": args.connections, "rate": args.rate, "clients": args.clients,
        "load_average": load_average(),
        "rounds": args.rounds, "seconds": args.seconds, "quick": args.quick,
    })
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="facecheck-bench-") as tmp_name:
        tmp = Path(tmp_name)
        services = Services(tmp)
        upstream = start_upstream(tmp / "sandbox", args.search_seconds)
        floor = start_floor(tmp / "floor")
        try:
            for config in args.configs:
                run_config(config, tmp, upstream, floor, services, args, tool, report)
        finally:
            floor.terminate()
            upstream.terminate()
            services.close()
    report.meta["load_average_after"] = load_average()
    md, js = report.write(args.out)
    sys.stdout.write(report.markdown())
    sys.stdout.write(f"\nWritten {md} and {js} in {time.monotonic() - started:.0f} s.\n")
    if "scaling_error" in report.meta:
        sys.stderr.write(f"scaling run failed: {report.meta['scaling_error']}\n")
        return 1
    return 0
