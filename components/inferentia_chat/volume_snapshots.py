"""VolumeSnapshots: daily EBS snapshots of the volumes that carry one tag, by Amazon Data Lifecycle Manager.

The chat history (Open WebUI's SQLite volume) is the stack's only data that exists nowhere else. Its
StorageClass retains the volume when the claim goes and tags it (EksCluster `SNAPSHOT_TAG`); this component
snapshots every volume with that tag once a day and keeps the last `retain_days` snapshots. DLM runs as a role
that only DLM in this account can assume, and that may only snapshot, and delete snapshots of, tagged volumes.
"""

import json
from collections.abc import Mapping
from typing import NotRequired, TypedDict

import pulumi
import pulumi_aws as aws

from .iam import Policy
from .tags import component_tags

TYPE = "inferentia-chat:index:VolumeSnapshots"


class VolumeSnapshotsArgs(TypedDict):
    """Inputs of `VolumeSnapshots`."""

    target_tag_key: str
    """Tag key of the volumes to snapshot."""
    target_tag_value: str
    """Tag value of the volumes to snapshot."""
    retain_days: NotRequired[int]
    """Daily snapshots kept (default 14; DLM allows 1-1000)."""
    start_time: NotRequired[str]
    """UTC time (HH:MM) the daily snapshot starts (default 03:00; DLM starts it within the next hour)."""
    tags: NotRequired[Mapping[str, str]]
    """Common tags for every resource."""


def dlm_trust_policy(partition: str, region: str, account: str) -> Policy:
    """Only Data Lifecycle Manager, for policies of this account and region, may assume the role."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "DataLifecycleManagerOfThisAccount",
                "Effect": "Allow",
                "Principal": {"Service": "dlm.amazonaws.com"},
                "Action": "sts:AssumeRole",
                "Condition": {
                    "StringEquals": {"aws:SourceAccount": account},
                    "ArnLike": {"aws:SourceArn": f"arn:{partition}:dlm:{region}:{account}:policy/*"},
                },
            }
        ],
    }


def dlm_snapshot_policy(partition: str, region: str, account: str, tag_key: str, tag_value: str) -> Policy:
    """Snapshot volumes (the lifecycle policy picks the tagged ones), tag the new snapshots, delete only expired
    snapshots that carry the tag (DLM copies the volume's tags onto them), and the read-only calls DLM makes to
    find the volumes."""
    tagged = {"StringEquals": {f"aws:ResourceTag/{tag_key}": tag_value}}
    snapshots = f"arn:{partition}:ec2:{region}::snapshot/*"
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                # Which volumes is the lifecycle policy's target tag; the action needs both the volume and
                # the new snapshot as resources, and a new snapshot carries no tag yet to condition on.
                # Taking a snapshot is not destructive; deleting one is, and is limited to tagged ones.
                "Sid": "SnapshotVolumes",
                "Effect": "Allow",
                "Action": "ec2:CreateSnapshot",
                "Resource": [f"arn:{partition}:ec2:{region}:{account}:volume/*", snapshots],
            },
            {
                "Sid": "TagTheSnapshots",
                "Effect": "Allow",
                "Action": "ec2:CreateTags",
                "Resource": snapshots,
            },
            {
                "Sid": "DeleteExpiredSnapshotsOfTaggedVolumes",
                "Effect": "Allow",
                "Action": "ec2:DeleteSnapshot",
                "Resource": snapshots,
                "Condition": tagged,
            },
            {
                "Sid": "FindVolumesAndSnapshots",
                "Effect": "Allow",
                "Action": ["ec2:DescribeVolumes", "ec2:DescribeInstances", "ec2:DescribeSnapshots"],
                "Resource": "*",
            },
        ],
    }


class VolumeSnapshots(pulumi.ComponentResource):
    """A Data Lifecycle Manager policy: one snapshot a day of every volume with the target tag, the last
    `retain_days` kept, tags copied onto the snapshots; run as a least-privilege role."""

    policy_arn: pulumi.Output[str]
    """ARN of the lifecycle policy."""

    def __init__(self, name: str, args: VolumeSnapshotsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(TYPE, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = component_tags(args.get("tags", {}), "VolumeSnapshots")
        partition = aws.get_partition().partition
        region = aws.get_region().region
        account = aws.get_caller_identity().account_id
        key, value = args["target_tag_key"], args["target_tag_value"]
        role = aws.iam.Role(
            f"{name}-role",
            description="Data Lifecycle Manager: daily snapshots of the tagged data volumes",
            assume_role_policy=json.dumps(dlm_trust_policy(partition, region, account)),
            tags=tags,
            opts=child,
        )
        role_policy = aws.iam.RolePolicy(
            f"{name}-role-policy",
            role=role.id,
            policy=json.dumps(dlm_snapshot_policy(partition, region, account, key, value)),
            opts=child,
        )
        policy = aws.dlm.LifecyclePolicy(
            f"{name}-policy",
            description=f"Daily snapshots of volumes tagged {key}={value}",
            execution_role_arn=role.arn,
            state="ENABLED",
            policy_details=aws.dlm.LifecyclePolicyPolicyDetailsArgs(
                resource_types=["VOLUME"],
                target_tags={key: value},
                schedules=[
                    aws.dlm.LifecyclePolicyPolicyDetailsScheduleArgs(
                        name="daily",
                        create_rule=aws.dlm.LifecyclePolicyPolicyDetailsScheduleCreateRuleArgs(
                            interval=24, interval_unit="HOURS", times=args.get("start_time", "03:00")
                        ),
                        retain_rule=aws.dlm.LifecyclePolicyPolicyDetailsScheduleRetainRuleArgs(
                            count=args.get("retain_days", 14)
                        ),
                        copy_tags=True,
                        tags_to_add={"inferentia-chat.io/snapshot-schedule": "daily"},
                    )
                ],
            ),
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[role_policy]),
        )
        self.policy_arn = policy.arn
        self.register_outputs({"policy_arn": self.policy_arn})
