"""Resource names are part of every running stack: a changed URN is a delete plus a create.

`tests/urns/<stack>.txt` is the snapshot of each shipped stack's URNs. The render must equal it, and every
URN that was ever committed in a snapshot must still be accounted for: present now, carried as an alias by a
present resource (`options.aliases`, so `pulumi up` moves it instead of replacing it), or listed in
`tests/urns/retired.txt` with the reason it was removed on purpose. The history is read with `git log`, so
the check needs the repository's full history (a fresh `git clone`, not a shallow one).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from conftest import Plan

ROOT = Path(__file__).resolve().parent.parent
URNS = Path(__file__).resolve().parent / "urns"
RETIRED = URNS / "retired.txt"
SHIPPED = {"dev": "dev", "dev-dr": "dev_dr"}  # stack -> the fixture that renders it


def snapshot(stack: str) -> set[str]:
    return {line.strip() for line in (URNS / f"{stack}.txt").read_text().splitlines() if line.strip()}


def retired() -> dict[str, str]:
    """`<urn> <reason>` per line; blank lines and `#` comments ignored."""
    out: dict[str, str] = {}
    for line in RETIRED.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            urn, _, reason = line.strip().partition(" ")
            out[urn] = reason.strip()
    return out


def _git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=ROOT, check=True, capture_output=True, text=True).stdout


def urns_ever_committed() -> set[str]:
    """Every URN line any committed version of a snapshot file added or removed."""
    if _git("rev-parse", "--is-shallow-repository").strip() == "true":
        pytest.fail("the URN history check needs the full git history: `git fetch --unshallow` first")
    # The snapshot files only: retired.txt lines carry a reason after the URN.
    log = _git("log", "-p", "--format=", "--", "tests/urns/", ":(exclude)tests/urns/retired.txt")
    found = set()
    for line in log.splitlines():
        if line[:1] in "+-" and line[1:].startswith("urn:pulumi:"):
            found.add(line[1:].strip())
    return found


def plan_of(request: pytest.FixtureRequest, stack: str) -> Plan:
    return request.getfixturevalue(SHIPPED[stack])


@pytest.mark.parametrize("stack", sorted(SHIPPED))
def test_render_equals_the_committed_snapshot(stack: str, request: pytest.FixtureRequest):
    rendered = {r.urn for r in plan_of(request, stack).resources}
    wanted = snapshot(stack)
    assert not wanted - rendered, (
        f"{stack}: resources gone or renamed (add an alias and update tests/urns/{stack}.txt, or list the URN "
        f"in tests/urns/retired.txt): {sorted(wanted - rendered)}"
    )
    new = sorted(rendered - wanted)
    assert not new, f"{stack}: new resources; add them to tests/urns/{stack}.txt: {new}"


def test_every_urn_ever_committed_is_present_aliased_or_retired(request: pytest.FixtureRequest):
    present: set[str] = set()
    aliases: set[str] = set()
    for stack in SHIPPED:
        for rec in plan_of(request, stack).resources:
            present.add(rec.urn)
            aliases.update(rec.options["aliases"])
    history = urns_ever_committed()
    assert history, "no snapshot history found in git"
    lost = sorted(history - present - aliases - set(retired()))
    assert not lost, f"URNs that disappeared without an alias or a line in tests/urns/retired.txt: {lost}"


def test_retired_urns_say_why():
    for urn, reason in retired().items():
        assert urn.startswith("urn:pulumi:") and reason, f"retired.txt: {urn!r} needs a reason after the URN"
