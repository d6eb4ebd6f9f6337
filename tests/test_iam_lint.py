"""Every IAM policy document the stacks create passes parliament (waivers only with reasons)."""

from __future__ import annotations

import json

import pytest
from assurance import as_identity_view, policy_documents, waivers
from conftest import STACK_VARIANTS, Plan
from parliament import analyze_policy_string

WRITE_PREFIXES = ("Create", "Delete", "Put", "Update", "Attach", "Detach", "Run", "Terminate", "Modify", "Tag")


def findings(plan: Plan) -> list[tuple[str, str, str]]:
    """(resource, issue, detail) for every parliament finding in the plan's policy documents."""
    out = []
    for doc in policy_documents(plan.resources):
        analysed = analyze_policy_string(json.dumps(as_identity_view(doc)))
        out += [(doc.resource, f.issue, json.dumps(f.detail, default=str)) for f in analysed.findings]
    return out


def waived(resource: str, issue: str) -> bool:
    return any(w["resource"] == resource and w["issue"] == issue for w in waivers("parliament"))


@pytest.mark.parametrize("stack_fixture", STACK_VARIANTS)
def test_policies_have_no_parliament_findings(stack_fixture: str, request: pytest.FixtureRequest):
    plan: Plan = request.getfixturevalue(stack_fixture)
    unwaived = [f for f in findings(plan) if not waived(f[0], f[1])]
    assert not unwaived, "\n".join(map(str, unwaived))


def test_every_waiver_is_still_needed(all_plans: list[Plan]):
    seen = {(r, i) for plan in all_plans for r, i, _ in findings(plan)}
    stale = [w for w in waivers("parliament") if (w["resource"], w["issue"]) not in seen]
    assert not stale, f"waivers that match nothing: {stale}"


def test_no_star_actions_and_no_star_resources_on_writes(all_plans: list[Plan]):
    for plan in all_plans:
        for doc in policy_documents(plan.resources):
            if doc.kind != "identity":
                continue
            for stmt in doc.document["Statement"]:
                actions = stmt["Action"] if isinstance(stmt["Action"], list) else [stmt["Action"]]
                assert "*" not in actions, doc.resource
                if stmt.get("Resource") == "*" and not waived(doc.resource, "RESOURCE_STAR"):
                    writes = [a for a in actions if a.split(":", 1)[1].startswith(WRITE_PREFIXES)]
                    assert not writes, f"{doc.resource}: write actions on Resource *: {writes}"


def test_the_check_catches_a_bad_policy():
    bad = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}
    issues = {f.issue for f in analyze_policy_string(json.dumps(bad)).findings}
    assert "RESOURCE_STAR" in issues


def test_policy_documents_are_found(dev: Plan):
    kinds = {(d.resource, d.kind) for d in policy_documents(dev.resources)}
    assert ("cluster-secrets-key", "resource") in kinds
    assert ("cluster-vpc-cni-role", "trust") in kinds
    assert ("cluster-aws-ebs-csi-driver-policy", "identity") in kinds


def test_the_dr_stacks_policy_documents_are_all_checked(dev_dr_alarms: Plan, dev_dr_storage: Plan):
    kinds = {(d.resource, d.kind) for plan in (dev_dr_alarms, dev_dr_storage) for d in policy_documents(plan.resources)}
    assert {
        ("model-replica-replication-role", "trust"),
        ("model-replica-replication-policy", "identity"),
        ("model-replica-batch-role", "trust"),
        ("model-replica-batch-policy", "identity"),
        ("model-replica-bucket-policy", "resource"),
        ("model-replica-batch-bucket-policy", "resource"),
        ("model-replica-alarms-key", "resource"),
        ("model-replica-alarms-policy", "resource"),
        ("model-store-key-policy", "resource"),  # the DR file system's statement on the replica key
    } <= kinds
