"""Every version the stacks deploy, pinned here and nowhere else, each with why and where it was read.

Upgrades are one edit in this file plus a `pulumi preview`; docs/security.md ("Bumping a version") lists
what to re-run and re-check. Before a production upgrade, confirm the EKS add-on versions for the target
Kubernetes minor with `aws eks describe-addon-versions --kubernetes-version <minor> --addon-name <name>`.
Last refreshed 2026-12-02 against the public sources named on each line (newest found there).
"""

from __future__ import annotations

# Kubernetes 1.36: the newest EKS minor that the pinned Karpenter release supports (Karpenter's
# compatibility matrix: 1.14.x covers Kubernetes 1.26-1.36; 1.36 needs Karpenter >= 1.13).
KUBERNETES_VERSION = "1.36"

# EKS managed add-ons, per Kubernetes minor. A minor is supported by this project only when its add-on
# set is pinned here; config validation offers exactly these keys.
#  - kube-proxy: the version AWS documents for 1.36 (EKS user guide, "Manage kube-proxy", latest-version
#    table: 1.36 -> v1.36.0-eksbuild.14; re-read 2026-12-02).
#  - vpc-cni v1.22.4-eksbuild.3: seen installed on a 1.36 cluster in public deploy notes (2026-09);
#    >= 1.14 needed for network policy enforcement (`enableNetworkPolicy`).
#  - coredns v1.14.3-eksbuild.3: pinned with EKS 1.36 in public infrastructure code.
#  - eks-pod-identity-agent v1.3.10-eksbuild.3: pinned with EKS 1.36 in public infrastructure code.
#  - aws-ebs-csi-driver v1.63.1-eksbuild.1: pinned with EKS 1.36 in public infrastructure code.
#  - aws-fsx-csi-driver v1.9.0-eksbuild.1: driver release v1.9.0 (2026-04); Lustre 2.15 client support
#    (its node image is AL2023-based since v1.5.0, with the user-space client matching AL2023's kernel modules).
# The four from public code (not an AWS table) are the ones to re-check with describe-addon-versions: no
# newer `-eksbuild` build of them could be verified in a public source on 2026-12-02 (the eksbuild suffix
# is only published by the EKS API). The FSx driver is still the newest upstream release (kubernetes-sigs/
# aws-fsx-csi-driver tags: v1.9.0 newest).
ADDON_VERSIONS: dict[str, dict[str, str]] = {
    "1.36": {
        "vpc-cni": "v1.22.4-eksbuild.3",
        "coredns": "v1.14.3-eksbuild.3",
        "kube-proxy": "v1.36.0-eksbuild.14",
        "eks-pod-identity-agent": "v1.3.10-eksbuild.3",
        "aws-ebs-csi-driver": "v1.63.1-eksbuild.1",
        "aws-fsx-csi-driver": "v1.9.0-eksbuild.1",
    },
}
SUPPORTED_KUBERNETES_VERSIONS: tuple[str, ...] = tuple(ADDON_VERSIONS)

# The managed system node group's AMI type (EKS picks the latest AL2023 release for the Kubernetes
# minor at create time and on `pulumi up` after `releaseVersion` changes). AL2 is gone from new minors.
SYSTEM_NODE_AMI_TYPE_X86 = "AL2023_x86_64_STANDARD"
SYSTEM_NODE_AMI_TYPE_ARM = "AL2023_ARM_64_STANDARD"

# The model served by default: Mistral-7B-Instruct v0.3 at a fixed Hugging Face commit so every
# environment (and the DR region) serves byte-identical weights.
MODEL_ID = "mistralai/Mistral-7B-Instruct-v0.3"
MODEL_REVISION = "c170c708c41dac9275d15a8fff4eca08d52bab71"

# Karpenter, the controller that launches the Inferentia2 nodes. Chart 1.14.1 (2026-08; still the newest
# tag of aws/karpenter-provider-aws and charts/karpenter/Chart.yaml at its 2026-08-21 head) from the
# project's OCI registry; its compatibility matrix covers Kubernetes 1.26-1.36, and Neuron resource
# requests (`aws.amazon.com/neuron`) need >= 1.1. The v1 CRDs (NodePool, EC2NodeClass, NodeClaim...) come
# from KARPENTER_CRD_CHART below; tests/schemas/ holds the two we create objects of,
# from the v1.14.1 tag, to validate them offline. Upgrading: bump here, re-vendor those two files,
# and re-check `karpenter_controller_policy` against the new getting-started CloudFormation.
KARPENTER_CHART = "oci://public.ecr.aws/karpenter/karpenter"
KARPENTER_VERSION = "1.14.1"
# Karpenter's CRDs as their own chart at the SAME version (Karpenter upgrade guide, v1.14.1
# website/content/en/docs/upgrading/upgrade-guide.md: `helm upgrade --install karpenter-crd
# oci://public.ecr.aws/karpenter/karpenter-crd --version x.y.z`): Helm installs a chart's crds/ folder once
# and never upgrades it, so the controller chart skips its crds/ and this release upgrades the CRDs with it.
KARPENTER_CRD_CHART = "oci://public.ecr.aws/karpenter/karpenter-crd"

