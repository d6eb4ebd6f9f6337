"""LoadBalancerController: installed with the ALB exposures only, pinned, with its upstream policy via Pod Identity."""

from __future__ import annotations

import json

from conftest import Plan

from inferentia_chat import iam, versions
from inferentia_chat.load_balancer_controller import SERVICE_ACCOUNT
from inferentia_chat.system_node_group import SYSTEM_NODE_SELECTOR

RELEASE = "kubernetes:helm.sh/v3:Release"
ROLE = "aws:iam/role:Role"


def test_not_installed_without_an_alb(dev: Plan):
    assert not [r for r in dev.resources if r.name.startswith("lb-controller")]


def test_pinned_chart_from_eks_charts(dev_alb: Plan):
    release = dev_alb.one(RELEASE, "lb-controller-release")
    assert release.inputs["chart"] == "aws-load-balancer-controller"
    assert release.inputs["version"] == versions.LOAD_BALANCER_CONTROLLER_CHART_VERSION == "3.5.0"
    assert release.inputs["repositoryOpts"] == {"repo": "https://aws.github.io/eks-charts"}
    assert release.inputs["namespace"] == "kube-system"
    assert release.inputs["name"] == "aws-load-balancer-controller"
    (provider,) = dev_alb.of_type("pulumi:providers:kubernetes")
    assert release.provider and release.provider.startswith(provider.urn + "::")  # the cluster's provider


def test_values_point_at_this_cluster_and_run_on_system_nodes(dev_alb: Plan):
    values = dev_alb.one(RELEASE, "lb-controller-release").inputs["values"]
    assert values["clusterName"] == "inferentia-chat-dev"
    assert values["region"] == "us-east-1"
    assert values["vpcId"] == dev_alb.outputs["vpcId"]
    assert values["serviceAccount"] == {"create": True, "name": "aws-load-balancer-controller"}
    assert values["replicaCount"] == 2
    assert values["nodeSelector"] == SYSTEM_NODE_SELECTOR
    assert values["resources"]["requests"] and values["resources"]["limits"]["memory"]
    assert values["podDisruptionBudget"] == {"maxUnavailable": 1}
    assert values["enableServiceMutatorWebhook"] is False
    assert values["defaultTags"]["project"] == "inferentia-chat"


def test_pod_identity_role_holds_the_upstream_policy(dev_alb: Plan):
    role = dev_alb.one(ROLE, "lb-controller-role")
    trust = dev_alb.policy(role, "assumeRolePolicy")["Statement"][0]
    assert trust["Principal"] == {"Service": "pods.eks.amazonaws.com"}
    assert trust["Condition"]["StringEquals"]["aws:RequestTag/kubernetes-service-account"] == SERVICE_ACCOUNT
    policy = dev_alb.one("aws:iam/rolePolicy:RolePolicy", "lb-controller-policy")
    vpc = dev_alb.outputs["vpcId"]
    assert dev_alb.policy(policy) == iam.aws_load_balancer_controller_policy("aws", "us-east-1", "123456789012", vpc)
    assoc = dev_alb.one("aws:eks/podIdentityAssociation:PodIdentityAssociation", "lb-controller-pod-identity")
    assert assoc.inputs["namespace"] == "kube-system"
    assert assoc.inputs["serviceAccount"] == "aws-load-balancer-controller"
    assert assoc.inputs["roleArn"] == role.outputs["arn"]
    assert assoc.inputs["clusterName"] == "inferentia-chat-dev"


def test_the_controller_starts_with_credentials_on_running_nodes(dev_alb: Plan):
    release = dev_alb.one(RELEASE, "lb-controller-release")
    assoc = dev_alb.one("aws:eks/podIdentityAssociation:PodIdentityAssociation", "lb-controller-pod-identity")
    assert dev_alb.depends(release, assoc)
    assert dev_alb.depends(release, dev_alb.one("aws:iam/rolePolicy:RolePolicy", "lb-controller-policy"))
    assert dev_alb.depends(release, dev_alb.one("aws:eks/nodeGroup:NodeGroup"))
    (agent,) = [a for a in dev_alb.of_type("aws:eks/addon:Addon") if a.inputs["addonName"] == "eks-pod-identity-agent"]
    assert dev_alb.depends(release, agent)


def test_policy_creates_and_deletes_only_what_carries_the_cluster_tag():
    policy = iam.aws_load_balancer_controller_policy("aws-us-gov", "us-gov-west-1", "123456789012", "vpc-0abc")
    statements = policy["Statement"]
    assert len(statements) == 16
    # Upstream v3.5.0 has 86 actions; the 13 WAF, WAFv2 and Shield ones (and SetWebAcl) are left out.
    assert sum(len(s["Action"]) for s in statements) == 86 - 13
    for s in statements:
        actions = s["Action"]
        destructive = [a for a in actions if a.split(":")[1].startswith(("Delete", "Modify", "Set"))]
        if "ec2:DeleteSecurityGroup" in actions or "elasticloadbalancing:DeleteLoadBalancer" in actions:
            assert s["Condition"]["Null"]["aws:ResourceTag/elbv2.k8s.aws/cluster"] == "false", destructive
        if "elasticloadbalancing:CreateLoadBalancer" in actions:
            assert s["Condition"]["Null"]["aws:RequestTag/elbv2.k8s.aws/cluster"] == "false"
    resources = json.dumps(policy)
    assert "arn:aws-us-gov:elasticloadbalancing" in resources and "arn:aws:" not in resources


def test_security_group_writes_stay_in_the_clusters_vpc():
    policy = iam.aws_load_balancer_controller_policy("aws", "us-east-1", "123456789012", "vpc-0abc")
    vpc = "arn:aws:ec2:us-east-1:123456789012:vpc/vpc-0abc"
    groups = "arn:aws:ec2:us-east-1:123456789012:security-group/*"
    for s in policy["Statement"]:
        if s["Action"] == ["ec2:AuthorizeSecurityGroupIngress", "ec2:RevokeSecurityGroupIngress"]:
            # Upstream's unconditioned statement, narrowed as its installation guide recommends.
            assert s["Resource"] == groups and s["Condition"] == {"ArnEquals": {"ec2:Vpc": vpc}}
        if "ec2:CreateSecurityGroup" in s["Action"]:
            assert s["Resource"] == [vpc, groups]
        assert s["Resource"] != "*" or not any(
            a.startswith("ec2:") and "SecurityGroup" in a
            for a in s["Action"]
            if not a.startswith("ec2:Describe") and not a.startswith("ec2:Get")
        )


def test_no_waf_or_shield_in_the_policy_or_the_controller(dev_alb: Plan):
    policy = json.dumps(iam.aws_load_balancer_controller_policy("aws", "us-east-1", "123456789012", "vpc-0abc"))
    assert not any(word in policy for word in ("waf-regional:", "wafv2:", "shield:", "SetWebAcl"))
    values = dev_alb.one(RELEASE, "lb-controller-release").inputs["values"]
    assert values["enableWaf"] is False and values["enableWafv2"] is False and values["enableShield"] is False
