"""The day-2 replace table covers every resource type the stacks create: each type of every shipped stack and
test variant has rules in offline/data/replace_rules.yaml (a new type without them fails here, by name), and a
sample change of each type covered from the provider's schema is classified as that schema says (a replace and
an update per family where the schema has both), starting from the inputs the program really registers."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from conftest import NO_COMPILE_HOST, Plan, plan_for

from offline.diff import decide, rules, rules_known


def _types(plans: list[Plan]) -> set[str]:
    return {r.type for p in plans for r in p.resources}


def test_every_type_the_stacks_create_has_replace_rules(all_plans: list[Plan]):
    plans = [*all_plans, plan_for("team"), plan_for("dev", **NO_COMPILE_HOST)]
    types = _types(plans)
    assert sum(t.startswith("aws:") for t in types) > 40 and any(t.startswith("random:") for t in types)
    missing = sorted(t for t in types if not rules_known(t))
    assert not missing, f"no replace rules in offline/data/replace_rules.yaml for {missing}: read the provider's schema"


def test_a_type_without_rules_is_reported_unknown():
    d = decide("aws:ec2/instance:Instance", {"instanceType": "m7i.large"}, {"instanceType": "m7i.xlarge"}, {})
    assert d.action == "update" and not d.rules_known


def test_every_schema_rule_names_its_source():
    for family in ("aws", "random"):
        for type_, entry in rules()[family].items():
            assert entry["file"].startswith(("internal/service/", "internal/provider/")), type_
            assert len(entry["commit"]) == 40 and entry["forceNew"] is not None, type_
    for type_, entry in rules()["pulumi"].items():
        assert entry["source"].startswith("pulumi/"), type_


def _set(inputs: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    out = copy.deepcopy(inputs)
    node = out
    *parents, last = path.split(".")
    for part in parents:
        node = node.setdefault(part, {})
    if value is None:
        node.pop(last, None)
    else:
        node[last] = value
    return out


POLICY = json.dumps({"Version": "2012-10-17", "Statement": []})
# (plan fixture, type, resource name or None for the first, {path: new value}, action, inputs forcing it)
CASES: list[tuple[str, str, str | None, dict[str, Any], str, list[str]]] = [
    # EventBridge
    ("dev", "aws:cloudwatch/eventRule:EventRule", None, {"eventPattern": '{"source": ["aws.ec2"]}'}, "update", []),
    ("dev", "aws:cloudwatch/eventRule:EventRule", None, {"name": "karpenter-other"}, "replace", ["name"]),
    ("dev", "aws:cloudwatch/eventTarget:EventTarget", None, {"arn": "arn:aws:sqs:us-east-1:1:q"}, "update", []),
    ("dev", "aws:cloudwatch/eventTarget:EventTarget", None, {"rule": "other-rule"}, "replace", ["rule"]),
    # CloudWatch alarms
    ("dev_dr", "aws:cloudwatch/metricAlarm:MetricAlarm", None, {"threshold": 1234}, "update", []),
    ("dev_dr", "aws:cloudwatch/metricAlarm:MetricAlarm", None, {"alarmName": "other"}, "replace", ["alarmName"]),
    # Cognito
    ("dev_cognito", "aws:cognito/userPool:UserPool", None, {"mfaConfiguration": "OPTIONAL"}, "update", []),
    (
        "dev_cognito",
        "aws:cognito/userPool:UserPool",
        None,
        {"usernameAttributes": ["phone_number"]},
        "replace",
        ["usernameAttributes"],
    ),
    (
        "dev_cognito",
        "aws:cognito/userPool:UserPool",
        None,
        {"usernameConfiguration.caseSensitive": False},
        "replace",
        ["usernameConfiguration"],
    ),
    (
        "dev_cognito",
        "aws:cognito/userPoolClient:UserPoolClient",
        None,
        {"callbackUrls": ["https://chat2.example.com/oauth/oidc/callback"]},
        "update",
        [],
    ),
    (
        "dev_cognito",
        "aws:cognito/userPoolClient:UserPoolClient",
        None,
        {"generateSecret": False},
        "replace",
        ["generateSecret"],
    ),
    ("dev_cognito", "aws:cognito/userPoolDomain:UserPoolDomain", None, {"domain": "chat-other"}, "replace", ["domain"]),
    ("dev_cognito", "aws:cognito/userGroup:UserGroup", None, {"description": "admins"}, "update", []),
    ("dev_cognito", "aws:cognito/userGroup:UserGroup", None, {"name": "operators"}, "replace", ["name"]),
    # VPC flow log, launch template, security group rules
    ("dev", "aws:ec2/flowLog:FlowLog", None, {"tags.owner": "platform"}, "update", []),
    ("dev", "aws:ec2/flowLog:FlowLog", None, {"trafficType": "REJECT"}, "replace", ["trafficType"]),
    ("dev", "aws:ec2/flowLog:FlowLog", None, {"maxAggregationInterval": 60}, "replace", ["maxAggregationInterval"]),
    (
        "dev",
        "aws:ec2/launchTemplate:LaunchTemplate",
        "cluster-system-lt",
        {"metadataOptions.httpPutResponseHopLimit": 2},
        "update",
        [],
    ),
    ("dev", "aws:ec2/launchTemplate:LaunchTemplate", "cluster-system-lt", {"name": "other"}, "replace", ["name"]),
    ("dev", "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", None, {"description": "x"}, "update", []),
    (
        "dev",
        "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
        None,
        {"securityGroupId": "sg-0123456789abcdef0"},
        "replace",
        ["securityGroupId"],
    ),
    (
        "dev",
        "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
        None,
        {"referencedSecurityGroupId": None, "cidrIpv4": "10.0.0.0/16"},
        "replace",
        ["cidrIpv4", "referencedSecurityGroupId"],
    ),
    ("dev", "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule", None, {"toPort": 1023}, "update", []),
    (
        "dev",
        "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule",
        None,
        {"referencedSecurityGroupId": None, "prefixListId": "pl-0123456789abcdef0"},
        "replace",
        ["prefixListId", "referencedSecurityGroupId"],
    ),
    # IAM
    ("dev", "aws:iam/instanceProfile:InstanceProfile", None, {"role": "other-role"}, "update", []),
    ("dev", "aws:iam/instanceProfile:InstanceProfile", None, {"path": "/compile/"}, "replace", ["path"]),
    ("dev", "aws:iam/rolePolicy:RolePolicy", None, {"policy": POLICY}, "update", []),
    ("dev", "aws:iam/rolePolicy:RolePolicy", None, {"role": "other-role"}, "replace", ["role"]),
    (
        "dev",
        "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
        None,
        {"policyArn": "arn:aws:iam::aws:policy/ReadOnlyAccess"},
        "replace",
        ["policyArn"],
    ),
    # S3 bucket configurations
    (
        "dev",
        "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
        None,
        {"rules": [{"id": "r", "status": "Enabled"}]},
        "update",
        [],
    ),
    (
        "dev",
        "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
        None,
        {"bucket": "b"},
        "replace",
        ["bucket"],
    ),
    (
        "dev",
        "aws:s3/bucketOwnershipControls:BucketOwnershipControls",
        None,
        {"rule.objectOwnership": "BucketOwnerPreferred"},
        "update",
        [],
    ),
    ("dev", "aws:s3/bucketOwnershipControls:BucketOwnershipControls", None, {"bucket": "b"}, "replace", ["bucket"]),
    ("dev", "aws:s3/bucketPolicy:BucketPolicy", None, {"policy": POLICY}, "update", []),
    ("dev", "aws:s3/bucketPolicy:BucketPolicy", None, {"bucket": "b"}, "replace", ["bucket"]),
    ("dev", "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", None, {"blockPublicAcls": False}, "update", []),
    ("dev", "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", None, {"bucket": "b"}, "replace", ["bucket"]),
    (
        "dev",
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        None,
        {"rules": [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256"}}]},
        "update",
        [],
    ),
    (
        "dev",
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        None,
        {"bucket": "b"},
        "replace",
        ["bucket"],
    ),
    (
        "dev",
        "aws:s3/bucketVersioning:BucketVersioning",
        None,
        {"versioningConfiguration.status": "Suspended"},
        "update",
        [],
    ),
    ("dev", "aws:s3/bucketVersioning:BucketVersioning", None, {"bucket": "b"}, "replace", ["bucket"]),
    # SNS and SQS
    ("dev", "aws:sns/topic:Topic", None, {"kmsMasterKeyId": "alias/other"}, "update", []),
    ("dev", "aws:sns/topic:Topic", None, {"fifoTopic": True}, "replace", ["fifoTopic"]),
    ("dev", "aws:sns/topicPolicy:TopicPolicy", None, {"policy": POLICY}, "update", []),
    ("dev", "aws:sns/topicPolicy:TopicPolicy", None, {"arn": "arn:aws:sns:us-east-1:1:t"}, "replace", ["arn"]),
    ("dev_dr_alarms", "aws:sns/topicSubscription:TopicSubscription", None, {"rawMessageDelivery": True}, "update", []),
    (
        "dev_dr_alarms",
        "aws:sns/topicSubscription:TopicSubscription",
        None,
        {"endpoint": "other@example.com"},
        "replace",
        ["endpoint"],
    ),
    ("dev", "aws:sqs/queuePolicy:QueuePolicy", None, {"policy": POLICY}, "update", []),
    ("dev", "aws:sqs/queuePolicy:QueuePolicy", None, {"queueUrl": "https://sqs/q"}, "replace", ["queueUrl"]),
    # pulumi-random: every argument of these two replaces (a new value); nothing updates in place
    ("dev_cognito", "random:index/randomId:RandomId", None, {"byteLength": 8}, "replace", ["byteLength"]),
    ("dev", "random:index/randomPassword:RandomPassword", "vllm-api-key", {"length": 200}, "replace", ["length"]),
    ("dev", "random:index/randomPassword:RandomPassword", "vllm-api-key", {"special": True}, "replace", ["special"]),
    # Helm releases, the Kubernetes provider, stack references
    ("dev", "kubernetes:helm.sh/v3:Release", None, {"values.replicaCount": 3}, "update", []),
    ("dev", "kubernetes:helm.sh/v3:Release", None, {"namespace": "other"}, "replace", ["namespace"]),
    ("dev", "pulumi:providers:kubernetes", None, {"enableServerSideApply": "false"}, "update", []),
    (
        "dev_dr",
        "pulumi:pulumi:StackReference",
        None,
        {"name": "organization/inferentia-chat/prod"},
        "replace",
        ["name"],
    ),
]


@pytest.mark.parametrize(
    ("plan", "type_", "name", "change", "action", "because"),
    CASES,
    ids=[f"{c[1].rsplit(':', 1)[-1]}-{'+'.join(c[3])}" for c in CASES],
)
def test_a_sample_change_is_classified_as_the_schema_says(
    request: pytest.FixtureRequest,
    plan: str,
    type_: str,
    name: str | None,
    change: dict[str, Any],
    action: str,
    because: list[str],
):
    p: Plan = request.getfixturevalue(plan)
    rec = p.one(type_, name) if name else p.of_type(type_)[0]
    new = rec.inputs
    for path, value in change.items():
        new = _set(new, path, value)
    d = decide(type_, rec.inputs, new, {})
    assert d.rules_known and d.changed, (rec.name, d)
    assert d.action == action, (rec.name, d)
    assert [p.split(".")[0] for p in d.replace_because] == because, (rec.name, d)


def test_the_kubernetes_provider_is_replaced_when_its_cluster_changes(dev: Plan):
    """pulumi-kubernetes DiffConfig: another active cluster in the kubeconfig replaces the provider (and so every
    object it manages); the same cluster with other settings is an update."""
    rec = dev.one("pulumi:providers:kubernetes")
    config = json.loads(rec.inputs["kubeconfig"])
    moved = copy.deepcopy(config)
    moved["clusters"][0]["cluster"]["server"] = "https://0123456789ABCDEF.gr7.us-east-1.eks.amazonaws.com"
    d = decide(rec.type, rec.inputs, {**rec.inputs, "kubeconfig": json.dumps(moved)}, {})
    assert d.action == "replace" and d.replace_because == ["kubeconfig"]
    renamed = copy.deepcopy(config)
    renamed["users"][0]["user"]["exec"]["env"] = []
    assert decide(rec.type, rec.inputs, {**rec.inputs, "kubeconfig": json.dumps(renamed)}, {}).action == "update"
