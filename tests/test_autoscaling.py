"""Autoscaling on load: KEDA's ScaledObject on the vLLM Deployment with numbers that follow from the start-up
budget, the fit of maxReplicas in the device ceiling, scale to zero, and system capacity that grows."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path

import crd_schema
import pytest
from conftest import Plan, plan_for

from inferentia_chat import versions
from inferentia_chat.autoscaling import HPA_SYNC_S, REQUEST_SECONDS, scaling_policy
from inferentia_chat.eks_cluster import SYSTEM_NODE_SELECTOR
from inferentia_chat.hardware import Resources
from offline import budget
from offline.render import stack_config
from stacks.config import ConfigError, parse_config

MODEL = "inferentia-chat:model"
POOL = "inferentia-chat:inferencePool"
CLUSTER = "inferentia-chat:cluster"
SCALED = {"minReplicas": 1, "maxReplicas": 2}


def scaled_object(plan: Plan) -> dict:
    (obj,) = plan.k8s("ScaledObject")
    return obj


def prometheus_trigger(plan: Plan) -> dict:
    (trigger,) = [t for t in scaled_object(plan)["spec"]["triggers"] if t["type"] == "prometheus"]
    return trigger


def test_keda_is_the_pinned_chart_on_the_system_nodes(dev: Plan):
    release = dev.one("kubernetes:helm.sh/v3:Release", "autoscaling-keda").inputs
    assert (release["chart"], release["version"]) == (versions.KEDA_CHART, versions.KEDA_CHART_VERSION)
    assert release["repositoryOpts"]["repo"] == versions.KEDA_REPO
    assert release["values"]["nodeSelector"] == SYSTEM_NODE_SELECTOR
    (ns,) = dev.k8s("Namespace", "keda")
    assert ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


def test_the_scaled_object_targets_the_vllm_deployment_between_the_configured_bounds(dev: Plan):
    spec = scaled_object(dev)["spec"]
    (deployment,) = dev.k8s("Deployment", "vllm")
    assert spec["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "vllm"}
    assert scaled_object(dev)["metadata"]["namespace"] == deployment["metadata"]["namespace"]
    assert (spec["minReplicaCount"], spec["maxReplicaCount"]) == (1, 2)  # dev: 1..2
    assert "replicas" not in deployment["spec"]  # the HPA owns the count
    trigger = prometheus_trigger(dev)
    assert trigger["metadata"]["serverAddress"] == "http://kps-prometheus.monitoring.svc:9090"
    assert "vllm:num_requests_waiting" in trigger["metadata"]["query"]
    assert dev.outputs["scaledObjects"] == ["inference/vllm"]


def test_the_scaler_numbers_follow_from_budget_json(rendered: Path, dev: Plan):
    """Read the rendered budget.json, apply the documented formula by hand, find it in the ScaledObject."""
    cfg = stack_config(dev.result)
    report = budget.budget(dev.result, cfg)
    (rendered / "dev" / "budget.json").write_text(json.dumps(report))
    t_new = json.loads((rendered / "dev" / "budget.json").read_text())["replica"]["newNode"]["totalSeconds"]
    poll = min(30, max(5, round(t_new / 24)))
    reaction = poll + HPA_SYNC_S + t_new
    rate = cfg.model.max_num_seqs / REQUEST_SECONDS
    wait = cfg.model.autoscaling.max_queue_wait_seconds
    spec = scaled_object(dev)["spec"]
    assert spec["pollingInterval"] == poll
    assert prometheus_trigger(dev)["metadata"]["threshold"] == str(max(1, math.floor(rate * (wait - reaction / 2))))
    assert spec["cooldownPeriod"] == math.ceil(2 * t_new)
    scale_down = spec["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]["scaleDown"]
    assert scale_down["stabilizationWindowSeconds"] == math.ceil(2 * t_new)
    # The queue alert's limit is the same derivation's.
    (rule,) = [
        r
        for g in dev.k8s("PrometheusRule")[0]["spec"]["groups"]
        for r in g["rules"]
        if r["alert"] == "VllmQueueBacklog"
    ]
    assert rule["expr"].endswith(f"> {math.floor(rate * wait)}")


def test_a_slower_start_moves_the_threshold_down_and_the_cooldown_up():
    fast, slow = scaling_policy(220, 4, 300), scaling_policy(600, 4, 300)
    assert slow.threshold < fast.threshold and slow.cooldown_period > fast.cooldown_period
    assert scaling_policy(900, 4, 120).threshold == 1  # cold start longer than the wait: first request scales
    assert scaling_policy(380, 8, 300).threshold > scaling_policy(380, 4, 300).threshold  # bigger batches


def test_the_image_cache_shortens_the_budget_and_so_the_scaler(dev: Plan):
    cache = {"snapshotId": "snap-0123456789abcdef0", "bottlerocketVersion": "v1.46.0"}
    cached = plan_for(
        **{POOL: {"instanceTypes": ["inf2.xlarge", "inf2.8xlarge"], "maxNeuronDevices": 4, "imageCache": cache}}
    )
    assert scaled_object(cached)["spec"]["cooldownPeriod"] < scaled_object(dev)["spec"]["cooldownPeriod"]
    assert int(prometheus_trigger(cached)["metadata"]["threshold"]) > int(
        prometheus_trigger(dev)["metadata"]["threshold"]
    )


def test_without_autoscaling_the_deployment_keeps_a_fixed_count_and_no_keda():
    plan = plan_for(**{MODEL: {"replicas": 1}})
    (deployment,) = plan.k8s("Deployment", "vllm")
    assert deployment["spec"]["replicas"] == 1
    assert not plan.k8s("ScaledObject") and not plan.of_type("inferentia-chat:index:Autoscaling")


# --- fit and validation -----------------------------------------------------------------------------


def problems(raw: dict) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(raw, region="us-east-1", stack="dev")
    return info.value.problems


def test_max_replicas_plus_surge_plus_compile_must_fit_the_device_ceiling():
    (p,) = problems(
        {"model": {"autoscaling": {"minReplicas": 1, "maxReplicas": 3}}, "inferencePool": {"maxNeuronDevices": 4}}
    )
    assert p.startswith("inferentia-chat:inferencePool.maxNeuronDevices = 4: must be at least 5")
    assert "model.autoscaling.maxReplicas = 3" in p
    ok = parse_config(
        {"model": {"autoscaling": {"minReplicas": 1, "maxReplicas": 3}}, "inferencePool": {"maxNeuronDevices": 5}},
        region="us-east-1",
        stack="dev",
    )
    assert ok.model.autoscaling.max_replicas == 3 and ok.model.replicas == 1
    # Without the compile Job one device less is enough.
    parse_config(
        {"model": {"compileJob": False, "autoscaling": {"maxReplicas": 3}}, "inferencePool": {"maxNeuronDevices": 4}},
        region="us-east-1",
        stack="dev",
    )


BAD = [
    (
        {"model": {"replicas": 2, "autoscaling": SCALED}},
        "inferentia-chat:model.replicas = 2: does not apply with autoscaling",
    ),
    ({"model": {"autoscaling": {"minReplicas": 1}}}, "inferentia-chat:model.autoscaling.maxReplicas is required"),
    (
        {"model": {"autoscaling": {"minReplicas": 2, "maxReplicas": 1}}},
        "maxReplicas = 1: must be at least minReplicas (2)",
    ),
    ({"model": {"autoscaling": {"minReplicas": 0, "maxReplicas": 1}}}, "model.autoscaling.activeSchedule is required"),
    (
        {"model": {"autoscaling": {**SCALED, "activeSchedule": {"start": "0 8 * * *", "end": "0 18 * * *"}}}},
        "activeSchedule",
    ),
    (
        {
            "model": {
                "autoscaling": {
                    "minReplicas": 0,
                    "maxReplicas": 1,
                    "activeSchedule": {"start": "8am", "end": "0 18 * * *"},
                }
            }
        },
        "activeSchedule.start = '8am': must be a 5-field cron",
    ),
    (
        {"model": {"autoscaling": {**SCALED, "maxQueueWaitSeconds": 5}}},
        "maxQueueWaitSeconds = 5: must be between 30 and 3600",
    ),
    ({"model": {"autoscaling": {**SCALED, "maxReplica": 3}}}, "did you mean 'maxReplicas'"),
    (
        {"model": {"autoscaling": SCALED}, "monitoring": {"enabled": False}},
        "model.autoscaling = 'set': needs monitoring.enabled true",
    ),
]


@pytest.mark.parametrize(("raw", "fragment"), BAD, ids=[b[1][:50] for b in BAD])
def test_bad_autoscaling_config_is_named(raw: dict, fragment: str):
    assert any(fragment in p for p in problems(raw)), problems(raw)


def test_scale_to_zero_keeps_one_replica_during_the_active_hours():
    schedule = {"timezone": "Europe/Berlin", "start": "0 8 * * 1-5", "end": "0 19 * * 1-5"}
    plan = plan_for(**{MODEL: {"autoscaling": {"minReplicas": 0, "maxReplicas": 2, "activeSchedule": schedule}}})
    spec = scaled_object(plan)["spec"]
    assert spec["minReplicaCount"] == 0
    (cron,) = [t for t in spec["triggers"] if t["type"] == "cron"]
    assert cron["metadata"] == {**schedule, "desiredReplicas": "1"}
    assert spec["fallback"]["replicas"] == 1  # blind scaler never leaves zero replicas
    (webui,) = plan.k8s("Deployment", "open-webui")
    env = {e["name"]: e.get("value") for e in webui["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["AIOHTTP_CLIENT_TIMEOUT_MODEL_LIST"] == "5"  # the page loads while no replica answers


def test_the_scaled_object_schema_refuses_what_keda_refuses(dev: Plan):
    obj = copy.deepcopy(scaled_object(dev))
    assert crd_schema.has_schema(obj)
    crd_schema.validate(obj)
    obj["spec"]["minReplicaCount"] = -1
    with pytest.raises(crd_schema.CrdValidationError):
        crd_schema.validate(obj)
    obj = copy.deepcopy(scaled_object(dev))
    obj["spec"]["fallback"]["behavior"] = "guess"
    with pytest.raises(crd_schema.CrdValidationError, match="is not one of"):
        crd_schema.validate(obj)


@pytest.mark.parametrize("kind", ["PodMonitor", "ServiceMonitor", "PrometheusRule"])
def test_monitoring_objects_have_their_vendored_schema_and_a_typo_is_refused(dev: Plan, kind: str):
    obj = copy.deepcopy(dev.k8s(kind)[0])
    assert crd_schema.has_schema(obj)
    crd_schema.validate(obj)
    obj["spec"]["typo"] = True
    with pytest.raises(crd_schema.CrdValidationError, match="Additional properties are not allowed"):
        crd_schema.validate(obj)


# --- system capacity that grows ----------------------------------------------------------------------


def test_system_nodes_grow_up_to_system_node_max_count(dev: Plan):
    cfg = stack_config(dev.result).cluster
    (pool,) = dev.k8s("NodePool", "system")
    spec = pool["spec"]
    assert spec["limits"] == {"nodes": str(cfg.system_node_max_count - cfg.system_node_count)}
    assert spec["template"]["metadata"]["labels"] == SYSTEM_NODE_SELECTOR  # where system pods already go
    (types,) = [r for r in spec["template"]["spec"]["requirements"] if r["key"] == "node.kubernetes.io/instance-type"]
    assert types["values"] == [cfg.system_node_type]
    assert "taints" not in spec["template"]["spec"]
    # Removed before the Karpenter controller on destroy; the controller itself stays off Karpenter nodes.
    assert dev.depends(
        dev.one("kubernetes:karpenter.sh/v1:NodePool", "system-node-pool"),
        dev.one("kubernetes:helm.sh/v3:Release", "karpenter-chart"),
    )
    (system_class,) = dev.k8s("EC2NodeClass", "system")
    assert system_class["spec"]["metadataOptions"]["httpTokens"] == "required"


def test_no_system_pool_when_the_max_is_the_static_count():
    plan = plan_for(**{CLUSTER: {**_dev_cluster(), "systemNodeCount": 3, "systemNodeMaxCount": 3}})
    assert not plan.k8s("NodePool", "system")


def _dev_cluster() -> dict:
    return {
        "kubernetesVersion": "1.36",
        "systemNodeType": "m7i.large",
        "publicEndpoint": True,
        "publicAccessCidrs": ["203.0.113.0/24"],
    }


def test_the_monitoring_stack_must_fit_the_system_capacity():
    (p,) = problems(
        {
            "cluster": {"systemNodeCount": 1, "systemNodeMaxCount": 1},
            "model": {"autoscaling": SCALED},
            "inferencePool": {"maxNeuronDevices": 4},
        }
    )
    assert p.startswith("inferentia-chat:cluster.systemNodeMaxCount = 1: 1 x m7i.large leave")
    assert "monitoring.enabled false" in p
    parse_config({"cluster": {"systemNodeCount": 1, "systemNodeMaxCount": 3}}, region="us-east-1", stack="dev")
    unknown = parse_config({"cluster": {"systemNodeType": "t3.large"}}, region="us-east-1", stack="dev")
    assert any("capacity of t3.large unknown" in w for w in unknown.warnings)


def test_system_node_sizes_follow_the_ec2_naming_scheme():
    from inferentia_chat.system_capacity import node_capacity

    assert node_capacity("m7i.large") == Resources(0, 2000, 8 * 1024)
    assert node_capacity("c7g.2xlarge") == Resources(0, 8000, 16 * 1024)
    assert node_capacity("r6i.4xlarge") == Resources(0, 16000, 128 * 1024)
    assert node_capacity("t3.large") is None and node_capacity("m7i.metal-24xl") is None
