"""Karpenter: the chart, the controller's AWS access, the node role, the interruption queue and rules,
checked on the recorded plan and against the upstream getting-started CloudFormation of the pinned release."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import Plan

from inferentia_chat import iam, versions
from inferentia_chat.karpenter import INTERRUPTION_RULES, NODE_ROLE_POLICIES
from inferentia_chat.system_node_group import SYSTEM_NODE_SELECTOR

RELEASE = "kubernetes:helm.sh/v3:Release"
ROLE = "aws:iam/role:Role"
QUEUE = "aws:sqs/queue:Queue"
RULE = "aws:cloudwatch/eventRule:EventRule"
TARGET = "aws:cloudwatch/eventTarget:EventTarget"
UPSTREAM = Path(__file__).parent / "upstream" / "karpenter-getting-started-v1.14.cloudformation.yaml"


def release(plan: Plan):
    return plan.one(RELEASE, "karpenter-chart")


# --- the upstream template, as data -------------------------------------------------------------


class _CfnLoader(yaml.SafeLoader):
    """Reads CloudFormation short-form tags (!Sub, !GetAtt, !Ref) as plain tagged values."""


for _tag in ("!Sub", "!GetAtt", "!Ref"):
    _CfnLoader.add_constructor(_tag, lambda loader, node, t=_tag: {t: loader.construct_scalar(node)})


SUBSTITUTIONS = {
    "AWS::Partition": "aws",
    "AWS::Region": "us-east-1",
    "AWS::AccountId": "123456789012",
    "AWS::URLSuffix": "amazonaws.com",
    "ClusterName": "chat",
    "KarpenterNodeRole.Arn": "arn:aws:iam::123456789012:role/node",
    "KarpenterInterruptionQueue.Arn": "arn:aws:sqs:us-east-1:123456789012:queue",
}


def upstream() -> dict[str, Any]:
    return yaml.load(UPSTREAM.read_text(), Loader=_CfnLoader)["Resources"]


def sub(text: str) -> str:
    return re.sub(r"\$\{([^}]+)\}", lambda m: SUBSTITUTIONS[m.group(1)], text)


def ours() -> dict[str, Any]:
    s = SUBSTITUTIONS
    return iam.karpenter_controller_policy(
        "aws", s["AWS::Region"], s["AWS::AccountId"], s["ClusterName"], s["KarpenterInterruptionQueue.Arn"],
        s["KarpenterNodeRole.Arn"],
    )  # fmt: skip


def test_controller_policy_reproduces_upstream_statement_for_statement():
    managed = [r for r in upstream().values() if r["Type"] == "AWS::IAM::ManagedPolicy"]
    assert len(managed) == 6
    theirs = [stmt for r in managed for stmt in json.loads(sub(r["Properties"]["PolicyDocument"]["!Sub"]))["Statement"]]
    assert ours()["Statement"] == theirs


def test_controller_policy_is_tag_scoped_and_passes_only_the_node_role_to_ec2():
    statements = {s["Sid"]: s for s in ours()["Statement"]}
    passrole = statements["AllowPassingInstanceRole"]
    assert passrole["Resource"] == SUBSTITUTIONS["KarpenterNodeRole.Arn"]
    assert passrole["Condition"]["StringEquals"]["iam:PassedToService"] == ["ec2.amazonaws.com", "ec2.amazonaws.com.cn"]
    for sid in ("AllowScopedEC2InstanceActionsWithTags", "AllowScopedResourceCreationTagging"):
        cond = statements[sid]["Condition"]
        assert cond["StringEquals"]["aws:RequestTag/kubernetes.io/cluster/chat"] == "owned"
        assert cond["StringLike"] == {"aws:RequestTag/karpenter.sh/nodepool": "*"}
    assert statements["AllowScopedDeletion"]["Condition"]["StringEquals"] == {
        "aws:ResourceTag/kubernetes.io/cluster/chat": "owned"
    }
    assert statements["AllowInterruptionQueueActions"]["Resource"] == SUBSTITUTIONS["KarpenterInterruptionQueue.Arn"]
    assert statements["AllowPricingReadActions"]["Action"] == "pricing:GetProducts"
    assert statements["AllowSSMReadActions"]["Resource"] == "arn:aws:ssm:us-east-1::parameter/aws/service/*"


def test_controller_policy_fits_a_roles_inline_policy_quota():
    # IAM counts characters without whitespace: 10,240 for a role's inline policies together.
    assert len(json.dumps(ours(), separators=(",", ":"))) < 10_240


def test_queue_policy_and_rules_reproduce_upstream():
    resources = upstream()
    queue = resources["KarpenterInterruptionQueue"]["Properties"]
    assert queue["MessageRetentionPeriod"] == 300 and queue["SqsManagedSseEnabled"] is True
    theirs = resources["KarpenterInterruptionQueuePolicy"]["Properties"]["PolicyDocument"]["Statement"]
    mine = iam.karpenter_interruption_queue_policy("QUEUE", ["RULE"])["Statement"]

    def same(stmt: dict[str, Any]) -> str:  # YAML reads `false` as a boolean; IAM takes the string
        kept = {k: v for k, v in stmt.items() if k in ("Effect", "Action", "Condition")}
        return json.dumps(kept, sort_keys=True).replace(": false", ': "false"')

    # The TLS deny is upstream's; the send statement is upstream's narrowed: EventBridge only (upstream also
    # names sqs.amazonaws.com), only from this account's rules (confused deputy).
    assert same(mine[1]) == same(theirs[1]) and mine[1]["Principal"] == theirs[1]["Principal"]
    assert (mine[0]["Effect"], mine[0]["Action"]) == (theirs[0]["Effect"], theirs[0]["Action"])
    assert mine[0]["Principal"] == {"Service": "events.amazonaws.com"}
    assert "events.amazonaws.com" in theirs[0]["Principal"]["Service"]
    assert mine[0]["Condition"]["ArnEquals"] == {"aws:SourceArn": ["RULE"]}
    patterns = [r["Properties"]["EventPattern"] for r in resources.values() if r["Type"] == "AWS::Events::Rule"]
    assert sorted(map(json.dumps, patterns)) == sorted(map(json.dumps, INTERRUPTION_RULES.values()))


# --- the plan ----------------------------------------------------------------------------------


def test_chart_is_pinned_with_its_crds_in_kube_system(dev: Plan):
    rel = release(dev)
    assert rel.inputs["chart"] == "oci://public.ecr.aws/karpenter/karpenter"
    assert rel.inputs["version"] == versions.KARPENTER_VERSION == "1.14.1"
    assert rel.inputs["namespace"] == "kube-system" and rel.inputs["name"] == "karpenter"
    assert rel.inputs["skipCrds"] is False


def test_chart_values_point_at_the_cluster_and_the_interruption_queue(dev: Plan):
    values = release(dev).inputs["values"]
    assert values["settings"]["clusterName"] == dev.outputs["clusterName"] == "inferentia-chat-dev"
    queue = dev.one(QUEUE)
    assert values["settings"]["interruptionQueue"] == queue.outputs["name"]  # the NAME, not the URL or ARN
    assert not values["settings"]["interruptionQueue"].startswith(("https:", "arn:"))


def test_controller_runs_on_system_nodes_with_requests(dev: Plan):
    values = release(dev).inputs["values"]
    assert SYSTEM_NODE_SELECTOR.items() <= values["nodeSelector"].items()
    resources = values["controller"]["resources"]
    assert set(resources["requests"]) == {"cpu", "memory"}
    assert resources["limits"]["memory"] == resources["requests"]["memory"]
    assert values["replicas"] == 2
    assert values["podDisruptionBudget"]["maxUnavailable"] == 1  # never a PDB that blocks drains


def test_controller_credentials_come_through_pod_identity(dev: Plan):
    assoc = dev.one("aws:eks/podIdentityAssociation:PodIdentityAssociation", "karpenter-controller")
    values = release(dev).inputs["values"]
    assert assoc.inputs["namespace"] == release(dev).inputs["namespace"]
    assert assoc.inputs["serviceAccount"] == values["serviceAccount"]["name"]
    assert assoc.inputs["clusterName"] == "inferentia-chat-dev"
    role = dev.one(ROLE, "karpenter-controller-role")
    assert assoc.inputs["roleArn"] == role.outputs["arn"]
    trust = dev.policy(role, "assumeRolePolicy")["Statement"][0]
    assert trust["Principal"] == {"Service": "pods.eks.amazonaws.com"}


def test_controller_policy_in_the_plan_names_this_queue_node_role_and_cluster(dev: Plan):
    policy = dev.policy(dev.one("aws:iam/rolePolicy:RolePolicy", "karpenter-controller-policy"))
    node_role, queue = dev.one(ROLE, "karpenter-node-role"), dev.one(QUEUE)
    expected = iam.karpenter_controller_policy(
        "aws", "us-east-1", "123456789012", "inferentia-chat-dev", queue.outputs["arn"], node_role.outputs["arn"]
    )
    assert policy == expected


def test_node_role_has_worker_ecr_and_ssm_but_no_cni_policy(dev: Plan):
    attached = {
        a.inputs["policyArn"].rsplit("/", 1)[-1]
        for a in dev.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
        if a.name.startswith("karpenter-node-")
    }
    assert attached == set(NODE_ROLE_POLICIES)
    assert "AmazonEKS_CNI_Policy" not in attached  # the VPC CNI has its own Pod Identity role
    trust = dev.policy(dev.one(ROLE, "karpenter-node-role"), "assumeRolePolicy")["Statement"][0]
    assert trust["Principal"] == {"Service": "ec2.amazonaws.com"}


def test_nodes_join_through_an_ec2_linux_access_entry(dev: Plan):
    entry = dev.one("aws:eks/accessEntry:AccessEntry", "karpenter-node-access")
    assert entry.inputs["type"] == "EC2_LINUX"
    assert entry.inputs["principalArn"] == dev.one(ROLE, "karpenter-node-role").outputs["arn"]


def test_interruption_queue_keeps_messages_5_minutes_encrypted_and_tls_only(dev: Plan):
    queue = dev.one(QUEUE)
    assert queue.inputs["messageRetentionSeconds"] == 300
    assert queue.inputs["sqsManagedSseEnabled"] is True
    qp = dev.one("aws:sqs/queuePolicy:QueuePolicy")
    assert qp.inputs["queueUrl"] == queue.outputs["url"]
    statements = {s["Sid"]: s for s in dev.policy(qp)["Statement"]}
    deny = statements["DenyHTTP"]
    assert deny["Effect"] == "Deny" and deny["Principal"] == "*" and deny["Action"] == "sqs:*"
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    send = statements["EventBridgeDeliversInterruptionEvents"]
    assert send["Principal"] == {"Service": "events.amazonaws.com"}
    assert send["Action"] == "sqs:SendMessage"
    # Confused deputy: only the five interruption rules of this account may send.
    rules = [r.outputs["arn"] for r in dev.of_type("aws:cloudwatch/eventRule:EventRule")]
    assert len(rules) == 5
    assert send["Condition"] == {"ArnEquals": {"aws:SourceArn": sorted(rules)}}
    assert all(":123456789012:rule/" in arn for arn in rules)  # the rules are this account's
    assert all(dev.depends(qp, r) for r in dev.of_type("aws:cloudwatch/eventRule:EventRule"))
    assert {s["Resource"] for s in statements.values()} == {queue.outputs["arn"]}


REQUIRED_EVENTS = {
    ("aws.health", "AWS Health Event"),
    ("aws.ec2", "EC2 Spot Instance Interruption Warning"),
    ("aws.ec2", "EC2 Instance Rebalance Recommendation"),
    ("aws.ec2", "EC2 Instance State-change Notification"),
}


def test_eventbridge_rules_send_interruption_events_to_the_queue(dev: Plan):
    queue = dev.one(QUEUE)
    rules = {r.outputs["name"]: json.loads(r.inputs["eventPattern"]) for r in dev.of_type(RULE)}
    events = {(p["source"][0], p["detail-type"][0]) for p in rules.values()}
    assert events >= REQUIRED_EVENTS
    assert len(rules) == len(INTERRUPTION_RULES) == 5  # upstream v1.14 adds capacity-reservation interruptions
    targets = {t.inputs["rule"]: t for t in dev.of_type(TARGET)}
    assert set(targets) == set(rules)  # every rule has a target
    assert {t.inputs["arn"] for t in targets.values()} == {queue.outputs["arn"]}


def test_release_waits_for_queue_rules_roles_and_cluster(dev: Plan):
    rel = release(dev)
    for type_, name in [
        ("aws:sqs/queuePolicy:QueuePolicy", None),
        (QUEUE, None),
        ("aws:iam/rolePolicy:RolePolicy", "karpenter-controller-policy"),
        ("aws:eks/podIdentityAssociation:PodIdentityAssociation", "karpenter-controller"),
        ("aws:eks/accessEntry:AccessEntry", "karpenter-node-access"),
        (ROLE, "karpenter-node-role"),
        ("eks:index:Cluster", None),
        ("aws:eks/nodeGroup:NodeGroup", None),
        ("aws:eks/addon:Addon", "eks-pod-identity-agent"),
    ]:
        assert dev.depends(rel, dev.one(type_, name)), f"the Karpenter release must wait for {type_} {name or ''}"
    for target in dev.of_type(TARGET):
        assert dev.depends(rel, target), target.name


def test_release_uses_the_clusters_kubernetes_provider(dev: Plan):
    (provider,) = dev.of_type("pulumi:providers:kubernetes")
    assert release(dev).provider.startswith(provider.urn + "::")


@pytest.mark.parametrize("type_", [QUEUE, RULE, ROLE, "aws:eks/accessEntry:AccessEntry"])
def test_karpenter_aws_resources_carry_the_common_tags(dev: Plan, type_: str):
    mine = [r for r in dev.of_type(type_) if r.name.startswith("karpenter-")]
    assert mine
    for r in mine:
        assert r.inputs["tags"]["component"] == "Karpenter", r.name
        assert r.inputs["tags"]["project"] == "inferentia-chat" and r.inputs["tags"]["stack"] == "dev", r.name


def test_the_dr_stack_has_no_karpenter(dev_dr: Plan):
    assert not dev_dr.of_type(RELEASE)
