"""ModelReplica: the model bucket replicated to another region, monitored, ready to fail over.

Replica bucket (in this provider's region, the DR region) with the same protections as the model bucket
(`bucket.py`) <== S3 Replication with Replication Time Control (15 minutes, metrics on), SSE-KMS
objects re-encrypted with the replica's own key == source bucket (in `source_region`). The replication
configuration, its alarms and the Batch Replication report bucket are created in the SOURCE region (pulumi-aws
v7 per-resource `region`) but owned by the component, hence by the DR stack: the primary stack never needs to
know the DR stack exists.

Objects that existed before the rule (the model loaded before the DR stack was deployed) are not replicated by
it: `batch_replication_command` is the exact S3 Batch Replication job that copies them (and retries failed
ones), with its own least-privilege role and an encrypted report bucket.
"""

import json
from collections.abc import Mapping, Sequence
from typing import NotRequired, TypedDict

import pulumi
import pulumi_aws as aws

from . import iam
from .blocks import customer_key
from .bucket import ProtectedBucket, protected_bucket
from .common.outputs import register_declared_outputs
from .replication import (
    MANIFEST_PREFIX,
    REPORT_PREFIX,
    REPORT_RETENTION_DAYS,
    RTC_MINUTES,
    batch_replication_command,
    batch_replication_request,
    replication_rule,
    replication_rules,
)
from .tags import component_tags

TYPE = "inferentia-chat:index:ModelReplica"

STORAGE_CLASSES = ("STANDARD", "INTELLIGENT_TIERING", "STANDARD_IA", "ONEZONE_IA", "GLACIER_IR")

# Alarms on the replication metrics (namespace AWS/S3, dimensions SourceBucket, DestinationBucket, RuleId),
# which S3 emits in the source region. Evaluated over 5-minute periods:
ALARM_PERIOD_S = 300
#  - latency: the slowest replication above the RTC threshold for two periods in a row (one late object in
#    a large upload is what the RTC SLA allows; ten minutes late is not);
LATENCY_THRESHOLD_S = RTC_MINUTES * 60
LATENCY_PERIODS = 2
#  - pending: operations waiting for half an hour without a break (a model upload drains in minutes);
PENDING_PERIODS = 6
#  - failed: any failed operation (permissions, keys, a deleted replica bucket) at once.
# No data means no replication activity: not a problem.


class ModelReplicaArgs(TypedDict):
    """Inputs of `ModelReplica`."""

    source_bucket_name: pulumi.Input[str]
    """The model bucket to replicate (versioned, SSE-KMS), e.g. the primary stack's `modelBucketName`."""
    source_bucket_arn: pulumi.Input[str]
    """ARN of the source bucket."""
    source_kms_key_arn: pulumi.Input[str]
    """Customer key of the source bucket; its key policy must delegate to IAM (same account)."""
    source_region: str
    """Region of the source bucket (must differ from this provider's region, where the replica lives)."""
    replica_storage_class: NotRequired[str]
    """Storage class of the replicas: STANDARD (default), INTELLIGENT_TIERING, STANDARD_IA, ONEZONE_IA or
    GLACIER_IR."""
    replicate_delete_markers: NotRequired[bool]
    """Replicate delete markers (default false: a delete in the source never hides the DR copy)."""
    prefixes: NotRequired[Sequence[str]]
    """Key prefixes to replicate, one rule each (default: the whole bucket, one rule)."""
    alarm_email: NotRequired[str]
    """Email address subscribed to the alarms' SNS topic (always created, encrypted); default: no subscription
    (subscribe a pager or chat integration to the topic yourself)."""
    noncurrent_version_days: NotRequired[int]
    """Days before an overwritten replica version expires (default 30)."""
    tags: NotRequired[Mapping[str, str]]
    """Common tags for every AWS resource."""


