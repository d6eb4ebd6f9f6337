"""Resources that moved to another component keep their identity: each carries its former URN as an alias,
so `pulumi up` on a stack deployed before the move moves them instead of deleting and re-creating them."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pulumi.runtime.resource as runtime_resource
import pytest
from pulumi import Output

from offline.render import run_stack

ROOT = Path(__file__).resolve().parent.parent
# The store's rules with the EKS control plane's group: removed on purpose (Lustre clients are the nodes only),
# not moved; a running stack deletes them on its next `pulumi up`.
REMOVED_ON_PURPOSE = {
    f"urn:pulumi:dev::inferentia-chat::inferentia-chat:index:LustreModelStore$aws:vpc/{kind}::model-store-fs-{d}-{p}-cluster"
    for kind, d in (
        ("securityGroupIngressRule:SecurityGroupIngressRule", "in"),
        ("securityGroupEgressRule:SecurityGroupEgressRule", "out"),
    )
    for p in ("988", "1018-1023")
}


def committed_urns(stack: str) -> set[str]:
    """Every URN any committed version of the stack's snapshot held."""
    log = subprocess.run(
        ["git", "log", "-p", "--format=", "--", f"tests/urns/{stack}.txt"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return {line[1:].strip() for line in log.splitlines() if line[:1] in "+-" and line[1:].startswith("urn:pulumi:")}


@pytest.fixture
def aliases(monkeypatch: pytest.MonkeyPatch) -> dict[tuple[str, str], list[str]]:
    """The alias URNs each resource registers with, as the Pulumi SDK computes them."""
    recorded: dict[tuple[str, str], list[str]] = {}
    original = runtime_resource.prepare_aliases

    async def prepare(res: Any, opts: Any, supports_alias_specs: bool) -> Any:
        if opts is not None and opts.aliases:
            urns = runtime_resource.all_aliases(opts.aliases, res._name, res._type, opts.parent)
            recorded[(res._type, res._name)] = [await Output.from_input(u).future() for u in urns]
        return await original(res, opts, supports_alias_specs)

    monkeypatch.setattr(runtime_resource, "prepare_aliases", prepare)
    return recorded


def former_urn(urn: str) -> str:
    """Where a child of the volume or the loader was when one LustreModelStore made them all."""
    for part in ("index:ModelVolume$", "index:ModelLoader$"):
        urn = urn.replace(part, "index:LustreModelStore$")
    return urn


def test_the_model_volume_and_loader_children_alias_their_place_under_the_store(aliases, tmp_path: Path):
    """Every committed URN of the one-component store that now lives under the volume or the loader is the
    alias of the resource that took its place (the store's own AWS resources kept their URNs)."""
    if (
        subprocess.run(
            ["git", "rev-parse", "--is-shallow-repository"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
        == "true"
    ):
        pytest.fail("needs the full git history: `git fetch --unshallow`")
    result = run_stack("dev", out=tmp_path / "build")
    history = committed_urns("dev")
    moved = {
        former_urn(r.urn): r
        for r in result.resources
        if ("index:ModelVolume$" in r.urn or "index:ModelLoader$" in r.urn) and former_urn(r.urn) in history
    }
    # namespace, PV, claim, script, service account, two Jobs, two network policies
    assert len(moved) == 9
    for former, r in moved.items():
        assert former in aliases[(r.type, r.name)], r.urn
    store_children = {u for u in history if "index:LustreModelStore$" in u} - set(moved)
    assert store_children and store_children <= {r.urn for r in result.resources} | REMOVED_ON_PURPOSE
