"""The compile host's documents: what its instance may do, and the key policy its launches need."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .keys import kms_key_policy
from .policy import Policy

# The service-linked role EC2 Auto Scaling launches instances with (EC2 Auto Scaling user guide, "Service-
# linked roles for Amazon EC2 Auto Scaling"): it creates the encrypted root volume, so it must use the key.
AUTOSCALING_ROLE_PATH = "aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling"


def autoscaling_role_arn(partition: str, account: str) -> str:
    """ARN of `AWSServiceRoleForAutoScaling` in the account."""
    return f"arn:{partition}:iam::{account}:role/{AUTOSCALING_ROLE_PATH}"


def compile_host_key_policy(partition: str, account: str) -> Policy:
    """The host's own key (root volume, bootstrap objects, token secret): the account through IAM, plus what
    EC2 Auto Scaling's service-linked role needs to launch an instance with a volume encrypted by it (EC2 Auto
    Scaling user guide, "Required AWS KMS key policy for use with encrypted volumes": use of the key, and
    grants for AWS resources only). The role is matched by `aws:PrincipalArn`, not named as the Principal: KMS
    refuses a Principal that does not exist yet, and Auto Scaling creates its role with the first group."""
    policy = kms_key_policy(partition, account)
    who = {"aws:PrincipalArn": autoscaling_role_arn(partition, account), "kms:CallerAccount": account}
    policy["Statement"] += [
        {
            "Sid": "AutoScalingUsesKeyForLaunchVolumes",
            "Effect": "Allow",
            "Principal": {"AWS": "*"},
            "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"],
            "Resource": "*",
            "Condition": {"StringEquals": who},
        },
        {
            "Sid": "AutoScalingGrantsForLaunchVolumes",
            "Effect": "Allow",
            "Principal": {"AWS": "*"},
            "Action": "kms:CreateGrant",
            "Resource": "*",
            "Condition": {"StringEquals": who, "Bool": {"kms:GrantIsForAWSResource": "true"}},
        },
    ]
    return policy


@dataclass(frozen=True)
class CompileHostAccess:
    """What one compile host touches."""

    partition: str
    region: str
    account: str
    bucket_arn: str  # the model bucket
    artifacts_prefix: str  # `<prefix>neuron-cache/<key>/`
    directory_keys: tuple[str, ...]  # the directory objects of the key's parents, e.g. `neuron-cache/<model>/`
    model_key_arn: str  # encrypts the model bucket (its default)
    bootstrap_objects_arn: str  # `arn:...:s3:::<bucket>/<prefix>*` of the host's own files
    host_key_arn: str  # encrypts the host's files and the token secret
    group_name: str  # its own Auto Scaling group
    secret_arn: str | None = None  # the Hugging Face token, if any


def compile_host_policy(a: CompileHostAccess) -> Policy:
    """The instance role: read its own files (and the token), check and write ONE artifact directory (and
    the directory objects above it; no list access: a HEAD of a missing marker is refused, which the host
    reads as absent), use the two keys only through S3 (and Secrets Manager), and set the
    desired capacity of its own group to zero when done (and read when it was created). Nothing else: no EC2,
    no IAM, no other prefix."""
    bucket = a.bucket_arn
    s3 = f"s3.{a.region}.amazonaws.com"
    statements: list[dict[str, Any]] = [
        {
            "Sid": "ReadItsBootstrapFiles",
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "Resource": a.bootstrap_objects_arn,
        },
        {
            "Sid": "WriteTheArtifactDirectory",
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"],
            "Resource": [f"{bucket}/{a.artifacts_prefix}*", *(f"{bucket}/{k}" for k in a.directory_keys)],
        },
        {
            # Uploads are encrypted by the bucket's default key; multipart uploads also decrypt.
            "Sid": "UseTheModelKeyThroughS3",
            "Effect": "Allow",
            "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
            "Resource": a.model_key_arn,
            "Condition": {"StringEquals": {"kms:ViaService": s3}},
        },
        {
            "Sid": "UseItsOwnKeyToRead",
            "Effect": "Allow",
            "Action": "kms:Decrypt",
            "Resource": a.host_key_arn,
            "Condition": {"StringEquals": {"kms:ViaService": [s3, f"secretsmanager.{a.region}.amazonaws.com"]}},
        },
        {
            "Sid": "EndItsOwnGroup",
            "Effect": "Allow",
            "Action": "autoscaling:SetDesiredCapacity",
            "Resource": (
                f"arn:{a.partition}:autoscaling:{a.region}:{a.account}:autoScalingGroup:*:"
                f"autoScalingGroupName/{a.group_name}"
            ),
        },
        {
            # When was its group created (a host launched late leaves the key to the in-cluster Job). The
            # action has no resource-level permissions (Service Authorization Reference, EC2 Auto Scaling).
            "Sid": "ReadWhenItsGroupWasCreated",
            "Effect": "Allow",
            "Action": "autoscaling:DescribeAutoScalingGroups",
            "Resource": "*",
        },
    ]
    if a.secret_arn:
        statements.append(
            {
                "Sid": "ReadTheModelToken",
                "Effect": "Allow",
                "Action": "secretsmanager:GetSecretValue",
                "Resource": a.secret_arn,
            }
        )
    return {"Version": "2012-10-17", "Statement": statements}
