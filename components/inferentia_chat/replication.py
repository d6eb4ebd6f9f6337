"""S3 replication of the model bucket: the rules, and the Batch Replication job for what predates them.

Pure functions (no resources): `ModelReplica` builds the replication configuration and the job from them.
"""

import json
import shlex
from collections.abc import Mapping, Sequence
from typing import Any

import pulumi_aws as aws

from .bucket import ProtectedBucket

# S3 Replication Time Control: 15 minutes is the only value S3 accepts, and RTC needs replication metrics
# (with the same event threshold). SLA: 99.99% of objects within 15 minutes.
RTC_MINUTES = 15

# Batch Replication (objects that predate the rule): where its manifest and report go, how long they stay.
MANIFEST_PREFIX = "batch-replication/manifests"
REPORT_PREFIX = "batch-replication/reports"
REPORT_RETENTION_DAYS = 90
BATCH_JOB_PRIORITY = 10
# Objects never replicated (NONE: older than the rule) and those whose replication failed.
BATCH_REPLICATION_STATUSES = ("NONE", "FAILED")


def rule_id(prefix: str) -> str:
    """The replication rule id of a prefix ('' is the whole bucket); also the RuleId metric dimension."""
    return f"replicate-{prefix.rstrip('/').replace('/', '-')}" if prefix else "replicate-whole-bucket"


def replication_rules(prefixes: Sequence[str]) -> list[tuple[str, str, int]]:
    """(rule id, prefix, priority) per rule: one per prefix, or one whole-bucket rule.

    Priorities must be unique; the first prefix listed gets the highest (S3 uses it when rules overlap).
    """
    if not prefixes:
        return [(rule_id(""), "", 0)]
    return [(rule_id(p), p, len(prefixes) - i) for i, p in enumerate(prefixes)]


def batch_replication_request(
    *,
    account: str,
    role_arn: str,
    source_bucket_arn: str,
    report_bucket_arn: str,
    report_key_arn: str,
    description: str,
) -> dict[str, Any]:
    """The S3 Control CreateJob request (API member names) of a Batch Replication job: S3 generates the
    manifest from the source bucket's replication configuration (objects eligible for it and never
    replicated or failed), stores it SSE-KMS beside the completion report, and replicates each object
    through the configuration's replication role."""
    return {
        "AccountId": account,
        "ConfirmationRequired": False,
        "Operation": {"S3ReplicateObject": {}},
        "Priority": BATCH_JOB_PRIORITY,
        "RoleArn": role_arn,
        "Description": description,
        "ManifestGenerator": {
            "S3JobManifestGenerator": {
                "ExpectedBucketOwner": account,
                "SourceBucket": source_bucket_arn,
                "EnableManifestOutput": True,
                "ManifestOutputLocation": {
                    "ExpectedManifestBucketOwner": account,
                    "Bucket": report_bucket_arn,
                    "ManifestPrefix": MANIFEST_PREFIX,
                    "ManifestEncryption": {"SSEKMS": {"KeyId": report_key_arn}},
                    "ManifestFormat": "S3InventoryReport_CSV_20211130",
                },
                "Filter": {
                    "EligibleForReplication": True,
                    "ObjectReplicationStatuses": list(BATCH_REPLICATION_STATUSES),
                },
            }
        },
        "Report": {
            "Bucket": report_bucket_arn,
            "Prefix": REPORT_PREFIX,
            "Format": "Report_CSV_20180820",
            "Enabled": True,
            "ReportScope": "AllTasks",
        },
    }


def batch_replication_command(request: Mapping[str, Any], region: str) -> str:
    """`aws s3control create-job ...` for a CreateJob request; the job runs in the source bucket's region.
    The CLI makes the idempotency token (ClientRequestToken) itself."""
    compact = lambda value: json.dumps(value, separators=(",", ":"))  # noqa: E731
    words = [
        "aws",
        "s3control",
        "create-job",
        "--region",
        region,
        "--account-id",
        request["AccountId"],
        "--no-confirmation-required" if not request["ConfirmationRequired"] else "--confirmation-required",
        "--operation",
        compact(request["Operation"]),
        "--manifest-generator",
        compact(request["ManifestGenerator"]),
        "--report",
        compact(request["Report"]),
        "--priority",
        str(request["Priority"]),
        "--role-arn",
        request["RoleArn"],
        "--description",
        request["Description"],
    ]
    return shlex.join(words)


def replication_rule(
    rid: str, prefix: str, priority: int, replica: ProtectedBucket, storage_class: str, delete_markers: bool
) -> aws.s3.BucketReplicationConfigRuleArgs:
    """One rule: SSE-KMS objects re-encrypted with the replica's key, Replication Time Control and metrics."""
    return aws.s3.BucketReplicationConfigRuleArgs(
        id=rid,
        status="Enabled",
        priority=priority,
        filter=aws.s3.BucketReplicationConfigRuleFilterArgs(prefix=prefix),
        delete_marker_replication=aws.s3.BucketReplicationConfigRuleDeleteMarkerReplicationArgs(
            status="Enabled" if delete_markers else "Disabled"
        ),
        source_selection_criteria=aws.s3.BucketReplicationConfigRuleSourceSelectionCriteriaArgs(
            sse_kms_encrypted_objects=aws.s3.BucketReplicationConfigRuleSourceSelectionCriteriaSseKmsEncryptedObjectsArgs(
                status="Enabled"
            )
        ),
        destination=aws.s3.BucketReplicationConfigRuleDestinationArgs(
            bucket=replica.bucket.arn,
            storage_class=storage_class,
            encryption_configuration=aws.s3.BucketReplicationConfigRuleDestinationEncryptionConfigurationArgs(
                replica_kms_key_id=replica.key.arn
            ),
            replication_time=aws.s3.BucketReplicationConfigRuleDestinationReplicationTimeArgs(
                status="Enabled",
                time=aws.s3.BucketReplicationConfigRuleDestinationReplicationTimeTimeArgs(minutes=RTC_MINUTES),
            ),
            metrics=aws.s3.BucketReplicationConfigRuleDestinationMetricsArgs(
                status="Enabled",
                event_threshold=aws.s3.BucketReplicationConfigRuleDestinationMetricsEventThresholdArgs(
                    minutes=RTC_MINUTES
                ),
            ),
        ),
    )
