"""Every version the stacks deploy, pinned here and nowhere else, each with why and where it was read.

Upgrades are one edit in this file plus a `pulumi preview`. Before a production upgrade, confirm the EKS
add-on versions for the target Kubernetes minor with
`aws eks describe-addon-versions --kubernetes-version <minor> --addon-name <name>`.
"""

from __future__ import annotations

# Kubernetes 1.36: the newest EKS minor that the pinned Karpenter release supports (Karpenter's
# compatibility matrix: 1.14.x covers Kubernetes 1.26-1.36; 1.36 needs Karpenter >= 1.13).
KUBERNETES_VERSION = "1.36"

# EKS managed add-ons, per Kubernetes minor. A minor is supported by this project only when its add-on
# set is pinned here; config validation offers exactly these keys.
#  - kube-proxy: the version AWS documents for 1.36 (EKS user guide, "Manage kube-proxy").
#  - vpc-cni v1.22.4-eksbuild.3: seen installed on a 1.36 cluster in public deploy notes (2026-09);
#    >= 1.14 needed for network policy enforcement (`enableNetworkPolicy`).
#  - coredns v1.14.3-eksbuild.3: pinned with EKS 1.36 in public infrastructure code.
#  - eks-pod-identity-agent v1.3.10-eksbuild.3: pinned with EKS 1.36 in public infrastructure code.
#  - aws-ebs-csi-driver v1.63.1-eksbuild.1: pinned with EKS 1.36 in public infrastructure code.
#  - aws-fsx-csi-driver v1.9.0-eksbuild.1: driver release v1.9.0 (2026-04); Lustre 2.15 client support.
# The four from public code (not an AWS table) are the ones to re-check with describe-addon-versions.
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

# Open WebUI, the chat front end. 0.12.4 (2026-10-25) is >= 0.9.0, which fixed several 2026 advisories.
# The tag follows the upstream release naming (`v<version>` on ghcr.io/open-webui/open-webui); it was NOT
# checked against the registry from here (GHCR unreachable) and no verified digest was found in public
# sources: check it with `crane digest` (or `docker buildx imagetools inspect`) before a production rollout
# and prefer pinning that digest. The real-application tests run the SAME version from PyPI
# (`requirements-webui.txt` pins open-webui==0.12.4): keep the two in step.
OPEN_WEBUI_VERSION = "0.12.4"
OPEN_WEBUI_IMAGE = f"ghcr.io/open-webui/open-webui:v{OPEN_WEBUI_VERSION}"

# AWS Load Balancer Controller (only installed for the ALB exposures of the web UI): eks-charts chart
# 3.5.0 = appVersion v3.5.0 (helm/aws-load-balancer-controller/Chart.yaml at the v3.5.0 tag of
# kubernetes-sigs/aws-load-balancer-controller; 3.6.0 also exists). Its IAM policy is the upstream
# docs/install/iam_policy.json at the same tag (components/iam.py: move both together).
LOAD_BALANCER_CONTROLLER_CHART = "aws-load-balancer-controller"
LOAD_BALANCER_CONTROLLER_CHART_VERSION = "3.5.0"
LOAD_BALANCER_CONTROLLER_REPO = "https://aws.github.io/eks-charts"
