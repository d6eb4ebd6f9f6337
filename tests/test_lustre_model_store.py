"""LustreModelStore: the model kept once in S3 and read by every pod through FSx for Lustre."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from conftest import Plan, plan_for

from inferentia_chat import iam, versions
from inferentia_chat.model_layout import WORKLOAD_UID
from inferentia_chat.model_store.model_loader import SCRIPT_FILES, SCRIPT_SOURCE
from inferentia_chat.system_node_group import SYSTEM_NODE_SELECTOR
from offline.engine import SECRET
from offline.render import run_stack

ROOT = Path(__file__).resolve().parent.parent
MS = "inferentia-chat:modelStore"
MODEL = "inferentia-chat:model"
COMPONENT = "inferentia-chat:index:LustreModelStore"
# The store's Kubernetes side: the volume and the loader built on its outputs.
PARTS = (COMPONENT, "inferentia-chat:index:ModelVolume", "inferentia-chat:index:ModelLoader")
FS = "aws:fsx/lustreFileSystem:LustreFileSystem"
DRA = "aws:fsx/dataRepositoryAssociation:DataRepositoryAssociation"
KEY = "aws:kms/key:Key"
KEY_POLICY = "aws:kms/keyPolicy:KeyPolicy"
BUCKET = "aws:s3/bucket:Bucket"
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
EGRESS = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
JOB = "kubernetes:batch/v1:Job"
LUSTRE_PORTS = {(988, 988), (1018, 1023)}


def store_resources(plan: Plan):
    parts = [c for t in PARTS for c in plan.of_type(t)]
    return [r for r in plan.resources if any(c in parts for c in plan.ancestors(r))]


def job(plan: Plan, name: str) -> dict:
    (found,) = plan.k8s("Job", name)
    return found


def pod(plan: Plan, name: str) -> dict:
    return job(plan, name)["spec"]["template"]["spec"]


# --- the bucket ----------------------------------------------------------------------------------


def test_bucket_is_encrypted_with_a_rotating_customer_key_and_bucket_keys(dev: Plan):
    key = dev.one(KEY, "model-store-key")
    assert key.inputs["enableKeyRotation"] is True
    (rule,) = dev.one(
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        "model-store-bucket-encryption",
    ).inputs["rules"]
    by_default = rule["applyServerSideEncryptionByDefault"]
    assert by_default == {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": key.outputs["arn"]}
    assert rule["bucketKeyEnabled"] is True
    assert dev.outputs["modelKeyArn"] == key.outputs["arn"]


def test_bucket_is_versioned_private_and_owner_enforced(dev: Plan):
    bucket = dev.one(BUCKET, "model-store-bucket").outputs["bucket"]
    versioning = dev.one("aws:s3/bucketVersioning:BucketVersioning", "model-store-bucket-versioning").inputs
    assert versioning["bucket"] == bucket and versioning["versioningConfiguration"]["status"] == "Enabled"
    pab = dev.one("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "model-store-bucket-public-access").inputs
    for setting in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"):
        assert pab[setting] is True, setting
    ownership = dev.one("aws:s3/bucketOwnershipControls:BucketOwnershipControls", "model-store-bucket-ownership").inputs
    assert ownership["rule"] == {"objectOwnership": "BucketOwnerEnforced"}


def test_bucket_policy_denies_every_request_without_tls(dev: Plan):
    bucket = dev.one(BUCKET, "model-store-bucket")
    policy = dev.policy(dev.one("aws:s3/bucketPolicy:BucketPolicy", "model-store-bucket-policy"))
    (deny,) = policy["Statement"]
    assert deny["Effect"] == "Deny" and deny["Principal"] == "*" and deny["Action"] == "s3:*"
    arn = bucket.outputs["arn"]
    assert deny["Resource"] == [arn, f"{arn}/*"]
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_noncurrent_versions_expire_after_the_configured_days(dev: Plan):
    def rule(plan: Plan) -> dict:
        (found,) = plan.one(
            "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", "model-store-bucket-lifecycle"
        ).inputs["rules"]
        return found

    assert rule(dev)["noncurrentVersionExpiration"] == {"noncurrentDays": 30}
    assert rule(dev)["status"] == "Enabled"
    assert dev.depends(
        dev.one("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", "model-store-bucket-lifecycle"),
        dev.one("aws:s3/bucketVersioning:BucketVersioning", "model-store-bucket-versioning"),
    )
    custom = plan_for(**{MS: {"noncurrentVersionDays": 7}})
    assert rule(custom)["noncurrentVersionExpiration"] == {"noncurrentDays": 7}


def test_model_and_cache_directories_are_imported_owned_by_the_workload_user(dev: Plan):
    bucket = dev.one(BUCKET, "model-store-bucket").outputs["bucket"]
    objects = {
        o.inputs["key"]: o for o in dev.of_type("aws:s3/bucketObjectv2:BucketObjectv2") if o.inputs["bucket"] == bucket
    }
    assert set(objects) == {"models/", "neuron-cache/"}
    for obj in objects.values():
        assert obj.inputs["metadata"] == {
            "file-owner": str(WORKLOAD_UID),
            "file-group": str(WORKLOAD_UID),
            "file-permissions": "0040775",
        }
        # Encrypted with the bucket key, and in place before the file system imports the bucket.
        assert dev.depends(
            obj,
            dev.one(
                "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
                "model-store-bucket-encryption",
            ),
        )
        assert dev.depends(dev.one(DRA), obj)
    prefixed = plan_for(**{MS: {"fileSystemPath": "/data", "bucketPrefix": "llm/"}})
    keys = {o.inputs["key"] for o in prefixed.of_type("aws:s3/bucketObjectv2:BucketObjectv2")}
    assert keys - {k for k in keys if k.startswith("compile-host/")} == {"llm/models/", "llm/neuron-cache/"}


# --- the file system -----------------------------------------------------------------------------


def test_file_system_is_persistent_2_lustre_2_15_lz4_with_the_customer_key(dev: Plan):
    fs = dev.one(FS).inputs
    assert fs["deploymentType"] == "PERSISTENT_2"
    assert fs["storageCapacity"] == 1200 and fs["perUnitStorageThroughput"] == 500  # dev's throughputPerTiB
    assert fs["fileSystemTypeVersion"] == "2.15"
    assert fs["dataCompressionType"] == "LZ4"
    assert fs["kmsKeyId"] == dev.one(KEY, "model-store-key").outputs["arn"]
    assert fs["automaticBackupRetentionDays"] == 0  # no backups on a file system linked to S3
    assert "importPath" not in fs  # PERSISTENT_2 links through the data repository association


def test_file_system_lives_in_one_private_subnet_whose_zone_is_an_output(dev: Plan):
    fs = dev.one(FS)
    assert fs.inputs["subnetIds"] == dev.outputs["modelStoreSubnetId"]
    zones, subnets = dev.outputs["availabilityZones"], dev.outputs["privateSubnetIds"]
    assert dev.outputs["modelStoreSubnetId"] == subnets[zones.index(dev.outputs["servingAvailabilityZone"])]
    other = plan_for(**{MS: {"availabilityZone": "us-east-1c"}})
    assert other.outputs["servingAvailabilityZone"] == "us-east-1c"
    assert other.one(FS).inputs["subnetIds"] == other.outputs["privateSubnetIds"][2]


def test_capacity_and_throughput_come_from_config():
    fs = plan_for(**{MS: {"storageCapacityGiB": 4800, "throughputPerTiB": 500}}).one(FS).inputs
    assert fs["storageCapacity"] == 4800 and fs["perUnitStorageThroughput"] == 500


def test_scratch_2_for_dev_uses_fsx_managed_encryption_and_links_at_creation():
    plan = plan_for(**{MS: {"deploymentType": "SCRATCH_2"}})
    fs = plan.one(FS).inputs
    assert fs["deploymentType"] == "SCRATCH_2"
    assert "kmsKeyId" not in fs and "perUnitStorageThroughput" not in fs
    assert "automaticBackupRetentionDays" not in fs
    bucket = plan.one(BUCKET, "model-store-bucket").outputs["bucket"]
    assert fs["importPath"] == fs["exportPath"] == f"s3://{bucket}/"
    assert fs["autoImportPolicy"] == "NEW_CHANGED_DELETED"
    assert plan.of_type(DRA) == []  # data repository associations are PERSISTENT_2 only
    assert plan.one(KEY_POLICY)  # the import still reads SSE-KMS objects through the FSx role


def test_file_system_security_group_allows_only_lustre_ports_from_the_nodes_and_itself(dev: Plan):
    fs = dev.one(FS)
    (sg,) = [s for s in dev.of_type("aws:ec2/securityGroup:SecurityGroup") if s.name == "model-store-fs-sg"]
    assert fs.inputs["securityGroupIds"] == [sg.outputs["id"]]
    # The nodes are the Lustre clients; the control plane never mounts the file system and is not admitted.
    control_plane = dev.one("eks:index:Cluster").outputs["clusterSecurityGroupId"]
    allowed = {dev.outputs["nodeSecurityGroupId"]}
    assert control_plane not in allowed
    for kind in (INGRESS, EGRESS):
        rules = [r.inputs for r in dev.of_type(kind) if r.inputs["securityGroupId"] == sg.outputs["id"]]
        assert {(r["fromPort"], r["toPort"]) for r in rules} == LUSTRE_PORTS
        assert all(r["ipProtocol"] == "tcp" and "cidrIpv4" not in r and "cidrIpv6" not in r for r in rules)
        peers = {r["referencedSecurityGroupId"] for r in rules}
        assert peers == allowed | {sg.outputs["id"]}, kind
        assert control_plane not in peers
    node_rules = [
        r.inputs for r in dev.of_type(INGRESS) if r.inputs["securityGroupId"] == dev.outputs["nodeSecurityGroupId"]
    ]
    assert {(r["fromPort"], r["toPort"]) for r in node_rules} == LUSTRE_PORTS
    assert {r["referencedSecurityGroupId"] for r in node_rules} == {sg.outputs["id"]}
    # The file system waits for its own rules only; the rules naming the cluster's groups wait for the
    # cluster, and the file system must not (budget.json: two 10-15 minute creations in parallel).
    own = [r for r in dev.of_type(INGRESS) if r.name.endswith("-self")]
    assert own and all(dev.depends(fs, r) for r in own)
    assert not dev.depends(fs, dev.one("eks:index:Cluster"))
    clients = [r for r in dev.of_type(INGRESS) if not r.name.endswith("-self")]
    pvc = dev.one("kubernetes:core/v1:PersistentVolumeClaim", "model-store-pvc")
    assert clients and all(dev.depends(pvc, r) for r in clients)  # mounting waits for them


# --- the key policy and the data repository association -----------------------------------------


def test_key_policy_lets_only_this_file_systems_s3_role_use_the_key_and_comes_after_it(dev: Plan):
    fs, key, bucket = dev.one(FS), dev.one(KEY, "model-store-key"), dev.one(BUCKET, "model-store-bucket")
    kp = dev.one(KEY_POLICY)
    assert kp.inputs["keyId"] == key.outputs["keyId"]
    assert "policy" not in key.inputs  # one owner of the policy: the KeyPolicy resource
    assert dev.depends(kp, fs)
    statements = {s["Sid"]: s for s in dev.policy(kp)["Statement"]}
    assert statements["AccountManagesKeyThroughIam"]["Principal"] == {"AWS": "arn:aws:iam::123456789012:root"}
    fsx = statements["FsxS3AccessRoleUsesKeyForTheLinkedBucket"]
    fs_id = fs.outputs["id"]
    assert fsx["Condition"]["StringEquals"] == {
        "aws:PrincipalArn": iam.fsx_s3_access_role_arn("aws", "123456789012", fs_id),
        "kms:CallerAccount": "123456789012",
        "kms:ViaService": "s3.us-east-1.amazonaws.com",
    }
    assert fs_id in fsx["Condition"]["StringEquals"]["aws:PrincipalArn"]
    assert fsx["Condition"]["StringLike"] == {"kms:EncryptionContext:aws:s3:arn": bucket.outputs["arn"]}
    assert set(fsx["Action"]) == {"kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*"}


def test_data_repository_association_links_config_paths_both_ways(dev: Plan):
    dra = dev.one(DRA)
    bucket = dev.one(BUCKET, "model-store-bucket").outputs["bucket"]
    assert dra.inputs["fileSystemId"] == dev.outputs["fileSystemId"]
    assert dra.inputs["fileSystemPath"] == "/" and dra.inputs["dataRepositoryPath"] == f"s3://{bucket}/"
    assert dra.inputs["batchImportMetaDataOnCreate"] is True
    events = ["NEW", "CHANGED", "DELETED"]
    assert dra.inputs["s3"] == {"autoImportPolicy": {"events": events}, "autoExportPolicy": {"events": events}}
    assert dra.inputs["deleteDataInFilesystem"] is False
    assert dev.depends(dra, dev.one(KEY_POLICY))  # the FSx role can use the key before the first import
    custom = plan_for(**{MS: {"fileSystemPath": "/data", "bucketPrefix": "llm/"}})
    dra = custom.one(DRA)
    assert dra.inputs["fileSystemPath"] == "/data"
    assert dra.inputs["dataRepositoryPath"] == f"s3://{custom.one(BUCKET, 'model-store-bucket').outputs['bucket']}/llm/"
    assert custom.outputs["modelPath"] == "/data/models/mistral-7b-instruct"
    assert custom.outputs["compiledCacheRoot"] == "/data/neuron-cache"


# --- Kubernetes ----------------------------------------------------------------------------------


def test_namespace_enforces_the_restricted_pod_security_standard(dev: Plan):
    (ns,) = dev.k8s("Namespace", "inference")
    for mode in ("enforce", "audit", "warn"):
        assert ns["metadata"]["labels"][f"pod-security.kubernetes.io/{mode}"] == "restricted"


def test_static_volume_is_the_file_system_shared_read_write_many_and_retained(dev: Plan):
    (pv,) = dev.k8s("PersistentVolume")
    spec = pv["spec"]
    assert spec["csi"] == {
        "driver": "fsx.csi.aws.com",
        "volumeHandle": dev.outputs["fileSystemId"],
        "volumeAttributes": {
            "dnsname": dev.outputs["fileSystemDnsName"],
            "mountname": dev.outputs["fileSystemMountName"],
        },
    }
    assert spec["mountOptions"] == ["flock"]
    assert spec["capacity"] == {"storage": "1200Gi"}
    assert spec["accessModes"] == ["ReadWriteMany"]
    assert spec["persistentVolumeReclaimPolicy"] == "Retain"
    assert spec["storageClassName"] == ""
    # Named after the file system, so a replacement file system gets a new PV and claim (docs/day-2.md).
    assert spec["claimRef"] == {"namespace": "inference", "name": f"model-store-{dev.outputs['fileSystemId']}"}


def test_volume_is_pinned_to_the_file_systems_zone_for_every_node_but_the_system_ones(dev: Plan):
    (pv,) = dev.k8s("PersistentVolume")
    terms = pv["spec"]["nodeAffinity"]["required"]["nodeSelectorTerms"]
    zone_term = {
        "matchExpressions": [
            {"key": "topology.kubernetes.io/zone", "operator": "In", "values": [dev.outputs["servingAvailabilityZone"]]}
        ]
    }
    ((label, value),) = SYSTEM_NODE_SELECTOR.items()
    system_term = {"matchExpressions": [{"key": label, "operator": "In", "values": [value]}]}
    assert terms == [zone_term, system_term]  # ORed: inference nodes only in the zone


def test_claim_binds_the_static_volume_by_name(dev: Plan):
    name = f"model-store-{dev.outputs['fileSystemId']}"
    (pvc,) = dev.k8s("PersistentVolumeClaim", name)
    (pv,) = dev.k8s("PersistentVolume")
    assert pv["metadata"]["name"] == name
    assert pvc["metadata"] == {**pvc["metadata"], "name": name, "namespace": "inference"}
    assert pvc["spec"]["volumeName"] == pv["metadata"]["name"]
    assert pvc["spec"]["storageClassName"] == ""
    assert pvc["spec"]["accessModes"] == ["ReadWriteMany"]
    assert pvc["spec"]["resources"] == {"requests": {"storage": "1200Gi"}}
    assert (dev.outputs["modelPvcName"], dev.outputs["modelNamespace"]) == (name, "inference")


def test_every_store_object_carries_the_common_labels(dev: Plan):
    for rec in store_resources(dev):
        if rec.type.startswith("kubernetes:"):
            labels = rec.inputs["metadata"]["labels"]
            assert labels["app.kubernetes.io/part-of"] == "inferentia-chat", rec.name
            assert {"app.kubernetes.io/name", "app.kubernetes.io/component"} <= set(labels), rec.name
    for name in ("model-load", "model-preload"):
        assert job(dev, name)["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/part-of"]


@pytest.mark.parametrize("name", ["model-load", "model-preload"])
def test_jobs_run_once_restricted_on_system_nodes_only(dev: Plan, name: str):
    spec = job(dev, name)["spec"]
    assert spec["backoffLimit"] == 4 and spec["ttlSecondsAfterFinished"] > 0 and spec["activeDeadlineSeconds"] > 0
    assert spec["podFailurePolicy"]["rules"][0]["onExitCodes"]["values"] == [2]  # not worth retrying
    template = spec["template"]["spec"]
    assert template["restartPolicy"] == "Never"
    assert template["nodeSelector"] == SYSTEM_NODE_SELECTOR
    assert "tolerations" not in template  # inf2 nodes are tainted: never scheduled there
    security = template["securityContext"]
    assert security["runAsNonRoot"] is True and security["runAsUser"] == WORKLOAD_UID
    assert security["seccompProfile"] == {"type": "RuntimeDefault"}
    assert template["automountServiceAccountToken"] is False
    for c in template["containers"] + template.get("initContainers", []):
        sc = c["securityContext"]
        assert sc["allowPrivilegeEscalation"] is False and sc["capabilities"] == {"drop": ["ALL"]}
        assert sc["readOnlyRootFilesystem"] is True and sc["runAsNonRoot"] is True
        assert c["resources"]["requests"]["cpu"] and c["resources"]["requests"]["memory"]
        assert c["resources"]["limits"]["memory"]
        assert c["image"] in (versions.MODEL_LOADER_IMAGE, versions.LUSTRE_CLIENT_IMAGE)
        assert ":" in c["image"].rsplit("/", 1)[-1] and not c["image"].endswith(":latest")


def test_jobs_wait_for_the_system_nodes_the_fsx_csi_driver_and_the_linked_bucket(dev: Plan):
    load, preload = dev.one(JOB, "model-store-load"), dev.one(JOB, "model-store-preload")
    fsx_addon = [a for a in dev.of_type("aws:eks/addon:Addon") if a.inputs["addonName"] == "aws-fsx-csi-driver"]
    for j in (load, preload):
        assert dev.depends(j, dev.one("aws:eks/nodeGroup:NodeGroup"))
        assert dev.depends(j, fsx_addon[0])
        assert dev.depends(j, dev.one(DRA))
        assert dev.depends(j, dev.one("kubernetes:core/v1:PersistentVolumeClaim", "model-store-pvc"))
    assert dev.depends(preload, load)


def test_load_job_fetches_the_pinned_model_into_its_directory_on_the_volume(dev: Plan):
    template = pod(dev, "model-load")
    (fetch,) = template["containers"]
    command = fetch["command"]
    assert command[:3] == ["python", "/opt/model-fetch/model_fetch.py", "fetch"]
    args = dict(zip(command[3::2], command[4::2], strict=True))
    assert args == {
        "--source": "huggingface",
        "--dest": "/fsx/models/mistral-7b-instruct",
        "--model-id": versions.MODEL_ID,
        "--revision": versions.MODEL_REVISION,
    }
    assert dev.outputs["modelPath"] == "/models/mistral-7b-instruct"
    assert dev.outputs["compiledCacheRoot"] == "/neuron-cache"
    mounts = {m["name"]: m for m in fetch["volumeMounts"]}
    assert mounts["models"]["mountPath"] == "/fsx" and mounts["script"]["readOnly"] is True
    volumes = {v["name"]: v for v in template["volumes"]}
    assert volumes["models"]["persistentVolumeClaim"]["claimName"] == dev.outputs["modelPvcName"]
    assert "emptyDir" in volumes["tmp"]  # the only writable place besides the model volume
    assert "HF_TOKEN" not in {e["name"] for e in fetch.get("env", [])}  # dev sets no token
    assert dev.k8s("Secret", "hf-token") == []


def test_the_job_runs_this_repositorys_script(dev: Plan):
    import hashlib

    (cm,) = dev.k8s("ConfigMap", "model-fetch-script")
    shipped = {f: SCRIPT_SOURCE.with_name(f).read_text() for f in SCRIPT_FILES}
    assert cm["data"] == shipped  # the script, the module it imports and the pinned packages
    digest = hashlib.sha256("".join(shipped[f] for f in SCRIPT_FILES).encode()).hexdigest()
    for name in ("model-load", "model-preload"):
        annotations = job(dev, name)["spec"]["template"]["metadata"]["annotations"]
        assert annotations["inferentia-chat.io/script-sha256"] == digest  # a change re-runs the Jobs


def test_the_load_installs_its_pinned_packages_by_hash_before_it_runs(dev: Plan):
    spec = pod(dev, "model-load")
    (install,) = spec["initContainers"]
    assert install["image"] == versions.MODEL_LOADER_IMAGE
    assert {"--no-deps", "--only-binary=:all:", "--require-hashes"} <= set(install["command"])
    assert install["command"][-1] == "/opt/model-fetch/loader-requirements.txt"
    (fetch,) = spec["containers"]
    env = {e["name"]: e.get("value") for e in fetch["env"]}
    assert env["PYTHONPATH"] == "/deps"
    assert {"name": "deps", "mountPath": "/deps", "readOnly": True} in fetch["volumeMounts"]
    # The lock holds every package it installs with a sha256, at the versions versions.py names.
    lock = SCRIPT_SOURCE.with_name("loader-requirements.txt").read_text()
    pins = dict(re.findall(r"^([a-z0-9-]+)==(\S+) \\$", lock, re.M))
    assert {name: pins[name] for name in versions.LOADER_PACKAGES} == versions.LOADER_PACKAGES
    requirements = [b for b in re.split(r"\n(?=[a-z])", lock) if "==" in b]
    assert len(requirements) == len(pins) and all("--hash=sha256:" in b for b in requirements)
    # The preload needs no packages: the standard library reads and checks the files.
    assert "install-packages" not in [c["name"] for c in pod(dev, "model-preload")["initContainers"]]


def test_preload_restores_the_model_with_lfs_then_reads_it_back(dev: Plan):
    template = pod(dev, "model-preload")
    names = [c["name"] for c in template["initContainers"]] + [c["name"] for c in template["containers"]]
    assert names == ["list", "hsm-restore", "verify"]
    listing, restore = template["initContainers"]
    assert listing["command"][2:] == ["list", "--dest", "/fsx/models/mistral-7b-instruct", "--out", "/work/files.txt"]
    assert restore["image"] == versions.LUSTRE_CLIENT_IMAGE
    assert restore["command"] == ["lfs", "hsm_restore", "--filelist", "/work/files.txt"]
    (verify,) = template["containers"]
    assert verify["command"][2:] == ["verify", "--dest", "/fsx/models/mistral-7b-instruct"]


def test_lfs_image_follows_the_pinned_fsx_csi_driver_release():
    addon = versions.ADDON_VERSIONS[versions.KUBERNETES_VERSION]["aws-fsx-csi-driver"]
    assert versions.LUSTRE_CLIENT_IMAGE.rsplit(":", 1)[1] == addon.split("-")[0]


def test_outputs_name_everything_the_serving_side_needs(dev: Plan):
    out = dev.outputs
    bucket = dev.one(BUCKET, "model-store-bucket")
    fs = dev.one(FS)
    assert out["modelBucketName"] == bucket.outputs["bucket"]
    assert out["modelBucketArn"] == bucket.outputs["arn"]
    assert out["fileSystemId"] == fs.outputs["id"]
    assert out["fileSystemDnsName"] == fs.outputs["dnsName"]
    assert out["fileSystemMountName"] == fs.outputs["mountName"]


def test_every_aws_resource_of_the_store_carries_the_common_tags(dev: Plan):
    tagged = 0
    for rec in store_resources(dev):
        if rec.type.startswith("aws:") and "tags" in rec.inputs:
            tags = rec.inputs["tags"]
            assert tags["component"] == "LustreModelStore", rec.name
            assert tags["project"] == "inferentia-chat" and tags["stack"] == "dev", rec.name
            assert tags["environment"] == "dev", rec.name
            tagged += 1
    taggable = {BUCKET, KEY, FS, DRA, INGRESS, EGRESS, "aws:ec2/securityGroup:SecurityGroup"}
    assert taggable <= {r.type for r in store_resources(dev) if "tags" in r.inputs}
    assert tagged >= 17


def test_kubernetes_objects_of_the_store_use_the_clusters_provider(dev: Plan):
    (provider,) = dev.of_type("pulumi:providers:kubernetes")
    kube = [r for r in store_resources(dev) if r.type.startswith("kubernetes:")]
    assert len(kube) == 10  # namespace, its default-deny policy, PV, PVC, script, account, 2 Jobs, 2 policies
    assert all(r.provider and r.provider.startswith(provider.urn + "::") for r in kube)


def test_the_jobs_are_fenced_by_network_policies(dev: Plan):
    policies = {
        p["metadata"]["name"]: p["spec"]
        for p in dev.k8s("NetworkPolicy")
        if p["metadata"]["namespace"] == "inference" and p["metadata"]["name"] in ("model-loader", "model-preload")
    }
    loader, preload = policies["model-loader"], policies["model-preload"]
    for spec, name in ((loader, "model-load"), (preload, "model-preload")):
        pod_labels = job(dev, name)["spec"]["template"]["metadata"]["labels"]
        assert spec["podSelector"]["matchLabels"].items() <= pod_labels.items()  # it selects that Job's pod
    for spec, component in ((loader, "model-loader"), (preload, "model-preload")):
        assert spec["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == component
        assert spec["policyTypes"] == ["Ingress", "Egress"] and spec["ingress"] == []  # nobody may call them
    ports = lambda spec: {p["port"] for rule in spec["egress"] for p in rule["ports"]}  # noqa: E731
    assert ports(loader) == {53, 443}  # DNS, and HTTPS to the hub or S3; no Pod Identity for a hub source
    assert ports(preload) == {53}  # reads the volume through the node's Lustre client only
    s3 = plan_for(**{MODEL: {"source": "s3://acme-models/mistral/v0.3/"}})
    (s3_loader,) = [p["spec"] for p in s3.k8s("NetworkPolicy", "model-loader")]
    assert {"ipBlock": {"cidr": "169.254.170.23/32"}} in [t for r in s3_loader["egress"] for t in r["to"]]


# --- model sources and the Hugging Face token ------------------------------------------------------


def test_an_s3_source_gets_read_only_access_through_pod_identity():
    plan = plan_for(**{MODEL: {"source": "s3://acme-models/mistral/v0.3/"}})
    command = pod(plan, "model-load")["containers"][0]["command"]
    assert command[command.index("--source") + 1] == "s3://acme-models/mistral/v0.3/"
    assert "--model-id" not in command and command[command.index("--region") + 1] == "us-east-1"
    role = plan.one("aws:iam/role:Role", "model-store-loader-role")
    assert plan.policy(role, "assumeRolePolicy")["Statement"][0]["Principal"] == {"Service": "pods.eks.amazonaws.com"}
    policy = plan.policy(plan.one("aws:iam/rolePolicy:RolePolicy", "model-store-loader-read-source"))
    resources = {s["Sid"]: (s["Action"], s["Resource"]) for s in policy["Statement"]}
    assert resources == {
        "ListTheModelPrefix": ("s3:ListBucket", "arn:aws:s3:::acme-models"),
        "ReadTheModelObjects": ("s3:GetObject", "arn:aws:s3:::acme-models/mistral/v0.3/*"),
    }
    assoc = plan.one("aws:eks/podIdentityAssociation:PodIdentityAssociation", "model-store-loader-pod-identity").inputs
    assert (assoc["namespace"], assoc["serviceAccount"]) == ("inference", "model-loader")
    assert assoc["roleArn"] == role.outputs["arn"] and assoc["clusterName"] == "inferentia-chat-dev"
    assert plan.depends(
        plan.one(JOB, "model-store-load"),
        plan.one("aws:eks/podIdentityAssociation:PodIdentityAssociation", "model-store-loader-pod-identity"),
    )


def test_a_hugging_face_token_reaches_the_job_only_as_a_secret(tmp_path: Path):
    """From a stack file's `secure:` value (test_model_token.py checks the mount on the team variant)."""
    for name in ("Pulumi.yaml", "__main__.py"):
        (tmp_path / name).write_text((ROOT / name).read_text())
    stack = (ROOT / "Pulumi.dev.yaml").read_text() + "  inferentia-chat:hfToken:\n    secure: v1:AAAABBBBCCCC\n"
    (tmp_path / "Pulumi.tok.yaml").write_text(stack)
    result = run_stack("tok", root=tmp_path, out=tmp_path / "build")
    plan = Plan(result)
    (secret,) = plan.k8s("Secret", "hf-token")
    assert secret["stringData"] == {"HF_TOKEN": SECRET}
    rec = plan.one("kubernetes:core/v1:Secret", "model-store-hf-token")
    assert json.dumps(rec.inputs).count("offline-placeholder-secret") == 0  # never a plain value
    fetch = pod(plan, "model-load")["containers"][0]
    assert not [e for e in fetch["env"] if "valueFrom" in e]  # a mounted file, not an environment variable
    assert {"name": "hf-token", "mountPath": "/var/run/secrets/huggingface", "readOnly": True} in fetch["volumeMounts"]
    assert plan.depends(plan.one(JOB, "model-store-load"), rec)


# --- options for a DR region -------------------------------------------------------------------------------


def test_the_primary_store_keeps_creating_its_bucket_exporting_and_loading(dev: Plan):
    """The DR options default to the primary's behaviour (the DR tests cover them switched)."""
    assert dev.one(DRA).inputs["s3"]["autoExportPolicy"] == {"events": ["NEW", "CHANGED", "DELETED"]}
    assert {j["metadata"]["name"] for j in dev.k8s("Job")} >= {"model-load", "model-preload"}
    assert dev.one(FS).inputs["kmsKeyId"] == dev.one(KEY, "model-store-key").outputs["arn"]
