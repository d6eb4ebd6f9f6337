"""InferentiaNodePool: the EC2NodeClass, the NodePool and the Neuron device plugin on the recorded plan,
and the teardown order the dependencies give `pulumi destroy`."""

from __future__ import annotations

import re

import pytest
from conftest import Plan, plan_for

from inferentia_chat import versions
from inferentia_chat.hardware import NEURON_RESOURCE, allocatable
from inferentia_chat.inferentia_node_pool import ROOT_VOLUME_GIB

NODE_POOL = "kubernetes:karpenter.sh/v1:NodePool"
NODE_CLASS = "kubernetes:karpenter.k8s.aws/v1:EC2NodeClass"
RELEASE = "kubernetes:helm.sh/v3:Release"
POOL = "inferentia-chat:inferencePool"


def node_class(plan: Plan) -> dict:
    (obj,) = plan.k8s("EC2NodeClass")
    return obj


def node_pool(plan: Plan) -> dict:
    (obj,) = plan.k8s("NodePool")
    return obj


def requirement(pool: dict, key: str) -> dict:
    (req,) = [r for r in pool["spec"]["template"]["spec"]["requirements"] if r["key"] == key]
    return req


def tolerates(toleration: dict, taint: dict) -> bool:
    """Kubernetes' rule: same key (or empty key with Exists), same effect (or any), value if Equal."""
    if toleration.get("effect") and toleration["effect"] != taint["effect"]:
        return False
    if toleration.get("operator", "Equal") == "Exists":
        return not toleration.get("key") or toleration["key"] == taint["key"]
    return toleration.get("key") == taint["key"] and toleration.get("value") == taint.get("value")


# --- EC2NodeClass ------------------------------------------------------------------------------


def test_node_class_pins_the_al2023_ami_by_date(dev: Plan):
    spec = node_class(dev)["spec"]
    assert spec["amiFamily"] == "AL2023"
    assert spec["amiSelectorTerms"] == [{"alias": versions.INFERENCE_AMI_ALIAS}]
    assert re.fullmatch(r"al2023@v20\d{6}", versions.INFERENCE_AMI_ALIAS)  # a dated release, never @latest


def test_node_class_requires_imdsv2_with_hop_limit_1(dev: Plan):
    meta = node_class(dev)["spec"]["metadataOptions"]
    assert meta["httpTokens"] == "required" and meta["httpPutResponseHopLimit"] == 1
    assert meta["httpEndpoint"] == "enabled"


def test_node_class_root_volume_is_encrypted_gp3_large_enough_for_the_neuron_image(dev: Plan):
    (disk,) = node_class(dev)["spec"]["blockDeviceMappings"]
    assert disk["rootVolume"] is True and disk["deviceName"] == "/dev/xvda"
    ebs = disk["ebs"]
    assert ebs["volumeType"] == "gp3" and ebs["encrypted"] is True and ebs["deleteOnTermination"] is True
    size = int(ebs["volumeSize"].removesuffix("Gi"))
    assert size == ROOT_VOLUME_GIB and size >= 100  # the Neuron vLLM image alone is 15-20 GB


def test_node_class_uses_the_karpenter_node_role_and_the_clusters_subnets_and_nodes_sg(dev: Plan):
    spec = node_class(dev)["spec"]
    assert spec["role"] == dev.one("aws:iam/role:Role", "karpenter-node-role").outputs["name"]
    assert spec["subnetSelectorTerms"] == [{"tags": {"karpenter.sh/discovery": "inferentia-chat-dev"}}]
    assert spec["securityGroupSelectorTerms"] == [{"id": dev.outputs["nodeSecurityGroupId"]}]


def test_node_class_tags_instances_with_the_common_tags(dev: Plan):
    tags = node_class(dev)["spec"]["tags"]
    assert tags == {
        "project": "inferentia-chat",
        "stack": "dev",
        "environment": "dev",
        "component": "InferentiaNodePool",
    }


# --- NodePool ----------------------------------------------------------------------------------


def test_node_pool_uses_the_node_class(dev: Plan):
    ref = node_pool(dev)["spec"]["template"]["spec"]["nodeClassRef"]
    assert ref == {"group": "karpenter.k8s.aws", "kind": "EC2NodeClass", "name": node_class(dev)["metadata"]["name"]}


