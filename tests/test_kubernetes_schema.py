"""Every rendered Kubernetes object is valid, strictly, for the pinned Kubernetes minor."""

from __future__ import annotations

import copy

import kubernetes_validate
import pytest
from conftest import Plan

from components import versions
from offline.render import kubernetes_objects


def validate_strict(obj: dict) -> None:
    """Strict schema validation; a kind without a schema is a failure, not a pass."""
    try:
        kubernetes_validate.validate(obj, versions.KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.SchemaNotFoundError:
        pytest.fail(f"no schema to check {obj['apiVersion']}/{obj['kind']} {obj['metadata'].get('name')} against")


@pytest.mark.parametrize("stack_fixture", ["dev", "dev_dr", "dev_alb"])
def test_every_rendered_object_is_strictly_valid(stack_fixture: str, request: pytest.FixtureRequest):
    plan: Plan = request.getfixturevalue(stack_fixture)
    objects = kubernetes_objects(plan.result)
    if stack_fixture == "dev":
        assert objects, "the dev stack renders Kubernetes objects"
    for obj in objects:
        validate_strict(obj)


def test_the_check_rejects_an_unknown_field(dev: Plan):
    obj = copy.deepcopy(kubernetes_objects(dev.result)[0])
    obj["spec-typo"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(obj, versions.KUBERNETES_VERSION, strict=True)
