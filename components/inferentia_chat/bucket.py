"""The house bucket: one piece of code for every S3 bucket the components create.

A customer KMS key (rotating) and a bucket that is owner-enforced, fully private, SSE-KMS with S3 Bucket
Keys, versioned, TLS-only, with old versions expiring. `LustreModelStore` makes its model bucket with it and
`ModelReplica` its replica (and its Batch Replication report bucket), so both sides of the replication carry
the same protections by construction. Not a component: the resources are children of the caller's component
and keep the caller's names (`<name>-key`, `<name>-bucket`, `<name>-bucket-versioning`...).
"""

import json
from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from . import iam
from .blocks import customer_key

# Incomplete multipart uploads (an interrupted model copy) are removed after this many days.
ABORT_MULTIPART_DAYS = 7


@dataclass(frozen=True)
class ProtectedBucket:
    """The key and bucket of `protected_bucket`, and the protections users of the bucket wait for."""

    key: aws.kms.Key
    bucket: aws.s3.Bucket
    versioning: aws.s3.BucketVersioning
    protections: list[pulumi.Resource]


def protected_bucket(
    name: str,
    *,
    parent: pulumi.Resource,
    key_description: str,
    key_alias: str,
    noncurrent_version_days: int,
    tags: Mapping[str, str],
    region: pulumi.Input[str] | None = None,
    key_policy: pulumi.Input[str] | None = None,
    expire_objects_days: int | None = None,
) -> ProtectedBucket:
    """Create the key, the bucket and its protections as children of `parent`.

    `region` places every resource in that region (pulumi-aws v7 per-resource region; None: the provider's).
    `key_policy` (JSON) sets the key policy at creation; None leaves the KMS default (the account
    administers and uses the key through IAM) for a later `aws.kms.KeyPolicy` to replace.
    `expire_objects_days` also expires current objects (report buckets); model data never expires.
    """
    child = pulumi.ResourceOptions(parent=parent)
    key = customer_key(
        f"{name}-key",
        description=key_description,
        alias=key_alias,
        policy=key_policy,
        region=region,
        tags=tags,
        parent=parent,
    )
    bucket = aws.s3.Bucket(f"{name}-bucket", region=region, tags=dict(tags), opts=child)
    owner_only = aws.s3.BucketOwnershipControls(
        f"{name}-bucket-ownership",
        bucket=bucket.id,
        rule=aws.s3.BucketOwnershipControlsRuleArgs(object_ownership="BucketOwnerEnforced"),
        region=region,
        opts=child,
    )
    private = aws.s3.BucketPublicAccessBlock(
        f"{name}-bucket-public-access",
        bucket=bucket.id,
        block_public_acls=True,
        block_public_policy=True,
        ignore_public_acls=True,
        restrict_public_buckets=True,
        region=region,
        opts=child,
    )
    encryption = aws.s3.BucketServerSideEncryptionConfiguration(
        f"{name}-bucket-encryption",
        bucket=bucket.id,
        rules=[
            aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                    sse_algorithm="aws:kms", kms_master_key_id=key.arn
                ),
                # One data key per bucket instead of per object: far fewer KMS calls for a model of large
                # files. The KMS encryption context of its objects is then the bucket ARN (policies that
                # scope by `kms:EncryptionContext:aws:s3:arn` must name it).
                bucket_key_enabled=True,
            )
        ],
        region=region,
        opts=child,
    )
    versioning = aws.s3.BucketVersioning(
        f"{name}-bucket-versioning",
        bucket=bucket.id,
        versioning_configuration=aws.s3.BucketVersioningVersioningConfigurationArgs(status="Enabled"),
        region=region,
        opts=child,
    )
    tls_only = aws.s3.BucketPolicy(
        f"{name}-bucket-policy",
        bucket=bucket.id,
        policy=bucket.arn.apply(lambda arn: json.dumps(iam.deny_insecure_transport_policy(arn))),
        region=region,
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[private]),
    )
    lifecycle = aws.s3.BucketLifecycleConfiguration(
        f"{name}-bucket-lifecycle",
        bucket=bucket.id,
        rules=[
            aws.s3.BucketLifecycleConfigurationRuleArgs(
                id="expire-noncurrent-versions",
                status="Enabled",
                filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=""),
                noncurrent_version_expiration=aws.s3.BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs(
                    noncurrent_days=noncurrent_version_days
                ),
                abort_incomplete_multipart_upload=aws.s3.BucketLifecycleConfigurationRuleAbortIncompleteMultipartUploadArgs(
                    days_after_initiation=ABORT_MULTIPART_DAYS
                ),
                expiration=aws.s3.BucketLifecycleConfigurationRuleExpirationArgs(days=expire_objects_days)
                if expire_objects_days
                else None,
            )
        ],
        region=region,
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[versioning]),
    )
    return ProtectedBucket(
        key=key,
        bucket=bucket,
        versioning=versioning,
        protections=[owner_only, private, encryption, versioning, tls_only, lifecycle],
    )
