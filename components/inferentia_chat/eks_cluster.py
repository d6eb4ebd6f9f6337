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
from .common.outputs import register_declared_outputs
from .common.pod_identity import pod_identity_role

# Re-exported for code written against 0.1.0 (system_node_group.py owns them).
from .system_node_group import SYSTEM_NODE_LABEL as SYSTEM_NODE_LABEL
from .system_node_group import SYSTEM_NODE_SELECTOR as SYSTEM_NODE_SELECTOR
from .system_node_group import system_ami_type as system_ami_type
from .system_node_group import system_node_group
from .tags import component_tags

TYPE = "inferentia-chat:index:EksCluster"

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
        version = args["kubernetes_version"]
        partition = aws.get_partition().partition
        secrets_key, volume_key, log_group = self._keys_and_logs(name, args, tags, partition)
        cluster = self._control_plane(name, args, secrets_key, log_group, tags, partition)
        eks_name = cluster.eks_cluster.name

        # Add-ons, each AWS-facing one with its own Pod Identity role.
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

        node_group = system_node_group(
            name,
            args,
            cluster,
            eks_name,
            tags,
            partition,
            parent=self,
            depends_on=[addons[s.name] for s in ADDONS if s.before_nodes],
        )
        # Add-ons that run Deployments only become ACTIVE once a node exists: create them after it.
        for spec in ADDONS:
            if not spec.before_nodes:
                add(spec, [node_group])

        # --- the Kubernetes provider every Kubernetes resource of the stack uses ---------------------
        self.provider = k8s.Provider(
            f"{name}-k8s",
            kubeconfig=cluster.kubeconfig_json,
            enable_server_side_apply=True,
            opts=child,
        )
        self._storage_class(name, volume_key, addons["aws-ebs-csi-driver"])

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
        register_declared_outputs(self)

    def _keys_and_logs(
        self, name: str, args: EksClusterArgs, tags: Mapping[str, str], partition: str
    ) -> tuple[aws.kms.Key, aws.kms.Key, aws.cloudwatch.LogGroup]:
        """The Secrets (and log) key, the EBS volume key, and the control-plane log group."""
        cluster_name = args["cluster_name"]
        region = aws.get_region().region
        account = aws.get_caller_identity().account_id
        child = pulumi.ResourceOptions(parent=self)
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

        return secrets_key, volume_key, log_group

    def _control_plane(
        self,
        name: str,
        args: EksClusterArgs,
        secrets_key: aws.kms.Key,
        log_group: aws.cloudwatch.LogGroup,
        tags: Mapping[str, str],
        partition: str,
    ) -> eks.Cluster:
        """The EKS control plane: API authentication, encrypted Secrets, audited, no default node group."""
        cluster_name, version = args["cluster_name"], args["kubernetes_version"]
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
        return eks.Cluster(
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

    def _storage_class(self, name: str, volume_key: aws.kms.Key, ebs_csi: aws.eks.Addon) -> None:
        """The default StorageClass: gp3, encrypted with the volume key, bound where the pod lands."""
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
            opts=pulumi.ResourceOptions(parent=self, provider=self.provider, depends_on=[ebs_csi]),
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
