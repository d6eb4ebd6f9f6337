"""Default-deny networking for a namespace of third-party controllers (the monitoring stack, KEDA), whose pods
talk to the Kubernetes API, to AWS APIs and to each other, and take webhook calls from the API server.

What is opened beside the `default-deny` policy (inferentia_chat/kube.py), for every pod of the namespace:
- `same-namespace`: traffic between the namespace's own pods (e.g. Grafana to Prometheus, KEDA's operator to
  its metrics server);
- `platform-egress`: DNS, the Pod Identity agent, the Kubernetes API (HTTPS to the VPC block, where the
  control plane's network interfaces are, and to the Service ranges) and HTTPS to AWS APIs outside the VPC;
- `api-server-webhooks` (when `webhook_ports`): ingress from the VPC block on those ports only, the API server
  calling the namespace's admission webhooks or aggregated APIs.
"""

from collections.abc import Mapping, Sequence
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from .kube import CLUSTER_INTERNAL_CIDRS, DNS_EGRESS, POD_IDENTITY_EGRESS, default_deny, https_egress

SAME_NAMESPACE: dict[str, Any] = {"podSelector": {}}


def api_server_egress(vpc_cidr: str) -> dict[str, Any]:
    """HTTPS to the Kubernetes API: the control plane's interfaces in the VPC, and the `kubernetes` Service."""
    return {
        "to": [{"ipBlock": {"cidr": cidr}} for cidr in (vpc_cidr, *CLUSTER_INTERNAL_CIDRS[:2])],
        "ports": [{"protocol": "TCP", "port": 443}],
    }


def namespace_network(
    owner: pulumi.Resource,
    name: str,
    namespace: pulumi.Input[str],
    labels: Mapping[str, str],
    vpc_cidr: pulumi.Input[str],
    *,
    webhook_ports: Sequence[int] = (),
    depends_on: Sequence[pulumi.Resource] = (),
) -> list[k8s.networking.v1.NetworkPolicy]:
    """The namespace's default-deny policy and the allows of the module docstring."""
    opts = pulumi.ResourceOptions(parent=owner, depends_on=list(depends_on))
    policies = [default_deny(f"{name}-default-deny", namespace, labels, opts)]

    def policy(suffix: str, spec: Any) -> None:
        policies.append(
            k8s.networking.v1.NetworkPolicy(
                f"{name}-{suffix}",
                metadata={"name": suffix, "namespace": namespace, "labels": dict(labels)},
                spec=spec,
                opts=opts,
            )
        )

    every_pod = {"podSelector": {}}
    policy(
        "same-namespace",
        {
            **every_pod,
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [{"from": [SAME_NAMESPACE]}],
            "egress": [{"to": [SAME_NAMESPACE]}],
        },
    )
    policy(
        "platform-egress",
        pulumi.Output.from_input(vpc_cidr).apply(
            lambda cidr: {
                **every_pod,
                "policyTypes": ["Egress"],
                "egress": [DNS_EGRESS, POD_IDENTITY_EGRESS, api_server_egress(cidr), https_egress([cidr])],
            }
        ),
    )
    if webhook_ports:
        policy(
            "api-server-webhooks",
            pulumi.Output.from_input(vpc_cidr).apply(
                lambda cidr: {
                    **every_pod,
                    "policyTypes": ["Ingress"],
                    "ingress": [
                        {
                            "from": [{"ipBlock": {"cidr": cidr}}],
                            "ports": [{"protocol": "TCP", "port": p} for p in webhook_ports],
                        }
                    ],
                }
            ),
        )
    return policies
