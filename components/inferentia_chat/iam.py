"""IAM policy documents as small pure functions (unit-tested and linted without any Pulumi runtime).

Each returns a policy document as a dict; callers `json.dumps` it. ARNs are built from partition,
region and account so the same code serves aws, aws-cn and aws-us-gov.
"""

from __future__ import annotations

from collections.abc import Sequence
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


@dataclass(frozen=True)
class PodIdentitySubject:
    """The one Kubernetes service account (in one cluster of one account) that may assume a Pod Identity role."""

    account: str
    cluster_arn: str
    namespace: str
    service_account: str


def eks_cluster_arn(partition: str, region: str, account: str, cluster: str) -> str:
    """ARN of an EKS cluster (known from its name before the cluster exists)."""
    return f"arn:{partition}:eks:{region}:{account}:cluster/{cluster}"


def pod_identity_trust_policy(subject: PodIdentitySubject) -> Policy:
    """Trust policy of a role used through EKS Pod Identity, for ONE service account of ONE cluster.

    EKS Pod Identity assumes the role with session tags naming the cluster, namespace and service account
    (Amazon EKS user guide, "Create IAM role with trust policy required by EKS Pod Identity" and "Enable or
    disable session tags": `eks-cluster-arn`, `kubernetes-namespace`, `kubernetes-service-account`), so the
    trust policy can refuse every other association in the account, and `aws:SourceAccount` refuses another
    account's (confused deputy). The cluster ARN is matched through its session tag: no AWS page we found
    says Pod Identity sets `aws:SourceArn`, and a condition on a key that is absent would lock every pod out.
    """
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "EksPodIdentity",
                "Effect": "Allow",
                "Principal": {"Service": "pods.eks.amazonaws.com"},
                "Action": ["sts:AssumeRole", "sts:TagSession"],
                "Condition": {
                    "StringEquals": {
                        "aws:SourceAccount": subject.account,
                        "aws:RequestTag/eks-cluster-arn": subject.cluster_arn,
                        "aws:RequestTag/kubernetes-namespace": subject.namespace,
                        "aws:RequestTag/kubernetes-service-account": subject.service_account,
                    }
                },
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


