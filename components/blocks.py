"""AWS building blocks several components create the same way (so a setting is decided once)."""

import json
from collections.abc import Mapping

import pulumi
import pulumi_aws as aws

from . import iam


def customer_key(
    resource_name: str,
    *,
    description: str,
    alias: str,
    tags: Mapping[str, str],
    parent: pulumi.Resource,
    policy: pulumi.Input[str] | None = None,
    region: pulumi.Input[str] | None = None,
) -> aws.kms.Key:
    """A customer-managed KMS key (automatic yearly rotation, 30-day deletion window) and its alias
    (`<resource_name>-alias`). `policy` None leaves the KMS default policy (the account, through IAM)."""
    child = pulumi.ResourceOptions(parent=parent)
    key = aws.kms.Key(
        resource_name,
        description=description,
        enable_key_rotation=True,
        deletion_window_in_days=30,
        policy=policy,
        region=region,
        tags=dict(tags),
        opts=child,
    )
    aws.kms.Alias(f"{resource_name}-alias", name=alias, target_key_id=key.key_id, region=region, opts=child)
    return key


def pod_identity_role(
    resource_name: str,
    *,
    cluster_name: pulumi.Input[str],
    namespace: pulumi.Input[str],
    service_account: pulumi.Input[str],
    description: str,
    tags: Mapping[str, str],
    parent: pulumi.Resource,
) -> aws.iam.Role:
    """An IAM role that ONE service account of ONE cluster (in this provider's account and region) assumes
    through EKS Pod Identity (its policies are the caller's)."""
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
    return aws.iam.Role(
        resource_name,
        description=description,
        assume_role_policy=trust,
        tags=dict(tags),
        opts=pulumi.ResourceOptions(parent=parent),
    )
