"""Every rendered Kubernetes object is valid, strictly, for the pinned Kubernetes minor."""

from __future__ import annotations

import copy
import re

import crd_schema
import kubernetes_validate
import pytest
from conftest import STACK_VARIANTS, Plan

from inferentia_chat import versions
from offline.render import kubernetes_objects


def validate_strict(obj: dict) -> None:
    """Strict schema validation; a kind without a schema is a failure, not a pass.

    Custom resources are checked against their vendored CRD (schema and CEL rules, tests/crd_schema.py);
    everything else against the Kubernetes schemas of the pinned minor.
    """
    if crd_schema.has_schema(obj):
        crd_schema.validate(obj)
        return
    try:
        kubernetes_validate.validate(obj, versions.KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.SchemaNotFoundError:
        pytest.fail(f"no schema to check {obj['apiVersion']}/{obj['kind']} {obj['metadata'].get('name')} against")


@pytest.mark.parametrize("stack_fixture", STACK_VARIANTS)
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


# --- Karpenter custom resources: their CRD schema and CEL rules --------------------------------


def karpenter_object(plan: Plan, kind: str) -> dict:
    (obj,) = [o for o in kubernetes_objects(plan.result) if o["kind"] == kind]
    return copy.deepcopy(obj)


def test_the_node_pool_and_node_class_have_a_vendored_schema_with_cel_rules(dev: Plan):
    for kind in ("NodePool", "EC2NodeClass"):
        obj = karpenter_object(dev, kind)
        assert crd_schema.has_schema(obj), kind
        evaluated, _ = crd_schema.rule_count((obj["apiVersion"], kind))
        assert evaluated > 10, f"{kind}: the CEL rules were not found"
        crd_schema.validate(obj)


def _set(obj: dict, path: str, value) -> dict:
    *parents, last = path.split(".")
    node = obj
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
    return obj


# (kind, path in the object, bad value, phrase of the error): schema errors first, then CEL-only ones.
WRONG = [
    ("NodePool", "spec.template.spec.requirements.0.operator", "Within", "is not one of"),
    ("NodePool", "spec.template.spec.typo", True, "Additional properties are not allowed"),
    ("NodePool", "spec.template.spec.taints.0.effect", "NoScheduleAtAll", "is not one of"),
    ("NodePool", "spec.disruption.consolidateAfter", "5 minutes", "does not match"),
    ("EC2NodeClass", "spec.blockDeviceMappings.0.ebs.volumeType", "gp4", "is not one of"),
    ("EC2NodeClass", "spec.metadataOptions.httpPutResponseHopLimit", 0, "less than the minimum"),
    ("EC2NodeClass", "spec.role", 42, "is not of type 'string'"),
    # CEL only (the openAPI schema alone accepts these):
    ("NodePool", "spec.template.spec.requirements.0.values", [], "operator 'In' must have a value defined"),
    ("NodePool", "spec.template.metadata.labels", {"karpenter.sh/custom": "x"}, 'label domain "karpenter.sh"'),
    ("EC2NodeClass", "spec.amiSelectorTerms.0.alias", "al2023-latest", "improperly formatted"),
    ("EC2NodeClass", "spec.tags", {"eks:eks-cluster-name": "x"}, "restricted tag"),
    ("EC2NodeClass", "spec.securityGroupSelectorTerms", [], "cannot be empty"),
]


@pytest.mark.parametrize(("kind", "path", "value", "phrase"), WRONG, ids=[f"{w[0]}:{w[1]}={w[2]}" for w in WRONG])
def test_the_check_rejects_a_wrong_karpenter_object(dev: Plan, kind: str, path: str, value, phrase: str):
    obj = _set(karpenter_object(dev, kind), path, value)
    with pytest.raises(crd_schema.CrdValidationError, match=re.escape(phrase)):
        validate_strict(obj)


def test_a_kind_without_any_schema_fails_the_check():
    unknown = {"apiVersion": "example.com/v1", "kind": "Gadget", "metadata": {"name": "g"}, "spec": {}}
    with pytest.raises(pytest.fail.Exception, match="no schema to check"):
        validate_strict(unknown)
