"""The DR stack: its three standby levels, its link to the primary, and the checks against the primary."""

from __future__ import annotations

from pathlib import Path

import pulumi
import pytest
from conftest import DR_SECTION, SERVING_STANDBY, STORAGE_STANDBY, Plan, dr_plan

from inferentia_chat import iam
from inferentia_chat.model_store.lustre_model_store import AUTO_EVENTS
from offline import engine
from offline.render import run_stack
from stacks.config import ConfigError

FS = "aws:fsx/lustreFileSystem:LustreFileSystem"
DRA = "aws:fsx/dataRepositoryAssociation:DataRepositoryAssociation"
KEY_POLICY = "aws:kms/keyPolicy:KeyPolicy"
BUCKET = "aws:s3/bucket:Bucket"
EKS = "eks:index:Cluster"
VPC = "awsx:ec2:Vpc"
JOB = "kubernetes:batch/v1:Job"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
NODEPOOL = "kubernetes:karpenter.sh/v1:NodePool"
DR_REGION = "us-west-2"


def replica(plan: Plan):
    return plan.one(BUCKET, "model-replica-bucket")


# --- none: the replica only --------------------------------------------------------------------------


def test_none_standby_is_the_replica_and_nothing_else(dev_dr: Plan):
    assert dev_dr.outputs["standby"] == "none"
    assert not dev_dr.of_type(FS) and not dev_dr.of_type(EKS) and not dev_dr.of_type(VPC)
    assert not [r for r in dev_dr.resources if r.type.startswith("kubernetes:")]
    ours = [r for r in dev_dr.resources if r.type.startswith("inferentia-chat:")]
    assert [r.type for r in ours] == ["inferentia-chat:index:ModelReplica"]


def test_the_stack_reference_name_comes_from_config(rendered: Path, dev: Plan):
    plan = dr_plan(rendered, **{"inferentia-chat:dr": {**DR_SECTION, "primaryStack": "acme/inferentia-chat/dev"}})
    assert plan.one("pulumi:pulumi:StackReference").inputs["name"] == "acme/inferentia-chat/dev"
    assert plan.outputs["sourceBucketName"] == dev.outputs["modelBucketName"]


def test_outputs_say_how_to_check_the_replication_and_the_model_in_the_replica(dev_dr: Plan, dev: Plan):
    assert dev_dr.outputs["replicationConfigCommand"] == (
        f"aws s3api get-bucket-replication --region us-east-1 --bucket {dev.outputs['modelBucketName']}"
    )
    assert dev_dr.outputs["replicaModelCheckCommand"] == (
        f"aws s3api head-object --region {DR_REGION} --bucket {replica(dev_dr).outputs['bucket']} "
        f"--key {dev.outputs['modelObjectsPrefix']}.model-complete.json"
    )
    assert dev_dr.outputs["replicaArtifactsCheckCommand"].endswith(
        f"--key {dev.outputs['compiledArtifactsObjectsPrefix']}.complete"
    )
    assert dev.outputs["compiledArtifactsObjectsPrefix"].endswith(dev.outputs["compiledArtifactsDir"] + "/")


# --- storage: a file system on the replica, no cluster -------------------------------------------------


def test_storage_standby_links_a_file_system_to_the_replica_import_only(dev_dr_storage: Plan):
    plan = dev_dr_storage
    bucket = replica(plan)
    dra = plan.one(DRA)
    assert dra.inputs["dataRepositoryPath"] == f"s3://{bucket.outputs['bucket']}/"
    assert dra.inputs["s3"] == {"autoImportPolicy": {"events": AUTO_EVENTS}}  # no autoExportPolicy
    fs = plan.one(FS)
    key = plan.one("aws:kms/key:Key", "model-replica-key")
    assert fs.inputs["kmsKeyId"] == key.outputs["arn"]  # the replica's key, in the DR region
    assert plan.outputs["fileSystemId"] == fs.outputs["id"]
    assert fs.outputs["dnsName"].endswith(f".fsx.{DR_REGION}.amazonaws.com")
    # The model store took over the replica key's policy: the account statement plus this file system's role.
    kp = plan.one(KEY_POLICY)
    assert kp.inputs["keyId"] == key.outputs["keyId"]
    found = {s["Sid"]: s for s in plan.policy(kp)["Statement"]}
    assert found["AccountManagesKeyThroughIam"]["Principal"] == {"AWS": "arn:aws:iam::123456789012:root"}
    fsx = found["FsxS3AccessRoleUsesKeyForTheLinkedBucket"]["Condition"]
    assert fsx["StringEquals"]["aws:PrincipalArn"] == iam.fsx_s3_access_role_arn(
        "aws", "123456789012", fs.outputs["id"]
    )
    assert fsx["StringEquals"]["kms:ViaService"] == f"s3.{DR_REGION}.amazonaws.com"
    assert fsx["StringLike"] == {"kms:EncryptionContext:aws:s3:arn": bucket.outputs["arn"]}


