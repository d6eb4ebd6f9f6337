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
# The image's size as the kubelet reports it ("Image size" of its `Pulled` event: containerd's packed layers),
# the unit the pull rates below count in. The "15-20 GB" often quoted for the Neuron vLLM DLC is the unpacked
# size (`docker images`), which the rates do not apply to. The pinned tag's own packed size is not published;
# the nearest published one is of the same repository, two releases earlier (vLLM 0.9.1, Neuron SDK 2.25):
# "Image size: 8454539505 bytes" in the kubelet events of two public write-ups of AWS's "Scaling LLM Inference
# with vLLM and AWS Trainium" EKS workshop (2026-09-11). `pull_break_even_gb` says how much larger the pinned
# image may be before the new-node target misses; `python -m offline phases` measures the real one.
_DLC_LINE_IMAGE_BYTES = 8_454_539_505
IMAGE_GB = Figure(
    round(_DLC_LINE_IMAGE_BYTES / 1e9, 2),
    "published",
    "kubelet 'Image size: 8454539505 bytes' (packed) of public.ecr.aws/neuron/pytorch-inference-vllm-neuronx:"
    "0.9.1-neuronx-py310-sdk2.25.0-ubuntu22.04, the same DLC repository as the pinned tag (AWS 'Scaling LLM "
    "Inference with vLLM and AWS Trainium' EKS workshop write-ups, 2026-09-11); the pinned tag's size is unpublished",
)
# Pull rates from ONE published measurement, same image, same node class, with and without SOCI: the vLLM DLC
# (10,778,400,361 bytes as the kubelet reports it) on AL2023 nodes with a gp3 root at 600 MiB/s
# (aws-samples/karpenter-blueprints, blueprints/soci-snapshotter/README.md, "Results"; 2025).
_MEASURED = "aws-samples/karpenter-blueprints soci-snapshotter Results: 10,778,400,361-byte vLLM DLC on AL2023"
_MEASURED_BYTES = 10_778_400_361
CONTAINERD_PULL_MB_S = Figure(
    round(_MEASURED_BYTES / 112.33 / 1e6, 1), "published", f"{_MEASURED}, containerd default pull: 112.33 s"
)
