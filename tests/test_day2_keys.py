"""Every documented config key has a known update behaviour: docs/day-2.md's key table, row by row, checked
with the offline diff. A row says `in place`, `no change`, `refused`, or which resources the change
`replaces`, `creates` or `deletes`; the test runs the row's change on the shipped stack (plus the row's
`running stack` configuration) and checks exactly that, so the table cannot drift from the program."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from offline.diff import diff_stack, parse_sets
from offline.engine import RunResult
from offline.render import run_stack
from stacks.config import ConfigError

DOC = Path(__file__).resolve().parent.parent / "docs" / "day-2.md"
CODE = re.compile(r"`([^`]+)`")
VERBS = re.compile(r"\b(replaces|creates|deletes)\b")


@dataclass(frozen=True)
class Row:
    key: str
    base: list[str]
    change: list[str]
    behaviour: str

    @property
    def stack(self) -> str:
        return "dev-dr" if self.key.startswith("`dr.") else "dev"


def rows() -> list[Row]:
    text = DOC.read_text()
    table = text.split("<!-- key-table")[1].split("<!-- /key-table -->")[0]
    out = []
    for line in table.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 4 or not cells[0].startswith("`"):
            continue
        key, base, change, behaviour = cells
        out.append(Row(key, CODE.findall(base), CODE.findall(change), behaviour))
    return out


ROWS = rows()


def test_the_table_covers_every_top_level_key_and_section():
    from stacks.config import TOP_LEVEL_KEYS

    documented = " ".join(r.key for r in ROWS)
    for key in TOP_LEVEL_KEYS:
        assert f"`{key}" in documented, key


_BEFORE: dict[tuple[str, tuple[str, ...], str], RunResult] = {}


def before(row: Row, out: Path) -> RunResult:
    """The render of the running stack, shared by the rows that start from the same one."""
    key = (row.stack, tuple(row.base), str(out))
    if key not in _BEFORE:
        _BEFORE[key] = run_stack(row.stack, out=out, overrides=parse_sets(row.stack, row.base))
    return _BEFORE[key]


def named(behaviour: str) -> dict[str, set[str]]:
    """verb -> the code-quoted resource names right after it (up to the next verb, colon, semicolon or
    parenthesis: what follows is explanation)."""
    parts = VERBS.split(behaviour)
    return {
        verb: set(CODE.findall(re.split(r"[:;(]", text)[0]))
        for verb, text in zip(parts[1::2], parts[2::2], strict=True)
    }


@pytest.mark.parametrize("row", ROWS, ids=[f"{r.key} {' '.join(r.change)}"[:90] for r in ROWS])
def test_the_documented_behaviour(row: Row, rendered: Path, tmp_path: Path):
    if not row.change:  # a key the offline diff cannot see (a secret): the row names its own test
        test = row.behaviour.rsplit("`", 2)[-2] if "::" in row.behaviour else ""
        file, _, name = test.partition("::")
        assert name and f"def {name}(" in (Path(__file__).parent / file).read_text(), row.behaviour
        return
    out = rendered
    if row.stack == "dev-dr" and any("primaryStack=" in s for s in row.change):
        # Another primary to point at: the dev render's outputs under another name, with its own bucket.
        out = tmp_path
        for primary in ("dev", "prod"):
            outputs = json.loads((rendered / "dev" / "outputs.json").read_text())
            if primary == "prod":
                outputs["modelBucketName"] = "prod-model-bucket"
                outputs["modelBucketArn"] = "arn:aws:s3:::prod-model-bucket"
            (tmp_path / primary).mkdir()
            (tmp_path / primary / "outputs.json").write_text(json.dumps(outputs))
    if row.behaviour.startswith("refused"):
        try:
            entries = diff_stack(row.stack, row.change, out, base=row.base)
        except ConfigError:
            return
        assert any(e["refused"] for e in entries), f"{row.key}: documented as refused, but the diff applies"
        return
    entries = diff_stack(row.stack, row.change, out, base=row.base, before=before(row, out))
    acting = {e["urn"].rsplit("::", 1)[-1]: e for e in entries if e["action"] != "same"}
    actions = {name: e["action"] for name, e in acting.items()}
    assert not [n for n, e in acting.items() if e["refused"]], f"refused updates: {actions}"
    if row.behaviour.startswith("no change"):
        assert not acting, actions
        return
    assert acting, f"{row.key}: nothing changes"
    expected = named(row.behaviour)
    wanted = {"replaces": "replace", "creates": "create", "deletes": "delete"}
    for verb, names in expected.items():
        for name in names:
            assert actions.get(name) == wanted[verb], f"{row.key}: {name} should be {wanted[verb]}d: {actions}"
    if row.behaviour.startswith("in place"):
        assert set(actions.values()) <= {"update", "create"}, actions
        for name in CODE.findall(re.split(r"[;(]", row.behaviour)[0]):
            assert actions.get(name) == "update", f"{row.key}: {name} should be updated in place: {actions}"
    elif "and everything" not in row.behaviour:
        # Nothing is replaced or deleted that the row does not name.
        unnamed = {n for n, a in actions.items() if a in ("replace", "delete")}
        unnamed -= expected.get("replaces", set()) | expected.get("deletes", set())
        assert not unnamed, f"{row.key}: also replaced or deleted: {sorted(unnamed)}"
