"""Every pod that mounts the FSx for Lustre model store lands on a node whose kernel carries the Lustre client.

The FSx CSI node plugin brings only the user-space half (`mount.lustre`, `lfs`: its image installs AL2023's
`lustre-client`); the kernel modules (`lustre`, `lnet`, ...) are the node's, and neither the driver nor this
stack installs them. The EKS-optimized AL2023 AMIs and Bottlerocket carry them in their kernels
(docs/design-notes.md, "The Lustre client on the nodes", has the sources). A node source outside those, a
custom AMI by id, name or SSM parameter, or a `CUSTOM` managed node group, would need its own check (and
likely a host install), so it fails here; so does a mounting pod without a node selector, which could land
anywhere.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from conftest import Plan, plan_for

FSX_CSI_DRIVER = "fsx.csi.aws.com"
# Karpenter aliases and EKS AMI types of the AWS-built images whose kernels ship the Lustre modules.
LUSTRE_ALIASES = ("al2023@", "bottlerocket@")
LUSTRE_AMI_TYPES = ("AL2023_", "BOTTLEROCKET_")
WELL_KNOWN = ("kubernetes.io/", "node.kubernetes.io/", "topology.kubernetes.io/", "karpenter.")
WORKLOAD_KINDS = ("Deployment", "StatefulSet", "Job", "DaemonSet")
POOL = "inferentia-chat:inferencePool"
BASE = {"instanceTypes": ["inf2.xlarge", "inf2.8xlarge"], "maxNeuronDevices": 4}


@dataclass
class Nodes:
    """What decides where a mounting pod can run: the Kubernetes objects (a copy, so a test may edit it), the
    managed node groups' inputs and the launch templates that set their own image."""

    objects: list[dict[str, Any]]
    node_groups: list[tuple[str, dict[str, Any]]]
    custom_images: list[str]

    @classmethod
    def of(cls, plan: Plan) -> Nodes:
        objects = [
            copy.deepcopy(o)
            for kind in ("PersistentVolume", "NodePool", "EC2NodeClass", *WORKLOAD_KINDS)
            for o in plan.k8s(kind)
        ]
        groups = plan.of_type("aws:eks/nodeGroup:NodeGroup")
        # Launch templates that set their own image AND that a node group launches from (a group depends on its
        # template); the compile host's template sets its image but starts no cluster node.
        images = [
            lt.name
            for lt in plan.of_type("aws:ec2/launchTemplate:LaunchTemplate")
            if lt.inputs.get("imageId") and any(lt.urn in g.dependencies for g in groups)
        ]
        return cls(objects, [(g.name, g.inputs) for g in groups], images)

    def k8s(self, kind: str, name: str | None = None) -> list[dict[str, Any]]:
        return [o for o in self.objects if o["kind"] == kind and name in (None, o["metadata"]["name"])]


def fsx_claims(nodes: Nodes) -> set[tuple[str, str]]:
    """(namespace, name) of every claim a Lustre volume is reserved for."""
    claims = set()
    for pv in nodes.k8s("PersistentVolume"):
        if pv["spec"].get("csi", {}).get("driver") == FSX_CSI_DRIVER:
            ref = pv["spec"]["claimRef"]
            claims.add((ref["namespace"], ref["name"]))
    return claims


def mounting_pods(nodes: Nodes) -> Iterator[tuple[str, dict[str, Any]]]:
    """(kind/name, pod spec) of every workload that mounts a Lustre claim."""
    claims = fsx_claims(nodes)
    for kind in WORKLOAD_KINDS:
        for obj in nodes.k8s(kind):
            namespace = obj["metadata"].get("namespace", "default")
            pod = obj["spec"]["template"]["spec"]
            names = {
                v["persistentVolumeClaim"]["claimName"] for v in pod.get("volumes", []) if "persistentVolumeClaim" in v
            }
            if any((namespace, n) in claims for n in names):
                yield f"{kind}/{obj['metadata']['name']}", pod


