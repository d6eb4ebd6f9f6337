"""`render --preview` runs the program as `pulumi preview` does on an empty stack, for every shipped stack and
configuration variant: it must not crash where values are unknown, and it must register exactly the resources
(names, types, parents) of a normal run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest import (
    ALARMED_REPLICA,
    ALB_WEBUI,
    SERVING_STANDBY,
    STACK_VARIANTS,
    STORAGE_STANDBY,
    Plan,
)
from team_stacks import COGNITO_STACK, HF_TOKEN_STACK, OIDC_STACK, TWO_MODELS

from offline.engine import UNKNOWN, RunResult
from offline.render import main as render_main
from offline.render import run_stack

# How each fixture of STACK_VARIANTS is made: (stack, config overrides).
VARIANT_CONFIG: dict[str, tuple[str, dict[str, Any]]] = {
    "dev": ("dev", {}),
    "dev_dr": ("dev-dr", {}),
    "dev_alb": ("dev", {"inferentia-chat:webui": ALB_WEBUI}),
    "dev_dr_storage": ("dev-dr", STORAGE_STANDBY),
    "dev_dr_serving": ("dev-dr", SERVING_STANDBY),
    "dev_dr_alarms": ("dev-dr", ALARMED_REPLICA),
    "dev_team": ("dev", {**TWO_MODELS, **OIDC_STACK, **HF_TOKEN_STACK}),
    "dev_cognito": ("dev", COGNITO_STACK),
}


def test_every_variant_is_covered():
    assert set(VARIANT_CONFIG) == set(STACK_VARIANTS)


@pytest.mark.parametrize("variant", STACK_VARIANTS)
def test_preview_registers_the_same_resources(variant: str, request: pytest.FixtureRequest, rendered: Path):
    normal: Plan = request.getfixturevalue(variant)
    stack, overrides = VARIANT_CONFIG[variant]
    preview: RunResult = run_stack(stack, overrides=overrides, out=rendered, preview=True)
    assert [(r.urn, r.parent) for r in sorted(preview.resources, key=lambda r: r.urn)] == [
        (r.urn, r.parent) for r in sorted(normal.resources, key=lambda r: r.urn)
    ]
    # It really was a preview: ids the cloud assigns are unknown there, known in the normal run.
    ids = [k for k, v in normal.outputs.items() if k.endswith(("Arn", "Id")) and v not in ("", None)]
    assert ids and all(preview.outputs[k] == UNKNOWN for k in ids if k not in ("primaryRegion",)), ids


def test_a_normal_run_after_a_preview_knows_its_values(rendered: Path):
    """The dry-run flag is the run's own: the next normal run resolves every output (and runs its applies)."""
    run_stack("dev", out=rendered, preview=True)
    after = run_stack("dev", out=rendered)
    assert after.outputs["fileSystemId"].startswith("fs-")
    assert UNKNOWN not in str(after.outputs)


def test_render_command_preview_writes_the_contract_files(tmp_path: Path):
    assert render_main(["render", "--stack", "dev", "--out", str(tmp_path), "--preview"]) == 0
    folder = tmp_path / "dev"
    for name in ("resources.json", "kubernetes.yaml", "outputs.json", "budget.json"):
        assert (folder / name).exists(), name
    assert UNKNOWN in (folder / "outputs.json").read_text()
