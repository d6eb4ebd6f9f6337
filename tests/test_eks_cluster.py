"""EksCluster: the control plane, system nodes, add-ons and the one Kubernetes provider."""

from __future__ import annotations

import json

import pytest
from conftest import Plan, plan_for

from inferentia_chat import versions
from inferentia_chat.eks_cluster import ADDONS
from inferentia_chat.system_node_group import SYSTEM_NODE_SELECTOR, system_ami_type

CLUSTER = "eks:index:Cluster"
ADDON = "aws:eks/addon:Addon"
ROLE = "aws:iam/role:Role"
KEY = "aws:kms/key:Key"
CL = "inferentia-chat:cluster"
ADMIN = "arn:aws:iam::123456789012:role/platform-admin"


def addon(plan: Plan, name: str):
    (found,) = [a for a in plan.of_type(ADDON) if a.inputs["addonName"] == name]
    return found


def test_cluster_uses_access_entries_and_encrypts_secrets_with_a_rotating_customer_key(dev: Plan):
    cluster = dev.one(CLUSTER)
    assert cluster.inputs["authenticationMode"] == "API"
    assert cluster.inputs["name"] == "inferentia-chat-dev"
    assert cluster.inputs["version"] == versions.KUBERNETES_VERSION
    key = dev.one(KEY, "secrets-key")
    assert key.inputs["enableKeyRotation"] is True
    assert cluster.inputs["encryptionConfigKeyArn"] == key.outputs["arn"]
    assert key.urn in cluster.dependencies


def test_control_plane_logs_are_audited_kept_and_encrypted(dev: Plan):
    cluster = dev.one(CLUSTER)
    assert set(cluster.inputs["enabledClusterLogTypes"]) == {"api", "audit", "authenticator"}
    group = dev.one("aws:cloudwatch/logGroup:LogGroup", "control-plane-logs")
    assert group.inputs["name"] == "/aws/eks/inferentia-chat-dev/cluster"  # the group EKS writes to
    assert group.inputs["retentionInDays"] == 365
    assert group.inputs["kmsKeyId"] == cluster.inputs["encryptionConfigKeyArn"]
    assert group.urn in cluster.dependencies  # exists before EKS would create its own
    statements = dev.policy(dev.one(KEY, "secrets-key"))["Statement"]
    (logs,) = [s for s in statements if s["Sid"] == "CloudWatchLogsUseKey"]
    assert logs["Principal"] == {"Service": "logs.us-east-1.amazonaws.com"}
    assert logs["Condition"]["StringEquals"]["kms:EncryptionContext:aws:logs:arn"] == (
        "arn:aws:logs:us-east-1:123456789012:log-group:/aws/eks/inferentia-chat-dev/cluster"
    )


def test_endpoint_is_private_by_default():
    cluster = plan_for(**{CL: {}}).one(CLUSTER)
    assert cluster.inputs["endpointPrivateAccess"] is True
    assert cluster.inputs["endpointPublicAccess"] is False
    assert "publicAccessCidrs" not in cluster.inputs


def test_dev_public_endpoint_is_limited_to_its_cidrs(dev: Plan):
    cluster = dev.one(CLUSTER)
    assert cluster.inputs["endpointPrivateAccess"] is True
    assert cluster.inputs["endpointPublicAccess"] is True
    assert cluster.inputs["publicAccessCidrs"] == ["203.0.113.0/24"]


def test_nodes_are_private_and_only_come_from_our_groups(dev: Plan):
    cluster = dev.one(CLUSTER)
    assert cluster.inputs["nodeAssociatePublicIpAddress"] is False
    assert cluster.inputs["skipDefaultNodeGroup"] is True
    assert cluster.inputs["privateSubnetIds"] == dev.outputs["privateSubnetIds"]
    assert cluster.inputs["nodeSecurityGroupTags"] == {"karpenter.sh/discovery": "inferentia-chat-dev"}
    assert cluster.inputs["createOidcProvider"] is False  # Pod Identity, not IRSA


def test_admin_roles_get_cluster_admin_access_entries():
    cluster = plan_for(**{CL: {"adminRoleArns": [ADMIN]}}).one(CLUSTER)
    (entry,) = cluster.inputs["accessEntries"].values()
    assert entry["principalArn"] == ADMIN
    (policy,) = entry["accessPolicies"].values()
    assert policy["policyArn"] == "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
    assert policy["accessScope"] == {"type": "cluster"}


def test_system_node_group_is_small_on_demand_private_and_labelled(dev: Plan):
    group = dev.one("aws:eks/nodeGroup:NodeGroup")
    assert group.inputs["capacityType"] == "ON_DEMAND"
    assert group.inputs["instanceTypes"] == ["m7i.large"]
    assert group.inputs["amiType"] == "AL2023_x86_64_STANDARD"
    assert group.inputs["scalingConfig"] == {"desiredSize": 2, "minSize": 2, "maxSize": 4}
    assert group.inputs["subnetIds"] == dev.outputs["privateSubnetIds"]
    assert group.inputs["labels"] == SYSTEM_NODE_SELECTOR
    assert group.inputs["version"] == versions.KUBERNETES_VERSION


