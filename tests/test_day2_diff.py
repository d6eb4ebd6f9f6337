"""The second `pulumi up`: what a documented config change does to a running stack, read from the offline diff
(two renders, the providers' replace table in offline/data/replace_rules.yaml). docs/day-2.md holds the table
of every key; each row is backed by a case here."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from offline.diff import decide, diff_stack, rules
from offline.render import main as render_main

FS = "aws:fsx/lustreFileSystem:LustreFileSystem"
PV = "kubernetes:core/v1:PersistentVolume"
PVC = "kubernetes:core/v1:PersistentVolumeClaim"
NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
JOB = "kubernetes:batch/v1:Job"


class Diff:
    """One diff of the dev stack, read by resource type and name."""

    def __init__(self, entries: list[dict[str, Any]]):
        self.entries = entries

    def of(self, type_: str, name: str | None = None) -> dict[str, Any]:
        found = [e for e in self.entries if e["type"] == type_ and (name is None or e["urn"].endswith("::" + name))]
        assert len(found) == 1, f"{type_} {name}: {[e['urn'] for e in found]}"
        return found[0]

    def acting(self) -> dict[str, str]:
        """name -> action, for every resource that is not the same."""
        return {e["urn"].rsplit("::", 1)[-1]: e["action"] for e in self.entries if e["action"] != "same"}

    @property
    def refused(self) -> list[str]:
        return [e["urn"] for e in self.entries if e["refused"]]


@pytest.fixture(scope="module")
def diff(rendered: Path):
    cache: dict[tuple[str, ...], Diff] = {}

    def run(*sets: str) -> Diff:
        if sets not in cache:
            cache[sets] = Diff(diff_stack("dev", list(sets), rendered))
        return cache[sets]

    return run


# --- the four changes the issue names -------------------------------------------------------------------


def test_storage_increase_is_an_fsx_update_and_nothing_else(diff):
    d = diff("modelStore.storageCapacityGiB=2400")
    # Twice the capacity is twice the throughput: the weights load faster, so the scaler's numbers and the
    # alert thresholds derived from the start-up budget follow (in place); nothing else changes.
    assert d.acting() == {
        "model-store-fs": "update",
        "autoscaling-mistral-7b-instruct": "update",
        "monitoring-rules": "update",
    }
    assert d.of(FS)["changed"] == ["storageCapacity"] and not d.refused
    # The static pair declares a constant size: nothing for the API server to refuse.
    assert d.of(PV)["action"] == d.of(PVC, "model-store-pvc")["action"] == "same"


def test_a_storage_decrease_replaces_the_file_system():
    """The Terraform provider's CustomizeDiff: a lower capacity is ForceNew."""
    d = decide(FS, {"storageCapacity": 2400}, {"storageCapacity": 1200}, {})
    assert d.action == "replace" and d.replace_because == ["storageCapacity"]


def test_system_node_count_change_is_a_node_group_update(diff):
    d = diff("cluster.systemNodeCount=4")
    assert d.acting() == {"cluster-system": "update"}
    group = d.of(NODE_GROUP)
    assert {"scalingConfig.desiredSize", "scalingConfig.minSize"} <= set(group["changed"])
    assert not group["replaceBecause"] and not d.refused


def test_node_group_owns_its_desired_size(dev):
    """Raising minSize while desiredSize is ignored fails at EKS (desired below min); both move together."""
    group = dev.one(NODE_GROUP)
    assert group.options["ignoreChanges"] == []
    scaling = group.inputs["scalingConfig"]
    assert scaling["desiredSize"] == scaling["minSize"] == 2 and scaling["maxSize"] >= 2


