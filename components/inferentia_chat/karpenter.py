"""Karpenter: the controller that adds and removes nodes for pods that need them, with its AWS side
(controller role through Pod Identity, node role and access entry, interruption queue and rules).

Everything mirrors the upstream getting-started CloudFormation of the pinned release
(aws/karpenter-provider-aws v1.14.1, website/content/en/v1.14/getting-started/getting-started-with-karpenter/
cloudformation.yaml), with this project's choices where it differs: Pod Identity instead of IRSA, an
access entry instead of aws-auth, and no CNI policy on the node role.
"""

import json
from collections.abc import Mapping, Sequence
from typing import Any, NotRequired, TypedDict

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from . import iam, versions
from .common.node_role import ec2_node_role
from .common.outputs import register_declared_outputs
from .common.pod_identity import pod_identity_access
from .system_node_group import SYSTEM_NODE_SELECTOR
from .tags import component_tags

TYPE = "inferentia-chat:index:Karpenter"

# Where the chart runs the controller: kube-system, as upstream's getting started does; the chart's
# service account name is pinned so the Pod Identity association always matches it.
NAMESPACE = "kube-system"
SERVICE_ACCOUNT = "karpenter"
RELEASE_NAME = "karpenter"

# EventBridge rules feeding the interruption queue, exactly upstream's (pattern key `detail-type`).
# The fifth, capacity-reservation interruptions, is new in the v1.14 template: kept, since the
# controller policy of the same release already covers capacity reservations.
INTERRUPTION_RULES: dict[str, dict[str, list[str]]] = {
    "health": {"source": ["aws.health"], "detail-type": ["AWS Health Event"]},
    "spot-interruption": {"source": ["aws.ec2"], "detail-type": ["EC2 Spot Instance Interruption Warning"]},
    "rebalance": {"source": ["aws.ec2"], "detail-type": ["EC2 Instance Rebalance Recommendation"]},
    "state-change": {"source": ["aws.ec2"], "detail-type": ["EC2 Instance State-change Notification"]},
    "capacity-reservation-interruption": {
        "source": ["aws.ec2"],
        "detail-type": ["EC2 Capacity Reservation Instance Interruption Warning"],
    },
}
# SQS keeps an interruption message 5 minutes: a later notice is useless (upstream's value).
QUEUE_RETENTION_SECONDS = 300

# No AmazonEKS_CNI_Policy: in this project the VPC CNI has its own Pod Identity role (EksCluster), so
# nodes, like the system nodes, carry no network permissions. Upstream's list has it.
NODE_ROLE_POLICIES = (
    "AmazonEKSWorkerNodePolicy",
    "AmazonEC2ContainerRegistryPullOnly",
    "AmazonSSMManagedInstanceCore",
)

