"""AWS building blocks several components create the same way (so a setting is decided once)."""

from collections.abc import Mapping

import pulumi
import pulumi_aws as aws


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