def node_sources(nodes: Nodes) -> list[tuple[str, dict[str, set[str]], list[str]]]:
    """(source, the values each node label may take, reasons its image may lack the Lustre modules) of every way
    the stack gets nodes: Karpenter NodePools (through their EC2NodeClass) and EKS managed node groups."""
    classes = {c["metadata"]["name"]: c["spec"] for c in nodes.k8s("EC2NodeClass")}
    sources = []
    for pool in nodes.k8s("NodePool"):
        template = pool["spec"]["template"]
        node_class = classes[template["spec"]["nodeClassRef"]["name"]]
        problems = [
            f"amiSelectorTerms {term}"
            for term in node_class["amiSelectorTerms"]
            if set(term) != {"alias"} or not term["alias"].startswith(LUSTRE_ALIASES)
        ]
        # A node gets the template's labels and one of the values of each requirement (zone, instance type).
        labels = {k: {v} for k, v in template["metadata"]["labels"].items()}
        labels |= {r["key"]: set(r["values"]) for r in template["spec"]["requirements"] if r["operator"] == "In"}
        sources.append((f"NodePool/{pool['metadata']['name']}", labels, problems))
    for name, inputs in nodes.node_groups:
        ami_type = str(inputs.get("amiType"))
        problems = [] if ami_type.startswith(LUSTRE_AMI_TYPES) else [f"amiType {ami_type}"]
        problems += [f"launch template {lt} sets its own image" for lt in nodes.custom_images]
        sources.append((f"NodeGroup/{name}", {k: {v} for k, v in (inputs.get("labels") or {}).items()}, problems))
    return sources


def assert_mounts_land_on_lustre_kernels(nodes: Nodes) -> set[str]:
    """Check every mounting workload; the kinds of those found."""
    sources = node_sources(nodes)
    mounted = set()
    for workload, pod in mounting_pods(nodes):
        selector = pod.get("nodeSelector") or {}
        assert selector, f"{workload} mounts the model store with no node selector"
        # A label a source does not constrain (a well-known one the node gets anyway) may take any value.
        chosen = [
            s
            for s in sources
            if all(v in s[1][k] if k in s[1] else k.startswith(WELL_KNOWN) for k, v in selector.items())
        ]
        assert chosen, f"{workload}: no node source carries {selector}"
        for name, _, problems in chosen:
            assert not problems, f"{workload} may land on {name}, whose image may lack the Lustre modules: {problems}"
        mounted.add(workload.split("/")[0])
    return mounted


def test_every_pod_mounting_the_model_store_lands_on_an_al2023_node(dev: Plan):
    # The serving Deployment (inf2 pool) and the load and preload Jobs (system nodes) all mount it.
    nodes = Nodes.of(dev)
    assert assert_mounts_land_on_lustre_kernels(nodes) == {"Deployment", "Job"}
    sources = {name.split("/")[0] for name, _, _ in node_sources(nodes)}
    assert sources == {"NodePool", "NodeGroup"}


@pytest.mark.parametrize(
    "pool",
    [
        {**BASE, "bottlerocketVersion": "v1.61.0"},
        {**BASE, "imageCache": {"snapshotId": "snap-0123456789abcdef0", "bottlerocketVersion": "v1.61.0"}},
    ],
    ids=["bottlerocket", "image-cache"],
)
def test_bottlerocket_inference_nodes_keep_the_mounts_on_lustre_kernels(pool: dict):
    nodes = Nodes.of(plan_for(**{POOL: pool}))
    (node_class,) = nodes.k8s("EC2NodeClass", "inferentia")
    assert node_class["spec"]["amiSelectorTerms"][0]["alias"].startswith("bottlerocket@")
    assert "Deployment" in assert_mounts_land_on_lustre_kernels(nodes)


def test_a_custom_image_on_a_node_source_of_the_mounts_is_caught(dev: Plan):
    """The check itself: the dev cluster with the inference node class, or the system node group's launch
    template, moved to a custom AMI fails it."""
    nodes = Nodes.of(dev)
    (node_class,) = nodes.k8s("EC2NodeClass", "inferentia")
    node_class["spec"]["amiSelectorTerms"] = [{"id": "ami-0123456789abcdef0"}]
    with pytest.raises(AssertionError, match=r"Deployment/.* may land on NodePool/inferentia.*ami-0123456789abcdef0"):
        assert_mounts_land_on_lustre_kernels(nodes)
    nodes = Nodes.of(dev)
    nodes.custom_images.append("system-lt")
    with pytest.raises(AssertionError, match=r"Job/.* may land on NodeGroup/.*sets its own image"):
        assert_mounts_land_on_lustre_kernels(nodes)
