"""The shipped stacks at a glance: one README table row per stack, from its render's budget.json and cost.json.

    python -m offline stacks-table            # print the table (render first: make render)
    python -m offline stacks-table --write    # replace the table between the README's markers

`make render` writes it, and tests/test_cost.py fails when the README's table is not the one the current
program renders, so the figures a reader sees first are never stale.
"""

import json
import math
from pathlib import Path
from typing import Any

BEGIN = "<!-- stacks-table:begin (python -m offline stacks-table --write) -->"
END = "<!-- stacks-table:end -->"

HEADER = (
    "| stack | region | new replica: warm node / new node | first `pulumi up` (artifacts cached) "
    "| per month: idle / busy | once |\n"
    "|---|---|---|---|---|---|"
)


def _usd(value: float) -> str:
    return f"${value:,.0f}"


def _seconds(part: dict[str, Any]) -> str:
    mark = "" if part["meetsTarget"] else " (misses)"
    return f"{part['totalSeconds']:.0f} s{mark}"


def _minutes(part: dict[str, Any]) -> str:
    mark = "" if part["meetsTarget"] else " (misses)"
    return f"{math.ceil(part['criticalPathSeconds'] / 60)} min{mark}"


def row(stack: str, budget: dict[str, Any], bill: dict[str, Any]) -> str:
    """One stack's row: targets are in the header's docs (120 s, 300 s, 35 min); a miss is marked."""
    replica = budget["replica"]
    monthly = bill["monthly"]
    incomplete = "" if monthly["complete"] else " (incomplete)"
    serves = budget["model"]["replicas"] or budget["deploy"]["compile"] is not None
    start = f"{_seconds(replica['warmNode'])} / {_seconds(replica['newNode'])}" if serves else "no serving pods"
    return (
        f"| {stack} | {bill['region']} | {start} "
        f"| {_minutes(budget['deploy'])} ({_minutes(budget['deployWithCachedArtifacts'])}) "
        f"| {_usd(monthly['idleUSD'])} / {_usd(monthly['busyUSD'])}{incomplete} "
        f"| {_usd(bill['oneTime']['USD'])} |"
    )


def table(out: Path, stacks: list[str]) -> str:
    """The markdown table for `stacks`, read from `out/<stack>/budget.json` and `cost.json`."""
    rows = []
    for stack in stacks:
        folder = out / stack
        rows.append(
            row(
                stack,
                json.loads((folder / "budget.json").read_text()),
                json.loads((folder / "cost.json").read_text()),
            )
        )
    return "\n".join([HEADER, *rows])


def _between(text: str) -> tuple[int, int]:
    """Where the table starts (after BEGIN) and ends (at END); a README without both markers is an error."""
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < start:
        raise ValueError(f"README has no stacks table markers ({BEGIN} ... {END})")
    return start + len(BEGIN), end


def replace_table(text: str, new_table: str) -> str:
    """`text` with the part between the markers replaced."""
    start, end = _between(text)
    return text[:start] + "\n" + new_table + "\n" + text[end:]


def current_table(text: str) -> str:
    """The table between the markers, as written."""
    start, end = _between(text)
    return text[start:end].strip()
