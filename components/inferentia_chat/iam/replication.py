"""S3 replication of the model bucket (the DR stack's ModelReplica): the replication and Batch Replication
roles, and the alarm topic."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .policy import Policy


def object_arns(bucket_arn: str, prefixes: Sequence[str]) -> list[str]:
    """Object ARNs of the whole bucket (no prefixes) or of the given key prefixes only."""
    return [f"{bucket_arn}/{p}*" for p in prefixes] or [f"{bucket_arn}/*"]


def s3_encryption_context(bucket_arn: str, prefixes: Sequence[str]) -> list[str]:
    """Values of `kms:EncryptionContext:aws:s3:arn` for objects of a bucket (or of its prefixes).

    With S3 Bucket Keys (on for every bucket here) the context is the bucket ARN, whatever the object; an
    object written with the bucket key turned off carries its own ARN: both are allowed.
    """
    return [bucket_arn, *object_arns(bucket_arn, prefixes)]


@dataclass(frozen=True)
class ReplicationEnds:
    """Source and replica of a cross-region replication: buckets, their customer keys and regions."""

    source_bucket_arn: str
    source_key_arn: str
    source_region: str
    replica_bucket_arn: str
    replica_key_arn: str
    replica_region: str


def replication_role_policy(ends: ReplicationEnds, prefixes: Sequence[str], replicate_deletes: bool) -> Policy:
    """What S3 needs to replicate SSE-KMS objects from the source to the replica, nothing more
    (Amazon S3 user guide, "Setting up permissions for live replication" and "Replicating encrypted
    objects"): read the replication configuration and the objects' versions for replication at the source,
    write replicas (and tags; delete markers only when they are replicated) at the destination, decrypt with
    the source key and encrypt with the replica key, each only through S3 in its own region and only for
    these buckets' objects.

    The source key lives in the primary stack; its key policy delegates to IAM (the account statement of
    `kms_key_policy`), so this same-account identity policy is what lets the role use it.
    kms:GenerateDataKey on the replica key: with S3 Bucket Keys on the replica, S3 makes the bucket-level
    data key with the role's credentials.
    """
    write = ["s3:ReplicateObject", "s3:ReplicateTags"] + (["s3:ReplicateDelete"] if replicate_deletes else [])
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ReadTheReplicationConfiguration",
                "Effect": "Allow",
                "Action": ["s3:GetReplicationConfiguration", "s3:ListBucket"],
                "Resource": ends.source_bucket_arn,
            },
            {
                "Sid": "ReadSourceVersionsForReplication",
                "Effect": "Allow",
                "Action": [
                    "s3:GetObjectVersionForReplication",
                    "s3:GetObjectVersionAcl",
                    "s3:GetObjectVersionTagging",
                ],
                "Resource": object_arns(ends.source_bucket_arn, prefixes),
            },
            {
                "Sid": "WriteReplicas",
                "Effect": "Allow",
                "Action": sorted(write),
                "Resource": object_arns(ends.replica_bucket_arn, prefixes),
            },
            {
                "Sid": "DecryptSourceObjectsThroughS3",
                "Effect": "Allow",
                "Action": "kms:Decrypt",
                "Resource": ends.source_key_arn,
                "Condition": {
                    "StringEquals": {"kms:ViaService": f"s3.{ends.source_region}.amazonaws.com"},
                    "StringLike": {
                        "kms:EncryptionContext:aws:s3:arn": s3_encryption_context(ends.source_bucket_arn, prefixes)
                    },
                },
            },
            {
                "Sid": "EncryptReplicasThroughS3",
                "Effect": "Allow",
                "Action": ["kms:Encrypt", "kms:GenerateDataKey"],
                "Resource": ends.replica_key_arn,
                "Condition": {
                    "StringEquals": {"kms:ViaService": f"s3.{ends.replica_region}.amazonaws.com"},
                    "StringLike": {
                        "kms:EncryptionContext:aws:s3:arn": s3_encryption_context(ends.replica_bucket_arn, prefixes)
                    },
                },
            },
        ],
    }


@dataclass(frozen=True)
class BatchReportLocation:
    """Where a Batch Replication job writes its generated manifest and its completion report."""

    bucket_arn: str
    key_arn: str
    region: str
    manifest_prefix: str
    report_prefix: str


def batch_replication_policy(source_bucket_arn: str, prefixes: Sequence[str], reports: BatchReportLocation) -> Policy:
    """What an S3 Batch Replication job with an S3-generated, stored manifest needs (Amazon S3 user guide,
    "Configuring an IAM role for S3 Batch Replication"): start replication of the source's objects, read
    its replication configuration and create the inventory the manifest is made from, then write (and
    read back) the manifest and write the completion report. The objects themselves are copied by the
    replication role of the configuration, not by this one.

    The manifest is SSE-KMS with the report bucket's key (hence kms:GenerateDataKey and kms:Decrypt through
    S3); completion reports are always SSE-S3 (S3 Batch Operations user guide).
    """
    bucket = reports.bucket_arn
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "InitiateReplicationOfSourceObjects",
                "Effect": "Allow",
                "Action": "s3:InitiateReplication",
                "Resource": object_arns(source_bucket_arn, prefixes),
            },
            {
                "Sid": "ReadReplicationConfigurationAndGenerateManifest",
                "Effect": "Allow",
                "Action": ["s3:GetReplicationConfiguration", "s3:PutInventoryConfiguration"],
                "Resource": source_bucket_arn,
            },
            {
                "Sid": "ReadTheGeneratedManifest",
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:GetObjectVersion"],
                "Resource": f"{bucket}/{reports.manifest_prefix}/*",
            },
            {
                "Sid": "WriteManifestAndReport",
                "Effect": "Allow",
                "Action": "s3:PutObject",
                "Resource": [f"{bucket}/{reports.manifest_prefix}/*", f"{bucket}/{reports.report_prefix}/*"],
            },
            {
                "Sid": "EncryptTheManifestThroughS3",
                "Effect": "Allow",
                "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
                "Resource": reports.key_arn,
                "Condition": {
                    "StringEquals": {"kms:ViaService": f"s3.{reports.region}.amazonaws.com"},
                    "StringLike": {
                        "kms:EncryptionContext:aws:s3:arn": s3_encryption_context(
                            bucket, [f"{reports.manifest_prefix}/"]
                        )
                    },
                },
            },
        ],
    }


def cloudwatch_alarm_source(partition: str, account: str, region: str) -> dict[str, Any]:
    """Condition: the request comes from a CloudWatch alarm of this account and region."""
    return {
        "ArnLike": {"aws:SourceArn": f"arn:{partition}:cloudwatch:{region}:{account}:alarm:*"},
        "StringEquals": {"aws:SourceAccount": account},
    }


def alarm_topic_policy(topic_arn: str, partition: str, account: str, region: str) -> Policy:
    """Who may use the alarm topic: CloudWatch alarms of this account and region may publish; nobody may
    publish without TLS. Same-account administrators keep access through their IAM policies."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "CloudWatchAlarmsPublish",
                "Effect": "Allow",
                "Principal": {"Service": "cloudwatch.amazonaws.com"},
                "Action": "sns:Publish",
                "Resource": topic_arn,
                "Condition": cloudwatch_alarm_source(partition, account, region),
            },
            {
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "sns:Publish",
                "Resource": topic_arn,
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            },
        ],
    }