def replication_alarm_topic(
    parent: pulumi.ComponentResource,
    name: str,
    args: ModelReplicaArgs,
    region: str,
    partition: str,
    account: str,
    tags: Mapping[str, str],
) -> aws.sns.Topic:
    """The SNS topic every alarm notifies (encrypted with its own key, which CloudWatch may use), in the
    source region where the alarms are, with an email subscription when `alarm_email` is given. Always
    created: an alarm without an action is only seen by someone already looking at the console."""
    email = args.get("alarm_email")
    child = pulumi.ResourceOptions(parent=parent)
    # Not the AWS-managed alias/aws/sns: its key policy cannot let CloudWatch publish.
    key = customer_key(
        f"{name}-alarms-key",
        description="inferentia-chat model replication alarms: SNS topic encryption",
        alias=f"alias/{pulumi.get_project()}-{pulumi.get_stack()}-replication-alarms",
        policy=json.dumps(iam.kms_key_policy(partition, account, cloudwatch_alarms_region=region)),
        region=region,
        tags=tags,
        parent=parent,
    )
    topic = aws.sns.Topic(
        f"{name}-alarms",
        kms_master_key_id=key.arn,
        region=region,
        tags=dict(tags),
        opts=child,
    )
    aws.sns.TopicPolicy(
        f"{name}-alarms-policy",
        arn=topic.arn,
        policy=topic.arn.apply(lambda arn: json.dumps(iam.alarm_topic_policy(arn, partition, account, region))),
        region=region,
        opts=child,
    )
    if not email:
        return topic
    # Email subscriptions stay "pending confirmation" until the recipient follows the link AWS sends.
    aws.sns.TopicSubscription(
        f"{name}-alarms-email",
        topic=topic.arn,
        protocol="email",
        endpoint=email,
        region=region,
        opts=child,
    )
    return topic


