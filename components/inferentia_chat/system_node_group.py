"""The EKS cluster's managed system node group: controllers, the web UI and the one-off Jobs run here."""

from collections.abc import Mapping, Sequence
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_eks as eks

from . import versions
from .common.node_role import ec2_node_role

# Label on the system nodes; controllers and the web UI select it, inference pods never do.
SYSTEM_NODE_LABEL = "inferentia-chat.io/pool"
SYSTEM_NODE_SELECTOR = {SYSTEM_NODE_LABEL: "system"}


def system_ami_type(instance_type: str) -> str:
    """AL2023 AMI type of the managed node group for the instance's architecture."""
    family = instance_type.split(".")[0]
    graviton = len(family) > 2 and "g" in family[2:].rstrip("dnex")
    return versions.SYSTEM_NODE_AMI_TYPE_ARM if graviton else versions.SYSTEM_NODE_AMI_TYPE_X86


def system_node_group(
    name: str,
    args: Mapping[str, Any],
    cluster: eks.Cluster,
    eks_name: pulumi.Input[str],
    tags: Mapping[str, str],
    partition: str,
    *,
    parent: pulumi.Resource,
    depends_on: Sequence[pulumi.Resource],
) -> aws.eks.NodeGroup:
    """The node role (no CNI policy: the VPC CNI has its own Pod Identity role), its launch template (IMDSv2,
    encrypted gp3 root) and the managed node group, after the add-ons it needs (`depends_on`)."""
    cluster_name, version = args["cluster_name"], args["kubernetes_version"]
    child = pulumi.ResourceOptions(parent=parent)
    # No CNI policy here: the VPC CNI has its own Pod Identity role.
    node_role, attachments = ec2_node_role(
        f"{name}-system-node",
        description=f"{cluster_name}: managed system nodes",
        policies=("AmazonEKSWorkerNodePolicy", "AmazonEC2ContainerRegistryPullOnly", "AmazonSSMManagedInstanceCore"),
        partition=partition,
        tags=tags,
        opts=child,
    )
    launch_template = aws.ec2.LaunchTemplate(
        f"{name}-system-lt",
        description=f"{cluster_name}: system nodes",
        vpc_security_group_ids=[cluster.node_security_group_id],
        block_device_mappings=[
            aws.ec2.LaunchTemplateBlockDeviceMappingArgs(
                device_name="/dev/xvda",
                ebs=aws.ec2.LaunchTemplateBlockDeviceMappingEbsArgs(
                    volume_size=50,
                    volume_type="gp3",
                    # Root volumes use the account's EBS encryption key: a customer key would need
                    # the Auto Scaling service-linked role in its policy, which a new account may
                    # not have yet. They hold images and logs only; data volumes use volume_key.
                    encrypted="true",
                    delete_on_termination="true",
                ),
            )
        ],
        metadata_options=aws.ec2.LaunchTemplateMetadataOptionsArgs(
            http_endpoint="enabled",
            http_tokens="required",
            # 1: IMDS answers the node itself and host-network pods (VPC CNI, kube-proxy, the Pod
            # Identity agent), never a pod with its own network namespace, so no pod can take the node
            # role's credentials. Every controller on these nodes gets AWS access through Pod Identity
            # and its region from its configuration (Karpenter: AWS_REGION; load balancer controller:
            # region and vpcId values); the EBS and FSx CSI drivers fall back from IMDS to the
            # Kubernetes API (aws-ebs-csi-driver pkg/cloud/metadata/metadata.go DefaultMetadataSources
            # imds,kubernetes; aws-fsx-csi-driver pkg/cloud/metadata.go). Same as the inference nodes
            # (Karpenter's EC2NodeClass default).
            http_put_response_hop_limit=1,
        ),
        tag_specifications=[
            aws.ec2.LaunchTemplateTagSpecificationArgs(resource_type=t, tags=tags)
            for t in ("instance", "volume", "network-interface")
        ],
        tags=tags,
        opts=child,
    )
    count, max_count = args["system_node_count"], args["system_node_max_count"]
    return aws.eks.NodeGroup(
        f"{name}-system",
        cluster_name=eks_name,
        node_role_arn=node_role.arn,
        subnet_ids=args["private_subnet_ids"],
        instance_types=[args["system_node_type"]],
        capacity_type="ON_DEMAND",
        ami_type=system_ami_type(args["system_node_type"]),
        version=version,
        scaling_config=aws.eks.NodeGroupScalingConfigArgs(desired_size=count, min_size=count, max_size=max_count),
        update_config=aws.eks.NodeGroupUpdateConfigArgs(max_unavailable=1),
        launch_template=aws.eks.NodeGroupLaunchTemplateArgs(
            id=launch_template.id, version=launch_template.latest_version.apply(str)
        ),
        labels=SYSTEM_NODE_SELECTOR,
        tags=tags,
        opts=pulumi.ResourceOptions(
            parent=parent,
            depends_on=[*attachments, *depends_on],
            # The autoscaler-free group keeps its size; ignore drift from manual scaling events.
            ignore_changes=["scalingConfig.desiredSize"],
        ),
    )
