"""SystemNodePool: system capacity that grows. A Karpenter NodePool of general-purpose nodes carrying the
same `system` label as the managed node group, so pods that select the system nodes (monitoring, the web UI,
KEDA) get a node when the static group is full, and `cluster.systemNodeMaxCount` is a real ceiling.

Why Karpenter and not the cluster autoscaler: Karpenter already runs (it launches the inf2 nodes), so this
is two objects instead of another controller with its own IAM role, chart and upgrade cycle; it launches
a node in about a minute and removes it when empty or underused. What must not move stays on the static
managed group: the Karpenter controller itself (its chart keeps it off Karpenter nodes), so a controller
can never remove the node it runs on. Ceiling: `limits.nodes` = systemNodeMaxCount - systemNodeCount
(Karpenter v1 NodePool `spec.limits.nodes`, docs v1.14 "NodePools"); limit checks are eventually
consistent, so a burst can overshoot by a node.
"""

from collections.abc import Mapping
from typing import Any, NotRequired, TypedDict

import pulumi
import pulumi_kubernetes as k8s

from .eks_cluster import SYSTEM_NODE_LABEL
from .inferentia_node_pool import node_class_spec as inference_node_class_spec
from .options import outer_dependencies
from .tags import component_tags

TYPE = "inferentia-chat:index:SystemNodePool"
ROOT_VOLUME_GIB = 50  # as the managed system nodes' launch template


class SystemNodePoolArgs(TypedDict):
    """Inputs of `SystemNodePool`."""

    cluster_name: pulumi.Input[str]
    """EKS cluster name (subnets are found by its `karpenter.sh/discovery` tag)."""
    node_role_name: pulumi.Input[str]
    """Node role for the instances (from `Karpenter`)."""
    node_security_group_id: pulumi.Input[str]
    """Security group of the cluster's nodes (from `EksCluster`)."""
    instance_type: str
    """The system node type (the same as the managed group's)."""
    max_nodes: int
    """Most nodes Karpenter may add (systemNodeMaxCount - systemNodeCount), at least 1."""
    consolidate_after: NotRequired[str]
    """How long a node must be empty or underused before removal (default 10m)."""
    tags: NotRequired[Mapping[str, str]]
    """Common tags for every resource (also put on the instances)."""


def node_class_spec(role: str, cluster_name: str, security_group_id: str, tags: Mapping[str, str]) -> dict[str, Any]:
    """EC2NodeClass spec (karpenter.k8s.aws/v1) of the system nodes: the inference node class's (dated AL2023
    alias, subnets by discovery tag, the nodes' security group, IMDSv2, encrypted gp3 root), with a smaller
    root volume and IMDS hop limit 2, as the managed system nodes: AWS add-on controllers that land here read
    their region and identity from IMDS. The node role carries no data permissions."""
    spec = inference_node_class_spec(role, cluster_name, security_group_id, tags, ROOT_VOLUME_GIB)
    spec["metadataOptions"] = {**spec["metadataOptions"], "httpPutResponseHopLimit": 2}
    return spec


def node_pool_spec(node_class_name: str, instance_type: str, max_nodes: int, consolidate_after: str) -> dict[str, Any]:
    """NodePool spec (karpenter.sh/v1): on-demand system nodes, at most `max_nodes` of them."""
    return {
        "template": {
            "metadata": {"labels": {SYSTEM_NODE_LABEL: "system"}},
            "spec": {
                "nodeClassRef": {"group": "karpenter.k8s.aws", "kind": "EC2NodeClass", "name": node_class_name},
                "requirements": [
                    {"key": "node.kubernetes.io/instance-type", "operator": "In", "values": [instance_type]},
                    {"key": "karpenter.sh/capacity-type", "operator": "In", "values": ["on-demand"]},
                    {"key": "kubernetes.io/os", "operator": "In", "values": ["linux"]},
                ],
                "expireAfter": "720h",
                "terminationGracePeriod": "1h",
            },
        },
        "limits": {"nodes": str(max_nodes)},
        "disruption": {
            "consolidationPolicy": "WhenEmptyOrUnderutilized",
            "consolidateAfter": consolidate_after,
            "budgets": [{"nodes": "1"}],  # one system node at a time
        },
    }


class SystemNodePool(pulumi.ComponentResource):
    """A Karpenter EC2NodeClass and NodePool of on-demand system nodes (same label as the managed group).

    Give `depends_on=[karpenter.release]` so the pool is removed before the controller on destroy.
    """

    node_pool_name: pulumi.Output[str]
    """Name of the NodePool."""

    def __init__(self, name: str, args: SystemNodePoolArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(TYPE, name, None, opts)
        tags = component_tags(args.get("tags", {}), "SystemNodePool")
        labels = {"app.kubernetes.io/part-of": "inferentia-chat", "app.kubernetes.io/component": "system-capacity"}
        waits = outer_dependencies(opts)
        node_class = k8s.apiextensions.CustomResource(
            f"{name}-node-class",
            api_version="karpenter.k8s.aws/v1",
            kind="EC2NodeClass",
            metadata={"name": name, "labels": labels},
            spec=pulumi.Output.all(args["node_role_name"], args["cluster_name"], args["node_security_group_id"]).apply(
                lambda a: node_class_spec(a[0], a[1], a[2], tags)
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=waits),
        )
        k8s.apiextensions.CustomResource(
            f"{name}-node-pool",
            api_version="karpenter.sh/v1",
            kind="NodePool",
            metadata={"name": name, "labels": labels},
            spec=node_pool_spec(name, args["instance_type"], args["max_nodes"], args.get("consolidate_after", "10m")),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[*waits, node_class]),
        )
        self.node_pool_name = pulumi.Output.from_input(name)
        self.register_outputs({"node_pool_name": self.node_pool_name})
