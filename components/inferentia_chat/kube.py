"""Kubernetes building blocks every component shares (so a rule is written once)."""

from typing import Any

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

# HTTPS to anywhere (Hugging Face, S3 endpoints): neither has a stable address range to allow instead.
HTTPS_EGRESS: dict[str, Any] = {
    "to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}, {"ipBlock": {"cidr": "::/0"}}],
    "ports": [{"protocol": "TCP", "port": 443}],
}


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
