"""Every IAM policy document the stacks create passes parliament with its community auditors (privilege
escalation, permissions management, credentials exposure...); what remains is waived with a source."""

from __future__ import annotations

import fnmatch
import json
from functools import cache
from pathlib import Path
from typing import Any

import parliament
import pytest
from assurance import PolicyDocument, as_identity_view, policy_documents, unsourced_waivers, waivers
from conftest import STACK_VARIANTS, Plan
from parliament import analyze_policy_string, expand_action

# Access levels of the IAM service-authorization reference (parliament's database) that change something.
WRITE_LEVELS = {"Write", "Permissions management", "Tagging"}


def analyse(doc: PolicyDocument) -> list[Any]:
    return analyze_policy_string(json.dumps(as_identity_view(doc)), include_community_auditors=True).findings


def findings(plan: Plan) -> list[tuple[str, str, str, str]]:
    """(resource, kind, issue, detail) for every parliament finding in the plan's policy documents."""
    out = []
    for doc in policy_documents(plan.resources):
        out += [(doc.resource, doc.kind, f.issue, json.dumps(f.detail, default=str)) for f in analyse(doc)]
    return out


def matches(waiver: dict[str, Any], resource: str, kind: str, issue: str) -> bool:
    return (
        waiver["issue"] == issue
        and fnmatch.fnmatchcase(resource, waiver["resource"])
        and waiver.get("kind", kind) == kind
    )


def waived(resource: str, kind: str, issue: str) -> bool:
    return any(matches(w, resource, kind, issue) for w in waivers("parliament"))


@cache
def access_level(action: str) -> str:
    """The access level parliament's database gives an action; an action it does not know counts as a write."""
    service, name = action.split(":", 1)
    for svc in parliament.iam_definition:
        if svc["prefix"] == service:
            for privilege in svc["privileges"]:
                if privilege["privilege"].lower() == name.lower():
                    return privilege["access_level"]
    return "Write"


def write_actions(actions: list[str]) -> list[str]:
    """The actions (wildcards expanded) whose access level changes something."""
    out = []
    for action in actions:
        try:
            expanded = [f"{a['service']}:{a['action']}" for a in expand_action(action)]
        except Exception:
            expanded = [action]
        out += [a for a in expanded if access_level(a) in WRITE_LEVELS]
    return list(dict.fromkeys(out))


@pytest.mark.parametrize("stack_fixture", STACK_VARIANTS)
def test_policies_have_no_parliament_findings(stack_fixture: str, request: pytest.FixtureRequest):
    plan: Plan = request.getfixturevalue(stack_fixture)
    unwaived = [f for f in findings(plan) if not waived(*f[:3])]
    assert not unwaived, "\n".join(map(str, unwaived))


def test_every_waiver_is_still_needed(all_plans: list[Plan]):
    seen = {f[:3] for plan in all_plans for f in findings(plan)}
    stale = [w for w in waivers("parliament") if not any(matches(w, *f) for f in seen)]
    assert not stale, f"waivers that match nothing: {stale}"


def test_every_waiver_names_its_evidence(tmp_path: Path):
    assert not unsourced_waivers(), f"waivers without a reason and a source: {unsourced_waivers()}"
    # The check itself: an entry without a source (or a reason) is caught, whichever tool it waives.
    bad = tmp_path / "waivers.yaml"
    bad.write_text(
        "parliament:\n  - {resource: x, issue: RESOURCE_STAR, reason: because}\n"
        "checkov:\n  - {check: CKV_K8S_1, resource: y, source: somewhere}\n"
        "  - {check: CKV_K8S_2, resource: z, reason: r, source: s}\n"
    )
    assert [w.get("resource") for w in unsourced_waivers(bad)] == ["x", "y"]


def test_no_star_actions_and_no_unwaived_writes_on_star_resources(all_plans: list[Plan]):
    accepted = {
        (w["resource"], a) for w in waivers("parliament") if w["issue"] == "RESOURCE_STAR" for a in w.get("actions", ())
    }
    checked = 0
    for plan in all_plans:
        for doc in policy_documents(plan.resources):
            if doc.kind != "identity":
                continue
            for stmt in doc.document["Statement"]:
                actions = stmt["Action"] if isinstance(stmt["Action"], list) else [stmt["Action"]]
                assert "*" not in actions, doc.resource
                if stmt.get("Resource") != "*" or stmt["Effect"] != "Allow":
                    continue
                checked += 1
                writes = [a for a in write_actions(actions) if (doc.resource, a) not in accepted]
                assert not writes, f"{doc.resource}: write actions on Resource *: {writes}"
    assert checked  # the Karpenter policy alone has several Resource "*" statements (reads)


def test_the_write_list_comes_from_the_access_levels():
    # Writes whose names a prefix list misses, and reads that look like writes.
    assert write_actions(["iam:PassRole", "ec2:AuthorizeSecurityGroupIngress", "s3:ReplicateObject"]) == [
        "iam:PassRole",
        "ec2:AuthorizeSecurityGroupIngress",
        "s3:ReplicateObject",
    ]
    assert write_actions(["ec2:DescribeInstances", "pricing:GetProducts", "s3:GetObject"]) == []
    assert "kms:PutKeyPolicy" in write_actions(["kms:*"])


def test_the_check_catches_a_bad_policy():
    bad = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iam:PassRole", "Resource": "*"}]}
    issues = {f.issue for f in analyze_policy_string(json.dumps(bad), include_community_auditors=True).findings}
    assert {"RESOURCE_STAR", "PERMISSIONS_MANAGEMENT_ACTIONS"} <= issues


def test_policy_documents_are_found(dev: Plan):
    kinds = {(d.resource, d.kind) for d in policy_documents(dev.resources)}
    assert ("cluster-secrets-key", "resource") in kinds
    assert ("cluster-vpc-cni-role", "trust") in kinds
    assert ("cluster-aws-ebs-csi-driver-policy", "identity") in kinds
    assert ("karpenter-interruption-policy", "resource") in kinds
    assert ("network-flow-logs-role", "trust") in kinds


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
