"""The one offline engine for the whole suite, and a plan reader for assertions.

`engine.install()` calls `pulumi.runtime.set_mocks(..., preview=False)` once per process (each xdist
worker is its own process). Tests get a `Plan`: the resources the REAL program registers for a stack
configuration, read the way a reviewer reads `pulumi preview`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from team_stacks import ALB_WEBUI, COGNITO_STACK, HF_TOKEN_STACK, OIDC_STACK, TWO_MODELS

from offline import engine
from offline.engine import Record, RunResult
from offline.render import kubernetes_objects, run_stack, write_render

engine.install()


class Plan:
    """Read access to one offline run."""

    def __init__(self, result: RunResult):
        self.result = result
        self.resources = result.resources
        self.by_urn = {r.urn: r for r in result.resources}

    @property
    def outputs(self) -> dict[str, Any]:
        return self.result.outputs

    def of_type(self, type_: str) -> list[Record]:
        return [r for r in self.resources if r.type == type_]

    def one(self, type_: str, name: str | None = None) -> Record:
        """The single resource of a type (optionally the one whose name ends with `name`)."""
        found = [r for r in self.of_type(type_) if name is None or r.name.endswith(name)]
        assert len(found) == 1, f"expected one {type_} named *{name}, found {[r.name for r in found]}"
        return found[0]

    def named(self, name: str) -> Record:
        found = [r for r in self.resources if r.name == name]
        assert len(found) == 1, f"expected one resource named {name}, found {len(found)}"
        return found[0]

    def k8s(self, kind: str, name: str | None = None) -> list[dict[str, Any]]:
        return [
            o
            for o in kubernetes_objects(self.result)
            if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)
        ]

    def ancestors(self, rec: Record) -> Iterator[Record]:
        parent = rec.parent
        while parent:
            p = self.by_urn[parent]
            yield p
            parent = p.parent

    def depends(self, rec: Record, on: Record) -> bool:
        """True if `rec` waits for `on` (directly, or through a dependency's dependencies)."""
        seen: set[str] = set()
        todo = list(rec.dependencies)
        while todo:
            urn = todo.pop()
            if urn == on.urn:
                return True
            if urn in seen or urn not in self.by_urn:
                continue
            seen.add(urn)
            todo.extend(self.by_urn[urn].dependencies)
        return False

    def policy(self, rec: Record, key: str = "policy") -> dict[str, Any]:
        return json.loads(rec.inputs[key])


@cache
def _plan(stack: str, overrides_json: str, out: str | None) -> Plan:
    return Plan(run_stack(stack, overrides=json.loads(overrides_json), out=Path(out) if out else None))


def plan_for(stack: str = "dev", *, out: Path | None = None, **overrides: Any) -> Plan:
    """Run the real program for `stack` with whole config keys replaced, e.g.
    plan_for(**{"inferentia-chat:cluster": {...}}); None removes a key. Cached per configuration.
    `out` is where a DR stack finds its primary's outputs.json.
    """
    return _plan(stack, json.dumps(overrides, sort_keys=True), str(out) if out else None)


@pytest.fixture(scope="session")
def dev() -> Plan:
    return plan_for("dev")


def _dev_model() -> dict[str, Any]:
    document = yaml.safe_load((Path(__file__).resolve().parent.parent / "Pulumi.dev.yaml").read_text())
    return dict(document["config"]["inferentia-chat:model"])


# dev with the compilation in the cluster only: no compile host (model.compileHost false).
NO_COMPILE_HOST: dict[str, Any] = {"inferentia-chat:model": {**_dev_model(), "compileHost": False}}


@pytest.fixture(scope="session")
def dev_alb() -> Plan:
    """The web UI behind an internet-facing ALB: the objects and IAM only ALB exposures create (the load
    balancer controller, the Ingress) go through every assurance check too."""
    return plan_for("dev", **{"inferentia-chat:webui": ALB_WEBUI})


@pytest.fixture(scope="session")
def rendered(tmp_path_factory: pytest.TempPathFactory, dev: Plan) -> Path:
    """A build folder holding the dev render, as `python -m offline render` writes it."""
    out = tmp_path_factory.mktemp("build")
    write_render(dev.result, out)
    return out


@pytest.fixture(scope="session")
def dev_dr(rendered: Path) -> Plan:
    return plan_for("dev-dr", out=rendered)


# The DR stack's standby levels, as config overrides of dev-dr (which ships with `none`).
DR_SECTION = {"primaryStack": "organization/inferentia-chat/dev", "primaryRegion": "us-east-1"}
STORAGE_STANDBY: dict[str, Any] = {"inferentia-chat:dr": {**DR_SECTION, "standby": "storage"}}
SERVING_STANDBY: dict[str, Any] = {
    "inferentia-chat:dr": {**DR_SECTION, "standby": "serving"},
    "inferentia-chat:cluster": {"publicEndpoint": True, "publicAccessCidrs": ["203.0.113.0/24"]},
    "inferentia-chat:inferencePool": {"instanceTypes": ["inf2.xlarge", "inf2.8xlarge"], "maxNeuronDevices": 3},
    # The primary's (dev) model settings.
    "inferentia-chat:model": {
        "id": "mistralai/Mistral-7B-Instruct-v0.3",
        "revision": "c170c708c41dac9275d15a8fff4eca08d52bab71",
        "servedName": "mistral-7b-instruct",
        "tensorParallelSize": 2,
        "maxModelLen": 8192,
        "maxNumSeqs": 4,
    },
}


def dr_plan(rendered: Path, **overrides: Any) -> Plan:
    """dev-dr with whole config keys replaced, its StackReference answered by the dev render."""
    return plan_for("dev-dr", out=rendered, **overrides)


@pytest.fixture(scope="session")
def dev_dr_storage(rendered: Path) -> Plan:
    return dr_plan(rendered, **STORAGE_STANDBY)


@pytest.fixture(scope="session")
def dev_dr_serving(rendered: Path) -> Plan:
    return dr_plan(rendered, **SERVING_STANDBY)


# Every optional part of the replica: an alarm email (encrypted topic), prefixes, delete markers.
ALARMED_REPLICA: dict[str, Any] = {
    "inferentia-chat:dr": {
        **DR_SECTION,
        "alarmEmail": "oncall@example.com",
        "prefixes": ["models/", "neuron-cache/"],
        "replicateDeleteMarkers": True,
    }
}


@pytest.fixture(scope="session")
def dev_dr_alarms(rendered: Path) -> Plan:
    return dr_plan(rendered, **ALARMED_REPLICA)


# Every shipped stack and configuration variant: the assurance checks (schemas, checkov, parliament, the
# policy pack) run over each of them.
@pytest.fixture(scope="session")
def dev_team() -> Plan:
    """A team's stack: two models (the first from Hugging Face with a token, the second from S3), signing in
    through the organisation's OpenID provider."""
    return plan_for("dev", **TWO_MODELS, **OIDC_STACK, **HF_TOKEN_STACK)


@pytest.fixture(scope="session")
def dev_cognito() -> Plan:
    """Signing in through the stack's own Cognito user pool."""
    return plan_for("dev", **COGNITO_STACK)


STACK_VARIANTS = (
    "dev",
    "dev_dr",
    "dev_alb",
    "dev_dr_storage",
    "dev_dr_serving",
    "dev_dr_alarms",
    "dev_team",
    "dev_cognito",
)


@pytest.fixture(scope="session")
def all_plans(request: pytest.FixtureRequest) -> list[Plan]:
    return [request.getfixturevalue(name) for name in STACK_VARIANTS]
