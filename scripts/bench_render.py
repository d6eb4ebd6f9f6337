"""Benchmark of the offline `render` and `diff` commands: wall-clock seconds per stack.

    venv/bin/python scripts/bench_render.py [--stack dev] [--repeat 5] [--set dev:KEY=VALUE] [--out /tmp/bench-build]

Not a test: wall-clock numbers depend on the machine and its load. Each command runs `--repeat` times in a
fresh interpreter (`python -m offline render --stack S`, `python -m offline diff --stack S --set KEY=VALUE`),
which is how a user runs it, so the figure includes Python start-up and the imports of the Pulumi SDK and
providers. `diff` runs the program twice (as configured and with the change) in one interpreter, so it costs
one start-up and two runs. Every shipped stack by default, each with a representative key (`DIFF_SETS`; `--set
STACK:KEY=VALUE` replaces it). A DR stack's primary is rendered first into the same output folder (the DR
stack reads its outputs.json). Prints min / median / max per command and stack, and the machine it ran on;
docs/performance.md records a run.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from offline.render import list_stacks, primary_of  # noqa: E402  (the project root is on the path only now)

# A change a user makes on a running stack, per shipped stack: in place for the primaries (the file system grows),
# a new alarm subscription for the DR stack.
DIFF_SETS = {
    "dev": "modelStore.storageCapacityGiB=2400",
    "dev-dr": "dr.alarmEmail=oncall@example.com",
    "team": "modelStore.storageCapacityGiB=2400",
}


def run(args: list[str]) -> float:
    """Seconds one `python -m offline ...` takes, in a fresh interpreter; fails loudly if the command does."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "offline", *args], cwd=ROOT, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        command = " ".join(args)
        raise SystemExit(f"`python -m offline {command}` failed ({done.returncode}):\n{done.stdout}{done.stderr}")
    return seconds


def stats(runs: list[float]) -> dict[str, float]:
    return {"min": min(runs), "median": statistics.median(runs), "max": max(runs)}


def bench(stacks: list[str], repeat: int, out: str, sets: dict[str, str]) -> list[dict[str, object]]:
    """One row per command and stack: {command, stack, set, runs, min, median, max}."""
    rows: list[dict[str, object]] = []
    for stack in stacks:
        primary = primary_of(stack, ROOT)
        if primary:
            run(["render", "--stack", primary, "--out", out])  # the DR stack reads the primary's outputs.json
        run(["render", "--stack", stack, "--out", out])  # warm the file cache
        render = [run(["render", "--stack", stack, "--out", out]) for _ in range(repeat)]
        rows.append({"command": "render", "stack": stack, "set": "", "runs": repeat, **stats(render)})
        change = sets.get(stack)
        if change:
            diff = [run(["diff", "--stack", stack, "--set", change, "--out", out]) for _ in range(repeat)]
            rows.append({"command": "diff", "stack": stack, "set": change, "runs": repeat, **stats(diff)})
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stack", action="append", help="stack (repeatable); default: every shipped stack")
    parser.add_argument("--repeat", type=int, default=5, help="runs per command and stack (default 5)")
    parser.add_argument("--set", action="append", default=[], metavar="STACK:KEY=VALUE", help="the diff's change")
    parser.add_argument("--out", default="/tmp/bench-build", help="render output folder (default /tmp/bench-build)")
    args = parser.parse_args(argv)
    sets = dict(DIFF_SETS)
    for item in args.set:
        stack, _, change = item.partition(":")
        if "=" not in change:
            parser.error(f"--set {item!r}: must be STACK:KEY=VALUE, e.g. dev:modelStore.storageCapacityGiB=2400")
        sets[stack] = change
    stacks = args.stack or list_stacks(ROOT)
    cpu = platform.processor() or platform.machine()
    print(f"{cpu}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}, Python {platform.python_version()}")
    print("| command | stack | change | min | median | max | runs |")
    print("|---|---|---|---|---|---|---|")
    for row in bench(stacks, args.repeat, args.out, sets):
        change = f"`{row['set']}`" if row["set"] else "-"
        print(
            f"| {row['command']} | {row['stack']} | {change} | {row['min']:.2f} s "
            f"| {row['median']:.2f} s | {row['max']:.2f} s | {row['runs']} |",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
