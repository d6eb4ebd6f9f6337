"""`pulumi destroy` keeps the data by default: the model and replica buckets with their keys (and the
protections that keep a surviving bucket private), the EBS key of the chat volume, and the chat volume itself
(a StorageClass that retains it, and daily snapshots). `protectData` adds Pulumi `protect` and EKS deletion
protection; `dataOnDestroy: delete` lets a throwaway stack delete everything. docs/day-2.md."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import Plan, dr_plan, plan_for
from test_teardown import deleted_before

from inferentia_chat.eks_cluster import RETAINED_STORAGE_CLASS, SNAPSHOT_TAG
from inferentia_chat.volume_snapshots import dlm_snapshot_policy, dlm_trust_policy
from stacks.config import parse_config

BUCKET, KEY = "aws:s3/bucket:Bucket", "aws:kms/key:Key"
SC = "kubernetes:storage.k8s.io/v1:StorageClass"
PVC = "kubernetes:core/v1:PersistentVolumeClaim"
DLM = "aws:dlm/lifecyclePolicy:LifecyclePolicy"
THROWAWAY = {"inferentia-chat:dataOnDestroy": "delete", "inferentia-chat:protectData": "false"}


def kept(plan: Plan) -> set[str]:
    return {r.name for r in plan.resources if r.options["retainOnDelete"]}


def protected(plan: Plan) -> set[str]:
    return {r.name for r in plan.resources if r.options["protect"]}


def test_the_shipped_primary_keeps_the_model_bucket_its_key_and_the_volume_key(dev: Plan):
    retained = kept(dev)
    assert {"model-store-bucket", "model-store-key", "cluster-volume-key"} <= retained
    # A kept bucket keeps what makes it safe: private, encrypted, TLS-only, versioned, expiring old versions.
    for protection in ("ownership", "public-access", "encryption", "versioning", "policy", "lifecycle"):
        assert f"model-store-bucket-{protection}" in retained, protection
    assert dev.one(BUCKET, "model-store-bucket").inputs["forceDestroy"] is False
    # Nothing else: the cluster, the file system (a cache of the bucket) and the workloads go.
    assert not retained & {"cluster-eks", "model-store-fs", "vllm-deployment", "cluster-secrets-key"}
    assert protected(dev) == set()  # a development stack: not protected, a destroy runs to the end


def test_the_shipped_dr_stack_keeps_the_replica_and_its_key(dev_dr: Plan):
    assert {"model-replica-bucket", "model-replica-key"} <= kept(dev_dr)
    assert "model-replica-batch-bucket" not in kept(dev_dr)  # reports, not data: emptied and deleted
    assert dev_dr.one(BUCKET, "model-replica-batch-bucket").inputs["forceDestroy"] is True


def test_production_protects_the_data_and_guards_the_cluster():
    # The default follows the environment: protected in production, not in development (the dev stacks).
    assert parse_config({}, region="us-east-1", stack="prod").data.protect is True
    dev_cfg = parse_config({"environment": "development"}, region="us-east-1", stack="dev")
    assert dev_cfg.data.protect is False and dev_cfg.data.retain is True
    prod = plan_for(**{"inferentia-chat:protectData": "true"})
    assert {"model-store-bucket", "model-store-key", "cluster-volume-key", "webui-data"} <= protected(prod)
    assert prod.one("eks:index:Cluster").inputs["deletionProtection"] is True
    assert plan_for().one("eks:index:Cluster").inputs["deletionProtection"] is False  # dev


def test_a_protected_dr_stack_protects_the_replica(rendered: Path):
    dr = dr_plan(rendered, **{"inferentia-chat:protectData": "true"})
    assert {"model-replica-bucket", "model-replica-key"} <= protected(dr)


def test_a_throwaway_stack_deletes_everything():
    plan = plan_for(**THROWAWAY)
    assert kept(plan) == set() and protected(plan) == set()
    assert plan.one(BUCKET, "model-store-bucket").inputs["forceDestroy"] is True  # emptied, then deleted
    assert plan.one(SC, "cluster-gp3-retain").inputs["reclaimPolicy"] == "Delete"


def test_chat_history_lives_on_a_retained_tagged_volume(dev: Plan):
    sc = dev.one(SC, "cluster-gp3-retain")
    assert sc.inputs["metadata"]["name"] == RETAINED_STORAGE_CLASS and sc.inputs["reclaimPolicy"] == "Retain"
    assert sc.inputs["parameters"]["tagSpecification_1"] == f"{SNAPSHOT_TAG}=inferentia-chat-dev"
    assert sc.inputs["parameters"]["kmsKeyId"] == dev.one(KEY, "cluster-volume-key").outputs["arn"]
    assert sc.options["replaceOnChanges"] == ["reclaimPolicy"] and sc.options["deleteBeforeReplace"]
    claim = dev.one(PVC, "webui-data")
    assert claim.inputs["spec"]["storageClassName"] == RETAINED_STORAGE_CLASS
    assert dev.depends(claim, sc)  # the claim waits for its class (and is deleted before it)
    # A stack made before the class existed keeps its claim (a new class would mean a new, empty volume).
    assert claim.options["ignoreChanges"] == ["spec.storageClassName"]


def test_the_chat_volume_is_snapshotted_daily_with_the_configured_retention(dev: Plan):
    policy = dev.one(DLM).inputs
    details = policy["policyDetails"]
    assert details["resourceTypes"] == ["VOLUME"]
    assert details["targetTags"] == {SNAPSHOT_TAG: "inferentia-chat-dev"}  # what the StorageClass tags
    (schedule,) = details["schedules"]
    assert schedule["createRule"] == {"interval": 24, "intervalUnit": "HOURS", "times": "03:00"}
    assert schedule["retainRule"] == {"count": 14} and schedule["copyTags"] is True
    longer = plan_for(**{"inferentia-chat:chatSnapshots": {"retainDays": 30, "startTime": "01:30"}}).one(DLM)
    (schedule,) = longer.inputs["policyDetails"]["schedules"]
    assert schedule["retainRule"] == {"count": 30} and schedule["createRule"]["times"] == "01:30"
    role = dev.one("aws:iam/role:Role", "chat-snapshots-role")
    assert policy["executionRoleArn"] == role.outputs["arn"]


def test_the_snapshot_role_is_for_dlm_of_this_account_and_deletes_only_tagged_snapshots(dev: Plan):
    trust = json.loads(dev.one("aws:iam/role:Role", "chat-snapshots-role").inputs["assumeRolePolicy"])
    assert trust == dlm_trust_policy("aws", "us-east-1", "123456789012")
    (statement,) = trust["Statement"]
    assert statement["Principal"] == {"Service": "dlm.amazonaws.com"}
    assert statement["Condition"]["StringEquals"] == {"aws:SourceAccount": "123456789012"}
    assert statement["Condition"]["ArnLike"]["aws:SourceArn"].startswith("arn:aws:dlm:us-east-1:123456789012:policy/")
    policy = json.loads(dev.one("aws:iam/rolePolicy:RolePolicy", "chat-snapshots-role-policy").inputs["policy"])
    assert policy == dlm_snapshot_policy("aws", "us-east-1", "123456789012", SNAPSHOT_TAG, "inferentia-chat-dev")
    deletes = [s for s in policy["Statement"] if "ec2:DeleteSnapshot" in str(s["Action"])]
    assert deletes and all(
        s["Condition"] == {"StringEquals": {f"aws:ResourceTag/{SNAPSHOT_TAG}": "inferentia-chat-dev"}} for s in deletes
    )


def test_teardown_order_still_holds_with_the_crd_release(dev: Plan):
    """Karpenter's CRDs go last among its parts: NodePools and EC2NodeClasses (and their nodes) first, then
    the controller, then the CRDs (deleting a CRD deletes its objects)."""
    crds = dev.one("kubernetes:helm.sh/v3:Release", "karpenter-crd")
    controller = dev.one("kubernetes:helm.sh/v3:Release", "karpenter-chart")
    pools = dev.of_type("kubernetes:karpenter.sh/v1:NodePool") + dev.of_type(
        "kubernetes:karpenter.k8s.aws/v1:EC2NodeClass"
    )
    assert {p.name for p in pools} >= {"inferentia-node-pool", "system-node-pool"}
    for pool in pools:  # the inference pool and the system pool, and their node classes
        deleted_before(dev, pool, controller)
    deleted_before(dev, controller, crds)
    deleted_before(dev, crds, dev.one("eks:index:Cluster"))
