"""InferentiaNodePool: the Karpenter EC2NodeClass and NodePool for Inferentia2 capacity, and the Neuron
device plugin that makes the chips schedulable (`aws.amazon.com/neuron`).

Neuron scheduler extension: not deployed, on purpose. The AWS Neuron docs ("Neuron scheduler
extension") make it necessary only for pods that request more than one Neuron device or core, to get
devices that are neighbours on the chip ring; pods that take whole single devices do not need it. Our
shapes: tensor parallelism 1-2 uses one device (inf2.xlarge/8xlarge have exactly one), and a
multi-device shape is accepted only where the pod takes every device of its node (TP 24 on
inf2.48xlarge), which is the whole ring. Other multi-device shapes (TP 4/8 on inf2.24xlarge/48xlarge)
would need the extension, which on EKS means a second scheduler and `schedulerName` on the serving
pods; config validation refuses them (hardware.py `fit`).
"""

from collections.abc import Mapping, Sequence
from typing import Any, NotRequired, TypedDict

import pulumi
import pulumi_kubernetes as k8s

from . import versions
from .common.outputs import register_declared_outputs
from .hardware import INF2_TYPES, NEURON_RESOURCE, allocatable, pool_limits
from .image_pull import AL2023_FAST_PULL_USER_DATA, IMAGE_PULL_SOCI, IMAGE_PULLS, bottlerocket_node_class
from .system_node_group import SYSTEM_NODE_LABEL
from .tags import component_tags

TYPE = "inferentia-chat:index:InferentiaNodePool"

# Inference nodes carry this taint; only pods that tolerate it (vLLM, the Neuron DaemonSets) land there.
NEURON_TAINT = {"key": NEURON_RESOURCE, "value": "true", "effect": "NoSchedule"}
NEURON_TOLERATION = {"key": NEURON_RESOURCE, "operator": "Exists", "effect": "NoSchedule"}
POOL_LABEL_VALUE = "inferentia"

# Root volume: the Neuron vLLM image is 15-20 GB; the snapshotter keeps the unpacked layers, and an image
# upgrade pulls the new one beside the old. 200 GiB holds two versions with room for logs. gp3 at 600 MiB/s
# (above the 125 baseline, 3000 IOPS kept): SOCI parallel pull buffers layers on disk, and 600 MiB/s is the
# setting of the published measurement the start-up budget uses (docs/performance.md; aws-samples/
# karpenter-blueprints, blueprints/soci-snapshotter: "a good starting point ... 600MiB/s and base IOPs").
ROOT_VOLUME_GIB = 200
ROOT_VOLUME_THROUGHPUT = 600


class InferentiaNodePoolArgs(TypedDict):
    """Inputs of `InferentiaNodePool`."""

    cluster_name: pulumi.Input[str]
    """EKS cluster name (subnets are found by its `karpenter.sh/discovery` tag)."""
    node_role_name: pulumi.Input[str]
    """Node role for the instances (from `Karpenter`), registered through its EC2_LINUX access entry."""
    node_security_group_id: pulumi.Input[str]
    """Security group of the cluster's nodes (from `EksCluster`)."""
    availability_zone: pulumi.Input[str]
    """The only zone nodes may launch in: the FSx for Lustre file system's (it is single-AZ)."""
    instance_types: Sequence[str]
    """Allowed inf2 sizes (keys of hardware.py INF2_TYPES)."""
    capacity_types: Sequence[str]
    """`on-demand` and/or `spot`."""
    max_neuron_devices: int
    """Cost ceiling: Inferentia2 chips the pool may run at once (NodePool limit)."""
    consolidate_after: str
    """How long a node must be empty before Karpenter removes it, e.g. 5m."""
    expire_after: str
    """Node lifetime before replacement, e.g. 720h, or Never."""
    termination_grace_period: str
    """Longest a node drain may take before remaining pods are deleted, e.g. 1h."""
    root_volume_gib: NotRequired[int]
    """Root volume size in GiB (default 200)."""
    image_cache_snapshot_id: NotRequired[str]
    """EBS snapshot of a Bottlerocket data volume that already holds the serving image (docs/operations.md);
    with it, nodes run Bottlerocket and restore their data volume from it, so a new node skips the image pull."""
    image_cache_bottlerocket_version: NotRequired[str]
    """The Bottlerocket release the snapshot was made with, e.g. v1.46.0 (required with the snapshot)."""
    bottlerocket_version: NotRequired[str]
    """Run the nodes on this Bottlerocket release (e.g. v1.61.0) instead of AL2023, without an image cache."""
    image_pull: NotRequired[str]
    """`soci` (default: SOCI parallel pull and unpack) or `containerd` (the sequential default pull). Ignored
    with the image cache, whose images live in the overlayfs snapshotter the snapshot was made with."""
    tags: NotRequired[Mapping[str, str]]
    """Common tags for every resource (also put on the instances, volumes and interfaces)."""


def allocatable_by_type(instance_types: Sequence[str]) -> dict[str, dict[str, str]]:
    """What a serving pod can request on an empty node of each allowed type (Kubernetes quantities)."""
    return {t: allocatable(t).as_kubernetes() for t in instance_types}