# Controller sizing. Upstream's getting started asks 1 CPU / 1 GiB; this cluster's Karpenter manages a
# handful of inf2 nodes from two small system nodes, so half a CPU is requested (it may burst: no CPU
# limit) and memory is capped at what is requested, so it is never the first pod evicted.
CONTROLLER_RESOURCES = {"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"memory": "1Gi"}}


class KarpenterArgs(TypedDict):
    """Inputs of `Karpenter`."""

    cluster_name: pulumi.Input[str]
    """EKS cluster name: `settings.clusterName`, and the tag the controller policy is scoped by."""
    replicas: NotRequired[int]
    """Controller replicas (default 2: one leader, one standby, on different system nodes)."""
    tags: NotRequired[Mapping[str, str]]
    """Common tags for every resource."""


def chart_values(cluster_name: str, queue_name: str, region: str, replicas: int = 2) -> dict[str, Any]:
    """Values of the Karpenter chart: cluster, interruption queue, region, and the controller on system nodes."""
    return {
        "settings": {"clusterName": cluster_name, "interruptionQueue": queue_name},
        "serviceAccount": {"create": True, "name": SERVICE_ACCOUNT},
        "replicas": replicas,
        # Never on nodes it manages: a controller that drains its own node stops itself.
        "nodeSelector": {"kubernetes.io/os": "linux", **SYSTEM_NODE_SELECTOR},
        # The chart's defaults already spread replicas over zones and hosts and keep them off
        # Karpenter nodes (affinity `karpenter.sh/nodepool DoesNotExist`); they are kept.
        # The region from its configuration, not from IMDS: the system nodes answer IMDS to the node only
        # (hop limit 1). The chart's documented `controller.env` (its values.yaml example is AWS_REGION).
        "controller": {"resources": CONTROLLER_RESOURCES, "env": [{"name": "AWS_REGION", "value": region}]},
        "podDisruptionBudget": {"name": RELEASE_NAME, "maxUnavailable": 1},
        "logLevel": "info",
    }


def _as_list(value: Any) -> list[pulumi.Resource]:
    if value is None:
        return []
    return list(value) if isinstance(value, Sequence) else [value]


class Karpenter(pulumi.ComponentResource):
    """Karpenter v1 on EKS: chart with CRDs, controller role through Pod Identity, node role with an
    EC2_LINUX access entry, SQS interruption queue (TLS-only, encrypted) fed by EventBridge rules.

    The release waits for everything the controller needs at start (queue, rules, roles, association,
    access entry) and for what the component itself was told to wait for (`depends_on`: the cluster's
    system nodes and Pod Identity agent). Create NodePools and EC2NodeClasses with
    `depends_on=[karpenter.release]`, so `pulumi destroy` deletes them, and their nodes, while the
    controller still runs.
    """

    node_role_name: pulumi.Output[str]
    """Name of the node role (EC2NodeClass `spec.role`; Karpenter makes the instance profile)."""
    node_role_arn: pulumi.Output[str]
    """ARN of the node role."""
    controller_role_arn: pulumi.Output[str]
    """ARN of the controller's Pod Identity role."""
    interruption_queue_name: pulumi.Output[str]
    """Name of the SQS interruption queue (`settings.interruptionQueue`)."""
    interruption_queue_arn: pulumi.Output[str]
    """ARN of the SQS interruption queue."""

    def __init__(self, name: str, args: KarpenterArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(TYPE, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = component_tags(args.get("tags", {}), "Karpenter")
        cluster_name = pulumi.Output.from_input(args["cluster_name"])
        partition = aws.get_partition().partition
        region = aws.get_region().region
        account = aws.get_caller_identity().account_id

        queue, queue_policy, targets = self._interruption(name, tags)

        node_role, node_ready = self._node_role(name, cluster_name, tags, partition)

        # One inline document (~6.2k characters: over the 6,144 limit of a managed policy, within the
        # 10,240 of a role's inline policies).
        controller = pod_identity_access(
            role_name=f"{name}-controller-role",
            policy_name=f"{name}-controller-policy",
            association_name=f"{name}-controller",
            description="Karpenter controller through EKS Pod Identity",
            policy=pulumi.Output.all(cluster_name, queue.arn, node_role.arn).apply(
                lambda a: json.dumps(iam.karpenter_controller_policy(partition, region, account, a[0], a[1], a[2]))
            ),
            cluster_name=cluster_name,
            namespace=NAMESPACE,
            service_account=SERVICE_ACCOUNT,
            tags=tags,
            opts=child,
        )

        # --- the chart -----------------------------------------------------------------------------
        replicas = args.get("replicas", 2)
        self.release = k8s.helm.v3.Release(
            f"{name}-chart",
            name=RELEASE_NAME,
            chart=versions.KARPENTER_CHART,
            version=versions.KARPENTER_VERSION,
            namespace=NAMESPACE,
            skip_crds=False,  # the chart's crds/ holds the v1 NodePool/EC2NodeClass/NodeClaim CRDs
            atomic=True,
            cleanup_on_fail=True,
            timeout=600,
            values=pulumi.Output.all(cluster_name, queue.name).apply(
                lambda a: chart_values(a[0], a[1], region, replicas)
            ),
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=[
                    *_as_list(opts.depends_on if opts else None),
                    queue_policy,
                    *targets,
                    *node_ready,
                    controller.policy,
                    controller.association,
                ],
            ),
        )

        self.node_role_name = node_role.name
        self.node_role_arn = node_role.arn
        self.controller_role_arn = controller.role.arn
        self.interruption_queue_name = queue.name
        self.interruption_queue_arn = queue.arn
        register_declared_outputs(self)

    def _node_role(
        self, name: str, cluster_name: pulumi.Output[str], tags: dict[str, str], partition: str
    ) -> tuple[aws.iam.Role, list[pulumi.Resource]]:
        """What Karpenter's nodes run as, and their way into the cluster (an EC2_LINUX access entry); returns
        the role and what the controller waits for."""
        child = pulumi.ResourceOptions(parent=self)
        node_role, node_attachments = ec2_node_role(
            f"{name}-node",
            description="Karpenter-launched nodes",
            policies=NODE_ROLE_POLICIES,
            partition=partition,
            tags=tags,
            opts=child,
        )
        access_entry = aws.eks.AccessEntry(
            f"{name}-node-access",
            cluster_name=cluster_name,
            principal_arn=node_role.arn,
            type="EC2_LINUX",  # EKS maps it to system:nodes; no aws-auth ConfigMap
            tags=tags,
            opts=child,
        )

        return node_role, [*node_attachments, access_entry]

    def _interruption(
        self, name: str, tags: Mapping[str, str]
    ) -> tuple[aws.sqs.Queue, aws.sqs.QueuePolicy, list[aws.cloudwatch.EventTarget]]:
        """The SQS interruption queue (encrypted, TLS-only), the EventBridge rules that feed it and the
        queue policy that admits those rules only."""
        child = pulumi.ResourceOptions(parent=self)
        queue = aws.sqs.Queue(
            f"{name}-interruption",
            message_retention_seconds=QUEUE_RETENTION_SECONDS,
            sqs_managed_sse_enabled=True,
            tags=tags,
            opts=child,
        )
        rules, targets = [], []
        for rule_name, pattern in INTERRUPTION_RULES.items():
            rule = aws.cloudwatch.EventRule(
                f"{name}-{rule_name}",
                description=f"Karpenter interruption handling: {pattern['detail-type'][0]}",
                event_pattern=json.dumps(pattern),
                tags=tags,
                opts=child,
            )
            rules.append(rule)
            targets.append(
                aws.cloudwatch.EventTarget(
                    f"{name}-{rule_name}-target",
                    rule=rule.name,
                    arn=queue.arn,
                    target_id="KarpenterInterruptionQueueTarget",
                    opts=child,
                )
            )
        # Only this stack's rules (of this account) may send to the queue.
        queue_policy = aws.sqs.QueuePolicy(
            f"{name}-interruption-policy",
            queue_url=queue.url,
            policy=pulumi.Output.all(queue.arn, *(r.arn for r in rules)).apply(
                lambda a: json.dumps(iam.karpenter_interruption_queue_policy(a[0], a[1:]))
            ),
            opts=child,
        )
        return queue, queue_policy, targets