def test_deployment_type_change_replaces_the_file_system_with_a_new_volume_pair(diff, dev):
    d = diff("modelStore.deploymentType=SCRATCH_2", "modelStore.throughputPerTiB=null")
    fs, pv, pvc = d.of(FS), d.of(PV), d.of(PVC, "model-store-pvc")
    assert fs["action"] == "replace" and "deploymentType" in fs["replaceBecause"]
    # New names (from the new file system's id): created beside the old pair, so nothing waits for the old
    # PV's pv-protection finalizer; the serving pods roll over to the new claim.
    assert pv["action"] == pvc["action"] == "replace"
    assert "metadata.name" in pv["replaceBecause"] and "metadata.name" in pvc["replaceBecause"]
    # pulumi-kubernetes deletes first only a replacement that keeps its name; nothing forces it here either.
    assert (
        not dev.one(PV).options["deleteBeforeReplace"]
        and not dev.one(PVC, "model-store-pvc").options["deleteBeforeReplace"]
    )
    assert d.of(DEPLOYMENT, "vllm-deployment")["action"] == "update"
    assert not d.refused


def test_network_cidr_change_replaces_the_vpc(diff):
    d = diff("network.cidr=10.41.0.0/16")
    assert d.of("awsx:ec2:Vpc")["action"] == "replace"
    assert d.of("awsx:ec2:Vpc")["replaceBecause"] == ["cidrBlock"]
    assert d.of("eks:index:Cluster")["action"] == "replace"  # new subnets: the control plane goes with them


# --- the rest of the documented keys (docs/day-2.md, "Changing a running stack") -------------------------

# (key=value[,key=value], {resource name: action} of every resource that changes)
IN_PLACE: list[tuple[str, dict[str, str]]] = [
    ("cluster.systemNodeMaxCount=8", {"cluster-system": "update"}),
    ("cluster.logRetentionDays=90", {"cluster-control-plane-logs": "update"}),
    ("cluster.publicAccessCidrs=[198.51.100.0/24]", {"cluster-eks": "update"}),
    ("inferencePool.consolidateAfter=10m", {"inferentia-node-pool": "update"}),
    ("inferencePool.maxNeuronDevices=5", {"inferentia-node-pool": "update"}),
    ("modelStore.noncurrentVersionDays=60", {"model-store-bucket-lifecycle": "update"}),
    (
        "model.autoscaling.maxReplicas=3,inferencePool.maxNeuronDevices=5",
        {"autoscaling-mistral-7b-instruct": "update", "inferentia-node-pool": "update"},
    ),
    ("webui.adminEmail=ops@example.com", {"webui-deployment": "update"}),
    ("webui.storageGiB=20", {"webui-data": "update"}),
    ("chatSnapshots.retainDays=30", {"chat-snapshots-policy": "update"}),
    ("protectData=true", {"cluster-eks": "update"}),
]


@pytest.mark.parametrize(("change", "expected"), IN_PLACE, ids=[c[0] for c in IN_PLACE])
def test_in_place_changes(diff, change: str, expected: dict[str, str]):
    d = diff(*change.split(","))
    acting = d.acting()
    assert {k: v for k, v in acting.items() if k in expected} == expected, acting
    assert "replace" not in acting.values() and not d.refused, acting


def test_protect_data_guards_the_cluster_and_protects_the_data(diff):
    d = diff("protectData=true")
    assert "deletionProtection" in d.of("eks:index:Cluster")["changed"]


def test_a_model_change_serves_the_old_model_until_the_new_one_is_ready(diff, dev):
    """A new revision (or tensor-parallel size, or length) needs new compiled artifacts: a NEW compile Job
    (its name carries the configuration key) fills them while the old pods keep serving; the Deployment is
    updated in place and rolls with maxUnavailable 0, and its new pods wait for the new artifacts (init
    container) and pass readiness before an old pod goes."""
    d = diff("model.maxModelLen=4096")
    acting = d.acting()
    assert acting["vllm-deployment"] == "update"
    job = d.of(JOB, "vllm-compile")
    assert job["action"] == "replace" and "metadata.name" in job["replaceBecause"]  # new name: created first
    deployment = dev.one(DEPLOYMENT, "vllm-deployment").inputs["spec"]
    assert deployment["strategy"]["rollingUpdate"] == {"maxSurge": 1, "maxUnavailable": 0}
    waits = [c["name"] for c in deployment["template"]["spec"]["initContainers"]]
    assert "wait-for-compiled-artifacts" in waits
    assert "readinessProbe" in deployment["template"]["spec"]["containers"][0]


