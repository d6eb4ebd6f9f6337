"""The fit check: what an inf2 node has left for pods, and whether a serving pod fits it (pure functions)."""

from __future__ import annotations

import math

import pytest

from inferentia_chat.hardware import (
    DAEMONSET_OVERHEAD,
    INF2_TYPES,
    NEURON_RESOURCE,
    SERVING_RUNTIME_HOST_GIB,
    Resources,
    allocatable,
    fit,
    fit_report,
    kube_reserved_cpu_millis,
    kube_reserved_memory_mib,
    max_pods,
    memory_capacity_mib,
    pool_devices_needed,
    pool_limits,
    serving_pod_requests,
)
from stacks.config import ConfigError, parse_config


@pytest.mark.parametrize(
    ("instance_type", "pods", "reserved_mib"),
    # ENI-limited max pods: interfaces * (IPv4 per interface - 1) + 2; kube-reserved 11 MiB/pod + 255.
    [("inf2.xlarge", 58, 893), ("inf2.8xlarge", 234, 2829), ("inf2.24xlarge", 737, 8362), ("inf2.48xlarge", 737, 8362)],
)
def test_kube_reserved_memory_follows_max_pods(instance_type: str, pods: int, reserved_mib: int):
    assert max_pods(instance_type) == pods
    assert kube_reserved_memory_mib(instance_type) == reserved_mib


@pytest.mark.parametrize(("vcpu", "millis"), [(1, 60), (2, 70), (4, 80), (32, 150), (96, 310), (192, 550)])
def test_kube_reserved_cpu_by_core_ranges(vcpu: int, millis: int):
    assert kube_reserved_cpu_millis(vcpu) == millis


def test_memory_capacity_less_the_vm_overhead():
    assert memory_capacity_mib("inf2.xlarge") == 16384 - 1229  # 7.5 % rounded up


def test_allocatable_subtracts_reservations_eviction_and_daemonsets():
    ds_cpu = sum(c for _, c, _ in DAEMONSET_OVERHEAD)
    ds_mem = sum(m for _, _, m in DAEMONSET_OVERHEAD)
    room = allocatable("inf2.xlarge")
    assert room == Resources(neuron_devices=1, cpu_millis=4000 - 80 - ds_cpu, memory_mib=15155 - 893 - 100 - ds_mem)
    assert room.as_kubernetes() == {
        "cpu": f"{room.cpu_millis}m",
        "memory": f"{room.memory_mib}Mi",
        NEURON_RESOURCE: "1",
    }


def test_serving_pod_scales_with_the_devices_its_tp_needs():
    assert serving_pod_requests(2).neuron_devices == 1
    assert serving_pod_requests(1).neuron_devices == 1
    assert serving_pod_requests(8).neuron_devices == 4
    assert serving_pod_requests(8).cpu_millis == 4 * serving_pod_requests(2).cpu_millis


def test_serving_memory_is_the_load_peak_runtime_plus_one_rank_shard_with_margin():
    mistral = "mistralai/Mistral-7B-Instruct-v0.3"
    shard_gib = 14.5e9 / 2**30
    for tp in (1, 2, 8, 24):
        peak = SERVING_RUNTIME_HOST_GIB + shard_gib / tp
        assert serving_pod_requests(tp, mistral).memory_mib == math.ceil(peak * 1.25 * 1024 / 256) * 256
    # More ranks, smaller shards: the per-pod peak falls with the tensor-parallel degree.
    assert serving_pod_requests(1, mistral).memory_mib > serving_pod_requests(2, mistral).memory_mib
    # TP 1 (the whole 14.5 GB through one rank) no longer fits inf2.xlarge's 16 GiB; TP 2 does.
    assert fit(serving_pod_requests(1, mistral), "inf2.xlarge").pods == 0
    assert fit(serving_pod_requests(2, mistral), "inf2.xlarge").pods == 1
    assert fit(serving_pod_requests(1, mistral), "inf2.8xlarge").pods == 1


def test_the_default_serving_pod_fits_the_smallest_type():
    assert fit(serving_pod_requests(2), "inf2.xlarge").pods == 1
    assert fit(serving_pod_requests(2), "inf2.8xlarge").pods == 1  # one device per node
    assert fit(serving_pod_requests(2), "inf2.24xlarge").pods == 6


