"""The render command: files per the contract, deterministic, and never a secret value."""

from __future__ import annotations

import json
from pathlib import Path

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random
import pytest
import yaml
from conftest import Plan

from offline import engine
from offline.engine import SECRET, DuplicateUrnError
from offline.render import main as render_main
from offline.render import write_render

CONTRACT_KEYS = {"type", "name", "urn", "parent", "custom", "provider", "inputs", "dependencies"}


def test_render_command_writes_every_shipped_stack(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    assert render_main(["render", "--out", str(tmp_path)]) == 0
    summary = capsys.readouterr().out
    for stack in ("dev", "dev-dr"):
        folder = tmp_path / stack
        resources = json.loads((folder / "resources.json").read_text())
        assert resources and all(set(r) == CONTRACT_KEYS for r in resources)
        urns = {r["urn"] for r in resources}
        for r in resources:
            assert r["parent"] is None or r["parent"] in urns
            assert set(r["dependencies"]) <= urns, r["name"]
        json.loads((folder / "outputs.json").read_text())
        objects = [o for o in yaml.safe_load_all((folder / "kubernetes.yaml").read_text()) if o]
        assert all({"apiVersion", "kind", "metadata"} <= o.keys() for o in objects)
        kube = [r for r in resources if r["type"].startswith("kubernetes:") and "helm.sh" not in r["type"]]
        assert len(objects) == len(kube)  # every Kubernetes object but Helm releases (charts unexpanded)
        assert objects or stack == "dev-dr"  # the shipped DR stack is a storage-only standby
        assert f"stack {stack}:" in summary
    assert "placeholders:" in summary and "123456789012" in summary
    # The DR render shows both regions: the replica here, replication and its alarms on the primary's side.
    dr = json.loads((tmp_path / "dev-dr" / "resources.json").read_text())
    where = {(r["type"].rsplit(":", 1)[-1], r["inputs"].get("region")) for r in dr if r["custom"]}
    assert {("Bucket", "us-west-2"), ("BucketReplicationConfig", "us-east-1"), ("MetricAlarm", "us-east-1")} <= where
    assert "batchReplicationCommand: aws s3control create-job --region us-east-1" in summary


def test_render_is_deterministic(tmp_path: Path):
    first, second = tmp_path / "a", tmp_path / "b"
    assert render_main(["render", "--stack", "dev", "--out", str(first)]) == 0
    assert render_main(["render", "--stack", "dev", "--out", str(second)]) == 0
    for name in ("resources.json", "kubernetes.yaml", "outputs.json"):
        assert (first / "dev" / name).read_bytes() == (second / "dev" / name).read_bytes(), name


def test_dev_resources_hold_the_vpc_cluster_nodes_addons_and_roles(rendered: Path):
    resources = json.loads((rendered / "dev" / "resources.json").read_text())
    types = [r["type"] for r in resources]
    assert "awsx:ec2:Vpc" in types
    assert "aws:eks/nodeGroup:NodeGroup" in types
    assert types.count("aws:eks/addon:Addon") == 6
    (cluster,) = [r for r in resources if r["type"] == "eks:index:Cluster"]
    for key in (
        "authenticationMode",
        "encryptionConfigKeyArn",
        "enabledClusterLogTypes",
        "endpointPublicAccess",
        "endpointPrivateAccess",
        "publicAccessCidrs",
    ):
        assert key in cluster["inputs"], key  # engine camelCase names, as registered


def test_dr_stack_reads_the_primary_outputs(dev_dr: Plan, dev: Plan):
    ref = dev_dr.one("pulumi:pulumi:StackReference")
    assert ref.inputs["name"] == "organization/inferentia-chat/dev"
    assert dev_dr.outputs["sourceBucketName"] == dev.outputs["modelBucketName"]
    replication = dev_dr.one("aws:s3/bucketReplicationConfig:BucketReplicationConfig")
    assert replication.inputs["bucket"] == dev.outputs["modelBucketName"]
    assert dev_dr.outputs["region"] == "us-west-2" and dev_dr.outputs["primaryRegion"] == "us-east-1"


def _program_with_secrets():
    password = random.RandomPassword("admin-password", length=24, special=False)
    provider = k8s.Provider("k8s", kubeconfig="{}")
    k8s.core.v1.Secret(
        "creds",
        metadata={"name": "creds", "namespace": "default"},
        string_data={"password": password.result, "user": "admin"},
        opts=pulumi.ResourceOptions(provider=provider),
    )
    pulumi.export("password", password.result)
    pulumi.export("user", "admin")


def test_secret_values_never_reach_the_files(tmp_path: Path):
    result = engine.install().run(
        _program_with_secrets, project="inferentia-chat", stack="secrets", config={"aws:region": "us-east-1"}
    )
    real_password = result.outputs["password"]
    assert len(real_password) == 24 and result.secret_outputs == {"password"}
    folder = write_render(result, tmp_path)
    for name in ("resources.json", "kubernetes.yaml", "outputs.json"):
        assert real_password not in (folder / name).read_text(), name
    assert json.loads((folder / "outputs.json").read_text()) == {"password": SECRET, "user": "admin"}
    (secret,) = yaml.safe_load_all((folder / "kubernetes.yaml").read_text())
    assert secret["stringData"] == {"password": SECRET, "user": SECRET}  # even plain values of a Secret


def test_two_resources_with_one_name_are_refused():
    def program():
        random.RandomId("same", byte_length=4)
        random.RandomId("same", byte_length=4)

    with pytest.raises(DuplicateUrnError, match="RandomId::same"):
        engine.install().run(program, project="inferentia-chat", stack="dup", config={"aws:region": "us-east-1"})