class ModelReplica(pulumi.ComponentResource):
    """A replica of the model bucket in this provider's region (the DR region), protected like the source,
    kept in sync by S3 Replication with Replication Time Control and alarms, plus the Batch Replication role,
    report bucket and exact command that copy the objects older than the replication rule.
    """

    bucket_name: pulumi.Output[str]
    """The replica bucket."""
    bucket_arn: pulumi.Output[str]
    """ARN of the replica bucket."""
    kms_key_arn: pulumi.Output[str]
    """Customer key of the replica bucket (in the replica's region)."""
    region: pulumi.Output[str]
    """Region of the replica."""
    replication_role_arn: pulumi.Output[str]
    """Role S3 replicates with."""
    rule_ids: pulumi.Output[list[str]]
    """Ids of the replication rules (the RuleId dimension of the replication metrics)."""
    alarm_names: pulumi.Output[list[str]]
    """CloudWatch alarms on replication latency, pending and failed operations (in the source region)."""
    alarm_topic_arn: pulumi.Output[str]
    """SNS topic (encrypted) every alarm notifies."""
    batch_replication_role_arn: pulumi.Output[str]
    """Role of S3 Batch Replication jobs."""
    batch_report_bucket_name: pulumi.Output[str]
    """Bucket (source region) of the Batch Replication manifests and completion reports."""
    batch_replication_command: pulumi.Output[str]
    """The `aws s3control create-job` command that replicates the objects older than the rule."""

    def __init__(self, name: str, args: ModelReplicaArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(TYPE, name, None, opts)
        self._name = name
        source_region = args["source_region"]
        replica_region = aws.get_region().region
        storage_class = self._checked_storage_class(args, replica_region)
        prefixes = list(args.get("prefixes", ()))
        delete_markers = args.get("replicate_delete_markers", False)
        tags = component_tags(args.get("tags", {}), "ModelReplica")
        partition = aws.get_partition().partition
        account = aws.get_caller_identity().account_id
        project, stack = pulumi.get_project(), pulumi.get_stack()
        source_name = pulumi.Output.from_input(args["source_bucket_name"])
        source_arn = pulumi.Output.from_input(args["source_bucket_arn"])

        # The replica, in this provider's region. No key policy here: the KMS default (the account through
        # IAM) is what the replication role's identity policy relies on; a DR file system linked to the
        # replica (LustreModelStore) replaces it with the same statement plus its FSx role.
        replica = protected_bucket(
            name,
            parent=self,
            key_description="inferentia-chat model replica (DR): S3 bucket and a DR file system",
            key_alias=f"alias/{project}-{stack}-model-replica",
            noncurrent_version_days=args.get("noncurrent_version_days", 30),
            tags=tags,
            region=replica_region,
        )
        role, role_policy = self._replication_role(name, args, replica, replica_region, prefixes, delete_markers, tags)

        rules = replication_rules(prefixes)
        # On the SOURCE bucket, in the source region, owned by this component (and so by the DR stack):
        # destroying it removes replication from the source bucket. A bucket has ONE replication
        # configuration: a second replica of the same bucket must be added to this resource, not made
        # beside it.
        replication = aws.s3.BucketReplicationConfig(
            f"{name}-replication",
            bucket=source_name,
            role=role.arn,
            region=source_region,
            rules=[
                replication_rule(rid, prefix, priority, replica, storage_class, delete_markers)
                for rid, prefix, priority in rules
            ],
            # The replica must be versioned and protected, and the role able to act, before S3 replicates.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[*replica.protections, role_policy]),
        )

        alarm_topic = replication_alarm_topic(self, name, args, source_region, partition, account, tags)
        alarms = self._alarms(source_name, replica.bucket.bucket, rules, alarm_topic, source_region, replication, tags)
        batch_role, reports = self._batch_replication(source_arn, prefixes, source_region, account, tags)

        request = pulumi.Output.all(batch_role.arn, source_arn, reports.bucket.arn, reports.key.arn).apply(
            lambda a: batch_replication_request(
                account=account,
                role_arn=a[0],
                source_bucket_arn=a[1],
                report_bucket_arn=a[2],
                report_key_arn=a[3],
                description=f"{project}/{stack}: replicate objects older than the replication rule",
            )
        )

        self.bucket_name = replica.bucket.bucket
        self.bucket_arn = replica.bucket.arn
        self.kms_key_arn = replica.key.arn
        self.region = pulumi.Output.from_input(replica_region)
        self.replication_role_arn = role.arn
        self.rule_ids = pulumi.Output.from_input([rid for rid, _, _ in rules])
        self.alarm_names = pulumi.Output.all(*[a.name for a in alarms])
        self.alarm_topic_arn = alarm_topic.arn
        self.batch_replication_role_arn = batch_role.arn
        self.batch_report_bucket_name = reports.bucket.bucket
        # Usable once this stack is up (the replication configuration must exist when the job starts).
        self.batch_replication_command = request.apply(lambda r: batch_replication_command(r, source_region))
        self.replication = replication
        self.protections = replica.protections
        register_declared_outputs(self)

    # --- monitoring --------------------------------------------------------------------------------

    @staticmethod
    def _checked_storage_class(args: ModelReplicaArgs, replica_region: str) -> str:
        """The replica's storage class, once the regions and the class are known to be valid."""
        source_region = args["source_region"]
        if source_region == replica_region:
            raise ValueError(
                f"ModelReplica: source_region {source_region} is this provider's region; a replica for disaster "
                "recovery must live in another region"
            )
        storage_class = args.get("replica_storage_class", "STANDARD")
        if storage_class not in STORAGE_CLASSES:
            raise ValueError(f"ModelReplica: replica_storage_class {storage_class!r} is not one of {STORAGE_CLASSES}")
        return storage_class

    def _replication_role(
        self,
        name: str,
        args: ModelReplicaArgs,
        replica: ProtectedBucket,
        replica_region: str,
        prefixes: list[str],
        delete_markers: bool,
        tags: dict[str, str],
    ) -> tuple[aws.iam.Role, aws.iam.RolePolicy]:
        """The role S3 replicates as, with what it may read in the source and write in the replica."""
        source_region, stack = args["source_region"], pulumi.get_stack()
        source_arn = pulumi.Output.from_input(args["source_bucket_arn"])
        source_key = pulumi.Output.from_input(args["source_kms_key_arn"])
        child = pulumi.ResourceOptions(parent=self)
        role = aws.iam.Role(
            f"{name}-replication-role",
            description=f"inferentia-chat {stack}: S3 replicates the model bucket to {replica_region}",
            # aws:SourceAccount only: no AWS page we found says S3 sets aws:SourceArn when it assumes a
            # replication role, and a condition on an absent key would stop replication.
            assume_role_policy=json.dumps(
                iam.service_trust_policy(
                    "s3.amazonaws.com", "S3ReplicatesTheModelBucket", aws.get_caller_identity().account_id
                )
            ),
            tags=tags,
            opts=child,
        )
        role_policy = aws.iam.RolePolicy(
            f"{name}-replication-policy",
            role=role.id,
            policy=pulumi.Output.all(source_arn, source_key, replica.bucket.arn, replica.key.arn).apply(
                lambda a: json.dumps(
                    iam.replication_role_policy(
                        iam.ReplicationEnds(a[0], a[1], source_region, a[2], a[3], replica_region),
                        prefixes,
                        replicate_deletes=delete_markers,
                    )
                )
            ),
            opts=child,
        )
        return role, role_policy

    def _alarms(
        self,
        source_bucket: pulumi.Output[str],
        replica_bucket: pulumi.Output[str],
        rules: list[tuple[str, str, int]],
        topic: aws.sns.Topic,
        region: str,
        replication: aws.s3.BucketReplicationConfig,
        tags: Mapping[str, str],
    ) -> list[aws.cloudwatch.MetricAlarm]:
        """Per rule: replication latency over the RTC threshold, operations stuck pending, failures."""
        name = self._name
        actions = [topic.arn]
        opts = pulumi.ResourceOptions(parent=self, depends_on=[replication])
        alarms: list[aws.cloudwatch.MetricAlarm] = []
        for rid, prefix, _ in rules:
            what = f"prefix {prefix}" if prefix else "the whole bucket"
            dimensions = {"SourceBucket": source_bucket, "DestinationBucket": replica_bucket, "RuleId": rid}
            for kind, metric, statistic, threshold, periods, description in (
                (
                    "latency",
                    "ReplicationLatency",
                    "Maximum",
                    LATENCY_THRESHOLD_S,
                    LATENCY_PERIODS,
                    f"Replication of {what} is slower than the {RTC_MINUTES}-minute RTC threshold",
                ),
                (
                    "pending",
                    "OperationsPendingReplication",
                    "Maximum",
                    0,
                    PENDING_PERIODS,
                    f"Replication operations of {what} pending for {PENDING_PERIODS * ALARM_PERIOD_S // 60} minutes",
                ),
                (
                    "failed",
                    "OperationsFailedReplication",
                    "Sum",
                    0,
                    1,
                    f"Replication operations of {what} failed (check the role, the keys and the replica bucket)",
                ),
            ):
                alarms.append(
                    aws.cloudwatch.MetricAlarm(
                        f"{name}-{kind}-{rid}",
                        alarm_description=description,
                        namespace="AWS/S3",
                        metric_name=metric,
                        dimensions=dimensions,
                        statistic=statistic,
                        period=ALARM_PERIOD_S,
                        evaluation_periods=periods,
                        datapoints_to_alarm=periods,
                        threshold=threshold,
                        comparison_operator="GreaterThanThreshold",
                        treat_missing_data="notBreaching",
                        alarm_actions=actions,
                        ok_actions=actions,
                        region=region,
                        tags=dict(tags),
                        opts=opts,
                    )
                )
        return alarms

    # --- objects older than the rule -----------------------------------------------------------------

    def _batch_replication(
        self, source_arn: pulumi.Output[str], prefixes: list[str], region: str, account: str, tags: Mapping[str, str]
    ) -> tuple[aws.iam.Role, ProtectedBucket]:
        """The Batch Replication role and the bucket (source region) of its manifests and reports."""
        name = self._name
        child = pulumi.ResourceOptions(parent=self)
        reports = protected_bucket(
            f"{name}-batch",
            parent=self,
            key_description="inferentia-chat model replication: Batch Replication manifests and reports",
            key_alias=f"alias/{pulumi.get_project()}-{pulumi.get_stack()}-batch-replication",
            noncurrent_version_days=1,
            expire_objects_days=REPORT_RETENTION_DAYS,
            tags=tags,
            region=region,
        )
        role = aws.iam.Role(
            f"{name}-batch-role",
            description="inferentia-chat: S3 Batch Replication of objects older than the replication rule",
            assume_role_policy=json.dumps(
                iam.service_trust_policy("batchoperations.s3.amazonaws.com", "S3BatchOperationsRunsTheJob", account)
            ),
            tags=tags,
            opts=child,
        )
        aws.iam.RolePolicy(
            f"{name}-batch-policy",
            role=role.id,
            policy=pulumi.Output.all(source_arn, reports.bucket.arn, reports.key.arn).apply(
                lambda a: json.dumps(
                    iam.batch_replication_policy(
                        a[0], prefixes, iam.BatchReportLocation(a[1], a[2], region, MANIFEST_PREFIX, REPORT_PREFIX)
                    )
                )
            ),
            opts=child,
        )
        return role, reports
