"""Storage access: TLS-only buckets, the model source read by the loader, the CSI drivers, flow logs."""

from __future__ import annotations

from .policy import Policy


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


def flow_logs_delivery_policy(log_group_arn: str) -> Policy:
    """What VPC Flow Logs needs to publish to ONE CloudWatch Logs group (Amazon VPC user guide, "IAM role
    for publishing flow logs to CloudWatch Logs"), without `logs:CreateLogGroup`: the group is ours."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "PublishFlowLogsToTheGroup",
                "Effect": "Allow",
                "Action": ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
                "Resource": [log_group_arn, f"{log_group_arn}:*"],
            },
            {
                # A list call: it has no resource to name (Service Authorization Reference, CloudWatch Logs).
                "Sid": "FindTheGroup",
                "Effect": "Allow",
                "Action": "logs:DescribeLogGroups",
                "Resource": "*",
            },
        ],
    }