def node_class_spec(
    role: str,
    cluster_name: str,
    security_group_id: str,
    tags: Mapping[str, str],
    root_volume_gib: int,
    image_cache: tuple[str, str] | None = None,
    image_pull: str = IMAGE_PULL_SOCI,
    bottlerocket_version: str | None = None,
) -> dict[str, Any]:
    """EC2NodeClass spec (karpenter.k8s.aws/v1); `image_cache` = (snapshot id, Bottlerocket version);
    `image_pull` = how nodes pull the serving image (components/image_pull.py); `bottlerocket_version` =
    Bottlerocket nodes without the cache."""
    spec = {
        # Family and dated alias (versions.INFERENCE_AMI_ALIAS says why this AMI): Karpenter picks
        # the Neuron variant for inf2, with the Neuron driver; its kernel has the Lustre modules.
        "amiFamily": "AL2023",
        "amiSelectorTerms": [{"alias": versions.INFERENCE_AMI_ALIAS}],
        "role": role,
        "subnetSelectorTerms": [{"tags": {"karpenter.sh/discovery": cluster_name}}],
        "securityGroupSelectorTerms": [{"id": security_group_id}],
        # IMDSv2 only, and a hop limit of 1: pods cannot reach the node role's credentials.
        "metadataOptions": {
            "httpEndpoint": "enabled",
            "httpProtocolIPv6": "disabled",
            "httpPutResponseHopLimit": 1,
            "httpTokens": "required",
        },
        "blockDeviceMappings": [
            {
                "deviceName": "/dev/xvda",  # AL2023's root device
                "rootVolume": True,
                "ebs": {
                    "volumeSize": f"{root_volume_gib}Gi",
                    "volumeType": "gp3",
                    "iops": 3000,
                    "throughput": ROOT_VOLUME_THROUGHPUT,
                    # The account's EBS key: a customer key would need KMS grants in the controller
                    # policy, which upstream's does not have. Root volumes hold images and logs only.
                    "encrypted": True,
                    "deleteOnTermination": True,
                },
            }
        ],
        "tags": dict(tags),
    }
    soci = image_pull == IMAGE_PULL_SOCI
    if image_cache or bottlerocket_version:
        snapshot, version = image_cache or (None, bottlerocket_version)
        spec.update(bottlerocket_node_class(version, root_volume_gib, ROOT_VOLUME_THROUGHPUT, snapshot, soci))
    elif soci:
        spec["userData"] = AL2023_FAST_PULL_USER_DATA
    return spec


def node_pool_spec(
    node_class_name: str,
    zone: str,
    instance_types: Sequence[str],
    capacity_types: Sequence[str],
    max_neuron_devices: int,
    consolidate_after: str,
    expire_after: str,
    termination_grace_period: str,
) -> dict[str, Any]:
    """NodePool spec (karpenter.sh/v1)."""
    return {
        "template": {
            "metadata": {"labels": {SYSTEM_NODE_LABEL: POOL_LABEL_VALUE}},
            "spec": {
                "nodeClassRef": {"group": "karpenter.k8s.aws", "kind": "EC2NodeClass", "name": node_class_name},
                "requirements": [
                    {"key": "node.kubernetes.io/instance-type", "operator": "In", "values": list(instance_types)},
                    {"key": "karpenter.sh/capacity-type", "operator": "In", "values": list(capacity_types)},
                    {"key": "topology.kubernetes.io/zone", "operator": "In", "values": [zone]},
                    {"key": "kubernetes.io/arch", "operator": "In", "values": ["amd64"]},
                    {"key": "kubernetes.io/os", "operator": "In", "values": ["linux"]},
                ],
                "taints": [NEURON_TAINT],
                "expireAfter": expire_after,
                # Bounds a drain blocked by a PodDisruptionBudget or do-not-disrupt: without it, a
                # serving PDB that allows no disruption would keep an expired node forever.
                "terminationGracePeriod": termination_grace_period,
            },
        },
        # Cost ceiling: Karpenter launches nothing that would take the pool past these.
        "limits": pool_limits(instance_types, max_neuron_devices),
        "disruption": {
            # Accelerator nodes are removed only when empty: no repacking of serving pods, which take
            # minutes to load a model.
            "consolidationPolicy": "WhenEmpty",
            "consolidateAfter": consolidate_after,
            "budgets": [
                {"nodes": "100%", "reasons": ["Empty"]},  # empty nodes cost money and serve nobody
                {"nodes": "1", "reasons": ["Drifted"]},  # an AMI bump replaces one serving node at a time
            ],
        },
    }


def neuron_chart_values() -> dict[str, Any]:
    """Values of the Neuron Helm chart: the device plugin tolerating our taint, no scheduler extension."""
    return {
        "devicePlugin": {
            # The chart's default tolerations, written out so they visibly match NEURON_TAINT.
            "tolerations": [{"key": "CriticalAddonsOnly", "operator": "Exists"}, NEURON_TOLERATION],
        },
        "scheduler": {"enabled": False},  # see the module docstring
        # Off, as in the Neuron docs' install command: the chart puts the node problem detector in its own
        # namespace (neuron-healthcheck-system) without creating it, and its recovery part is off anyway.
        "npd": {"enabled": False},
    }


