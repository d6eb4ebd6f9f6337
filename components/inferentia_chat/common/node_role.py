"""The IAM role EC2 nodes run as, with AWS managed policies attached (system nodes and Karpenter's nodes)."""

import json
from collections.abc import Iterable, Mapping

import pulumi
import pulumi_aws as aws

from .. import iam


def ec2_node_role(
    prefix: str,
    *,
    description: str,
    policies: Iterable[str],
    partition: str,
    tags: Mapping[str, str],
    opts: pulumi.ResourceOptions,
) -> tuple[aws.iam.Role, list[aws.iam.RolePolicyAttachment]]:
    """`<prefix>-role` for EC2, and `<prefix>-<policy>` attaching each AWS managed policy (the names are part
    of running stacks' URNs)."""
    role = aws.iam.Role(
        f"{prefix}-role",
        description=description,
        assume_role_policy=json.dumps(iam.ec2_trust_policy()),
        tags=dict(tags),
        opts=opts,
    )
    attachments = [
        aws.iam.RolePolicyAttachment(
            f"{prefix}-{policy}", role=role.name, policy_arn=iam.managed_policy_arn(partition, policy), opts=opts
        )
        for policy in policies
    ]
    return role, attachments
