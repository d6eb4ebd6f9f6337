"""A figure of the budgets: a number and where it comes from."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Figure:
    """A duration (or size/rate) and where it comes from."""

    value: float
    kind: str  # "published" | "estimate" | "computed" | "measured"
    source: str


# Published figures both budgets use: the serving image and the containerd pull rate (new inf2 nodes without
# SOCI, and the compile host, which pulls with containerd's default).
IMAGE_GB = Figure(17.5, "published", "Neuron vLLM DLC is 15-20 GB (AWS Neuron DLC docs; KNOWLEDGE.md)")
# Pull rates from ONE published measurement, same image, same node class, with and without SOCI: the vLLM DLC
# (10,778,400,361 bytes as the kubelet reports it) on AL2023 nodes with a gp3 root at 600 MiB/s
# (aws-samples/karpenter-blueprints, blueprints/soci-snapshotter/README.md, "Results"; 2025).
_MEASURED = "aws-samples/karpenter-blueprints soci-snapshotter Results: 10,778,400,361-byte vLLM DLC on AL2023"
_MEASURED_BYTES = 10_778_400_361
CONTAINERD_PULL_MB_S = Figure(
    round(_MEASURED_BYTES / 112.33 / 1e6, 1), "published", f"{_MEASURED}, containerd default pull: 112.33 s"
)
