"""IAM policy documents as small pure functions (unit-tested and linted without any Pulumi runtime).

Each returns a policy document as a dict; callers `json.dumps` it. ARNs are built from partition,
region and account so the same code serves aws, aws-cn and aws-us-gov.
"""

from __future__ import annotations

from typing import Any

Policy = dict[str, Any]


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


def kms_key_policy(partition: str, account: str, *, log_group_arn: str | None = None) -> Policy:
    """A customer-managed key policy that leaves access to IAM: the account principal administers
    and uses the key, so only roles whose IAM policies name this key can use it (EKS uses it for
    Secrets through the cluster role; the EBS CSI driver through `ebs_csi_kms_policy`).

    With `log_group_arn`, CloudWatch Logs may use the key for that log group
    (the service has no IAM role of its own; AWS scopes it by the encryption context).
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
    return {"Version": "2012-10-17", "Statement": statements}


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
