"""ModelReplica: the model bucket replicated to the DR region with RTC, monitored, with Batch Replication."""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any

import pytest
from botocore import xform_name
from botocore.session import get_session
from botocore.validate import ParamValidator
from conftest import DR_SECTION, Plan, dr_plan

from inferentia_chat import iam
from inferentia_chat.replication import (
    MANIFEST_PREFIX,
    REPORT_PREFIX,
    batch_replication_command,
    batch_replication_request,
    replication_rules,
)
from offline import engine

COMPONENT = "inferentia-chat:index:ModelReplica"
BUCKET = "aws:s3/bucket:Bucket"
KEY = "aws:kms/key:Key"
REPLICATION = "aws:s3/bucketReplicationConfig:BucketReplicationConfig"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
DR = "inferentia-chat:dr"
PRIMARY, DR_REGION = "us-east-1", "us-west-2"


def replica_resources(plan: Plan):
    (component,) = plan.of_type(COMPONENT)
    return [r for r in plan.resources if component in plan.ancestors(r)]


def attached(plan: Plan, type_: str, bucket: str):
    """The one resource of a type configuring the bucket named `bucket`."""
    (found,) = [r for r in plan.of_type(type_) if r.inputs.get("bucket") == bucket]
    return found


def statements(plan: Plan, rec) -> dict[str, dict[str, Any]]:
    return {s["Sid"]: s for s in plan.policy(rec)["Statement"]}


# --- the replica bucket ------------------------------------------------------------------------------


def test_replica_bucket_lives_in_the_dr_region_with_its_own_rotating_key(dev_dr: Plan, dev: Plan):
    bucket = dev_dr.one(BUCKET, "model-replica-bucket")
    key = dev_dr.one(KEY, "model-replica-key")
    assert bucket.inputs["region"] == DR_REGION and key.inputs["region"] == DR_REGION
    assert key.inputs["enableKeyRotation"] is True
    assert key.outputs["arn"].startswith(f"arn:aws:kms:{DR_REGION}:")
    assert key.outputs["arn"] != dev.outputs["modelKeyArn"]  # never the primary's key
    assert dev_dr.outputs["replicaBucketName"] == bucket.outputs["bucket"]
    assert dev_dr.outputs["replicaKmsKeyArn"] == key.outputs["arn"]