def test_storage_standby_creates_no_cluster_and_no_kubernetes_objects(dev_dr_storage: Plan):
    plan = dev_dr_storage
    assert plan.of_type(VPC) and not plan.of_type(EKS)
    assert not [r for r in plan.resources if r.type.startswith("kubernetes:")]
    assert len(plan.of_type(BUCKET)) == 2  # the replica and the report bucket: the store made no bucket
    # Lustre traffic only within the file system's own group until a cluster exists.
    sg = plan.one("aws:ec2/securityGroup:SecurityGroup", "model-store-fs-sg").outputs["id"]
    rules = plan.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
    assert rules and {r.inputs["referencedSecurityGroupId"] for r in rules} == {sg}


def test_the_dr_file_system_waits_for_the_replica_and_gets_its_directories_there(dev_dr_storage: Plan):
    plan = dev_dr_storage
    name = replica(plan).outputs["bucket"]
    objects = plan.of_type("aws:s3/bucketObjectv2:BucketObjectv2")
    assert {o.inputs["key"] for o in objects} == {"models/", "neuron-cache/"}
    assert {o.inputs["bucket"] for o in objects} == {name}
    versioning = [r for r in plan.of_type("aws:s3/bucketVersioning:BucketVersioning") if r.inputs["bucket"] == name]
    assert all(plan.depends(o, versioning[0]) for o in objects)
    assert plan.depends(plan.one(FS), versioning[0])


# --- serving: the whole platform, zero serving pods ------------------------------------------------------


def test_serving_standby_builds_the_primary_composition_in_the_dr_region(dev_dr_serving: Plan, dev: Plan):
    plan = dev_dr_serving
    primary_types = {r.type for r in dev.resources}
    dr_types = {r.type for r in plan.resources}
    # Everything the primary has, but the model loader (its Jobs and their script) and the compile Job: the
    # standby leaves the loader out; the autoscaler: dev autoscales, the standby runs a fixed count (zero
    # until the failover sets model.replicas); and the compile host: the artifacts replicate from the primary.
    assert primary_types - dr_types == {
        JOB,
        "inferentia-chat:index:ModelLoader",
        "inferentia-chat:index:Autoscaling",
        "kubernetes:keda.sh/v1alpha1:ScaledObject",
        "inferentia-chat:index:NeuronCompileHost",
        "aws:autoscaling/group:Group",
        "aws:iam/instanceProfile:InstanceProfile",
    }
    cluster = plan.one(EKS)
    assert cluster.outputs["kubeconfig"]["clusters"][0]["cluster"]["server"].endswith(f".{DR_REGION}.eks.amazonaws.com")
    assert plan.outputs["clusterName"] == "inferentia-chat-dev-dr"
    assert plan.one(DRA).inputs["dataRepositoryPath"] == f"s3://{replica(plan).outputs['bucket']}/"
    assert "autoExportPolicy" not in plan.one(DRA).inputs["s3"]
    assert plan.outputs["modelBucketName"] == replica(plan).outputs["bucket"]


def test_serving_standby_runs_no_inference_pod_and_no_job_so_no_inf2_node(dev_dr_serving: Plan):
    plan = dev_dr_serving
    (deployment,) = plan.k8s("Deployment", "vllm")
    assert deployment["spec"]["replicas"] == 0
    assert plan.k8s("Job") == []  # no load (replication brings the model), no preload, no compile
    assert plan.of_type(NODEPOOL)  # the pool exists: a failover only scales the Deployment


