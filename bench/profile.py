"""Where a gateway worker's CPU goes under load: py-spy samples the serving process while a path is
under saturating load, and the summary lists the frames with the most samples, on their own (self)
and with what they call (total). Production shape, one worker.

    .venv/bin/python -m bench.profile --paths status,info,cache --seconds 10
"""

from __future__ import annotations

import argparse
import collections
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

from bench import load
from bench.paths import PATHS, Setup
from bench.report import load_average
from bench.run import RESULTS, TENANT
from bench.stack import CONFIGS, Client, Services, gateway, start_floor, start_upstream

TOP = 25


def summarise(raw: str, top: int = TOP) -> tuple[int, list[tuple[str, int]], list[tuple[str, int]]]:
    """From py-spy's collapsed stacks ("frame;frame;... count"): samples, top frames by self and by total."""
    own: collections.Counter[str] = collections.Counter()
    total: collections.Counter[str] = collections.Counter()
    samples = 0
    for line in raw.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack.split(";")
        samples += count
        own[frames[-1]] += count
        for frame in set(frames):
            if "(app/" in frame and "(app/cli.py)" not in frame:  # the gateway's own code, not the server's
                total[frame] += count
    return samples, own.most_common(top), total.most_common(top)


def _table(title: str, rows: list[tuple[str, int]], samples: int) -> list[str]:
    lines = [f"#### {title}", "", "| share | frame |", "| ---: | --- |"]
    lines += [f"| {count * 100 / max(1, samples):.1f} % | `{frame}` |" for frame, count in rows]
    return [*lines, ""]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__)
    parser.add_argument("--paths", default="status,info,cache")
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=10)
    parser.add_argument("--config", type=int, default=1, help="index into bench.stack.CONFIGS")
    parser.add_argument("--out", type=Path, default=RESULTS / "profile.md")
    args = parser.parse_args(argv)
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    tool = load.generator()
    config = CONFIGS[args.config]
    out = [f"# Profile of one gateway worker under load ({datetime.now(UTC):%Y-%m-%d %H:%M UTC})", "",
           f"{config.name}; {tool}, {args.connections} connections, {args.seconds} s per path; py-spy at "
           f"100 Hz on the serving process (CPU samples only); load average {load_average()}.", ""]
    with tempfile.TemporaryDirectory(prefix="facecheck-profile-") as tmp_name:
        tmp = Path(tmp_name)
        services = Services(tmp)
        upstream = start_upstream(tmp / "sandbox", args.seconds + 10)  # the poll outlives its profile
        floor = start_floor(tmp / "floor")
        try:
            with gateway(tmp / "gateway", upstream, config, services) as proc:
                direct, through = Client(upstream.base_url), Client(proc.base_url)
                setup = Setup(direct, through, through.new_tenant(TENANT), pool=100,
                              finish_deadline_s=args.seconds + 40, floor_url=floor.base_url)
                if "cache" in args.paths:
                    setup.seed_cache()
                for name in args.paths.split(","):
                    label, prepare = PATHS[name]
                    pair = prepare(setup)
                    if isinstance(pair, str):
                        continue
                    load.run(pair.gateway, seconds=1, connections=args.connections, tool=tool)
                    raw = tmp / f"{name}.txt"
                    record = [spy, "record", "-p", str(proc.pid), "-d", str(args.seconds), "-r", "100", "-f", "raw",
                              "-o", str(raw), "--nonblocking", "--nolineno"]
                    with ThreadPoolExecutor(1) as pool:
                        running = pool.submit(load.run, pair.gateway, seconds=args.seconds + 1,
                                              connections=args.connections, tool=tool)
                        subprocess.run(record, check=True, capture_output=True, timeout=args.seconds + 60)
                        result = [running.result()]
                    samples, own, total = summarise(raw.read_text())
                    out += [f"### {label}: {result[0].rps:,.0f} req/s, {samples} samples", ""]
                    out += _table("self", own, samples)
                    out += _table("total in the gateway's own functions (self and callees)", total, samples)
                direct.close()
                through.close()
        finally:
            floor.terminate()
            upstream.terminate()
            services.close()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(out))
    sys.stdout.write("\n".join(out) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
