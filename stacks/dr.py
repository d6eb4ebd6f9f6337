"""The disaster-recovery stack: the primary's model bucket replicated to this stack's region, and a standby.

The primary stack's outputs come through a StackReference (`dr.primaryStack`). `ModelReplica` owns the
replica bucket here and the replication configuration, alarms and Batch Replication report bucket in the
primary's region. Then, by `dr.standby`:

- `none`: nothing more (the replica is the DR copy; a platform is built at failover);
- `storage`: a network and an FSx for Lustre file system linked to the replica (import only), no cluster:
  the file system already knows the model when a cluster arrives;
- `serving`: the primary's whole platform (`build_platform`) on the replica, with zero serving pods (the
  DR default of `model.replicas`) until the failover, so Karpenter runs no inf2 node here.

The storage and serving standbys give the network and the model store the same names, so moving from one to
the other keeps the file system.
"""

from __future__ import annotations

from typing import Any

import pulumi

from inferentia_chat.model_layout import models_prefix
from inferentia_chat.model_replica import ModelReplica, ModelReplicaArgs
from inferentia_chat.model_store import LinkedBucketArgs
from inferentia_chat.model_store.model_files import MARKER
from inferentia_chat.network import Network
from inferentia_chat.vllm import COMPLETE_MARKER
from stacks.config import CONFIG_NAMESPACE, ConfigError, StackConfig

from .primary import ReplicaLink, build_platform, model_store, network_args, object_prefixes, platform_outputs


def head_object(region: str, bucket: pulumi.Input[str], prefix: pulumi.Input[str], name: str) -> pulumi.Output[str]:
    """`aws s3api head-object` for one object: succeeds (and shows its metadata) only if it exists."""
    return pulumi.Output.concat(
        "aws s3api head-object --region ", region, " --bucket ", bucket, " --key ", prefix, name
    )


def model_check_commands(region: str, bucket: str, objects: dict[str, dict[str, str]] | None) -> dict[str, list[str]]:
    """For each model of the primary (its `modelObjects` output), the head-object commands that succeed once
    its weights and its compiled artifacts are complete in the replica."""
    head = f"aws s3api head-object --region {region} --bucket {bucket} --key "
    return {
        name: [f"{head}{where['model']}{MARKER}", f"{head}{where['compiledArtifacts']}{COMPLETE_MARKER}"]
        for name, where in sorted((objects or {}).items())
    }


def primary_mismatches(cfg: StackConfig, primary: dict[str, Any]) -> list[str]:
    """Where this DR stack's configuration disagrees with the primary stack's outputs (empty: none).

    The region must be the one the primary reports; a standby's file system reads the model where the primary
    wrote it, and a serving standby compiles to the same key as the primary (so it loads the replicated
    artifacts instead of compiling).
    """
    assert cfg.dr is not None
    problems = []
    if primary.get("region") and primary["region"] != cfg.dr.primary_region:
        problems.append(
            f"{CONFIG_NAMESPACE}:dr.primaryRegion = {cfg.dr.primary_region!r}: the primary stack "
            f"{cfg.dr.primary_stack} is in {primary['region']}"
        )
    if cfg.dr.standby == "none":
        return problems
    model_objects, artifact_objects = object_prefixes(cfg)
    theirs = primary.get("modelObjectsPrefix")
    ours = models_prefix(cfg.model_store.bucket_prefix)
    if theirs and not theirs.startswith(ours):
        problems.append(
            f"{CONFIG_NAMESPACE}:modelStore.bucketPrefix = {cfg.model_store.bucket_prefix!r}: the primary keeps "
            f"the model under {theirs!r}; use the primary's modelStore.bucketPrefix"
        )
    if cfg.dr.standby == "serving":
        if theirs and theirs != model_objects:
            problems.append(
                f"{CONFIG_NAMESPACE}:model.servedName = {cfg.model.served_name!r}: the primary's model is "
                f"under {theirs!r}, this stack would read {model_objects!r}"
            )
        compiled = primary.get("compiledArtifactsObjectsPrefix")
        if compiled and compiled != artifact_objects:
            problems.append(
                f"{CONFIG_NAMESPACE}:model = (id, revision, tensorParallelSize, maxModelLen, maxNumSeqs): the "
                f"primary's compiled artifacts are {compiled!r}, this stack would use {artifact_objects!r}; set the "
                "primary's values (or this region compiles its own at failover)"
            )
    return problems