def karpenter_controller_policy(
    partition: str, region: str, account: str, cluster: str, queue_arn: str, node_role_arn: str
) -> Policy:
    """The Karpenter controller's permissions, statement for statement as the upstream getting-started
    CloudFormation of the pinned release (aws/karpenter-provider-aws v1.14.1,
    website/content/en/v1.14/getting-started/getting-started-with-karpenter/cloudformation.yaml).

    Upstream splits them over six managed policies (NodeLifecycle, IAMIntegration, EKSIntegration,
    Interruption, ResourceDiscovery, ZonalShift); here they are one document attached inline to the one
    role. EC2 and instance-profile writes are scoped by the tags Karpenter puts on what it creates
    (`kubernetes.io/cluster/<cluster>=owned`, `karpenter.sh/nodepool`, `eks:eks-cluster-name`,
    `karpenter.k8s.aws/ec2nodeclass`); PassRole is for the node role, to EC2 only.
    """
    ec2 = f"arn:{partition}:ec2:{region}"
    owned = f"kubernetes.io/cluster/{cluster}"
    cluster_arn = f"arn:{partition}:eks:{region}:{account}:cluster/{cluster}"
    profiles = f"arn:{partition}:iam::{account}:instance-profile/*"
    launched = [
        f"{ec2}:*:fleet/*",
        f"{ec2}:*:instance/*",
        f"{ec2}:*:volume/*",
        f"{ec2}:*:network-interface/*",
        f"{ec2}:*:launch-template/*",
        f"{ec2}:*:spot-instances-request/*",
    ]
    statements: list[dict[str, Any]] = [
        # --- KarpenterControllerNodeLifecyclePolicy ---
        {
            "Sid": "AllowScopedEC2InstanceAccessActions",
            "Effect": "Allow",
            "Resource": [
                f"{ec2}::image/*",
                f"{ec2}::snapshot/*",
                f"{ec2}:*:security-group/*",
                f"{ec2}:*:subnet/*",
                f"{ec2}:*:capacity-reservation/*",
                f"{ec2}:*:placement-group/*",
            ],
            "Action": ["ec2:RunInstances", "ec2:CreateFleet"],
        },
        {
            "Sid": "AllowScopedEC2LaunchTemplateAccessActions",
            "Effect": "Allow",
            "Resource": f"{ec2}:*:launch-template/*",
            "Action": ["ec2:RunInstances", "ec2:CreateFleet"],
            "Condition": {
                "StringEquals": {f"aws:ResourceTag/{owned}": "owned"},
                "StringLike": {"aws:ResourceTag/karpenter.sh/nodepool": "*"},
            },
        },
        {
            "Sid": "AllowScopedEC2InstanceActionsWithTags",
            "Effect": "Allow",
            "Resource": launched,
            "Action": ["ec2:RunInstances", "ec2:CreateFleet", "ec2:CreateLaunchTemplate"],
            "Condition": {
                "StringEquals": {
                    f"aws:RequestTag/{owned}": "owned",
                    "aws:RequestTag/eks:eks-cluster-name": cluster,
                },
                "StringLike": {"aws:RequestTag/karpenter.sh/nodepool": "*"},
            },
        },
        {
            "Sid": "AllowScopedResourceCreationTagging",
            "Effect": "Allow",
            "Resource": launched,
            "Action": "ec2:CreateTags",
            "Condition": {
                "StringEquals": {
                    f"aws:RequestTag/{owned}": "owned",
                    "aws:RequestTag/eks:eks-cluster-name": cluster,
                    "ec2:CreateAction": ["RunInstances", "CreateFleet", "CreateLaunchTemplate"],
                },
                "StringLike": {"aws:RequestTag/karpenter.sh/nodepool": "*"},
            },
        },
        {
            "Sid": "AllowScopedResourceTagging",
            "Effect": "Allow",
            "Resource": f"{ec2}:*:instance/*",
            "Action": "ec2:CreateTags",
            "Condition": {
                "StringEquals": {f"aws:ResourceTag/{owned}": "owned"},
                "StringLike": {"aws:ResourceTag/karpenter.sh/nodepool": "*"},
                "StringEqualsIfExists": {"aws:RequestTag/eks:eks-cluster-name": cluster},
                "ForAllValues:StringEquals": {
                    "aws:TagKeys": ["eks:eks-cluster-name", "karpenter.sh/nodeclaim", "Name"]
                },
            },
        },
        {
            "Sid": "AllowScopedDeletion",
            "Effect": "Allow",
            "Resource": [f"{ec2}:*:instance/*", f"{ec2}:*:launch-template/*"],
            "Action": ["ec2:TerminateInstances", "ec2:DeleteLaunchTemplate"],
            "Condition": {
                "StringEquals": {f"aws:ResourceTag/{owned}": "owned"},
                "StringLike": {"aws:ResourceTag/karpenter.sh/nodepool": "*"},
            },
        },
        # --- KarpenterControllerIAMIntegrationPolicy ---
        {
            "Sid": "AllowPassingInstanceRole",
            "Effect": "Allow",
            "Resource": node_role_arn,
            "Action": "iam:PassRole",
            "Condition": {"StringEquals": {"iam:PassedToService": ["ec2.amazonaws.com", "ec2.amazonaws.com.cn"]}},
        },
        {
            "Sid": "AllowScopedInstanceProfileCreationActions",
            "Effect": "Allow",
            "Resource": profiles,
            "Action": ["iam:CreateInstanceProfile"],
            "Condition": {
                "StringEquals": {
                    f"aws:RequestTag/{owned}": "owned",
                    "aws:RequestTag/eks:eks-cluster-name": cluster,
                    "aws:RequestTag/topology.kubernetes.io/region": region,
                },
                "StringLike": {"aws:RequestTag/karpenter.k8s.aws/ec2nodeclass": "*"},
            },
        },
        {
            "Sid": "AllowScopedInstanceProfileTagActions",
            "Effect": "Allow",
            "Resource": profiles,
            "Action": ["iam:TagInstanceProfile"],
            "Condition": {
                "StringEquals": {
                    f"aws:ResourceTag/{owned}": "owned",
                    "aws:ResourceTag/topology.kubernetes.io/region": region,
                    f"aws:RequestTag/{owned}": "owned",
                    "aws:RequestTag/eks:eks-cluster-name": cluster,
                    "aws:RequestTag/topology.kubernetes.io/region": region,
                },
                "StringLike": {
                    "aws:ResourceTag/karpenter.k8s.aws/ec2nodeclass": "*",
                    "aws:RequestTag/karpenter.k8s.aws/ec2nodeclass": "*",
                },
            },
        },
        {
            "Sid": "AllowScopedInstanceProfileActions",
            "Effect": "Allow",
            "Resource": profiles,
            "Action": [
                "iam:AddRoleToInstanceProfile",
                "iam:RemoveRoleFromInstanceProfile",
                "iam:DeleteInstanceProfile",
            ],
            "Condition": {
                "StringEquals": {
                    f"aws:ResourceTag/{owned}": "owned",
                    "aws:ResourceTag/topology.kubernetes.io/region": region,
                },
                "StringLike": {"aws:ResourceTag/karpenter.k8s.aws/ec2nodeclass": "*"},
            },
        },
        # --- KarpenterControllerEKSIntegrationPolicy ---
        {
            "Sid": "AllowAPIServerEndpointDiscovery",
            "Effect": "Allow",
            "Resource": cluster_arn,
            "Action": "eks:DescribeCluster",
        },
        # --- KarpenterControllerInterruptionPolicy ---
        {
            "Sid": "AllowInterruptionQueueActions",
            "Effect": "Allow",
            "Resource": queue_arn,
            "Action": ["sqs:DeleteMessage", "sqs:GetQueueUrl", "sqs:ReceiveMessage"],
        },
        # --- KarpenterControllerZonalShiftPolicy ---
        {
            "Sid": "AllowZonalShiftStatusReadOnly",
            "Effect": "Allow",
            "Resource": "*",
            "Action": ["arc-zonal-shift:GetManagedResource"],
            "Condition": {"StringEquals": {"arc-zonal-shift:ResourceIdentifier": cluster_arn}},
        },
        # --- KarpenterControllerResourceDiscoveryPolicy ---
        {
            "Sid": "AllowRegionalReadActions",
            "Effect": "Allow",
            "Resource": "*",
            "Action": [
                "ec2:DescribeCapacityReservations",
                "ec2:DescribeImages",
                "ec2:DescribeInstances",
                "ec2:DescribeInstanceStatus",
                "ec2:DescribeInstanceTypeOfferings",
                "ec2:DescribeInstanceTypes",
                "ec2:DescribeLaunchTemplates",
                "ec2:DescribePlacementGroups",
                "ec2:DescribeSecurityGroups",
                "ec2:DescribeSpotPriceHistory",
                "ec2:DescribeSubnets",
            ],
            "Condition": {"StringEquals": {"aws:RequestedRegion": region}},
        },
        {
            "Sid": "AllowSSMReadActions",
            "Effect": "Allow",
            "Resource": f"arn:{partition}:ssm:{region}::parameter/aws/service/*",
            "Action": "ssm:GetParameter",
        },
        {
            "Sid": "AllowPricingReadActions",
            "Effect": "Allow",
            "Resource": "*",
            "Action": "pricing:GetProducts",
        },
        {
            "Sid": "AllowUnscopedInstanceProfileListAction",
            "Effect": "Allow",
            "Resource": "*",
            "Action": "iam:ListInstanceProfiles",
        },
        {
            "Sid": "AllowInstanceProfileReadActions",
            "Effect": "Allow",
            "Resource": profiles,
            "Action": "iam:GetInstanceProfile",
        },
    ]
    return {"Version": "2012-10-17", "Statement": statements}


