"""EksCluster: the control plane (pulumi-eks), a small system node group and the EKS add-ons."""

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NotRequired, TypedDict

import pulumi
import pulumi_aws as aws
import pulumi_eks as eks
import pulumi_kubernetes as k8s

from . import iam, versions
from .blocks import customer_key
from .common.pod_identity import pod_identity_role
from .tags import component_tags

TYPE = "inferentia-chat:index:EksCluster"

# Label on the system nodes; controllers and the web UI select it, inference pods never do.
SYSTEM_NODE_LABEL = "inferentia-chat.io/pool"
SYSTEM_NODE_SELECTOR = {SYSTEM_NODE_LABEL: "system"}
STORAGE_CLASS = "gp3-encrypted"
CLUSTER_ADMIN_POLICY = "cluster-access-policy/AmazonEKSClusterAdminPolicy"
# Where EKS installs the managed add-ons' controllers (and so their service accounts).
ADDON_NAMESPACE = "kube-system"


class EksClusterArgs(TypedDict):
    """Inputs of `EksCluster`."""

    cluster_name: str
    """EKS cluster name (also the Karpenter discovery tag value)."""
    kubernetes_version: str
    """Kubernetes minor, one of the versions with pinned add-ons (versions.py)."""
    vpc_id: pulumi.Input[str]
    """VPC of the cluster."""
    private_subnet_ids: pulumi.Input[Sequence[str]]
    """Private subnets for the control-plane interfaces and the nodes."""
    public_subnet_ids: NotRequired[pulumi.Input[Sequence[str]]]
    """Public subnets (internet-facing load balancers); never used by nodes."""
    system_node_type: str
    """Instance type of the system node group."""
    system_node_count: int
    """Desired and minimum size of the system node group."""
    system_node_max_count: int
    """Maximum size of the system node group."""
    public_endpoint: NotRequired[bool]
    """Expose the Kubernetes API publicly (default false; private access is always on)."""
    public_access_cidrs: NotRequired[Sequence[str]]
    """CIDR blocks allowed to reach the public endpoint; required with `public_endpoint`."""
    admin_role_arns: NotRequired[Sequence[str]]
    """IAM roles given cluster-admin through access entries."""
    log_types: NotRequired[Sequence[str]]
    """Control-plane log types sent to CloudWatch (default api, audit, authenticator)."""
    log_retention_days: NotRequired[int]
    """Retention of the control-plane log group (default 365)."""
    tags: NotRequired[Mapping[str, str]]
    """Common tags for every resource."""


@dataclass(frozen=True)
class AddonSpec:
    """An EKS managed add-on, and the AWS access its controller needs through Pod Identity."""

    name: str
    before_nodes: bool = False  # DaemonSets the nodes need to become Ready
    service_account: str | None = None
    managed_policies: tuple[str, ...] = ()
    configuration: dict[str, Any] = field(default_factory=dict)


ADDONS: tuple[AddonSpec, ...] = (
    # Pod Identity first: the CNI itself gets its credentials through it.
    AddonSpec("eks-pod-identity-agent", before_nodes=True),
    AddonSpec(
        "vpc-cni",
        before_nodes=True,
        service_account="aws-node",
        managed_policies=("AmazonEKS_CNI_Policy",),
        # NetworkPolicy enforcement (the network policy agent); the value is a string in the schema.
        configuration={"enableNetworkPolicy": "true"},
    ),
    AddonSpec("kube-proxy", before_nodes=True),
    AddonSpec("coredns"),
    AddonSpec(
        "aws-ebs-csi-driver",
        service_account="ebs-csi-controller-sa",
        managed_policies=("service-role/AmazonEBSCSIDriverPolicy",),
    ),
    # No configuration: the FSx CSI node DaemonSet already tolerates every taint, the Inferentia nodes'
    # `aws.amazon.com/neuron:NoSchedule` included, so it runs where vLLM mounts the model (upstream chart
    # value `node.tolerateAllTaints: true`, kustomize manifest `tolerations: [{operator: Exists}]`,
    # release 1.9). Narrowing it (`node.tolerations`) would break serving.
    AddonSpec("aws-fsx-csi-driver", service_account="fsx-csi-controller-sa"),
)