def test_node_pool_offers_the_configured_inf2_sizes_and_capacity_types(dev: Plan):
    pool = node_pool(dev)
    assert requirement(pool, "node.kubernetes.io/instance-type") == {
        "key": "node.kubernetes.io/instance-type",
        "operator": "In",
        "values": ["inf2.xlarge", "inf2.8xlarge"],
    }
    assert requirement(pool, "karpenter.sh/capacity-type")["values"] == ["spot", "on-demand"]
    assert requirement(pool, "kubernetes.io/arch")["values"] == ["amd64"]


def test_production_default_is_on_demand_only():
    pool = node_pool(plan_for(**{POOL: None}))
    assert requirement(pool, "karpenter.sh/capacity-type")["values"] == ["on-demand"]
    assert pool["spec"]["limits"][NEURON_RESOURCE] == "4"


def test_node_pool_is_pinned_to_the_file_systems_zone(dev: Plan):
    zone = requirement(node_pool(dev), "topology.kubernetes.io/zone")
    assert zone["operator"] == "In" and zone["values"] == [dev.outputs["inferenceZone"]]
    assert dev.outputs["inferenceZone"] == dev.outputs["availabilityZones"][0]
    moved = plan_for(**{"inferentia-chat:modelStore": {"availabilityZone": "us-east-1b"}})
    assert requirement(node_pool(moved), "topology.kubernetes.io/zone")["values"] == ["us-east-1b"]


def test_node_pool_taints_its_nodes_for_neuron_pods_only(dev: Plan):
    template = node_pool(dev)["spec"]["template"]
    assert template["spec"]["taints"] == [{"key": "aws.amazon.com/neuron", "value": "true", "effect": "NoSchedule"}]
    assert template["metadata"]["labels"] == {"inferentia-chat.io/pool": "inferentia"}


def test_node_pool_limits_are_the_cost_ceiling(dev: Plan):
    limits = node_pool(dev)["spec"]["limits"]
    assert limits == {"cpu": "96", "memory": "384Gi", NEURON_RESOURCE: "3"}  # dev: maxNeuronDevices 3


def test_node_pool_disruption_consolidates_empty_nodes_within_explicit_budgets(dev: Plan):
    spec = node_pool(dev)["spec"]
    assert spec["disruption"]["consolidationPolicy"] == "WhenEmpty"
    assert spec["disruption"]["consolidateAfter"] == "3m"  # dev's value
    budgets = spec["disruption"]["budgets"]
    assert {"nodes": "1", "reasons": ["Drifted"]} in budgets
    assert all(b["nodes"] != "0" for b in budgets)  # a zero budget would block replacement forever
    template = spec["template"]["spec"]
    assert template["expireAfter"] == "720h"
    assert template["terminationGracePeriod"] == "1h"


def test_pool_timings_follow_the_config():
    pool = node_pool(
        plan_for(
            **{
                POOL: {
                    "consolidateAfter": "10m",
                    "expireAfter": "168h",
                    "terminationGracePeriod": "2h",
                    "instanceTypes": ["inf2.8xlarge"],
                    "maxNeuronDevices": 3,
                }
            }
        )
    )
    assert pool["spec"]["disruption"]["consolidateAfter"] == "10m"
    assert pool["spec"]["template"]["spec"]["expireAfter"] == "168h"
    assert pool["spec"]["template"]["spec"]["terminationGracePeriod"] == "2h"
    assert requirement(pool, "node.kubernetes.io/instance-type")["values"] == ["inf2.8xlarge"]
    assert pool["spec"]["limits"] == {"cpu": "96", "memory": "384Gi", NEURON_RESOURCE: "3"}


# --- Neuron device plugin ----------------------------------------------------------------------