# The EKS-optimized AL2023 AMI release for Karpenter-launched nodes, pinned by date so nodes change
# only when this line does (Karpenter then replaces them as drifted, within the NodePool's budgets).
# v20260714: the newest release whose AMI table could be read in awslabs/amazon-eks-ami's own CHANGELOG.md
# ("AMI Release v20260714": amazon-eks-node-al2023-x86_64-neuron-1.36-v20260714, Kubernetes 1.36.2). Never
# pin a date that is not in that list: Karpenter resolves the alias through the SSM parameter of that
# exact release, and a missing one means no node ever launches. Why AL2023: Karpenter's al2023 family
# resolves the Neuron variant of the AMI for instance types with Neuron accelerators
# (pkg/providers/amifamily/al2023.go: x86_64 variants standard, nvidia, neuron), and that variant ships
# the Neuron driver (aws-neuronx-dkms). The Lustre kernel modules the FSx CSI driver mounts with come with
# the AL2023 kernel of every variant (docs/design-notes.md, "The Lustre client on the nodes"): no host install.
INFERENCE_AMI_ALIAS = "al2023@v20260714"

# The Neuron device plugin (and node problem detector) from the official Neuron Helm chart
# (AWS Neuron docs, "Kubernetes environment setup"); advertises `aws.amazon.com/neuron` on inf2 nodes.
# 1.10.0: pulled from public.ecr.aws/neuron/neuron-helm-chart in public install notes (`helm show values ...
# --version 1.10.0`); the newest release on aws-neuron/neuron-helm-charts' release page is 1.9.0 (SDK 2.31.0).
NEURON_HELM_CHART = "oci://public.ecr.aws/neuron/neuron-helm-chart"
NEURON_HELM_CHART_VERSION = "1.10.0"

# vLLM on Neuron: the AWS Neuron Deep Learning Container for vLLM 0.16.0 on Neuron SDK 2.31.1, the newest
# line that supports Inf2 (aws-neuron/deep-learning-containers README at its 2026-08-17 head:
# "trn1,trn2,trn3,inf2"; the newer 0.21 (SDK 2.31.1) and 0.24 (SDK 2.32.0) vllm-neuron images are Trn2/Trn3
# only). It carries the vllm-neuron plugin (release-0.5.3),
# NxD Inference 0.10.18399, neuronx-cc 2.26.6360.0 and torch-neuronx 2.9.0.2.15; Python 3.12, Ubuntu 24.04.
# Compiled artifacts are only valid for this SDK: NEURON_SDK_VERSION is part of their cache key.
# Prefix caching is supported on Inf2 in this line, so it is on (vllm/server.py): vllm-neuron
# vllm_neuron/platform.py (block size = max-model-len only with it off) and
# worker/neuronx_distributed_model_loader.py (maps it to NxD Inference's block KV layout); AWS Neuron "vLLM
# User Guide for NxD Inference" (Inf2, Trn1, Trn2: Prefix Caching functional). docs/performance.md has the rest.
VLLM_VERSION = "0.16.0"
NEURON_SDK_VERSION = "2.31.1"
_VLLM_NEURON_REPO = "public.ecr.aws/neuron/pytorch-inference-vllm-neuronx"
VLLM_NEURON_IMAGE = f"{_VLLM_NEURON_REPO}:{VLLM_VERSION}-neuronx-py312-sdk{NEURON_SDK_VERSION}-ubuntu24.04"

# Images of the model-load and preload Jobs (ModelLoader). Tags are pinned; their digests could not
# be read on the offline development machines: resolve and pin them by digest before production
# (`crane digest <image>` or `docker buildx imagetools inspect <image>`).
#  - The official Python image, Debian 13 slim (CPython 3.13): runs model_fetch.py. The load Job's init
#    container adds LOADER_PACKAGES from model_store/loader-requirements.txt, every wheel pinned by sha256
#    (pip hash-checking mode), into an emptyDir; the preload needs the standard library only. 3.13.14:
#    the newest patch of the 3.13 line (docker-library/python versions.json, "3.13": "3.13.14", variants
#    slim-trixie and slim-bookworm, 2026-06-23).
MODEL_LOADER_IMAGE = "docker.io/library/python:3.13.14-slim-trixie"
#  - `lfs` (Lustre client tools) for `lfs hsm_restore`: the FSx for Lustre CSI driver's own public image,
#    which installs Amazon Linux 2023's `lustre-client` package (upstream Dockerfile, release 1.9). The
#    tag follows the pinned aws-fsx-csi-driver add-on (v1.9.0-eksbuild.1 -> driver v1.9.0), so the
#    client tools match the driver that mounts the file system, and nodes usually have it cached.
LUSTRE_CLIENT_IMAGE = "public.ecr.aws/fsx-csi-driver/aws-fsx-csi-driver:v1.9.0"

