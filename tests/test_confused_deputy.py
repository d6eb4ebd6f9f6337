"""Confused deputy: every AWS service trusted by a role or a resource policy acts for THIS account only
(`aws:SourceAccount`) and, where the service says which resource it acts for, for that resource only."""

from __future__ import annotations

from typing import Any

import pytest
from assurance import policy_documents
from conftest import STACK_VARIANTS, Plan

ACCOUNT = "123456789012"

# Service principals that cannot carry the source keys, and why (checked: each still appears somewhere).
EXEMPT = {
    # An EC2 instance role is assumed by EC2 for an instance profile of this account only; AWS documents no
    # source keys for it (IAM user guide, "Using an IAM role to grant permissions to applications running
    # on Amazon EC2 instances").
    "ec2.amazonaws.com": "node roles",
}


def service_statements(plan: Plan) -> list[tuple[str, str, dict[str, Any]]]:
    """(resource, service, statement) of every Allow statement that names a service principal."""
    out = []
    for doc in policy_documents(plan.resources):
        if doc.kind == "identity":
            continue
        for stmt in doc.document["Statement"]:
            services = (stmt.get("Principal") or {}).get("Service") if isinstance(stmt.get("Principal"), dict) else None
            if stmt["Effect"] != "Allow" or not services:
                continue
            for service in [services] if isinstance(services, str) else services:
                out.append((doc.resource, service, stmt))
    return out


def condition_value(stmt: dict[str, Any], key: str) -> Any:
    for values in (stmt.get("Condition") or {}).values():
        if key in values:
            return values[key]
    return None


@pytest.mark.parametrize("stack_fixture", STACK_VARIANTS)
def test_every_service_principal_is_held_to_this_account(stack_fixture: str, request: pytest.FixtureRequest):
    plan: Plan = request.getfixturevalue(stack_fixture)
    found = service_statements(plan)
    assert found
    for resource, service, stmt in found:
        if service in EXEMPT:
            continue
        if service.startswith("logs.") and service.endswith(".amazonaws.com"):
            # CloudWatch Logs on a key: only with the encryption context of one log group of this account.
            context = condition_value(stmt, "kms:EncryptionContext:aws:logs:arn")
            assert context and f":{ACCOUNT}:log-group:" in context, resource
            continue
        # This account: aws:SourceAccount, or (where the service documents only that key) an aws:SourceArn
        # that names resources of this account.
        source_arns = condition_value(stmt, "aws:SourceArn")
        source_arns = [source_arns] if isinstance(source_arns, str) else source_arns or []
        held = condition_value(stmt, "aws:SourceAccount") == ACCOUNT or (
            source_arns and all(arn.split(":")[4] == ACCOUNT for arn in source_arns)
        )
        assert held, (resource, service)


def test_services_that_name_their_source_are_held_to_it(dev: Plan, dev_dr_alarms: Plan):
    by_service: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for plan in (dev, dev_dr_alarms):
        for resource, service, stmt in service_statements(plan):
            by_service.setdefault(service, []).append((resource, stmt))
    # Pod Identity: the cluster (its ARN session tag), the namespace and the service account of each role.
    pods = by_service["pods.eks.amazonaws.com"]
    assert len(pods) == 4  # vpc-cni, ebs, fsx, karpenter (the loader and LB controller in other variants)
    for resource, stmt in pods:
        assert condition_value(stmt, "aws:RequestTag/eks-cluster-arn") == (
            "arn:aws:eks:us-east-1:123456789012:cluster/inferentia-chat-dev"
        ), resource
        assert condition_value(stmt, "aws:RequestTag/kubernetes-namespace") == "kube-system", resource
        assert condition_value(stmt, "aws:RequestTag/kubernetes-service-account"), resource
    # EventBridge: only the interruption rules of this stack.
    ((_, events),) = by_service["events.amazonaws.com"]
    rules = {r.outputs["arn"] for r in dev.of_type("aws:cloudwatch/eventRule:EventRule")}
    assert set(condition_value(events, "aws:SourceArn")) == rules
    # VPC Flow Logs: flow logs of this account and region.
    ((_, flow),) = by_service["vpc-flow-logs.amazonaws.com"]
    assert condition_value(flow, "aws:SourceArn") == "arn:aws:ec2:us-east-1:123456789012:vpc-flow-log/*"
    # CloudWatch alarms publishing to the encrypted topic: alarms of this account in the source region.
    for _, stmt in by_service["cloudwatch.amazonaws.com"]:
        assert condition_value(stmt, "aws:SourceArn") == "arn:aws:cloudwatch:us-east-1:123456789012:alarm:*"


def test_each_service_role_names_only_its_own_service_account(dev: Plan):
    subjects = {}
    for resource, service, stmt in service_statements(dev):
        if service == "pods.eks.amazonaws.com":
            subjects[resource] = condition_value(stmt, "aws:RequestTag/kubernetes-service-account")
    assert subjects == {
        "cluster-vpc-cni-role": "aws-node",
        "cluster-aws-ebs-csi-driver-role": "ebs-csi-controller-sa",
        "cluster-aws-fsx-csi-driver-role": "fsx-csi-controller-sa",
        "karpenter-controller-role": "karpenter",
    }
    associations = {
        (a.inputs["roleArn"], a.inputs.get("serviceAccount"))
        for a in dev.of_type("aws:eks/podIdentityAssociation:PodIdentityAssociation")
    }
    roles = {r.name: r.outputs["arn"] for r in dev.of_type("aws:iam/role:Role")}
    assert (roles["karpenter-controller-role"], "karpenter") in associations


def test_the_exemptions_are_still_needed(all_plans: list[Plan]):
    services = {service for plan in all_plans for _, service, _ in service_statements(plan)}
    assert set(EXEMPT) <= services