def build_dr(cfg: StackConfig) -> dict[str, Any]:
    """Compose the DR stack and return its outputs."""
    dr = cfg.dr
    assert dr is not None  # parse_config guarantees a dr section for role dr
    primary = pulumi.StackReference("primary", stack_name=dr.primary_stack)
    args = ModelReplicaArgs(
        source_bucket_name=primary.require_output("modelBucketName"),
        source_bucket_arn=primary.require_output("modelBucketArn"),
        source_kms_key_arn=primary.require_output("modelKeyArn"),
        source_region=dr.primary_region,
        replica_storage_class=dr.replica_storage_class,
        replicate_delete_markers=dr.replicate_delete_markers,
        prefixes=list(dr.prefixes),
        tags=cfg.common_tags,
        retain_data=cfg.data.retain,
        protect_data=cfg.data.protect,
    )
    if dr.alarm_email:
        args["alarm_email"] = dr.alarm_email
    # The alarms live in the primary's region, beside the primary's alert topic (monitoring.alertTarget sns):
    # they notify it too, so replication problems land where every other alert does.
    args["alarm_topic_arn"] = primary.get_output("alertTopicArn").apply(lambda arn: arn or "")
    replica = ModelReplica("model-replica", args)

    # Checked when the primary's outputs are known (at deploy time, and in the offline render); a mismatch
    # fails the deployment with the keys to fix.
    def checked(values: list[Any]) -> str:
        region, model_objects, compiled = values
        problems = primary_mismatches(
            cfg, {"region": region, "modelObjectsPrefix": model_objects, "compiledArtifactsObjectsPrefix": compiled}
        )
        if problems:
            raise ConfigError(problems)
        return model_objects or ""

    model_objects = pulumi.Output.all(
        primary.get_output("region"),
        primary.get_output("modelObjectsPrefix"),
        primary.get_output("compiledArtifactsObjectsPrefix"),
    ).apply(checked)

    outputs: dict[str, Any] = {
        "role": cfg.role,
        "region": cfg.region,
        "primaryStack": dr.primary_stack,
        "primaryRegion": dr.primary_region,
        "standby": dr.standby,
        "sourceBucketName": primary.require_output("modelBucketName"),
        "replicaBucketName": replica.bucket_name,
        "replicaBucketArn": replica.bucket_arn,
        "replicaKmsKeyArn": replica.kms_key_arn,
        "replicationRoleArn": replica.replication_role_arn,
        "replicationRuleIds": replica.rule_ids,
        "replicationAlarms": replica.alarm_names,
        "batchReplicationRoleArn": replica.batch_replication_role_arn,
        "batchReportBucket": replica.batch_report_bucket_name,
        # Run once after the first `pulumi up` of this stack: copies what the primary held before the rule.
        "batchReplicationCommand": replica.batch_replication_command,
        "replicationConfigCommand": pulumi.Output.concat(
            "aws s3api get-bucket-replication --region ", dr.primary_region, " --bucket ", args["source_bucket_name"]
        ),
        # The model is complete in the replica once its completion marker (written last by the load) is there;
        # the compiled artifacts once theirs (written last by the compile Job) is.
        "replicaModelCheckCommand": head_object(cfg.region, replica.bucket_name, model_objects, MARKER),
        "replicaArtifactsCheckCommand": head_object(
            cfg.region, replica.bucket_name, primary.get_output("compiledArtifactsObjectsPrefix"), COMPLETE_MARKER
        ),
        # The same for every model the primary serves (the replication rule covers them all).
        "replicaModelsCheckCommands": pulumi.Output.all(replica.bucket_name, primary.get_output("modelObjects")).apply(
            lambda a: model_check_commands(cfg.region, a[0], a[1])
        ),
        # Every alarm notifies it; subscribe paging or chat to it (dr.alarmEmail adds an email subscription).
        "alarmTopicArn": replica.alarm_topic_arn,
    }

    link = ReplicaLink(
        bucket=LinkedBucketArgs(
            bucket_name=replica.bucket_name, bucket_arn=replica.bucket_arn, kms_key_arn=replica.kms_key_arn
        ),
        ready=replica.protections,
    )
    if dr.standby == "storage":
        network = Network("network", network_args(cfg))
        store = model_store(cfg, network, None, link)
        outputs.update(
            {
                "vpcId": network.vpc_id,
                "privateSubnetIds": network.private_subnet_ids,
                "availabilityZones": network.availability_zones,
                "fileSystemId": store.file_system_id,
                "fileSystemDnsName": store.dns_name,
                "fileSystemMountName": store.mount_name,
                "servingAvailabilityZone": store.availability_zone,
            }
        )
    elif dr.standby == "serving":
        outputs.update(platform_outputs(build_platform(cfg, link)))
    return outputs