REPLACING: list[tuple[tuple[str, ...], str, str]] = [
    # (changes, resource replaced, because)
    (("cluster.name=chat-prod",), "cluster-eks", "name"),
    (("cluster.systemNodeType=m7i.xlarge",), "cluster-system", "instanceTypes"),
    (
        ("network.azCount=null", "network.availabilityZones=[us-east-1a, us-east-1b, us-east-1d]"),
        "cluster-eks",
        "privateSubnetIds",
    ),
    (("modelStore.throughputPerTiB=1000",), "model-store-fs", "perUnitStorageThroughput"),
    (("modelStore.bucketPrefix=models/",), "model-store-dra", "dataRepositoryPath"),
]


@pytest.mark.parametrize(("changes", "name", "because"), REPLACING, ids=[c[0][-1] for c in REPLACING])
def test_changes_that_replace(diff, changes: tuple[str, ...], name: str, because: str):
    d = diff(*changes)
    (entry,) = [e for e in d.entries if e["urn"].endswith("::" + name)]
    assert entry["action"] == "replace" and any(p.startswith(because) for p in entry["replaceBecause"]), entry


def test_a_new_cluster_is_read_from_rules_for_every_resource_it_touches(diff):
    """A new cluster name touches launch templates, role policies, event rules, the Kubernetes provider and Helm
    releases: every entry is decided from vendored rules, and the provider (another active cluster in its
    kubeconfig) is replaced with every object it manages."""
    d = diff("cluster.name=chat-prod")
    unknown = sorted({e["type"] for e in d.entries if not e["rulesKnown"]})
    assert not unknown, unknown
    provider = d.of("pulumi:providers:kubernetes")
    assert provider["action"] == "replace" and "kubeconfig" in provider["replaceBecause"]
    acting = {e["type"] for e in d.entries if e["action"] != "same"}
    assert {"aws:ec2/launchTemplate:LaunchTemplate", "aws:iam/rolePolicy:RolePolicy"} <= acting, acting


def test_the_data_never_goes_with_a_replacement_of_what_uses_it(diff):
    """Replacing the file system or the cluster never replaces the model bucket or its key. A new file system
    keeps the chat claim; a new cluster cannot (its Kubernetes provider is replaced, and with it every object):
    the claim is created again in the new cluster, and its old volume is kept by the Retain StorageClass."""
    for change in ("modelStore.deploymentType=SCRATCH_2", "cluster.name=chat-prod"):
        sets = (change, "modelStore.throughputPerTiB=null") if "SCRATCH" in change else (change,)
        acting = diff(*sets).acting()
        for kept in ("model-store-bucket", "model-store-key"):
            assert acting.get(kept, "same") in ("same", "update"), (change, kept, acting.get(kept))
    assert diff("modelStore.deploymentType=SCRATCH_2", "modelStore.throughputPerTiB=null").acting().get(
        "webui-data", "same"
    ) in ("same", "update")
    claim = diff("cluster.name=chat-prod").of(PVC, "webui-data")
    assert claim["action"] == "replace" and claim["replaceBecause"] == ["provider"], claim


# --- the rules themselves ------------------------------------------------------------------------------------