def _as_list(value: Any) -> list[pulumi.Resource]:
    if value is None:
        return []
    return list(value) if isinstance(value, Sequence) else [value]


class InferentiaNodePool(pulumi.ComponentResource):
    """Inferentia2 nodes on demand: an EC2NodeClass (dated AL2023 Neuron AMI, IMDSv2 hop limit 1,
    encrypted gp3 root) and a tainted NodePool in the file system's zone with a Neuron-device cost
    ceiling, plus the Neuron device plugin.

    Give `depends_on=[karpenter.release]`: the node class and pool then wait for the controller, and
    `pulumi destroy` removes them (and so their instances) before it. Workloads that run on the pool
    depend on `node_pool`.
    """

    node_pool_name: pulumi.Output[str]
    """Name of the NodePool."""
    node_class_name: pulumi.Output[str]
    """Name of the EC2NodeClass."""
    node_selector: pulumi.Output[dict[str, str]]
    """Node selector serving pods must use."""
    tolerations: pulumi.Output[list[dict[str, str]]]
    """Tolerations serving pods must carry (the pool's taint)."""
    allocatable: pulumi.Output[dict[str, dict[str, str]]]
    """Per allowed instance type, what a pod can request on an empty node (cpu, memory, Neuron devices)."""

    def __init__(self, name: str, args: InferentiaNodePoolArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(TYPE, name, None, opts)
        for t in args["instance_types"]:
            if t not in INF2_TYPES:
                raise ValueError(f"instance_types: {t!r} is not an inf2 size ({', '.join(INF2_TYPES)})")
        tags = component_tags(args.get("tags", {}), "InferentiaNodePool")
        labels = {
            "app.kubernetes.io/name": name,
            "app.kubernetes.io/part-of": "inferentia-chat",
            "app.kubernetes.io/component": "inference-capacity",
        }
        waits = _as_list(opts.depends_on if opts else None)

        if args.get("image_pull", IMAGE_PULL_SOCI) not in IMAGE_PULLS:
            raise ValueError(f"image_pull: {args.get('image_pull')!r} is not one of {', '.join(IMAGE_PULLS)}")
        snapshot, bottlerocket = args.get("image_cache_snapshot_id"), args.get("image_cache_bottlerocket_version")
        if bool(snapshot) != bool(bottlerocket):
            raise ValueError("image_cache_snapshot_id and image_cache_bottlerocket_version go together")
        image_cache = (snapshot, bottlerocket) if snapshot and bottlerocket else None
        node_class = k8s.apiextensions.CustomResource(
            f"{name}-node-class",
            api_version="karpenter.k8s.aws/v1",
            kind="EC2NodeClass",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=name, labels=labels),
            spec=pulumi.Output.all(args["node_role_name"], args["cluster_name"], args["node_security_group_id"]).apply(
                lambda a: node_class_spec(
                    a[0],
                    a[1],
                    a[2],
                    tags,
                    args.get("root_volume_gib", ROOT_VOLUME_GIB),
                    image_cache,
                    args.get("image_pull", IMAGE_PULL_SOCI),
                    args.get("bottlerocket_version"),
                )
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=waits),
        )
        node_pool = k8s.apiextensions.CustomResource(
            f"{name}-node-pool",
            api_version="karpenter.sh/v1",
            kind="NodePool",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=name, labels=labels),
            spec=pulumi.Output.from_input(args["availability_zone"]).apply(
                lambda zone: node_pool_spec(
                    name,
                    zone,
                    args["instance_types"],
                    args["capacity_types"],
                    args["max_neuron_devices"],
                    args["consolidate_after"],
                    args["expire_after"],
                    args["termination_grace_period"],
                )
            ),
            # After its node class: destroy deletes the pool (draining its nodes) before the class.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[*waits, node_class]),
        )
        # The plugin runs on the pool's nodes: like every workload there, it depends on the pool.
        self.device_plugin = k8s.helm.v3.Release(
            f"{name}-neuron",
            name="neuron",
            chart=versions.NEURON_HELM_CHART,
            version=versions.NEURON_HELM_CHART_VERSION,
            namespace="kube-system",
            atomic=True,
            cleanup_on_fail=True,
            values=neuron_chart_values(),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[node_pool]),
        )

        # For composition (not outputs): workloads on the pool depend on it.
        self.node_pool = node_pool
        self.node_class = node_class
        self.node_pool_name = pulumi.Output.from_input(name)
        self.node_class_name = pulumi.Output.from_input(name)
        self.node_selector = pulumi.Output.from_input({SYSTEM_NODE_LABEL: POOL_LABEL_VALUE})
        self.tolerations = pulumi.Output.from_input([dict(NEURON_TOLERATION)])
        self.allocatable = pulumi.Output.from_input(allocatable_by_type(args["instance_types"]))
        register_declared_outputs(self)
