"""AWS access for a Kubernetes service account through EKS Pod Identity: role, its policy, the association.

One way for every component (Karpenter, the load balancer controller, the model loader; the EKS add-ons use
the role alone and associate it themselves), so
the trust policy and the order (the association waits for the policy: a pod never holds credentials that
cannot do their job yet) are decided once.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from .. import iam


@dataclass(frozen=True)
class PodIdentityAccess:
    """The role, its inline policy and the association."""

    role: aws.iam.Role
    policy: aws.iam.RolePolicy
    association: aws.eks.PodIdentityAssociation


def pod_identity_role(
    resource_name: str,
    *,
    cluster_name: pulumi.Input[str],
    namespace: pulumi.Input[str],
    service_account: pulumi.Input[str],
    description: str,
    tags: Mapping[str, str],
    opts: pulumi.ResourceOptions,
) -> aws.iam.Role:
    """An IAM role that ONE service account of ONE cluster (in this provider's account and region) assumes
    through EKS Pod Identity (its policies are the caller's); `opts` carries the parent component."""
    partition = aws.get_partition().partition
    region = aws.get_region().region
    account = aws.get_caller_identity().account_id
    trust = pulumi.Output.all(cluster_name, namespace, service_account).apply(
        lambda a: json.dumps(
            iam.pod_identity_trust_policy(
                iam.PodIdentitySubject(account, iam.eks_cluster_arn(partition, region, account, a[0]), a[1], a[2])
            )
        )
    )
    return aws.iam.Role(resource_name, description=description, assume_role_policy=trust, tags=dict(tags), opts=opts)


def pod_identity_access(
    *,
    role_name: str,
    policy_name: str,
    association_name: str,
    description: str,
    policy: pulumi.Input[str],
    cluster_name: pulumi.Input[str],
    namespace: pulumi.Input[str],
    service_account: str,
    tags: Mapping[str, str],
    opts: pulumi.ResourceOptions,
) -> PodIdentityAccess:
    """A Pod Identity role with `policy` (JSON) inline, associated with `namespace/service_account`.

    The resource names are the caller's (they are part of running stacks' URNs); `opts` carries the parent
    component (and any aliases)."""
    role = pod_identity_role(
        role_name,
        cluster_name=cluster_name,
        namespace=namespace,
        service_account=service_account,
        description=description,
        tags=tags,
        opts=opts,
    )
    inline = aws.iam.RolePolicy(policy_name, role=role.id, policy=policy, opts=opts)
    association = aws.eks.PodIdentityAssociation(
        association_name,
        cluster_name=cluster_name,
        namespace=namespace,
        service_account=service_account,
        role_arn=role.arn,
        tags=dict(tags),
        opts=pulumi.ResourceOptions(depends_on=[inline]).merge(opts),
    )
    return PodIdentityAccess(role, inline, association)