def karpenter_interruption_queue_policy(queue_arn: str, rule_arns: Sequence[str]) -> Policy:
    """Who may use the interruption queue (upstream CloudFormation's KarpenterInterruptionQueuePolicy):
    EventBridge may deliver the events of this stack's rules; nobody may use it without TLS.

    Differences from upstream: a `Version` (AWS may hang creating a queue policy without one), a Sid on the
    first statement, and the confused-deputy condition: only the listed rules, which are this account's
    (`aws:SourceArn` with `ArnEquals`, as Amazon EventBridge user guide, "Using resource-based policies for
    Amazon EventBridge", shows it). Upstream's second principal, `sqs.amazonaws.com`, is left out: every
    message comes from the EventBridge rules, nothing else sends to this queue.
    """
    return {
        "Version": "2012-10-17",
        "Id": "EC2InterruptionPolicy",
        "Statement": [
            {
                "Sid": "EventBridgeDeliversInterruptionEvents",
                "Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": queue_arn,
                # The documented form (EventBridge user guide): the rule ARNs, which name this account.
                "Condition": {"ArnEquals": {"aws:SourceArn": sorted(rule_arns)}},
            },
            {
                "Sid": "DenyHTTP",
                "Effect": "Deny",
                "Action": "sqs:*",
                "Resource": queue_arn,
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                "Principal": "*",
            },
        ],
    }


# --------------------------------------------------------------------------------------------------
# S3 replication (the DR stack's ModelReplica)
# --------------------------------------------------------------------------------------------------