def test_a_static_claims_request_change_is_refused():
    """What made `storageCapacityGiB` fail before: the API server refuses any change of a static claim."""

    def claim(storage_class: str, size: str) -> dict[str, Any]:
        return {"spec": {"storageClassName": storage_class, "resources": {"requests": {"storage": size}}}}

    d = decide(PVC, claim("", "1200Gi"), claim("", "2400Gi"), {})
    assert d.action == "update" and d.refused == ["spec.resources.requests.storage"]
    assert not decide(PVC, claim("gp3", "10Gi"), claim("gp3", "20Gi"), {}).refused  # growth, expandable class
    assert decide(PVC, claim("gp3", "20Gi"), claim("gp3", "10Gi"), {}).refused  # shrinking never is


def test_options_count_as_in_the_engine():
    old, new = {"scalingConfig": {"desiredSize": 2}}, {"scalingConfig": {"desiredSize": 4}}
    assert decide(NODE_GROUP, old, new, {"ignoreChanges": ["scalingConfig.desiredSize"]}).action == "same"
    sc = "kubernetes:storage.k8s.io/v1:StorageClass"
    refused = decide(sc, {"reclaimPolicy": "Delete"}, {"reclaimPolicy": "Retain"}, {})
    assert refused.action == "update" and refused.refused == ["reclaimPolicy"]
    replaced = decide(
        sc, {"reclaimPolicy": "Delete"}, {"reclaimPolicy": "Retain"}, {"replaceOnChanges": ["reclaimPolicy"]}
    )
    assert replaced.action == "replace" and not replaced.refused


def test_pinned_docs_win_over_the_flag_read():
    """FSx fileSystemTypeVersion is ForceNew in the source read, but pulumi-aws 7.51.1 upgrades it in place."""
    assert decide(FS, {"fileSystemTypeVersion": "2.12"}, {"fileSystemTypeVersion": "2.15"}, {}).action == "update"
    assert decide(FS, {"fileSystemTypeVersion": "2.15"}, {"fileSystemTypeVersion": "2.12"}, {}).action == "replace"


def test_every_rule_names_its_source():
    for type_, entry in rules()["aws"].items():
        assert entry["file"].startswith("internal/service/") and len(entry["commit"]) == 40, type_


def test_the_command_writes_diff_json(tmp_path: Path, rendered: Path, capsys: pytest.CaptureFixture[str]):
    code = render_main(["diff", "--stack", "dev", "--set", "cluster.systemNodeCount=4", "--out", str(tmp_path)])
    assert code == 0
    entries = json.loads((tmp_path / "dev" / "diff.json").read_text())
    keys = {"urn", "type", "action", "changed", "replaceBecause", "refused", "rulesKnown", "effects"}
    assert entries and all(set(e) == keys for e in entries)
    assert "update 1" in capsys.readouterr().out
    assert render_main(["diff", "--stack", "dev", "--set", "cluster.systemNodeCount=99", "--out", str(tmp_path)]) == 2


def test_a_secret_data_change_replaces_the_secret():
    """pulumi-kubernetes replaces a Secret whose data changes (the provider here does not set
    enableSecretMutable): a new `hfToken` replaces the `hf-token` Secret (the offline diff sees no secret
    values, so this is the rule, checked directly)."""
    secret = "kubernetes:core/v1:Secret"
    d = decide(secret, {"stringData": {"HF_TOKEN": "old"}}, {"stringData": {"HF_TOKEN": "new"}}, {})
    assert d.action == "replace" and d.replace_because == ["stringData.HF_TOKEN"]


def test_a_rule_inside_list_items_compares_the_items_field():
    """DLM's copyTags is ForceNew per schedule: a retention change in the same list is still an update."""
    dlm = "aws:dlm/lifecyclePolicy:LifecyclePolicy"

    def policy(count: int, copy_tags: bool) -> dict[str, Any]:
        return {"policyDetails": {"schedules": [{"copyTags": copy_tags, "retainRule": {"count": count}}]}}

    assert decide(dlm, policy(14, True), policy(30, True), {}).action == "update"
    assert decide(dlm, policy(14, True), policy(14, False), {}).action == "replace"