def system_ami_type(instance_type: str) -> str:
    """AL2023 AMI type of the managed node group for the instance's architecture."""
    family = instance_type.split(".")[0]
    graviton = len(family) > 2 and "g" in family[2:].rstrip("dnex")
    return versions.SYSTEM_NODE_AMI_TYPE_ARM if graviton else versions.SYSTEM_NODE_AMI_TYPE_X86


class EksCluster(pulumi.ComponentResource):
    """EKS with access entries (API mode), KMS-encrypted Secrets, audited control plane, private nodes,
    a managed on-demand system node group, the EKS add-ons with Pod Identity roles, an encrypted gp3
    default StorageClass and the one Kubernetes provider every Kubernetes resource of the stack uses.
    """

    cluster_name: pulumi.Output[str]
    """The EKS cluster name."""
    kubeconfig: pulumi.Output[str]
    """Kubeconfig (JSON) that authenticates with `aws eks get-token`."""
    node_security_group_id: pulumi.Output[str]
    """Security group of the nodes (tagged for Karpenter discovery)."""
    cluster_security_group_id: pulumi.Output[str]
    """Security group of the control plane."""
    system_node_group_name: pulumi.Output[str]
    """Name of the managed system node group."""
    secrets_key_arn: pulumi.Output[str]
    """KMS key encrypting Kubernetes Secrets and the control-plane logs."""
    volume_key_arn: pulumi.Output[str]
    """KMS key encrypting EBS volumes of the default StorageClass."""

    def __init__(self, name: str, args: EksClusterArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(TYPE, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = component_tags(args.get("tags", {}), "EksCluster")
        cluster_name = args["cluster_name"]
        version = args["kubernetes_version"]
        partition = aws.get_partition().partition
        region = aws.get_region().region
        account = aws.get_caller_identity().account_id

        # --- encryption keys and the control-plane log group -------------------------------------
        log_group_name = f"/aws/eks/{cluster_name}/cluster"
        secrets_key = customer_key(
            f"{name}-secrets-key",
            description=f"{cluster_name}: Kubernetes Secrets envelope encryption and control-plane logs",
            alias=f"alias/{cluster_name}-eks-secrets",
            policy=json.dumps(
                iam.kms_key_policy(
                    partition,
                    account,
                    log_group_arn=f"arn:{partition}:logs:{region}:{account}:log-group:{log_group_name}",
                )
            ),
            tags=tags,
            parent=self,
        )
        volume_key = customer_key(
            f"{name}-volume-key",
            description=f"{cluster_name}: EBS volumes of persistent volume claims",
            alias=f"alias/{cluster_name}-ebs",
            policy=json.dumps(iam.kms_key_policy(partition, account)),
            tags=tags,
            parent=self,
        )
        # Created before the cluster so EKS writes into it (retention and encryption are ours; the
        # group EKS would create itself keeps logs forever, unencrypted).
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-control-plane-logs",
            name=log_group_name,
            retention_in_days=args.get("log_retention_days", 365),
            kms_key_id=secrets_key.arn,
            tags=tags,
            opts=child,
        )

        # --- control plane ---------------------------------------------------------------------
        public = bool(args.get("public_endpoint", False))
        access_entries = {
            f"admin-{i}": eks.AccessEntryArgs(
                principal_arn=arn,
                access_policies={
                    "cluster-admin": eks.AccessPolicyAssociationArgs(
                        policy_arn=f"arn:{partition}:eks::aws:{CLUSTER_ADMIN_POLICY}",
                        access_scope=aws.eks.AccessPolicyAssociationAccessScopeArgs(type="cluster"),
                    )
                },
            )
            for i, arn in enumerate(args.get("admin_role_arns", ()))
        }
        cluster = eks.Cluster(
            f"{name}-eks",
            name=cluster_name,
            version=version,
            vpc_id=args["vpc_id"],
            private_subnet_ids=args["private_subnet_ids"],
            public_subnet_ids=args.get("public_subnet_ids"),
            node_associate_public_ip_address=False,
            authentication_mode=eks.AuthenticationMode.API,
            access_entries=access_entries,
            encryption_config_key_arn=secrets_key.arn,
            enabled_cluster_log_types=list(args.get("log_types", ("api", "audit", "authenticator"))),
            endpoint_private_access=True,
            endpoint_public_access=public,
            public_access_cidrs=list(args.get("public_access_cidrs", ())) if public else None,
            # Nodes come from the managed group below and from Karpenter, never a default group.
            skip_default_node_group=True,
            # Pod Identity instead of IRSA: no OIDC provider.
            create_oidc_provider=False,
            # Every add-on is an EKS managed add-on created below, with a pinned version.
            bootstrap_self_managed_addons=False,
            use_default_vpc_cni=True,
            coredns_addon_options=eks.CoreDnsAddonOptionsArgs(enabled=False),
            kube_proxy_addon_options=eks.KubeProxyAddonOptionsArgs(enabled=False),
            node_security_group_tags={"karpenter.sh/discovery": cluster_name},
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[log_group]),
        )
        eks_name = cluster.eks_cluster.name

        # --- add-ons, each AWS-facing one with its own Pod Identity role ------------------------
        addon_versions = versions.ADDON_VERSIONS[version]
        inline_policies: dict[str, pulumi.Input[str]] = {
            "aws-ebs-csi-driver": volume_key.arn.apply(lambda arn: json.dumps(iam.ebs_csi_kms_policy(arn))),
            "aws-fsx-csi-driver": json.dumps(iam.fsx_csi_static_policy()),
        }
        addons: dict[str, aws.eks.Addon] = {}

        def add(spec: AddonSpec, depends_on: list[pulumi.Resource]) -> None:
            if spec.service_account:  # its pods get credentials from the Pod Identity agent
                depends_on = [addons["eks-pod-identity-agent"], *depends_on]
            addons[spec.name] = self._addon(
                name,
                spec,
                eks_name,
                addon_versions[spec.name],
                partition,
                inline_policies.get(spec.name),
                tags,
                depends_on,
            )

        for spec in ADDONS:
            if spec.before_nodes:
                add(spec, [])

        # --- system node group ------------------------------------------------------------------
        node_role = aws.iam.Role(
            f"{name}-system-node-role",
            description=f"{cluster_name}: managed system nodes",
            assume_role_policy=json.dumps(iam.ec2_trust_policy()),
            tags=tags,
            opts=child,
        )
        # No CNI policy here: the VPC CNI has its own Pod Identity role.
        attachments = [
            aws.iam.RolePolicyAttachment(
                f"{name}-system-node-{policy}",
                role=node_role.name,
                policy_arn=iam.managed_policy_arn(partition, policy),
                opts=child,
            )
            for policy in (
                "AmazonEKSWorkerNodePolicy",
                "AmazonEC2ContainerRegistryPullOnly",
                "AmazonSSMManagedInstanceCore",
            )
        ]
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
        node_group = aws.eks.NodeGroup(
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
                parent=self,
                depends_on=[*attachments, *(addons[s.name] for s in ADDONS if s.before_nodes)],
                # The autoscaler-free group keeps its size; ignore drift from manual scaling events.
                ignore_changes=["scalingConfig.desiredSize"],
            ),
        )
        # Add-ons that run Deployments only become ACTIVE once a node exists: create them after it.
        for spec in ADDONS:
            if not spec.before_nodes:
                add(spec, [node_group])

        # --- Kubernetes provider and the default StorageClass -----------------------------------
        self.provider = k8s.Provider(
            f"{name}-k8s",
            kubeconfig=cluster.kubeconfig_json,
            enable_server_side_apply=True,
            opts=child,
        )
        k8s.storage.v1.StorageClass(
            f"{name}-gp3",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=STORAGE_CLASS,
                annotations={"storageclass.kubernetes.io/is-default-class": "true"},
                labels={"app.kubernetes.io/part-of": "inferentia-chat", "app.kubernetes.io/component": "storage"},
            ),
            provisioner="ebs.csi.aws.com",
            parameters={"type": "gp3", "encrypted": "true", "kmsKeyId": volume_key.arn},
            reclaim_policy="Delete",
            volume_binding_mode="WaitForFirstConsumer",
            allow_volume_expansion=True,
            opts=pulumi.ResourceOptions(parent=self, provider=self.provider, depends_on=[addons["aws-ebs-csi-driver"]]),
        )

        self.cluster_name = eks_name
        self.kubeconfig = cluster.kubeconfig_json
        self.node_security_group_id = cluster.node_security_group_id
        self.cluster_security_group_id = cluster.cluster_security_group_id
        self.system_node_group_name = node_group.node_group_name
        self.secrets_key_arn = secrets_key.arn
        self.volume_key_arn = volume_key.arn
        # For composition (not outputs): Kubernetes workloads and Helm releases use `provider`; what must
        # run on system nodes depends on `node_group`; `addons` by name, for ordering.
        self.node_group = node_group
        self.addons = addons
        self.register_outputs(
            {
                "cluster_name": self.cluster_name,
                "kubeconfig": self.kubeconfig,
                "node_security_group_id": self.node_security_group_id,
                "cluster_security_group_id": self.cluster_security_group_id,
                "system_node_group_name": self.system_node_group_name,
                "secrets_key_arn": self.secrets_key_arn,
                "volume_key_arn": self.volume_key_arn,
            }
        )

    def _addon(
        self,
        name: str,
        spec: AddonSpec,
        cluster_name: pulumi.Output[str],
        version: str,
        partition: str,
        inline_policy: pulumi.Input[str] | None,
        tags: Mapping[str, str],
        depends_on: list[pulumi.Resource],
    ) -> aws.eks.Addon:
        child = pulumi.ResourceOptions(parent=self)
        associations = None
        deps: list[pulumi.Resource] = list(depends_on)
        if spec.service_account:
            role = pod_identity_role(
                f"{name}-{spec.name}-role",
                cluster_name=cluster_name,
                namespace=ADDON_NAMESPACE,
                service_account=spec.service_account,
                description=f"EKS add-on {spec.name} through Pod Identity",
                tags=tags,
                opts=pulumi.ResourceOptions(parent=self),
            )
            for policy in spec.managed_policies:
                deps.append(
                    aws.iam.RolePolicyAttachment(
                        f"{name}-{spec.name}-{policy.rsplit('/', 1)[-1]}",
                        role=role.name,
                        policy_arn=iam.managed_policy_arn(partition, policy),
                        opts=child,
                    )
                )
            if inline_policy is not None:
                deps.append(
                    aws.iam.RolePolicy(f"{name}-{spec.name}-policy", role=role.id, policy=inline_policy, opts=child)
                )
            associations = [
                aws.eks.AddonPodIdentityAssociationArgs(role_arn=role.arn, service_account=spec.service_account)
            ]
        return aws.eks.Addon(
            f"{name}-{spec.name}",
            cluster_name=cluster_name,
            addon_name=spec.name,
            addon_version=version,
            configuration_values=json.dumps(spec.configuration) if spec.configuration else None,
            pod_identity_associations=associations,
            resolve_conflicts_on_create="OVERWRITE",
            resolve_conflicts_on_update="OVERWRITE",
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=deps),
        )
