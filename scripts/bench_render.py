"""Benchmark of the offline render (and the diff command, when the project has one): seconds per stack.

    venv/bin/python scripts/bench_render.py [--stack dev] [--repeat 5] [--out /tmp/bench-build]

Not a test: wall-clock numbers depend on the machine and its load. Each stack is rendered `--repeat` times in
a fresh interpreter (`python -m offline render --stack S`), which is how a user runs it, so the figure
includes Python start-up and the imports of the Pulumi SDK and providers. Prints min / median / max per stack
and the machine it ran on; docs/performance.md records a run.
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


def has_diff() -> bool:
    """Whether `python -m offline diff` exists in this checkout."""
    done = subprocess.run(
        [sys.executable, "-m", "offline", "diff", "--help"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    return done.returncode == 0


def timed(args: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "offline", *args], cwd=ROOT, capture_output=True, check=True)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stack", action="append", help="stack (repeatable); default: dev and dev-dr")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--out", default="/tmp/bench-build")
    args = parser.parse_args()
    stacks = args.stack or ["dev", "dev-dr"]
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
    commands = {"render": lambda s: ["render", "--stack", s, "--out", args.out]}
    if has_diff():
        commands["diff"] = lambda s: ["diff", "--stack", s, "--out", args.out]
    else:
        print("diff: no `python -m offline diff` in this checkout; render only")
    for stack in stacks:
        timed(commands["render"](stack))  # warm the file cache and write the primary's outputs.json
        for name, command in commands.items():
            runs = sorted(timed(command(stack)) for _ in range(args.repeat))
            print(
                f"{name:6} {stack:8} min {runs[0]:.2f} s  median {statistics.median(runs):.2f} s  "
                f"max {runs[-1]:.2f} s  ({args.repeat} runs)"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
