"""IAM policy documents as small pure functions (unit-tested and linted without any Pulumi runtime).

Each returns a policy document as a dict; callers `json.dumps` it. ARNs are built from partition,
region and account so the same code serves aws, aws-cn and aws-us-gov.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

Policy = dict[str, Any]

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


def managed_policy_arn(partition: str, name: str) -> str:
    """ARN of an AWS managed policy (`service-role/...` names included)."""
    return f"arn:{partition}:iam::aws:policy/{name}"


def pod_identity_trust_policy() -> Policy:
    """Trust policy of a role used through EKS Pod Identity (the agent tags the session)."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "EksPodIdentity",
                "Effect": "Allow",
                "Principal": {"Service": "pods.eks.amazonaws.com"},
                "Action": ["sts:AssumeRole", "sts:TagSession"],
            }
        ],
    }


def ec2_trust_policy() -> Policy:
    """Trust policy of an EC2 node role."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "Ec2Nodes",
                "Effect": "Allow",
                "Principal": {"Service": "ec2.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }


def kms_key_policy(
    partition: str, account: str, *, log_group_arn: str | None = None, fsx_s3_link: FsxS3Link | None = None
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
    return {"Version": "2012-10-17", "Statement": statements}


def deny_insecure_transport_policy(bucket_arn: str) -> Policy:
    """Bucket policy: every request over plain HTTP is refused, whoever makes it."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [bucket_arn, f"{bucket_arn}/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            }
        ],
    }


def model_source_read_policy(partition: str, bucket: str, prefix: str) -> Policy:
    """What the model-load Job needs to copy a model from `s3://bucket/prefix`: list that prefix and
    read its objects (HEAD included), nothing else.
    """
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ListTheModelPrefix",
                "Effect": "Allow",
                "Action": "s3:ListBucket",
                "Resource": f"arn:{partition}:s3:::{bucket}",
                "Condition": {"StringLike": {"s3:prefix": f"{prefix}*"}},
            },
            {
                "Sid": "ReadTheModelObjects",
                "Effect": "Allow",
                "Action": "s3:GetObject",
                "Resource": f"arn:{partition}:s3:::{bucket}/{prefix}*",
            },
        ],
    }


def ebs_csi_kms_policy(key_arn: str) -> Policy:
    """What the EBS CSI driver needs, beyond AmazonEBSCSIDriverPolicy, to create volumes encrypted
    with a customer key (EBS CSI driver docs, "KMS key policy"): grants for the attachment, and use
    of the one key.
    """
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "GrantsForEbsVolumes",
                "Effect": "Allow",
                "Action": ["kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"],
                "Resource": key_arn,
                "Condition": {"Bool": {"kms:GrantIsForAWSResource": "true"}},
            },
            {
                "Sid": "UseKeyForEbsVolumes",
                "Effect": "Allow",
                "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"],
                "Resource": key_arn,
            },
        ],
    }


def fsx_csi_static_policy() -> Policy:
    """The FSx CSI controller with statically provisioned volumes only reads file-system state.

    Dynamic provisioning (not used here: the file system is owned by Pulumi) would need create,
    delete and service-linked-role permissions; AWS's suggested AmazonFSxFullAccess is deliberately
    not attached.
    """
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "DescribeFileSystems",
                "Effect": "Allow",
                "Action": ["fsx:DescribeFileSystems"],
                "Resource": "*",
            }
        ],
    }