def test_system_nodes_require_imdsv2_and_encrypted_gp3_roots(dev: Plan):
    lt = dev.one("aws:ec2/launchTemplate:LaunchTemplate", "cluster-system-lt")
    assert lt.inputs["metadataOptions"]["httpTokens"] == "required"
    # Hop limit 1: IMDS answers the node and host-network pods only, so no pod reaches the node role.
    assert lt.inputs["metadataOptions"]["httpPutResponseHopLimit"] == 1
    (disk,) = lt.inputs["blockDeviceMappings"]
    assert disk["ebs"]["encrypted"] == "true" and disk["ebs"]["volumeType"] == "gp3"
    assert lt.inputs["vpcSecurityGroupIds"] == [dev.outputs["nodeSecurityGroupId"]]
    group = dev.one("aws:eks/nodeGroup:NodeGroup")
    assert group.inputs["launchTemplate"]["id"].startswith("lt-")


def test_system_node_role_is_minimal(dev: Plan):
    attached = {
        a.inputs["policyArn"].rsplit("/", 1)[-1]
        for a in dev.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
        if "system-node" in a.name
    }
    assert attached == {
        "AmazonEKSWorkerNodePolicy",
        "AmazonEC2ContainerRegistryPullOnly",
        "AmazonSSMManagedInstanceCore",
    }
    trust = dev.policy(dev.one(ROLE, "system-node-role"), "assumeRolePolicy")
    assert trust["Statement"][0]["Principal"] == {"Service": "ec2.amazonaws.com"}


def test_every_addon_is_managed_and_pinned(dev: Plan):
    pinned = versions.ADDON_VERSIONS[versions.KUBERNETES_VERSION]
    names = {a.inputs["addonName"]: a.inputs["addonVersion"] for a in dev.of_type(ADDON)}
    assert names == pinned
    assert set(names) == {
        "vpc-cni",
        "eks-pod-identity-agent",
        "coredns",
        "kube-proxy",
        "aws-ebs-csi-driver",
        "aws-fsx-csi-driver",
    }
    assert dev.one(CLUSTER).inputs["bootstrapSelfManagedAddons"] is False


def test_fsx_csi_node_plugin_keeps_tolerating_the_inferentia_taint(dev: Plan):
    # The node plugin must run on the tainted inf2 nodes to mount the model there; its default
    # tolerates all taints, and no configuration may narrow it.
    config = json.loads(addon(dev, "aws-fsx-csi-driver").inputs.get("configurationValues") or "{}")
    node = config.get("node", {})
    assert node.get("tolerateAllTaints", True) is True and "tolerations" not in node


def test_vpc_cni_enforces_network_policies(dev: Plan):
    config = json.loads(addon(dev, "vpc-cni").inputs["configurationValues"])
    assert config == {"enableNetworkPolicy": "true"}


@pytest.mark.parametrize(
    ("name", "service_account", "managed"),
    [
        ("vpc-cni", "aws-node", {"AmazonEKS_CNI_Policy"}),
        ("aws-ebs-csi-driver", "ebs-csi-controller-sa", {"AmazonEBSCSIDriverPolicy"}),
        ("aws-fsx-csi-driver", "fsx-csi-controller-sa", set()),
    ],
)
def test_addons_with_aws_access_have_their_own_pod_identity_role(dev: Plan, name, service_account, managed):
    a = addon(dev, name)
    (assoc,) = a.inputs["podIdentityAssociations"]
    assert assoc["serviceAccount"] == service_account
    role = dev.one(ROLE, f"{name}-role")
    assert assoc["roleArn"] == role.outputs["arn"]
    trust = dev.policy(role, "assumeRolePolicy")["Statement"][0]
    assert trust["Principal"] == {"Service": "pods.eks.amazonaws.com"}
    assert trust["Action"] == ["sts:AssumeRole", "sts:TagSession"]
    attached = {
        p.inputs["policyArn"].rsplit("/", 1)[-1]
        for p in dev.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
        if p.name.startswith(f"cluster-{name}-")
    }
    assert attached == managed
    assert dev.depends(a, dev.one(ADDON, "eks-pod-identity-agent"))  # credentials need the agent


def test_addons_without_aws_access_have_no_role(dev: Plan):
    for name in ("coredns", "kube-proxy", "eks-pod-identity-agent"):
        assert "podIdentityAssociations" not in addon(dev, name).inputs
    roles = {r.name for r in dev.of_type(ROLE) if r.name.startswith("cluster-")}
    assert roles == {
        "cluster-vpc-cni-role",
        "cluster-aws-ebs-csi-driver-role",
        "cluster-aws-fsx-csi-driver-role",
        "cluster-system-node-role",
    }


