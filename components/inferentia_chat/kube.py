"""Kubernetes building blocks every component shares (so a rule is written once)."""

from collections.abc import Mapping, Sequence
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

# DNS is the only egress most of our pods need: CoreDNS pods in kube-system, UDP and TCP 53.
DNS_EGRESS: dict[str, Any] = {
    "to": [
        {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
            "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
        }
    ],
    "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
}

# The EKS Pod Identity agent's link-local endpoints (IPv4 and IPv6), where pods get AWS credentials.
POD_IDENTITY_EGRESS: dict[str, Any] = {
    "to": [{"ipBlock": {"cidr": "169.254.170.23/32"}}, {"ipBlock": {"cidr": "fd00:ec2::23/128"}}],
    "ports": [{"protocol": "TCP", "port": 80}],
}

# Ranges a pod that talks to the internet must still never reach on its way out: the two ranges EKS takes
# the Service CIDR from when none is given (Amazon EKS API, KubernetesNetworkConfigRequest
# serviceIpv4Cidr: "10.100.0.0/16 or 172.20.0.0/16"), link-local (instance metadata, 169.254.169.254), and
# the IPv6 unique-local and link-local ranges. The caller adds the VPC's own block (nodes and pods).
CLUSTER_INTERNAL_CIDRS: tuple[str, ...] = ("10.100.0.0/16", "172.20.0.0/16", "169.254.0.0/16")
INTERNAL_IPV6_CIDRS: tuple[str, ...] = ("fc00::/7", "fe80::/10")

# The label on every namespace the stack creates that says whether it is a production environment (the
# policy pack requires images pinned by digest in a stack with one; policies/rules.py has the same name).
ENVIRONMENT_LABEL = "inferentia-chat.io/environment"

# Pod Security Standard `restricted`, enforced, audited and warned, on every namespace the stack creates.
RESTRICTED_NAMESPACE_LABELS: dict[str, str] = {
    "pod-security.kubernetes.io/enforce": "restricted",
    "pod-security.kubernetes.io/enforce-version": "latest",
    "pod-security.kubernetes.io/audit": "restricted",
    "pod-security.kubernetes.io/warn": "restricted",
}

# Default deny: every pod of the namespace, no ingress, no egress; per-workload policies open what each
# needs (Kubernetes docs, "Network Policies": "Default deny all ingress and all egress traffic").
DEFAULT_DENY_NAME = "default-deny"
DEFAULT_DENY_SPEC: dict[str, Any] = {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}


def https_egress(excluded: Sequence[Any] = ()) -> dict[str, Any]:
    """HTTPS to the internet (Hugging Face, S3 endpoints: neither has a stable address range to allow
    instead), never to the VPC (`excluded`, e.g. its CIDR block), the Service range or instance metadata."""
    return {
        "to": [
            {"ipBlock": {"cidr": "0.0.0.0/0", "except": [*excluded, *CLUSTER_INTERNAL_CIDRS]}},
            {"ipBlock": {"cidr": "::/0", "except": list(INTERNAL_IPV6_CIDRS)}},
        ],
        "ports": [{"protocol": "TCP", "port": 443}],
    }


def default_deny(
    resource_name: str, namespace: Any, labels: Mapping[str, str], opts: pulumi.ResourceOptions
) -> k8s.networking.v1.NetworkPolicy:
    """The namespace's default-deny NetworkPolicy (`default-deny`)."""
    return k8s.networking.v1.NetworkPolicy(
        resource_name,
        metadata={"name": DEFAULT_DENY_NAME, "namespace": namespace, "labels": dict(labels)},
        spec=DEFAULT_DENY_SPEC,
        opts=opts,
    )


def network_policy_spec(
    pod_labels: dict[str, str], *, ingress: list[dict[str, Any]] | None = None, egress: list[dict[str, Any]]
) -> dict[str, Any]:
    """A default-deny policy for the selected pods, opening only the given ingress and egress rules."""
    return {
        "podSelector": {"matchLabels": pod_labels},
        "policyTypes": ["Ingress", "Egress"],
        "ingress": ingress or [],
        "egress": egress,
    }