# Open WebUI, the chat front end. 0.12.4 (2026-10-25) is >= 0.9.0, which fixed several 2026 advisories,
# and the newest release (PyPI `pip index versions open-webui`, 2026-12-02).
# The tag follows the upstream release naming (`v<version>` on ghcr.io/open-webui/open-webui); it was NOT
# checked against the registry from here (GHCR unreachable) and no verified digest was found in public
# sources: check it with `crane digest` (or `docker buildx imagetools inspect`) before a production rollout
# and prefer pinning that digest. The real-application tests run the SAME version from PyPI
# (`requirements-webui.txt` pins open-webui==0.12.4): keep the two in step.
OPEN_WEBUI_VERSION = "0.12.4"
OPEN_WEBUI_IMAGE = f"ghcr.io/open-webui/open-webui:v{OPEN_WEBUI_VERSION}"

# AWS Load Balancer Controller (only installed for the ALB exposures of the web UI): eks-charts chart
# 3.5.0 = appVersion v3.5.0 (helm/aws-load-balancer-controller/Chart.yaml at the v3.5.0 tag of
# kubernetes-sigs/aws-load-balancer-controller, its newest tag; aws/eks-charts stable/aws-load-balancer-
# controller/Chart.yaml at its 2026-08-03 head says the same). Its IAM policy is the upstream
# docs/install/iam_policy.json at the same tag, narrowed (iam/load_balancer_controller.py: move both together).
LOAD_BALANCER_CONTROLLER_CHART = "aws-load-balancer-controller"
LOAD_BALANCER_CONTROLLER_CHART_VERSION = "3.5.0"
LOAD_BALANCER_CONTROLLER_REPO = "https://aws.github.io/eks-charts"

# Python packages of the model-load Job (model_store/loader-requirements.txt holds their whole closure with the
# sha256 of each wheel; tests/test_model_fetch.py runs the script against these versions). Sources: PyPI,
# https://pypi.org/project/huggingface-hub/2.4.0/, https://pypi.org/project/hf-xet/1.8.0/,
# https://pypi.org/project/boto3/1.44.8/.
LOADER_PACKAGES = {"huggingface-hub": "2.4.0", "hf-xet": "1.8.0", "boto3": "1.44.8"}

# --- Operations: metrics, dashboards, alerts and autoscaling (issue 18) --------------------------------
# kube-prometheus-stack 88.5.3 (prometheus-community/helm-charts, tag kube-prometheus-stack-88.5.3,
# charts/kube-prometheus-stack/Chart.yaml): Prometheus Operator v0.93.1 (its appVersion), with the
# kube-state-metrics 8.4.0, prometheus-node-exporter 4.56.1 and grafana 12.11.1 subcharts. Its crds/ holds
# the operator's CRDs; tests/schemas/monitoring.coreos.com_*.yaml are those files at the same tag.
# Helm installs crds/ only on the first install: on a chart upgrade that bumps the operator, apply the new
# CRDs first (docs/operations-monitoring.md, "Upgrading").
PROMETHEUS_STACK_CHART = "kube-prometheus-stack"
PROMETHEUS_STACK_CHART_VERSION = "88.5.3"
PROMETHEUS_STACK_REPO = "https://prometheus-community.github.io/helm-charts"
PROMETHEUS_OPERATOR_VERSION = "0.93.1"

# KEDA 2.20.2 (kedacore/charts, tag v2.20.2, keda/Chart.yaml: version and appVersion 2.20.2). The
# ScaledObject schema in tests/schemas/keda.sh_scaledobjects.yaml is kedacore/keda
# config/crd/bases/keda.sh_scaledobjects.yaml at tag v2.20.2.
KEDA_CHART = "keda"
KEDA_CHART_VERSION = "2.20.2"
KEDA_REPO = "https://kedacore.github.io/charts"

# neuron-monitor with its Prometheus exporter (neuron-monitor-prometheus.py), the image the Neuron SDK
# publishes for Kubernetes: aws-neuron/aws-neuron-sdk src/k8/k8s-neuron-monitor-daemonset.yml (commit
# 81ce03ae, 2026-08) runs public.ecr.aws/neuron/neuron-monitor:1.3.0 on port 8000, privileged. The Neuron
# Helm chart does not include it. Resolve and pin the digest before production (`crane digest`).
NEURON_MONITOR_IMAGE = "public.ecr.aws/neuron/neuron-monitor:1.3.0"
