"""The web UI's way in through an Application Load Balancer (the `internal-alb` and `public-alb` exposures):
an Ingress the AWS Load Balancer Controller turns into an HTTPS-only ALB with a source allowlist."""

from collections.abc import Mapping, Sequence

import pulumi
import pulumi_kubernetes as k8s

from .open_webui_env import READY_PATH

# TLS 1.3 and 1.2 only, forward-secret ciphers (Elastic Load Balancing "Security policies").
SSL_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"


def ingress_annotations(exposure: str, certificate_arn: str, inbound_cidrs: Sequence[str]) -> dict[str, str]:
    """AWS Load Balancer Controller annotations: HTTPS only (HTTP answers with a redirect), TLS 1.2+,
    the source allowlist on the ALB's security group, pod IPs as targets, health checked on the app's readiness route.
    (The controller tags the ALB with the stack's tags: its `defaultTags`.)"""
    return {
        "alb.ingress.kubernetes.io/scheme": "internet-facing" if exposure == "public-alb" else "internal",
        "alb.ingress.kubernetes.io/target-type": "ip",
        "alb.ingress.kubernetes.io/listen-ports": '[{"HTTP": 80}, {"HTTPS": 443}]',
        "alb.ingress.kubernetes.io/ssl-redirect": "443",
        "alb.ingress.kubernetes.io/certificate-arn": certificate_arn,
        "alb.ingress.kubernetes.io/ssl-policy": SSL_POLICY,
        "alb.ingress.kubernetes.io/inbound-cidrs": ",".join(inbound_cidrs),
        "alb.ingress.kubernetes.io/backend-protocol": "HTTP",
        "alb.ingress.kubernetes.io/healthcheck-path": READY_PATH,
        # Long streamed answers and websockets stay open; malformed headers never reach the app.
        "alb.ingress.kubernetes.io/load-balancer-attributes": (
            "idle_timeout.timeout_seconds=300,routing.http.drop_invalid_header_fields.enabled=true"
        ),
    }


def alb_ingress(
    resource_name: str,
    namespace: str,
    service: str,
    labels: Mapping[str, str],
    exposure: str,
    hostname: str | None,
    certificate_arn: str,
    allowed_cidrs: Sequence[str],
    vpc_cidr: pulumi.Input[str],
    opts: pulumi.ResourceOptions,
) -> k8s.networking.v1.Ingress:
    """The ALB Ingress in front of `service` (TLS with the given certificate; the allowlist as inbound CIDRs,
    the VPC block when none is given)."""
    inbound = list(allowed_cidrs)
    cidrs = pulumi.Output.from_input(vpc_cidr).apply(lambda vpc: inbound or [vpc])
    return k8s.networking.v1.Ingress(
        resource_name,
        metadata=k8s.meta.v1.ObjectMetaArgs(
            name=service,
            namespace=namespace,
            labels=dict(labels),
            annotations=cidrs.apply(lambda c: ingress_annotations(exposure, certificate_arn, c)),
        ),
        spec={
            "ingressClassName": "alb",
            "rules": [
                {
                    "host": hostname,
                    "http": {
                        "paths": [
                            {
                                "path": "/",
                                "pathType": "Prefix",
                                "backend": {"service": {"name": service, "port": {"name": "http"}}},
                            }
                        ]
                    },
                }
            ],
        },
        opts=opts,
    )