def service_trust_policy(
    service: str, sid: str, account: str, source_arn: str | None = None, source_arn_like: bool = False
) -> Policy:
    """Trust policy of a role that one AWS service assumes (`s3.amazonaws.com` for replication,
    `batchoperations.s3.amazonaws.com` for a Batch Replication job, `vpc-flow-logs.amazonaws.com`), as the
    AWS guides show it, with the confused-deputy conditions (IAM user guide, "The confused deputy
    problem"): the service acts for this account only, and, where the service sets it, for the one
    resource (`source_arn`, a pattern with `source_arn_like`).
    """
    condition: dict[str, Any] = {"StringEquals": {"aws:SourceAccount": account}}
    if source_arn:
        condition["ArnLike" if source_arn_like else "ArnEquals"] = {"aws:SourceArn": source_arn}
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": sid,
                "Effect": "Allow",
                "Principal": {"Service": service},
                "Action": "sts:AssumeRole",
                "Condition": condition,
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


def aws_load_balancer_controller_policy(partition: str, region: str, account: str, vpc_id: str) -> Policy:
    """The AWS Load Balancer Controller's IAM policy: upstream's for v3.5.0 (`docs/install/iam_policy.json`
    of kubernetes-sigs/aws-load-balancer-controller at that tag; the aws-cn and aws-us-gov variants differ
    only in the partition), statement for statement, with three deliberate narrowings:

    - Security-group rule changes are limited to groups of the cluster's VPC (`ec2:Vpc`), as upstream's
      installation guide recommends ("We recommend further scoping down this configuration based on the
      VPC ID", docs/deploy/installation.md at v3.5.0), and new groups can only be created in that VPC.
    - No WAF, WAFv2 or Shield actions (and no `elasticloadbalancing:SetWebAcl`): the chart values turn
      those add-ons off (`enableWaf`, `enableWafv2`, `enableShield` false), nothing here attaches web ACLs.
    - Group writes name this region and account instead of `*`.

    Everything else is upstream's, so an upgrade is a diff against the next tag's file. What it creates or
    deletes is scoped by the `elbv2.k8s.aws/cluster` tag.
    """
    elb = f"arn:{partition}:elasticloadbalancing:*:*"
    security_groups = f"arn:{partition}:ec2:*:*:security-group/*"
    own_security_groups = f"arn:{partition}:ec2:{region}:{account}:security-group/*"
    vpc_arn = f"arn:{partition}:ec2:{region}:{account}:vpc/{vpc_id}"
    load_balancers_and_target_groups = [
        f"{elb}:targetgroup/*/*",
        f"{elb}:loadbalancer/net/*/*",
        f"{elb}:loadbalancer/app/*/*",
    ]
    tagged_by_request = {"Null": {"aws:RequestTag/elbv2.k8s.aws/cluster": "false"}}
    tagged_resource = {"Null": {"aws:ResourceTag/elbv2.k8s.aws/cluster": "false"}}
    retag_owned = {
        "Null": {
            "aws:RequestTag/elbv2.k8s.aws/cluster": "true",
            "aws:ResourceTag/elbv2.k8s.aws/cluster": "false",
        }
    }
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["iam:CreateServiceLinkedRole"],
                "Resource": "*",
                "Condition": {"StringEquals": {"iam:AWSServiceName": "elasticloadbalancing.amazonaws.com"}},
            },
            {
                "Effect": "Allow",
                "Action": [
                    "ec2:DescribeAccountAttributes",
                    "ec2:DescribeAddresses",
                    "ec2:DescribeAvailabilityZones",
                    "ec2:DescribeInternetGateways",
                    "ec2:DescribeVpcs",
                    "ec2:DescribeVpcPeeringConnections",
                    "ec2:DescribeSubnets",
                    "ec2:DescribeSecurityGroups",
                    "ec2:DescribeInstances",
                    "ec2:DescribeNetworkInterfaces",
                    "ec2:DescribeTags",
                    "ec2:GetCoipPoolUsage",
                    "ec2:DescribeCoipPools",
                    "ec2:GetSecurityGroupsForVpc",
                    "ec2:DescribeIpamPools",
                    "ec2:DescribeRouteTables",
                    "elasticloadbalancing:DescribeLoadBalancers",
                    "elasticloadbalancing:DescribeLoadBalancerAttributes",
                    "elasticloadbalancing:DescribeListeners",
                    "elasticloadbalancing:DescribeListenerCertificates",
                    "elasticloadbalancing:DescribeSSLPolicies",
                    "elasticloadbalancing:DescribeRules",
                    "elasticloadbalancing:DescribeTargetGroups",
                    "elasticloadbalancing:DescribeTargetGroupAttributes",
                    "elasticloadbalancing:DescribeTargetHealth",
                    "elasticloadbalancing:DescribeTags",
                    "elasticloadbalancing:DescribeTrustStores",
                    "elasticloadbalancing:DescribeListenerAttributes",
                    "elasticloadbalancing:DescribeCapacityReservation",
                ],
                "Resource": "*",
            },
            {
                "Effect": "Allow",
                "Action": [
                    "cognito-idp:DescribeUserPoolClient",
                    "acm:ListCertificates",
                    "acm:DescribeCertificate",
                    "iam:ListServerCertificates",
                    "iam:GetServerCertificate",
                ],
                "Resource": "*",
            },
            {
                "Effect": "Allow",
                "Action": ["ec2:AuthorizeSecurityGroupIngress", "ec2:RevokeSecurityGroupIngress"],
                "Resource": own_security_groups,
                "Condition": {"ArnEquals": {"ec2:Vpc": vpc_arn}},
            },
            {"Effect": "Allow", "Action": ["ec2:CreateSecurityGroup"], "Resource": [vpc_arn, own_security_groups]},
            {
                "Effect": "Allow",
                "Action": ["ec2:CreateTags"],
                "Resource": security_groups,
                "Condition": {"StringEquals": {"ec2:CreateAction": "CreateSecurityGroup"}, **tagged_by_request},
            },
            {
                "Effect": "Allow",
                "Action": ["ec2:CreateTags", "ec2:DeleteTags"],
                "Resource": security_groups,
                "Condition": retag_owned,
            },
            {
                "Effect": "Allow",
                "Action": [
                    "ec2:AuthorizeSecurityGroupIngress",
                    "ec2:RevokeSecurityGroupIngress",
                    "ec2:DeleteSecurityGroup",
                ],
                "Resource": own_security_groups,
                "Condition": tagged_resource,
            },
            {
                "Effect": "Allow",
                "Action": ["elasticloadbalancing:CreateLoadBalancer", "elasticloadbalancing:CreateTargetGroup"],
                "Resource": "*",
                "Condition": tagged_by_request,
            },
            {
                "Effect": "Allow",
                "Action": [
                    "elasticloadbalancing:CreateListener",
                    "elasticloadbalancing:DeleteListener",
                    "elasticloadbalancing:CreateRule",
                    "elasticloadbalancing:DeleteRule",
                ],
                "Resource": "*",
            },
            {
                "Effect": "Allow",
                "Action": ["elasticloadbalancing:AddTags", "elasticloadbalancing:RemoveTags"],
                "Resource": load_balancers_and_target_groups,
                "Condition": retag_owned,
            },
            {
                "Effect": "Allow",
                "Action": ["elasticloadbalancing:AddTags", "elasticloadbalancing:RemoveTags"],
                "Resource": [
                    f"{elb}:listener/net/*/*/*",
                    f"{elb}:listener/app/*/*/*",
                    f"{elb}:listener-rule/net/*/*/*",
                    f"{elb}:listener-rule/app/*/*/*",
                ],
            },
            {
                "Effect": "Allow",
                "Action": [
                    "elasticloadbalancing:ModifyLoadBalancerAttributes",
                    "elasticloadbalancing:SetIpAddressType",
                    "elasticloadbalancing:SetSecurityGroups",
                    "elasticloadbalancing:SetSubnets",
                    "elasticloadbalancing:DeleteLoadBalancer",
                    "elasticloadbalancing:ModifyTargetGroup",
                    "elasticloadbalancing:ModifyTargetGroupAttributes",
                    "elasticloadbalancing:DeleteTargetGroup",
                    "elasticloadbalancing:ModifyListenerAttributes",
                    "elasticloadbalancing:ModifyCapacityReservation",
                    "elasticloadbalancing:ModifyIpPools",
                ],
                "Resource": "*",
                "Condition": tagged_resource,
            },
            {
                "Effect": "Allow",
                "Action": ["elasticloadbalancing:AddTags"],
                "Resource": load_balancers_and_target_groups,
                "Condition": {
                    "StringEquals": {"elasticloadbalancing:CreateAction": ["CreateTargetGroup", "CreateLoadBalancer"]},
                    **tagged_by_request,
                },
            },
            {
                "Effect": "Allow",
                "Action": ["elasticloadbalancing:RegisterTargets", "elasticloadbalancing:DeregisterTargets"],
                "Resource": f"{elb}:targetgroup/*/*",
            },
            {
                "Effect": "Allow",
                "Action": [
                    "elasticloadbalancing:ModifyListener",
                    "elasticloadbalancing:AddListenerCertificates",
                    "elasticloadbalancing:RemoveListenerCertificates",
                    "elasticloadbalancing:ModifyRule",
                    "elasticloadbalancing:SetRulePriorities",
                ],
                "Resource": "*",
            },
        ],
    }