def test_replica_bucket_has_the_primary_buckets_protections(dev_dr: Plan, dev: Plan):
    name = dev_dr.one(BUCKET, "model-replica-bucket").outputs["bucket"]
    key_arn = dev_dr.one(KEY, "model-replica-key").outputs["arn"]
    prefix = "aws:s3/bucket"
    sse_type = f"{prefix}ServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
    (sse,) = attached(dev_dr, sse_type, name).inputs["rules"]
    assert sse["applyServerSideEncryptionByDefault"] == {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": key_arn}
    assert sse["bucketKeyEnabled"] is True
    versioning = attached(dev_dr, f"{prefix}Versioning:BucketVersioning", name).inputs
    assert versioning["versioningConfiguration"] == {"status": "Enabled"}
    pab = attached(dev_dr, f"{prefix}PublicAccessBlock:BucketPublicAccessBlock", name).inputs
    assert all(
        pab[k] is True for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    )
    ownership = attached(dev_dr, f"{prefix}OwnershipControls:BucketOwnershipControls", name).inputs
    assert ownership["rule"] == {"objectOwnership": "BucketOwnerEnforced"}
    policy = attached(dev_dr, "aws:s3/bucketPolicy:BucketPolicy", name)
    arn = dev_dr.one(BUCKET, "model-replica-bucket").outputs["arn"]
    assert dev_dr.policy(policy) == iam.deny_insecure_transport_policy(arn)
    (rule,) = attached(dev_dr, f"{prefix}LifecycleConfiguration:BucketLifecycleConfiguration", name).inputs["rules"]
    assert rule["noncurrentVersionExpiration"] == {"noncurrentDays": 30} and "expiration" not in rule
    # Each protection is in the replica's region, like the bucket.
    for type_ in ("Versioning:BucketVersioning", "OwnershipControls:BucketOwnershipControls"):
        assert attached(dev_dr, f"{prefix}{type_}", name).inputs["region"] == DR_REGION
    # The same code as the primary's bucket: identical protections, names apart.
    primary_pab = dev.one(
        f"{prefix}PublicAccessBlock:BucketPublicAccessBlock", "model-store-bucket-public-access"
    ).inputs
    assert {k: v for k, v in pab.items() if k not in ("bucket", "region")} == {
        k: v for k, v in primary_pab.items() if k != "bucket"
    }


# --- the replication configuration ----------------------------------------------------------------------


def test_replication_config_is_on_the_source_bucket_in_the_primary_region(dev_dr: Plan, dev: Plan):
    rep = dev_dr.one(REPLICATION)
    assert rep.inputs["region"] == PRIMARY
    assert rep.inputs["bucket"] == dev.outputs["modelBucketName"]
    assert rep.inputs["role"] == dev_dr.one(ROLE, "model-replica-replication-role").outputs["arn"]
    assert dev_dr.outputs["replicationRuleIds"] == ["replicate-whole-bucket"]


def test_the_whole_bucket_replicates_with_rtc_metrics_kms_selection_and_the_replica_key(dev_dr: Plan):
    (rule,) = dev_dr.one(REPLICATION).inputs["rules"]
    assert rule["status"] == "Enabled" and rule["id"] == "replicate-whole-bucket"
    assert rule["filter"] == {"prefix": ""}  # every key
    assert rule["sourceSelectionCriteria"] == {"sseKmsEncryptedObjects": {"status": "Enabled"}}
    assert rule["deleteMarkerReplication"] == {"status": "Disabled"}  # a source delete never hides the copy
    dest = rule["destination"]
    assert dest["bucket"] == dev_dr.one(BUCKET, "model-replica-bucket").outputs["arn"]
    assert dest["encryptionConfiguration"] == {"replicaKmsKeyId": dev_dr.one(KEY, "model-replica-key").outputs["arn"]}
    assert dest["replicationTime"] == {"status": "Enabled", "time": {"minutes": 15}}
    assert dest["metrics"] == {"status": "Enabled", "eventThreshold": {"minutes": 15}}
    assert dest["storageClass"] == "STANDARD"
    assert "existingObjectReplication" not in rule  # Batch Replication handles older objects


def test_replication_waits_for_the_replica_protections_and_the_role_policy(dev_dr: Plan):
    rep = dev_dr.one(REPLICATION)
    name = dev_dr.one(BUCKET, "model-replica-bucket").outputs["bucket"]
    assert dev_dr.depends(rep, attached(dev_dr, "aws:s3/bucketVersioning:BucketVersioning", name))
    assert dev_dr.depends(rep, attached(dev_dr, "aws:s3/bucketPolicy:BucketPolicy", name))
    assert dev_dr.depends(rep, dev_dr.one(ROLE_POLICY, "model-replica-replication-policy"))


def test_prefixes_storage_class_and_delete_markers_come_from_config(rendered: Path):
    plan = dr_plan(
        rendered,
        **{
            DR: {
                **DR_SECTION,
                "prefixes": ["models/", "neuron-cache/"],
                "replicaStorageClass": "INTELLIGENT_TIERING",
                "replicateDeleteMarkers": True,
            }
        },
    )
    rules = plan.one(REPLICATION).inputs["rules"]
    assert [(r["id"], r["filter"], r["priority"]) for r in rules] == [
        ("replicate-models", {"prefix": "models/"}, 2),
        ("replicate-neuron-cache", {"prefix": "neuron-cache/"}, 1),
    ]
    assert {r["destination"]["storageClass"] for r in rules} == {"INTELLIGENT_TIERING"}
    assert {r["deleteMarkerReplication"]["status"] for r in rules} == {"Enabled"}
    assert all(r["destination"]["replicationTime"]["status"] == "Enabled" for r in rules)
    # The role may write delete markers only now, and only under the prefixes.
    writes = statements(plan, plan.one(ROLE_POLICY, "model-replica-replication-policy"))["WriteReplicas"]
    assert "s3:ReplicateDelete" in writes["Action"]
    replica = plan.one(BUCKET, "model-replica-bucket").outputs["arn"]
    assert writes["Resource"] == [f"{replica}/models/*", f"{replica}/neuron-cache/*"]
    # Three alarms per rule, each on its own RuleId.
    assert sorted(a.inputs["dimensions"]["RuleId"] for a in plan.of_type(ALARM)) == sorted(
        ["replicate-models"] * 3 + ["replicate-neuron-cache"] * 3
    )


def test_replication_rules_have_unique_priorities():
    rules = replication_rules(["a/", "b/", "c/d/"])
    assert len({p for _, _, p in rules}) == 3 and [r[0] for r in rules] == [
        "replicate-a",
        "replicate-b",
        "replicate-c-d",
    ]
    assert replication_rules([]) == [("replicate-whole-bucket", "", 0)]


# --- the replication role -------------------------------------------------------------------------------


def test_replication_role_is_assumed_by_s3_only(dev_dr: Plan):
    role = dev_dr.one(ROLE, "model-replica-replication-role")
    (trust,) = dev_dr.policy(role, "assumeRolePolicy")["Statement"]
    assert trust["Principal"] == {"Service": "s3.amazonaws.com"} and trust["Action"] == "sts:AssumeRole"


def test_replication_role_reads_the_source_writes_the_replica_and_uses_each_key_through_s3(dev_dr: Plan, dev: Plan):
    found = statements(dev_dr, dev_dr.one(ROLE_POLICY, "model-replica-replication-policy"))
    source, replica = dev.outputs["modelBucketArn"], dev_dr.one(BUCKET, "model-replica-bucket").outputs["arn"]
    replica_key = dev_dr.one(KEY, "model-replica-key").outputs["arn"]
    assert found["ReadTheReplicationConfiguration"]["Resource"] == source
    assert set(found["ReadTheReplicationConfiguration"]["Action"]) == {
        "s3:GetReplicationConfiguration",
        "s3:ListBucket",
    }
    assert found["ReadSourceVersionsForReplication"]["Resource"] == [f"{source}/*"]
    assert found["WriteReplicas"]["Resource"] == [f"{replica}/*"]
    assert found["WriteReplicas"]["Action"] == ["s3:ReplicateObject", "s3:ReplicateTags"]  # no deletes by default
    decrypt = found["DecryptSourceObjectsThroughS3"]
    assert decrypt["Action"] == "kms:Decrypt" and decrypt["Resource"] == dev.outputs["modelKeyArn"]
    assert decrypt["Condition"]["StringEquals"] == {"kms:ViaService": "s3.us-east-1.amazonaws.com"}
    # Bucket keys: the encryption context is the bucket ARN.
    assert decrypt["Condition"]["StringLike"] == {"kms:EncryptionContext:aws:s3:arn": [source, f"{source}/*"]}
    encrypt = found["EncryptReplicasThroughS3"]
    assert set(encrypt["Action"]) == {"kms:Encrypt", "kms:GenerateDataKey"} and encrypt["Resource"] == replica_key
    assert encrypt["Condition"]["StringEquals"] == {"kms:ViaService": "s3.us-west-2.amazonaws.com"}
    assert encrypt["Condition"]["StringLike"] == {"kms:EncryptionContext:aws:s3:arn": [replica, f"{replica}/*"]}
    actions = {a for s in found.values() for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}
    assert not {a for a in actions if a.endswith("*")}


def test_the_source_key_policy_delegates_to_iam_so_the_role_policy_suffices(dev: Plan):
    """The primary's key policy (owned by the primary stack) keeps the account statement."""
    kp = dev.one("aws:kms/keyPolicy:KeyPolicy", "model-store-key-policy")
    account = statements(dev, kp)["AccountManagesKeyThroughIam"]
    assert account["Principal"] == {"AWS": "arn:aws:iam::123456789012:root"} and account["Action"] == "kms:*"


# --- alarms -----------------------------------------------------------------------------------------------


def test_alarms_watch_latency_pending_and_failed_operations_in_the_source_region(dev_dr: Plan, dev: Plan):
    alarms = {a.inputs["metricName"]: a.inputs for a in dev_dr.of_type(ALARM)}
    assert set(alarms) == {"ReplicationLatency", "OperationsPendingReplication", "OperationsFailedReplication"}
    replica = dev_dr.one(BUCKET, "model-replica-bucket").outputs["bucket"]
    for alarm in alarms.values():
        assert alarm["namespace"] == "AWS/S3" and alarm["region"] == PRIMARY
        assert alarm["dimensions"] == {
            "SourceBucket": dev.outputs["modelBucketName"],
            "DestinationBucket": replica,
            "RuleId": "replicate-whole-bucket",
        }
        assert alarm["comparisonOperator"] == "GreaterThanThreshold"
        assert alarm["treatMissingData"] == "notBreaching"  # idle replication emits nothing
    latency = alarms["ReplicationLatency"]
    assert latency["threshold"] == 900 and latency["statistic"] == "Maximum"  # the 15-minute RTC threshold
    assert latency["period"] * latency["evaluationPeriods"] == 600
    pending = alarms["OperationsPendingReplication"]
    assert pending["threshold"] == 0 and pending["period"] * pending["evaluationPeriods"] == 1800
    failed = alarms["OperationsFailedReplication"]
    assert failed["threshold"] == 0 and failed["statistic"] == "Sum" and failed["evaluationPeriods"] == 1
    # No email configured: the alarms still notify the stack's encrypted topic (subscribe anything to it),
    # and the primary's alert topic (docs/operations-monitoring.md); there is just no email subscription.
    topic = dev_dr.one("aws:sns/topic:Topic")
    assert topic.inputs["kmsMasterKeyId"] == dev_dr.one(KEY, "model-replica-alarms-key").outputs["arn"]
    for alarm in dev_dr.of_type(ALARM):
        expected = [topic.outputs["arn"], dev.outputs["alertTopicArn"]]
        assert alarm.inputs["alarmActions"] == alarm.inputs["okActions"] == expected
    assert not dev_dr.of_type("aws:sns/topicSubscription:TopicSubscription")
    assert dev_dr.outputs["alarmTopicArn"] == topic.outputs["arn"]
    assert sorted(dev_dr.outputs["replicationAlarms"]) == sorted(a.outputs["name"] for a in dev_dr.of_type(ALARM))
    assert all(dev_dr.depends(a, dev_dr.one(REPLICATION)) for a in dev_dr.of_type(ALARM))


def test_an_alarm_email_gets_an_encrypted_topic_that_cloudwatch_may_publish_to(rendered: Path):
    plan = dr_plan(rendered, **{DR: {**DR_SECTION, "alarmEmail": "oncall@example.com"}})
    topic = plan.one("aws:sns/topic:Topic")
    key = plan.one(KEY, "model-replica-alarms-key")
    assert topic.inputs["region"] == key.inputs["region"] == PRIMARY  # beside the alarms
    assert topic.inputs["kmsMasterKeyId"] == key.outputs["arn"]
    cloudwatch = statements(plan, key)["CloudWatchAlarmsPublishToTheEncryptedTopic"]
    assert cloudwatch["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert set(cloudwatch["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey*"}
    assert cloudwatch["Condition"] == {
        "ArnLike": {"aws:SourceArn": "arn:aws:cloudwatch:us-east-1:123456789012:alarm:*"},
        "StringEquals": {"aws:SourceAccount": "123456789012"},
    }
    policy = statements(plan, plan.one("aws:sns/topicPolicy:TopicPolicy"))
    publish = policy["CloudWatchAlarmsPublish"]
    assert publish["Resource"] == topic.outputs["arn"] and publish["Action"] == "sns:Publish"
    assert publish["Condition"]["ArnLike"] == {"aws:SourceArn": "arn:aws:cloudwatch:us-east-1:123456789012:alarm:*"}
    assert policy["DenyInsecureTransport"]["Effect"] == "Deny"
    sub = plan.one("aws:sns/topicSubscription:TopicSubscription").inputs
    assert (sub["protocol"], sub["endpoint"], sub["topic"]) == ("email", "oncall@example.com", topic.outputs["arn"])
    primary_topic = json.loads((rendered / "dev" / "outputs.json").read_text())["alertTopicArn"]
    for alarm in plan.of_type(ALARM):  # its own topic, and the primary's alert topic
        assert alarm.inputs["alarmActions"] == alarm.inputs["okActions"] == [topic.outputs["arn"], primary_topic]
    assert plan.outputs["alarmTopicArn"] == topic.outputs["arn"]


# --- objects older than the rule: Batch Replication --------------------------------------------------------


def test_batch_replication_role_is_least_privilege_for_an_s3_generated_manifest(dev_dr: Plan, dev: Plan):
    role = dev_dr.one(ROLE, "model-replica-batch-role")
    (trust,) = dev_dr.policy(role, "assumeRolePolicy")["Statement"]
    assert trust["Principal"] == {"Service": "batchoperations.s3.amazonaws.com"}
    found = statements(dev_dr, dev_dr.one(ROLE_POLICY, "model-replica-batch-policy"))
    source = dev.outputs["modelBucketArn"]
    reports = dev_dr.one(BUCKET, "model-replica-batch-bucket").outputs["arn"]
    assert found["InitiateReplicationOfSourceObjects"]["Resource"] == [f"{source}/*"]
    assert found["ReadReplicationConfigurationAndGenerateManifest"]["Resource"] == source
    assert set(found["ReadReplicationConfigurationAndGenerateManifest"]["Action"]) == {
        "s3:GetReplicationConfiguration",
        "s3:PutInventoryConfiguration",
    }
    assert found["ReadTheGeneratedManifest"]["Resource"] == f"{reports}/{MANIFEST_PREFIX}/*"
    assert found["WriteManifestAndReport"]["Resource"] == [
        f"{reports}/{MANIFEST_PREFIX}/*",
        f"{reports}/{REPORT_PREFIX}/*",
    ]
    kms = found["EncryptTheManifestThroughS3"]
    assert kms["Resource"] == dev_dr.one(KEY, "model-replica-batch-key").outputs["arn"]
    assert kms["Condition"]["StringEquals"] == {"kms:ViaService": "s3.us-east-1.amazonaws.com"}
    # Nothing on the model's data itself: the replication role copies the objects.
    assert not any("GetObject" in a for s in found.values() for a in s["Action"] if "Manifest" not in s["Sid"])


def test_batch_report_bucket_is_a_protected_bucket_in_the_source_region_that_expires_reports(dev_dr: Plan):
    bucket = dev_dr.one(BUCKET, "model-replica-batch-bucket")
    assert bucket.inputs["region"] == PRIMARY  # S3 Batch Operations jobs run in the source bucket's region
    (rule,) = attached(
        dev_dr, "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", bucket.outputs["bucket"]
    ).inputs["rules"]
    assert rule["expiration"] == {"days": 90}
    assert dev_dr.outputs["batchReportBucket"] == bucket.outputs["bucket"]


def cli_request(command: str) -> tuple[str, dict[str, Any]]:
    """(region, CreateJob parameters) of an `aws s3control create-job` command, parsed the way the AWS CLI
    maps options to the API's members (option = member name in kebab case; structures as JSON)."""
    words = shlex.split(command)
    assert words[:3] == ["aws", "s3control", "create-job"], words[:3]
    shape = get_session().get_service_model("s3control").operation_model("CreateJob").input_shape
    members = {xform_name(m, "-"): m for m in shape.members}
    params: dict[str, Any] = {}
    region = ""
    i = 3
    while i < len(words):
        option = words[i].removeprefix("--")
        if option == "region":
            region, i = words[i + 1], i + 2
        elif option in ("no-confirmation-required", "confirmation-required"):
            params["ConfirmationRequired"], i = option == "confirmation-required", i + 1
        else:
            member = members[option]  # an unknown option would fail here
            kind = shape.members[member].type_name
            raw = words[i + 1]
            params[member] = (
                json.loads(raw) if kind in ("structure", "list") else int(raw) if kind == "integer" else raw
            )
            i += 2
    return region, params


def test_the_batch_replication_command_is_a_valid_create_job_request(dev_dr: Plan, dev: Plan):
    region, params = cli_request(dev_dr.outputs["batchReplicationCommand"])
    assert region == PRIMARY
    shape = get_session().get_service_model("s3control").operation_model("CreateJob").input_shape
    # The CLI fills the idempotency token itself; everything else must satisfy the S3 Control API model.
    report = ParamValidator().validate({**params, "ClientRequestToken": "cli-made"}, shape)
    assert not report.has_errors(), report.generate_report()
    assert params["Operation"] == {"S3ReplicateObject": {}}
    assert params["RoleArn"] == dev_dr.one(ROLE, "model-replica-batch-role").outputs["arn"]
    assert params["AccountId"] == "123456789012"
    generator = params["ManifestGenerator"]["S3JobManifestGenerator"]
    assert generator["SourceBucket"] == dev.outputs["modelBucketArn"]
    assert generator["Filter"] == {"EligibleForReplication": True, "ObjectReplicationStatuses": ["NONE", "FAILED"]}
    reports = dev_dr.one(BUCKET, "model-replica-batch-bucket").outputs["arn"]
    assert generator["ManifestOutputLocation"]["Bucket"] == params["Report"]["Bucket"] == reports
    assert generator["ManifestOutputLocation"]["ManifestEncryption"] == {
        "SSEKMS": {"KeyId": dev_dr.one(KEY, "model-replica-batch-key").outputs["arn"]}
    }
    assert params["Report"]["Prefix"] == REPORT_PREFIX and params["Report"]["Enabled"] is True


def test_the_request_check_catches_a_wrong_member():
    request = batch_replication_request(
        account="123456789012",
        role_arn="arn:aws:iam::123456789012:role/r",
        source_bucket_arn="arn:aws:s3:::src",
        report_bucket_arn="arn:aws:s3:::rep",
        report_key_arn="arn:aws:kms:us-east-1:123456789012:key/k",
        description="d",
    )
    generator = request["ManifestGenerator"]["S3JobManifestGenerator"]
    generator["SourceS3BucketArn"] = generator.pop("SourceBucket")  # a name seen in public examples
    _, params = cli_request(batch_replication_command(request, "us-east-1"))
    shape = get_session().get_service_model("s3control").operation_model("CreateJob").input_shape
    report = ParamValidator().validate({**params, "ClientRequestToken": "t"}, shape)
    assert report.has_errors() and "SourceS3BucketArn" in report.generate_report()


# --- the component as a whole --------------------------------------------------------------------------


def test_every_aws_resource_of_the_replica_carries_the_common_tags(dev_dr: Plan):
    tagged = [r for r in replica_resources(dev_dr) if "tags" in r.inputs]
    assert {r.type for r in tagged} >= {BUCKET, KEY, ROLE, ALARM}
    for r in tagged:
        assert r.inputs["tags"]["component"] == "ModelReplica", r.name
        assert (r.inputs["tags"]["project"], r.inputs["tags"]["stack"]) == ("inferentia-chat", "dev-dr"), r.name
        assert r.inputs["tags"]["environment"] == "dev", r.name


def test_the_render_shows_both_regions(dev_dr: Plan):
    regions = {r.inputs["region"] for r in replica_resources(dev_dr) if "region" in r.inputs}
    assert regions == {PRIMARY, DR_REGION}
    in_primary = {r.type for r in replica_resources(dev_dr) if r.inputs.get("region") == PRIMARY}
    assert {REPLICATION, ALARM, BUCKET} <= in_primary


def test_a_replica_in_the_source_region_is_refused():
    def program():
        from inferentia_chat.model_replica import ModelReplica, ModelReplicaArgs

        ModelReplica(
            "same",
            ModelReplicaArgs(
                source_bucket_name="b",
                source_bucket_arn="arn:aws:s3:::b",
                source_kms_key_arn="arn:aws:kms:us-east-1:123456789012:key/k",
                source_region="us-east-1",
            ),
        )

    with pytest.raises(ValueError, match="another region"):
        engine.install().run(program, project="inferentia-chat", stack="same", config={"aws:region": "us-east-1"})