def test_a_pod_too_large_for_the_node_does_not_fit_and_says_why():
    big = Resources(neuron_devices=1, cpu_millis=1000, memory_mib=15 * 1024)
    result = fit(big, "inf2.xlarge")
    assert result.pods == 0
    assert "memory 15360Mi > allocatable" in result.reason
    assert fit(Resources(1, 4000, 1024), "inf2.xlarge").reason.startswith("cpu 4000m > allocatable")


def test_multi_device_pods_must_own_the_whole_ring():
    # Without the Neuron scheduler extension, only a pod that takes every device is sure of neighbours.
    tp8 = serving_pod_requests(8)
    assert fit(tp8, "inf2.24xlarge").pods == 0
    assert "must take them all" in fit(tp8, "inf2.24xlarge").reason
    assert fit(serving_pod_requests(24), "inf2.48xlarge").pods == 1
    assert [f.pods for f in fit_report(tp8, list(INF2_TYPES))] == [0, 0, 0, 0]


def test_devices_the_pool_needs_for_its_replicas():
    one = serving_pod_requests(2)
    assert pool_devices_needed(one, 1, ["inf2.xlarge", "inf2.8xlarge"]) == 1
    assert pool_devices_needed(one, 3, ["inf2.xlarge"]) == 3
    assert pool_devices_needed(one, 3, ["inf2.24xlarge"]) == 6  # one node of 6 devices hosts all three
    assert pool_devices_needed(serving_pod_requests(8), 1, ["inf2.24xlarge"]) == 0  # fits nowhere


def test_pool_limits_make_the_device_count_the_binding_ceiling():
    assert pool_limits(["inf2.xlarge", "inf2.8xlarge"], 2) == {"cpu": "64", "memory": "256Gi", NEURON_RESOURCE: "2"}
    # inf2.24xlarge alone: 16 vCPU and 64 GiB per device.
    assert pool_limits(["inf2.24xlarge"], 6) == {"cpu": "96", "memory": "384Gi", NEURON_RESOURCE: "6"}


def test_config_validation_uses_the_fit_check():
    cfg = parse_config({}, region="us-east-1", stack="prod")
    requests = serving_pod_requests(cfg.model.tensor_parallel_size)
    assert any(f.pods for f in fit_report(requests, cfg.inference_pool.instance_types))
    assert cfg.inference_pool.termination_grace_period == "1h"


def test_prefix_caching_kv_blocks_are_sized_to_device_memory_and_a_shape_that_cannot_fit_is_refused():
    from inferentia_chat import hardware as hw

    mistral = "mistralai/Mistral-7B-Instruct-v0.3"
    facts = hw.KNOWN_MODELS[mistral]
    assert hw.kv_block_bytes(facts, 2) == 2 * 32 * 8 * 128 * 2 * 32  # K and V, 32 layers, 8 KV heads, bf16, 32 tokens
    fits = hw.kv_blocks_fit(facts, 2)
    assert fits == int((32 * 2**30 * 0.9 - 14.5e9) // hw.kv_block_bytes(facts, 2))
    # TP 24 keeps a replica of each of the 8 KV heads on every core: 3x the bytes per block.
    assert hw.kv_block_bytes(facts, 24) == 3 * hw.kv_block_bytes(facts, 2)
    assert hw.kv_cache_blocks("org/unknown-model", 2, 8192, 4) == 1024  # shape unknown: the minimum
    assert hw.kv_cache_blocks(mistral, 2, 8192, 4) == min(fits, 4 * 1024)
    assert hw.kv_cache_blocks(mistral, 2, 1024, 1) == 4 * 32  # small shapes: four times the minimum
    # 16 sequences of 32768 tokens need 16384 blocks (64 GiB): more than one chip holds (the minimum check).
    raw = {
        "model": {"maxModelLen": 32768, "maxNumSeqs": 16},
        "inferencePool": {"instanceTypes": ["inf2.xlarge", "inf2.8xlarge"], "maxNeuronDevices": 3},
    }
    with pytest.raises(ConfigError, match=r"model\.maxNumSeqs = 16: the KV cache of maxModelLen 32768 x maxNumSeqs 16"):
        parse_config(raw, region="us-east-1", stack="dev")