def test_neuron_device_plugin_is_pinned_and_tolerates_the_pool_taint(dev: Plan):
    plugin = dev.one(RELEASE, "inferentia-neuron")
    assert plugin.inputs["chart"] == "oci://public.ecr.aws/neuron/neuron-helm-chart"
    assert plugin.inputs["version"] == versions.NEURON_HELM_CHART_VERSION
    values = plugin.inputs["values"]
    (taint,) = node_pool(dev)["spec"]["template"]["spec"]["taints"]
    assert any(tolerates(t, taint) for t in values["devicePlugin"]["tolerations"])
    assert values["scheduler"]["enabled"] is False  # decided in components/inferentia_chat/inferentia_node_pool.py
    assert values["npd"]["enabled"] is False  # as the Neuron docs install it


# --- outputs for the serving pods --------------------------------------------------------------


def test_stack_exports_the_pool_and_its_zone(dev: Plan):
    assert dev.outputs["inferenceNodePool"] == node_pool(dev)["metadata"]["name"]
    assert dev.outputs["inferenceZone"] in dev.outputs["availabilityZones"]


@pytest.fixture(scope="module")
def pool_component():
    """A pool built on its own (no Karpenter), to read its Python outputs."""
    import pulumi

    from inferentia_chat.inferentia_node_pool import InferentiaNodePool, InferentiaNodePoolArgs
    from offline import engine

    built = {}

    def program() -> None:
        built["pool"] = InferentiaNodePool(
            "p",
            InferentiaNodePoolArgs(
                cluster_name="c",
                node_role_name="r",
                node_security_group_id="sg-0123456789abcdef0",
                availability_zone="us-east-1a",
                instance_types=["inf2.xlarge"],
                capacity_types=["on-demand"],
                max_neuron_devices=1,
                consolidate_after="5m",
                expire_after="720h",
                termination_grace_period="1h",
            ),
        )
        p = built["pool"]
        pulumi.export("selector", p.node_selector)
        pulumi.export("tolerations", p.tolerations)
        pulumi.export("allocatable", p.allocatable)

    result = engine.install().run(program, project="p", stack="s", config={"aws:region": "us-east-1"})
    return result


def test_component_outputs_are_what_the_pool_enforces(pool_component):
    out = pool_component.outputs
    (pool,) = [r for r in pool_component.resources if r.type == NODE_POOL]
    template = pool.inputs["spec"]["template"]
    assert out["selector"] == template["metadata"]["labels"]
    for taint in template["spec"]["taints"]:
        assert any(tolerates(t, taint) for t in out["tolerations"])
    assert out["allocatable"] == {"inf2.xlarge": allocatable("inf2.xlarge").as_kubernetes()}


def test_unknown_instance_type_is_refused_by_the_component():
    from inferentia_chat.inferentia_node_pool import InferentiaNodePool
    from offline import engine

    def program() -> None:
        InferentiaNodePool("bad", {"instance_types": ["p5.48xlarge"]})  # type: ignore[typeddict-item]

    with pytest.raises(Exception, match="not an inf2 size"):
        engine.install().run(program, project="p", stack="s", config={"aws:region": "us-east-1"})


# --- teardown order ----------------------------------------------------------------------------


def test_teardown_order_is_expressed_as_dependencies(dev: Plan):
    """`pulumi destroy` deletes dependents first: workloads on the pool, then the NodePool, the
    EC2NodeClass, Karpenter, its queue and roles, then the cluster."""
    plugin = dev.one(RELEASE, "inferentia-neuron")  # a workload on the pool's nodes
    pool, cls = dev.one(NODE_POOL), dev.one(NODE_CLASS)
    karpenter = dev.one(RELEASE, "karpenter-chart")
    chain = [
        (plugin, pool),
        (pool, cls),
        (pool, karpenter),
        (cls, karpenter),
        (karpenter, dev.one("aws:sqs/queue:Queue")),
        (karpenter, dev.one("aws:iam/role:Role", "karpenter-controller-role")),
        (karpenter, dev.one("aws:iam/role:Role", "karpenter-node-role")),
        (karpenter, dev.one("eks:index:Cluster")),
        (karpenter, dev.one("aws:eks/nodeGroup:NodeGroup")),
    ]
    for later, earlier in chain:
        assert dev.depends(later, earlier), f"{later.name} must depend on {earlier.name}"
        assert not dev.depends(earlier, later), f"cycle between {later.name} and {earlier.name}"
    assert karpenter.urn in pool.dependencies and karpenter.urn in cls.dependencies  # direct, not by accident
