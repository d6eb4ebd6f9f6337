"""Every AWS resource that can carry tags carries the common ones (project, stack, component)."""

import importlib
import inspect
from functools import cache

import pytest
from conftest import STACK_VARIANTS, Plan

COMMON = {"project", "stack", "component"}


@cache
def taggable(type_token: str) -> bool:
    """Whether the pulumi-aws resource class of this type token takes `tags` (sub-resources such as bucket
    policies and role attachments do not)."""
    _, module_and_file, cls = type_token.split(":")
    module = importlib.import_module(f"pulumi_aws.{module_and_file.split('/')[0]}")
    return "tags" in inspect.signature(getattr(module, cls)._internal_init).parameters


@pytest.mark.parametrize("stack_fixture", STACK_VARIANTS)
def test_every_taggable_aws_resource_has_the_common_tags(stack_fixture: str, request: pytest.FixtureRequest):
    plan: Plan = request.getfixturevalue(stack_fixture)
    checked = 0
    for r in plan.resources:
        if r.type.startswith("aws:") and r.custom and taggable(r.type):
            tags = r.inputs.get("tags") or {}
            if isinstance(tags, list):  # an Auto Scaling group's tags: a list of {key, value, propagateAtLaunch}
                tags = {t["key"]: t["value"] for t in tags}
            assert set(tags) >= COMMON, f"{r.type} {r.name} lacks {sorted(COMMON - set(tags))}"
            assert tags["project"] == "inferentia-chat" and tags["stack"] == plan.result.stack, r.name
            checked += 1
    assert checked, "no taggable AWS resource found: the check would pass vacuously"


def test_the_check_knows_taggable_from_untaggable_types():
    assert taggable("aws:s3/bucket:Bucket") and taggable("aws:kms/key:Key")
    assert not taggable("aws:s3/bucketPolicy:BucketPolicy")
    assert not taggable("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