def test_failover_replicas_bring_the_preload_and_compile_jobs_but_never_a_load(rendered: Path):
    model = {**SERVING_STANDBY["inferentia-chat:model"], "replicas": 1}
    plan = dr_plan(rendered, **{**SERVING_STANDBY, "inferentia-chat:model": model})
    (deployment,) = plan.k8s("Deployment", "vllm")
    assert deployment["spec"]["replicas"] == 1
    jobs = {j["metadata"]["name"] for j in plan.k8s("Job")}
    assert "model-preload" in jobs and "model-load" not in jobs
    assert any(name.startswith("vllm-compile-") for name in jobs)
    preload = plan.one(JOB, "model-store-preload")
    assert plan.depends(preload, plan.one(DRA))
    # Serving waits for the replicated model in the cluster (its completion marker), not for the preload.
    waits = [c["name"] for c in deployment["spec"]["template"]["spec"]["initContainers"]]
    assert waits == ["wait-for-model", "wait-for-compiled-artifacts"]
    assert not plan.k8s("NetworkPolicy", "model-loader")  # the loader's policy goes with the loader
    skip = {**model, "compileJob": False}
    no_compile = dr_plan(rendered, **{**SERVING_STANDBY, "inferentia-chat:model": skip})
    assert {j["metadata"]["name"] for j in no_compile.k8s("Job")} == {"model-preload"}


def test_the_dr_platform_compiles_to_the_primarys_artifact_key(dev_dr_serving: Plan, dev: Plan):
    assert dev_dr_serving.outputs["compiledArtifactsDir"] == dev.outputs["compiledArtifactsDir"]
    assert dev_dr_serving.outputs["modelPath"] == dev.outputs["modelPath"]


def test_moving_from_storage_to_serving_keeps_the_network_and_the_file_system(
    dev_dr_storage: Plan, dev_dr_serving: Plan
):
    for type_ in (FS, DRA, VPC, "aws:s3/bucketObjectv2:BucketObjectv2"):
        before = {r.urn: r.inputs for r in dev_dr_storage.of_type(type_)}
        after = {r.urn: r.inputs for r in dev_dr_serving.of_type(type_)}
        assert before and before == after, type_


# --- checks against the primary's outputs -------------------------------------------------------------


def test_a_primary_region_that_is_not_the_primarys_is_refused(rendered: Path):
    with pytest.raises(ConfigError, match=r"dr\.primaryRegion = 'eu-west-1': the primary stack .* is in us-east-1"):
        dr_plan(rendered, **{"inferentia-chat:dr": {**DR_SECTION, "primaryRegion": "eu-west-1"}})


def test_a_serving_standby_for_another_model_is_refused(rendered: Path):
    model = {**SERVING_STANDBY["inferentia-chat:model"], "servedName": "mistral"}
    with pytest.raises(ConfigError, match=r"model\.servedName = 'mistral': the primary's model is under"):
        dr_plan(rendered, **{**SERVING_STANDBY, "inferentia-chat:model": model})
    shape = {**SERVING_STANDBY["inferentia-chat:model"], "maxNumSeqs": 8}
    with pytest.raises(ConfigError, match=r"the primary's compiled artifacts are"):
        dr_plan(rendered, **{**SERVING_STANDBY, "inferentia-chat:model": shape})


def test_a_standby_reading_another_bucket_prefix_is_refused(rendered: Path):
    with pytest.raises(ConfigError, match=r"modelStore\.bucketPrefix = 'llm/'"):
        dr_plan(rendered, **STORAGE_STANDBY, **{"inferentia-chat:modelStore": {"bucketPrefix": "llm/"}})


def test_a_refused_run_leaves_nothing_behind_for_the_next_run(rendered: Path):
    """The refusal fails the run while registrations are still in flight; none of them may land in a later run
    (one event loop per process serves every run)."""
    model = {**SERVING_STANDBY["inferentia-chat:model"], "servedName": "other"}
    with pytest.raises(ConfigError):
        run_stack("dev-dr", overrides={**SERVING_STANDBY, "inferentia-chat:model": model}, out=rendered)

    def program():
        pulumi.ComponentResource("test:index:Alone", "alone")

    result = engine.install().run(program, project="inferentia-chat", stack="alone", config={})
    assert [r.urn for r in result.resources if ":alone::" not in r.urn] == []
