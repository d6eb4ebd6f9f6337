"""The security group of the model store's file system: Lustre ports only, only with its peers.

Lustre traffic (FSx for Lustre user guide, "File system access control with Amazon VPC"): the LNet acceptor
port and the ports servers and clients use between each other, in both directions.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

LUSTRE_PORTS: tuple[tuple[int, int], ...] = ((988, 988), (1018, 1023))


@dataclass(frozen=True)
class LustreSecurityGroup:
    """The group, its rules among the file system's own interfaces, and the rules for its clients."""

    group: aws.ec2.SecurityGroup
    own_rules: list[pulumi.Resource]
    client_rules: list[pulumi.Resource]


def _port_range(low: int, high: int) -> str:
    return f"{low}" if low == high else f"{low}-{high}"


def _rule_pair(
    name: str, ports: tuple[int, int], peer: str, group_id: pulumi.Input[str], peer_id: pulumi.Input[str], **common
) -> list[pulumi.Resource]:
    """Ingress from and egress to one peer group on one Lustre port range (both are needed: FSx checks both)."""
    low, high = ports
    label = _port_range(low, high)
    rule = {"security_group_id": group_id, "referenced_security_group_id": peer_id, "ip_protocol": "tcp"}
    return [
        aws.vpc.SecurityGroupIngressRule(
            f"{name}-fs-in-{label}-{peer}",
            **rule,
            from_port=low,
            to_port=high,
            description=f"Lustre {label} from {peer}",
            **common,
        ),
        aws.vpc.SecurityGroupEgressRule(
            f"{name}-fs-out-{label}-{peer}",
            **rule,
            from_port=low,
            to_port=high,
            description=f"Lustre {label} to {peer}",
            **common,
        ),
    ]


def lustre_security_group(
    name: str,
    *,
    vpc_id: pulumi.Input[str],
    node_security_group_id: pulumi.Input[str] | None,
    tags: Mapping[str, str],
    parent: pulumi.Resource,
) -> LustreSecurityGroup:
    """The file system's group with rules among its own interfaces and, when given, with the cluster's nodes
    (the Lustre clients, and the only ones admitted: the control plane never mounts the file system); the
    nodes also accept the same ports from the file system."""
    child = pulumi.ResourceOptions(parent=parent)
    sg = aws.ec2.SecurityGroup(
        f"{name}-fs-sg",
        vpc_id=vpc_id,
        description="FSx for Lustre model store: Lustre traffic from the cluster only",
        tags={**tags, "Name": f"{name}-fs"},
        opts=child,
    )
    peers: dict[str, pulumi.Input[str]] = {"self": sg.id}
    if node_security_group_id is not None:
        peers["nodes"] = node_security_group_id
    own: list[pulumi.Resource] = []
    clients: list[pulumi.Resource] = []
    for ports in LUSTRE_PORTS:
        for peer, peer_id in peers.items():
            rules = own if peer == "self" else clients
            rules += _rule_pair(name, ports, peer, sg.id, peer_id, tags=tags, opts=child)
        if node_security_group_id is None:
            continue
        # Lustre servers also connect back to their clients: the nodes accept the same ports from the file
        # system (and only from it).
        label = _port_range(*ports)
        clients.append(
            aws.vpc.SecurityGroupIngressRule(
                f"{name}-nodes-in-{label}-fs",
                security_group_id=node_security_group_id,
                referenced_security_group_id=sg.id,
                ip_protocol="tcp",
                from_port=ports[0],
                to_port=ports[1],
                description=f"Lustre {label} from the model store file system",
                tags=tags,
                opts=child,
            )
        )
    return LustreSecurityGroup(sg, own, clients)
