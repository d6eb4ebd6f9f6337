"""The example consumer (examples/byo-cluster) runs under the offline engine and creates what it says."""

from pathlib import Path

import pytest
from conftest import Plan

from offline.render import run_stack

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "byo-cluster"


@pytest.fixture(scope="module")
def byo() -> Plan:
    # The example imports `inferentia_chat`, the same package the tests import from components/ (the
    # library's source root; scripts/check-package.sh proves the pip install itself).
    return Plan(run_stack("dev", root=EXAMPLE, out=EXAMPLE / "build"))


def test_no_network_cluster_or_karpenter_is_created(byo: Plan):
    types = {r.type for r in byo.resources}
    assert not types & {"awsx:ec2:Vpc", "eks:index:Cluster", "inferentia-chat:index:Karpenter"}
    assert {
        "inferentia-chat:index:LustreModelStore",
        "inferentia-chat:index:VllmNeuronServer",
        "inferentia-chat:index:OpenWebUI",
    } <= types


def test_every_kubernetes_object_uses_the_provider_from_the_given_kubeconfig(byo: Plan):
    (provider,) = byo.of_type("pulumi:providers:kubernetes")
    assert provider.inputs["kubeconfig"] == "[secret]"
    kube = [r for r in byo.resources if r.type.startswith("kubernetes:")]
    assert kube and all(r.provider.startswith(provider.urn + "::") for r in kube)


def test_the_store_and_server_use_the_existing_cluster_ids(byo: Plan):
    fs = byo.one("aws:fsx/lustreFileSystem:LustreFileSystem")
    assert fs.inputs["subnetIds"] == "subnet-0123456789abcdef0"
    (pod_spec,) = [d["spec"]["template"]["spec"] for d in byo.k8s("Deployment", "vllm")]
    assert pod_spec["nodeSelector"] == {
        "karpenter.sh/nodepool": "inferentia",
        "topology.kubernetes.io/zone": "us-east-1a",
    }
    (pvc,) = [c for c in byo.k8s("PersistentVolumeClaim") if c["metadata"]["namespace"] == "llm"]
    assert pvc["metadata"]["namespace"] == "llm"
    # The claim's volume is the store's file system (model_volume_args: the store's outputs).
    (pv,) = byo.k8s("PersistentVolume")
    assert pv["spec"]["csi"]["volumeHandle"] == byo.outputs["fileSystemId"]
    assert pvc["spec"]["volumeName"] == pv["metadata"]["name"]
    assert byo.outputs["openaiBaseUrl"] == "http://vllm.llm.svc.cluster.local:8000/v1"


def test_serving_waits_for_the_model_in_the_cluster(byo: Plan):
    (vllm,) = byo.k8s("Deployment", "vllm")
    waits = [c["name"] for c in vllm["spec"]["template"]["spec"]["initContainers"]]
    assert waits == ["wait-for-model", "wait-for-compiled-artifacts"]


def test_the_chat_ui_is_wired_to_this_vllm_on_the_given_nodes_and_storage(byo: Plan):
    (webui,) = byo.k8s("Deployment", "open-webui")
    pod = webui["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == {"eks.amazonaws.com/nodegroup": "system"}
    env = {e["name"]: e.get("value") for e in pod["containers"][0]["env"]}
    assert env["OPENAI_API_BASE_URLS"] == "http://vllm.llm.svc.cluster.local:8000/v1"
    # The UI may reach exactly this server's pods (endpoint_args: its namespace and pod labels).
    (vllm,) = byo.k8s("Deployment", "vllm")
    (ui_policy,) = byo.k8s("NetworkPolicy", "open-webui")
    assert ui_policy["spec"]["egress"][1]["to"] == [
        {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "llm"}},
            "podSelector": {"matchLabels": vllm["spec"]["selector"]["matchLabels"]},
        }
    ]
    (pvc,) = byo.k8s("PersistentVolumeClaim", "open-webui-data")
    assert pvc["spec"]["storageClassName"] == "gp3-encrypted"
    (policy,) = byo.k8s("NetworkPolicy", "vllm")
    (source,) = policy["spec"]["ingress"][0]["from"]
    assert source["namespaceSelector"]["matchLabels"] == {"kubernetes.io/metadata.name": "open-webui"}
    assert byo.result.secret_outputs == {"apiKey", "webuiAdminPassword"}