def test_ebs_csi_may_use_only_the_volume_key(dev: Plan):
    key = dev.one(KEY, "volume-key")
    policy = dev.policy(dev.one("aws:iam/rolePolicy:RolePolicy", "aws-ebs-csi-driver-policy"))
    assert {s["Resource"] for s in policy["Statement"]} == {key.outputs["arn"]}
    grant = policy["Statement"][0]
    assert grant["Condition"] == {"Bool": {"kms:GrantIsForAWSResource": "true"}}


def test_fsx_csi_role_cannot_create_or_delete_file_systems(dev: Plan):
    policy = dev.policy(dev.one("aws:iam/rolePolicy:RolePolicy", "aws-fsx-csi-driver-policy"))
    actions = {a for s in policy["Statement"] for a in s["Action"]}
    assert actions == {"fsx:DescribeFileSystems"}


def test_daemonsets_come_before_nodes_and_deployments_after(dev: Plan):
    group = dev.one("aws:eks/nodeGroup:NodeGroup")
    for spec in ADDONS:
        a = addon(dev, spec.name)
        if spec.before_nodes:
            assert dev.depends(group, a), f"node group must wait for {spec.name}"
        else:
            assert dev.depends(a, group), f"{spec.name} must wait for the node group"


def test_one_kubernetes_provider_from_the_cluster_serves_every_kubernetes_resource(dev: Plan):
    (provider,) = dev.of_type("pulumi:providers:kubernetes")
    assert dev.one(CLUSTER).urn in provider.dependencies
    kube = [r for r in dev.resources if r.type.startswith("kubernetes:")]
    assert kube
    for r in kube:
        assert r.provider is not None and r.provider.startswith(provider.urn + "::"), r.name


def test_default_storage_class_is_encrypted_gp3_with_the_volume_key(dev: Plan):
    (sc,) = dev.k8s("StorageClass", "gp3-encrypted")
    assert sc["metadata"]["annotations"]["storageclass.kubernetes.io/is-default-class"] == "true"
    assert sc["provisioner"] == "ebs.csi.aws.com"
    assert sc["parameters"]["type"] == "gp3" and sc["parameters"]["encrypted"] == "true"
    assert sc["parameters"]["kmsKeyId"] == dev.one(KEY, "volume-key").outputs["arn"]
    assert sc["volumeBindingMode"] == "WaitForFirstConsumer"
    record = dev.one("kubernetes:storage.k8s.io/v1:StorageClass", "cluster-gp3")
    assert dev.depends(record, addon(dev, "aws-ebs-csi-driver"))


TAGGABLE = ("aws:kms/key:Key", ROLE, ADDON, "aws:eks/nodeGroup:NodeGroup", "aws:ec2/launchTemplate:LaunchTemplate")


def test_every_aws_resource_carries_the_common_tags(dev: Plan):
    (component,) = dev.of_type("inferentia-chat:index:EksCluster")
    for r in dev.resources:
        if component not in dev.ancestors(r):
            continue
        if r.type in TAGGABLE or r.type in (CLUSTER, "aws:cloudwatch/logGroup:LogGroup"):
            tags = r.inputs["tags"]
            assert tags["project"] == "inferentia-chat", r.name
            assert tags["stack"] == "dev", r.name
            assert tags["component"] == "EksCluster", r.name


def test_graviton_system_nodes_get_the_arm_ami():
    assert system_ami_type("m7g.large") == "AL2023_ARM_64_STANDARD"
    assert system_ami_type("c7gn.xlarge") == "AL2023_ARM_64_STANDARD"
    assert system_ami_type("m7i.large") == "AL2023_x86_64_STANDARD"
    assert system_ami_type("m6a.large") == "AL2023_x86_64_STANDARD"


def test_controllers_on_system_nodes_need_no_instance_metadata(dev: Plan, dev_alb: Plan):
    """With hop limit 1 a pod cannot read IMDS: every AWS-facing controller on the system nodes gets its
    credentials from Pod Identity and its region (and VPC) from its configuration."""
    karpenter = dev.one("kubernetes:helm.sh/v3:Release", "karpenter-chart").inputs["values"]
    assert {"name": "AWS_REGION", "value": "us-east-1"} in karpenter["controller"]["env"]
    lbc = dev_alb.one("kubernetes:helm.sh/v3:Release", "lb-controller-release").inputs["values"]
    assert lbc["region"] == "us-east-1" and lbc["vpcId"] == dev_alb.outputs["vpcId"]
    associated = {
        a.inputs["serviceAccount"] for a in dev_alb.of_type("aws:eks/podIdentityAssociation:PodIdentityAssociation")
    }
    associated |= {
        a["serviceAccount"]
        for addon in dev_alb.of_type("aws:eks/addon:Addon")
        for a in addon.inputs.get("podIdentityAssociations") or []
    }
    assert {
        "karpenter",
        "aws-load-balancer-controller",
        "aws-node",
        "ebs-csi-controller-sa",
        "fsx-csi-controller-sa",
    } <= associated
