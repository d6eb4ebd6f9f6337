"""How inference nodes get the 15-20 GB serving image: the pull mechanisms of the EC2NodeClass.

- `soci` (default): the SOCI snapshotter's parallel pull and unpack mode. AL2023 EKS AMIs >= v20250821 ship
  it and nodeadm's `FastImagePull` feature gate turns it on (awslabs/amazon-eks-ami nodeadm docs, "Enabling
  fast image pull"; marked experimental there). nodeadm applies it only on nodes with at least 4 vCPUs and
  7 GiB (`UseSOCISnapshotter` in nodeadm's containerd setup): every inf2 size qualifies. Bottlerocket >= v1.44.0
  through its settings API (`settings.container-runtime` and
  `settings.container-runtime-plugins.soci-snapshotter`). The tuning below is the one of the published
  measurement the start-up budget uses (aws-samples/karpenter-blueprints, blueprints/soci-snapshotter).
- `containerd`: containerd's default sequential pull.
- The Bottlerocket image cache (`inferencePool.imageCache`): a data volume restored from a snapshot that
  already holds the image, so nothing is pulled (no SOCI there: Bottlerocket removes the images of the
  previous snapshotter when the snapshotter changes, which would throw the cached image away).
"""

from __future__ import annotations

from typing import Any

IMAGE_PULL_SOCI = "soci"
IMAGE_PULL_CONTAINERD = "containerd"
IMAGE_PULLS = (IMAGE_PULL_SOCI, IMAGE_PULL_CONTAINERD)
# Bottlerocket releases: SOCI parallel pull from v1.44.0 (karpenter-blueprints soci-snapshotter README);
# the aws-k8s-1.36 variants from v1.61.0 (bottlerocket CHANGELOG, v1.61.0 release notes, PR #4841).
BOTTLEROCKET_SOCI_MIN = (1, 44, 0)

# Karpenter merges this NodeConfig with the one it generates (cluster endpoint, CA, kubelet flags).
AL2023_FAST_PULL_USER_DATA = """apiVersion: node.eks.aws/v1alpha1
kind: NodeConfig
spec:
  featureGates:
    FastImagePull: true
"""

# Non-root containers (the serving pods run as uid 1000) own the Neuron devices they are given
# (bottlerocket QUICKSTART-EKS.md, "Neuron Support", Bottlerocket >= v1.30.0).
BOTTLEROCKET_NEURON_SETTINGS = """[settings.kubernetes]
device-ownership-from-security-context = true
"""
BOTTLEROCKET_SOCI_SETTINGS = """
[settings.container-runtime]
snapshotter = "soci"

[settings.container-runtime-plugins.soci-snapshotter]
pull-mode = "parallel-pull-unpack"

[settings.container-runtime-plugins.soci-snapshotter.parallel-pull-unpack]
max-concurrent-downloads-per-image = 10
concurrent-download-chunk-size = "16mb"
max-concurrent-unpacks-per-image = 10
discard-unpacked-layers = true
"""


def version_tuple(version: str) -> tuple[int, ...]:
    """v1.61.0 -> (1, 61, 0)."""
    return tuple(int(p) for p in version.lstrip("v").split("."))


def bottlerocket_node_class(
    version: str, data_volume_gib: int, throughput: int, snapshot_id: str | None, soci: bool
) -> dict[str, Any]:
    """The Bottlerocket part of an EC2NodeClass spec: dated alias, settings, OS and data volumes.

    Karpenter's Bottlerocket family resolves the standard aws-k8s variant for Neuron instances, which carries
    the Neuron driver (karpenter-provider-aws #7596; bottlerocket-kernel-kit #514 tested inf2 on aws-k8s-1.36).
    Images and container storage live on the data volume (/dev/xvdb). With `snapshot_id` it is restored from
    a snapshot made after pulling the serving image (aws-samples/bottlerocket-images-cache): a manual step per
    image version, and EBS restores snapshot blocks lazily (Fast Snapshot Restore removes that, at a cost).
    """
    data: dict[str, Any] = {
        "volumeSize": f"{data_volume_gib}Gi",
        "volumeType": "gp3",
        "iops": 3000,
        "throughput": throughput,
        "encrypted": True,
        "deleteOnTermination": True,
    }
    if snapshot_id:
        data["snapshotID"] = snapshot_id
    settings = BOTTLEROCKET_NEURON_SETTINGS + (BOTTLEROCKET_SOCI_SETTINGS if soci and not snapshot_id else "")
    return {
        "amiFamily": "Bottlerocket",
        "amiSelectorTerms": [{"alias": f"bottlerocket@{version}"}],
        "userData": settings,
        "blockDeviceMappings": [
            {
                "deviceName": "/dev/xvda",  # Bottlerocket's OS volume
                "ebs": {"volumeSize": "8Gi", "volumeType": "gp3", "encrypted": True, "deleteOnTermination": True},
            },
            {"deviceName": "/dev/xvdb", "rootVolume": True, "ebs": data},  # images and container storage
        ],
    }
