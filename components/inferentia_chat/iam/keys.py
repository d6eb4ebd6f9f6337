"""KMS key policies: the account through IAM, plus the services a key serves (logs, FSx, CloudWatch)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .policy import Policy
from .replication import cloudwatch_alarm_source

# The FSx service-linked role that reads and writes a linked S3 bucket for ONE file system
# (FSx for Lustre user guide, "Using service-linked roles for Amazon FSx").
FSX_S3_ACCESS_ROLE_PATH = "aws-service-role/s3.data-source.lustre.fsx.amazonaws.com"


def fsx_s3_access_role_arn(partition: str, account: str, file_system_id: str) -> str:
    """ARN of `AWSServiceRoleForFSxS3Access_<fs-id>`, the role FSx uses for that file system's S3 link."""
    return (
        f"arn:{partition}:iam::{account}:role/{FSX_S3_ACCESS_ROLE_PATH}/AWSServiceRoleForFSxS3Access_{file_system_id}"
    )


@dataclass(frozen=True)
class FsxS3Link:
    """A file system linked to an SSE-KMS bucket whose key the FSx S3-access role must be able to use."""

    file_system_id: str
    bucket_arn: str
    region: str


def kms_key_policy(
    partition: str,
    account: str,
    *,
    log_group_arn: str | None = None,
    fsx_s3_link: FsxS3Link | None = None,
    cloudwatch_alarms_region: str | None = None,
) -> Policy:
    """A customer-managed key policy that leaves access to IAM: the account principal administers
    and uses the key, so only roles whose IAM policies name this key can use it (EKS uses it for
    Secrets through the cluster role; the EBS CSI driver through `ebs_csi_kms_policy`).

    With `log_group_arn`, CloudWatch Logs may use the key for that log group
    (the service has no IAM role of its own; AWS scopes it by the encryption context).

    With `fsx_s3_link`, the FSx S3-access service-linked role of that ONE file system may use the key
    for that ONE bucket, through S3 only (FSx for Lustre user guide, "Working with server-side encrypted
    Amazon S3 buckets"; with S3 Bucket Keys the encryption context is the bucket ARN). The role is
    named by the `aws:PrincipalArn` condition rather than as the Principal: KMS refuses a policy whose
    Principal names a role that does not exist yet, and FSx creates this role when it links the file
    system to S3, after the file system itself exists. A condition has no such check, so the policy can
    be set between the two. Service-linked roles have no IAM policy for this key, so the grant must be
    in the key policy itself.

    With `cloudwatch_alarms_region`, CloudWatch alarms of this account in that region may use the key to
    publish to the SNS topic it encrypts (Amazon SNS developer guide, "Enable compatibility between event
    sources from AWS services and encrypted topics": the publishing service principal needs
    kms:GenerateDataKey* and kms:Decrypt; CloudWatch has no role of its own). The source conditions keep
    the service from using it for other accounts' alarms (confused deputy).
    """
    statements: list[dict[str, Any]] = [
        {
            "Sid": "AccountManagesKeyThroughIam",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:{partition}:iam::{account}:root"},
            "Action": "kms:*",
            "Resource": "*",
        }
    ]
    if log_group_arn:
        region = log_group_arn.split(":")[3]
        statements.append(
            {
                "Sid": "CloudWatchLogsUseKey",
                "Effect": "Allow",
                "Principal": {"Service": f"logs.{region}.amazonaws.com"},
                # Only calls that carry the log group's encryption context can match the condition.
                "Action": ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*"],
                "Resource": "*",
                "Condition": {"StringEquals": {"kms:EncryptionContext:aws:logs:arn": log_group_arn}},
            }
        )
    if fsx_s3_link:
        link = fsx_s3_link
        statements.append(
            {
                "Sid": "FsxS3AccessRoleUsesKeyForTheLinkedBucket",
                "Effect": "Allow",
                "Principal": {"AWS": "*"},
                # The AWS example also lists kms:DescribeKey, which carries no encryption context and so
                # could never match the condition below: left out rather than granted unconditionally.
                "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*"],
                "Resource": "*",
                "Condition": {
                    "StringEquals": {
                        "aws:PrincipalArn": fsx_s3_access_role_arn(partition, account, link.file_system_id),
                        "kms:CallerAccount": account,
                        "kms:ViaService": f"s3.{link.region}.amazonaws.com",
                    },
                    "StringLike": {"kms:EncryptionContext:aws:s3:arn": link.bucket_arn},
                },
            }
        )
    if cloudwatch_alarms_region:
        statements.append(
            {
                "Sid": "CloudWatchAlarmsPublishToTheEncryptedTopic",
                "Effect": "Allow",
                "Principal": {"Service": "cloudwatch.amazonaws.com"},
                "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
                "Resource": "*",
                "Condition": cloudwatch_alarm_source(partition, account, cloudwatch_alarms_region),
            }
        )
    return {"Version": "2012-10-17", "Statement": statements}
