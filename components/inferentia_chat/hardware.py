"""Facts about the accelerators and the model, and the checks that depend on them.

One table of Inferentia2 instance types (AWS EC2 accelerated-computing documentation) and one table of
known models (their Hugging Face config.json). Config validation and the components both read these,
so a number lives in one place.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Inf2Type:
    """An Inferentia2 instance type: what a pod on it can be given."""

    name: str
    vcpu: int
    memory_gib: int
    neuron_devices: int  # Inferentia2 chips; each shows up as one `aws.amazon.com/neuron` device
    neuron_cores: int  # two NeuronCore-v2 per chip
    device_memory_gib: int  # 32 GiB HBM per chip
    on_demand_usd_per_hour: float  # us-east-1, Linux on-demand (public price list)


# EC2 "Accelerated computing" instance specifications for Inf2.
INF2_TYPES: dict[str, Inf2Type] = {
    t.name: t
    for t in (
        Inf2Type(
            "inf2.xlarge",
            vcpu=4,
            memory_gib=16,
            neuron_devices=1,
            neuron_cores=2,
            device_memory_gib=32,
            on_demand_usd_per_hour=0.758,
        ),
        Inf2Type(
            "inf2.8xlarge",
            vcpu=32,
            memory_gib=128,
            neuron_devices=1,
            neuron_cores=2,
            device_memory_gib=32,
            on_demand_usd_per_hour=1.968,
        ),
        Inf2Type(
            "inf2.24xlarge",
            vcpu=96,
            memory_gib=384,
            neuron_devices=6,
            neuron_cores=12,
            device_memory_gib=192,
            on_demand_usd_per_hour=6.49,
        ),
        Inf2Type(
            "inf2.48xlarge",
            vcpu=192,
            memory_gib=768,
            neuron_devices=12,
            neuron_cores=24,
            device_memory_gib=384,
            on_demand_usd_per_hour=12.98,
        ),
    )
}

# Tensor-parallel degrees the Neuron runtime supports on Inf2.
INF2_TP_DEGREES = (1, 2, 4, 8, 24)
NEURON_CORES_PER_DEVICE = 2


@dataclass(frozen=True)
class ModelFacts:
    """What the serving stack needs to know about a model (from its config.json and repository)."""

    attention_heads: int
    kv_heads: int
    max_context: int
    weights_gb: float  # one set of bf16 weights, as downloaded
    hidden_layers: int = 0  # num_hidden_layers; with head_dim, sizes the KV cache (0: unknown)
    head_dim: int = 0  # hidden_size / num_attention_heads


KNOWN_MODELS: dict[str, ModelFacts] = {
    # config.json: num_attention_heads 32, num_key_value_heads 8, max_position_embeddings 32768,
    # num_hidden_layers 32, hidden_size 4096 (head_dim 128), torch_dtype bfloat16;
    # model-0000{1,2,3}-of-00003.safetensors total about 14.5 GB.
    "mistralai/Mistral-7B-Instruct-v0.3": ModelFacts(
        attention_heads=32, kv_heads=8, max_context=32768, weights_gb=14.5, hidden_layers=32, head_dim=128
    ),
    "mistralai/Mistral-7B-Instruct-v0.2": ModelFacts(
        attention_heads=32, kv_heads=8, max_context=32768, weights_gb=14.5, hidden_layers=32, head_dim=128
    ),
}


def neuron_devices_for(tensor_parallel_size: int) -> int:
    """Neuron devices (chips) a pod must request to get `tensor_parallel_size` NeuronCores."""
    return -(-tensor_parallel_size // NEURON_CORES_PER_DEVICE)


# bf16 weights and KV cache: two bytes per value.
BYTES_PER_VALUE = 2
# Share of the devices' memory left for the Neuron runtime, the compiled graphs and activations: an
# ESTIMATE (no published figure), so a shape that needs more than 90 % of the HBM is refused.
DEVICE_MEMORY_RESERVE = 0.10


def kv_cache_gb(facts: ModelFacts, tensor_parallel_size: int, max_model_len: int, max_num_seqs: int) -> float:
    """KV cache (GB) of one serving pod: vLLM on Neuron reserves max_model_len x max_num_seqs token slots
    (the minimum with prefix caching's block layout too: every sequence at full length; kv_cache_blocks adds
    blocks for cached prefixes where memory allows). K and V per layer per KV head; with more NeuronCores
    than KV heads each core keeps a replica of a head, so the heads held are ceil(kv/tp) per core."""
    heads = -(-facts.kv_heads // tensor_parallel_size) * tensor_parallel_size
    per_token = 2 * facts.hidden_layers * heads * facts.head_dim * BYTES_PER_VALUE
    return per_token * max_model_len * max_num_seqs / 1e9


def device_memory_gb(tensor_parallel_size: int) -> float:
    """HBM (GB) of the Neuron devices one serving pod holds at this TP (whole chips of 32 GiB)."""
    return neuron_devices_for(tensor_parallel_size) * INF2_TYPES["inf2.xlarge"].device_memory_gib * 2**30 / 1e9


def types_that_fit_tp(tensor_parallel_size: int, instance_types: list[str] | tuple[str, ...]) -> list[str]:
    """The allowed instance types with enough NeuronCores for one pod at this tensor-parallel degree."""
    return [t for t in instance_types if t in INF2_TYPES and INF2_TYPES[t].neuron_cores >= tensor_parallel_size]


# ------------------------------------------------------------------------------------------------
# What a pod can have on a node: the fit check.
#
# Karpenter decides whether a pending pod fits an instance type with the same arithmetic as below
# (aws/karpenter-provider-aws v1.14.1, pkg/providers/instancetype/types.go), so config validation
# can refuse a model/TP/replica shape that Karpenter would never be able to place.
# ------------------------------------------------------------------------------------------------

# Karpenter's `settings.vmMemoryOverheadPercent` default (chart values.yaml): the share of the
# instance memory the hypervisor and firmware take before the kernel sees it.
VM_MEMORY_OVERHEAD = 0.075
# kubelet hard eviction threshold `memory.available` (Karpenter's evictionThreshold default).
EVICTION_HARD_MEMORY_MIB = 100


@dataclass(frozen=True)
class NetworkLimits:
    """ENI limits of an instance type: they set max pods for the VPC CNI, hence kube-reserved memory."""

    interfaces: int
    ipv4_per_interface: int


# aws/karpenter-provider-aws v1.14.1 pkg/providers/instancetype/zz_generated.vpclimits.go
# (the default network card's MaximumNetworkInterfaces and IPv4 addresses per interface).
INF2_NETWORK: dict[str, NetworkLimits] = {
    "inf2.xlarge": NetworkLimits(interfaces=4, ipv4_per_interface=15),
    "inf2.8xlarge": NetworkLimits(interfaces=8, ipv4_per_interface=30),
    "inf2.24xlarge": NetworkLimits(interfaces=15, ipv4_per_interface=50),
    "inf2.48xlarge": NetworkLimits(interfaces=15, ipv4_per_interface=50),
}

# DaemonSets that run on every inference node, with the requests they make (millicores, MiB).
# An ESTIMATE, rounded up: where a component's default requests are known they are used, where it
# sets none a small amount is assumed so the fit check errs on the safe side. Check on a live node
# with `kubectl describe node <inf2 node>` ("Non-terminated Pods") and adjust here.
DAEMONSET_OVERHEAD: tuple[tuple[str, int, int], ...] = (
    ("aws-node (VPC CNI + network policy agent)", 50, 64),
    ("kube-proxy", 100, 64),
    ("eks-pod-identity-agent", 25, 64),
    ("ebs-csi-node", 30, 120),
    ("fsx-csi-node", 30, 120),
    ("neuron-device-plugin", 10, 64),
)


def max_pods(instance_type: str) -> int:
    """ENI-limited max pods (VPC CNI): interfaces * (IPv4 per interface - 1) + 2 (Karpenter's ENILimitedPods)."""
    net = INF2_NETWORK[instance_type]
    return net.interfaces * (net.ipv4_per_interface - 1) + 2


def kube_reserved_cpu_millis(vcpu: int) -> int:
    """kube-reserved cpu: 6% of the first core, 1% of the second, 0.5% of cores 3-4, 0.25% above
    (Karpenter's kubeReservedResources, the same ranges as the EKS AMI)."""
    millis = vcpu * 1000
    reserved = 0.0
    for start, end, share in ((0, 1000, 0.06), (1000, 2000, 0.01), (2000, 4000, 0.005), (4000, 1 << 31, 0.0025)):
        if millis >= start:
            reserved += (min(millis, end) - start) * share
    return int(reserved)


def kube_reserved_memory_mib(instance_type: str) -> int:
    """kube-reserved memory: 11 MiB per pod the node may run, plus 255 MiB (EKS AMI and Karpenter)."""
    return 11 * max_pods(instance_type) + 255


def memory_capacity_mib(instance_type: str) -> int:
    """Memory Karpenter assumes the node reports: the instance memory less the VM overhead (rounded up)."""
    total = INF2_TYPES[instance_type].memory_gib * 1024
    return total - math.ceil(total * VM_MEMORY_OVERHEAD)  # rounded up, as Karpenter does


@dataclass(frozen=True)
class Resources:
    """A set of Kubernetes resources: a pod's requests, or what a node has left for pods."""

    neuron_devices: int
    cpu_millis: int
    memory_mib: int

    def as_kubernetes(self) -> dict[str, str]:
        """The same amounts as a Kubernetes resource list (requests, allocatable)."""
        return {
            "cpu": f"{self.cpu_millis}m",
            "memory": f"{self.memory_mib}Mi",
            NEURON_RESOURCE: str(self.neuron_devices),
        }


# The extended resource the Neuron device plugin advertises for whole Inferentia2 chips.
NEURON_RESOURCE = "aws.amazon.com/neuron"


def allocatable(instance_type: str) -> Resources:
    """What pods other than the DaemonSets can request on an empty node of this type: capacity less
    kube-reserved, the eviction threshold and the DaemonSet estimate (system-reserved is not set)."""
    t = INF2_TYPES[instance_type]
    ds_cpu = sum(cpu for _, cpu, _ in DAEMONSET_OVERHEAD)
    ds_mem = sum(mem for _, _, mem in DAEMONSET_OVERHEAD)
    return Resources(
        neuron_devices=t.neuron_devices,
        cpu_millis=t.vcpu * 1000 - kube_reserved_cpu_millis(t.vcpu) - ds_cpu,
        memory_mib=memory_capacity_mib(instance_type)
        - kube_reserved_memory_mib(instance_type)
        - EVICTION_HARD_MEMORY_MIB
        - ds_mem,
    )


# Neuron compilation of a ~7B model needs host memory an inf2.xlarge (16 GiB) does not have (Neuron docs;
# the compile Job therefore runs on a size with at least this much).
COMPILE_MIN_HOST_MEMORY_GIB = 64

# Serving pod sizing (docs/performance.md, "Memory of the serving pod"). vLLM on Neuron keeps the weights and
# the KV cache in device memory; host memory holds the runtime (Python, torch, vLLM, NxD Inference, the
# tokenizer, the scheduler) and the weights on their way to the device. The compile Job stores the weights
# pre-sharded per rank with the artifacts (vllm.server.NEURON_CONFIG, `save_sharded_checkpoint`). NxD
# Inference's `load_weights` opens every local rank's `weights/tp<rank>_sharded_checkpoint.safetensors` with
# safetensors before it initializes the device model: the shards are memory-mapped files, so their pages are
# clean page cache the kernel reclaims under the cgroup limit (re-reading them from FSx) rather than
# anonymous memory that would get the pod killed. The limit covers the anonymous runtime plus one rank's shard
# resident at a time, with a margin. Evidence: the published bf16 weight size (KNOWN_MODELS); the reference
# workshop loading Mistral-7B at TP 2 on inf2.xlarge (16 GiB host, the whole 14.5 GB cannot have been
# anonymous there). The runtime figure is an ESTIMATE: confirm the peak on a real node (`kubectl top pod`
# during the load, docs/performance.md) and raise it here if the pod is OOM-killed while loading.
SERVING_RUNTIME_HOST_GIB = 3.0  # estimate: the serving process before any weights
SERVING_MEMORY_MARGIN = 1.25  # headroom over the computed peak (page tables, tokenizer caches, allocator slack)
DEFAULT_WEIGHTS_GB = 15.0  # a ~7B model in bf16, for models not in KNOWN_MODELS
SERVING_CPU_MILLIS_PER_DEVICE = 3000


def load_peak_host_gib(tensor_parallel_size: int, model_id: str | None = None) -> float:
    """Host memory (GiB) a serving pod peaks at while it loads: runtime plus one rank's weight shard."""
    facts = KNOWN_MODELS.get(model_id or "")
    weights_gib = (facts.weights_gb if facts else DEFAULT_WEIGHTS_GB) * 1e9 / 2**30
    return SERVING_RUNTIME_HOST_GIB + weights_gib / max(tensor_parallel_size, 1)


def serving_pod_requests(tensor_parallel_size: int, model_id: str | None = None) -> Resources:
    """The requests of one vLLM serving pod at this tensor-parallel degree (VllmNeuronServer uses these):
    whole Neuron devices, 3 vCPUs per device, and memory from the load peak (rounded up to 256 MiB)."""
    devices = neuron_devices_for(tensor_parallel_size)
    memory_mib = load_peak_host_gib(tensor_parallel_size, model_id) * SERVING_MEMORY_MARGIN * 1024
    return Resources(
        neuron_devices=devices,
        cpu_millis=SERVING_CPU_MILLIS_PER_DEVICE * devices,
        memory_mib=math.ceil(memory_mib / 256) * 256,
    )


# --- The KV cache in device memory (prefix caching, vllm/server.py) ---------------------------------------
# NxD Inference's block KV layout (`pa_block_size`, `pa_num_blocks`): block size 32 is the Neuron
# recommendation; at least max_num_seqs * max_model_len / block_size blocks are required, and more blocks keep
# more conversation prefixes cached (NxD Inference feature guide, "Prefix Caching Support", aws-neuron-sdk).
KV_BLOCK_SIZE = 32
KV_BLOCKS_PER_MINIMUM = 4  # cap: beyond 4x the minimum the hit rate of a 4-sequence chat pod hardly grows


def kv_block_bytes(facts: ModelFacts, tensor_parallel_size: int) -> int:
    """Device bytes of one KV-cache block over all ranks: `kv_cache_gb`'s per-token size x KV_BLOCK_SIZE."""
    return round(kv_cache_gb(facts, tensor_parallel_size, KV_BLOCK_SIZE, 1) * 1e9)


def kv_blocks_minimum(max_model_len: int, max_num_seqs: int) -> int:
    """Blocks NxD Inference requires: every sequence at full length."""
    return math.ceil(max_model_len / KV_BLOCK_SIZE) * max_num_seqs


def kv_blocks_fit(facts: ModelFacts, tensor_parallel_size: int) -> int:
    """Blocks that fit the pod's device memory after the weights and the runtime reserve (the same usable
    memory config validation checks the minimum against: DEVICE_MEMORY_RESERVE)."""
    usable = device_memory_gb(tensor_parallel_size) * (1 - DEVICE_MEMORY_RESERVE) - facts.weights_gb
    return max(int(usable * 1e9 // kv_block_bytes(facts, tensor_parallel_size)), 0)


def kv_cache_blocks(model_id: str | None, tensor_parallel_size: int, max_model_len: int, max_num_seqs: int) -> int:
    """The KV-cache blocks a serving pod allocates: as many as fit device memory, at most 4x the minimum, and
    never fewer than the minimum (config validation refuses a shape whose minimum does not fit). A model
    whose shape is not in KNOWN_MODELS gets the minimum: its block size in bytes is unknown here."""
    minimum = kv_blocks_minimum(max_model_len, max_num_seqs)
    facts = KNOWN_MODELS.get(model_id or "")
    if facts is None or not facts.hidden_layers:
        return minimum
    return max(minimum, min(kv_blocks_fit(facts, tensor_parallel_size), KV_BLOCKS_PER_MINIMUM * minimum))


@dataclass(frozen=True)
class Fit:
    """How many pods of one shape an empty node of one type can host, and why not when none."""

    instance_type: str
    pods: int
    reason: str = ""


def fit(requests: Resources, instance_type: str) -> Fit:
    """Whether (and how many times) a pod with these requests fits an empty node of this type.

    Multi-chip pods must take every chip of the node: the Neuron scheduler extension, which alone
    guarantees that a pod's chips are neighbours on the ring, is not deployed (see
    InferentiaNodePool), and a pod that owns the whole ring needs no such guarantee.
    """
    room = allocatable(instance_type)
    short = []
    if requests.neuron_devices > room.neuron_devices:
        short.append(f"{requests.neuron_devices} Neuron devices > {room.neuron_devices}")
    elif 1 < requests.neuron_devices < room.neuron_devices:
        short.append(
            f"{requests.neuron_devices} of its {room.neuron_devices} Neuron devices: a multi-device pod must take "
            "them all (contiguous devices would need the Neuron scheduler extension, not deployed)"
        )
    if requests.cpu_millis > room.cpu_millis:
        short.append(f"cpu {requests.cpu_millis}m > allocatable {room.cpu_millis}m")
    if requests.memory_mib > room.memory_mib:
        short.append(f"memory {requests.memory_mib}Mi > allocatable {room.memory_mib}Mi")
    if short:
        return Fit(instance_type, 0, "; ".join(short))
    pods = min(
        room.neuron_devices // requests.neuron_devices if requests.neuron_devices else max_pods(instance_type),
        room.cpu_millis // max(requests.cpu_millis, 1),
        room.memory_mib // max(requests.memory_mib, 1),
    )
    return Fit(instance_type, pods)


def fit_report(requests: Resources, instance_types: list[str] | tuple[str, ...]) -> list[Fit]:
    """`fit` for each allowed instance type, in order."""
    return [fit(requests, t) for t in instance_types]


def pool_devices_needed(requests: Resources, replicas: int, instance_types: list[str] | tuple[str, ...]) -> int:
    """The smallest Neuron-device ceiling (NodePool limit, counted on node capacity) that lets Karpenter
    launch nodes for `replicas` such pods, using the cheapest-in-devices allowed type; 0 if none fits."""
    best = 0
    for f in fit_report(requests, instance_types):
        if f.pods:
            nodes = -(-replicas // f.pods)
            need = nodes * INF2_TYPES[f.instance_type].neuron_devices
            best = need if not best else min(best, need)
    return best


def pool_limits(instance_types: list[str] | tuple[str, ...], max_neuron_devices: int) -> dict[str, str]:
    """NodePool limits whose binding ceiling is the Neuron device count: cpu and memory are the most
    any allowed type brings per device, times the device ceiling, so they never bind first."""
    types = [INF2_TYPES[t] for t in instance_types]
    cpu_per_device = max(t.vcpu // t.neuron_devices for t in types)
    mem_per_device = max(t.memory_gib // t.neuron_devices for t in types)
    return {
        "cpu": str(cpu_per_device * max_neuron_devices),
        "memory": f"{mem_per_device * max_neuron_devices}Gi",
        NEURON_RESOURCE: str(max_neuron_devices),
    }


# --- Start-up of a serving replica (the budget the render reports, offline/budget.py) -----------------
# Targets: a new replica on a node that already runs is ready within TARGET_WARM_NODE_S. Of that, these
# phases are fixed estimates; what is left is the time the weights may take to come off FSx.
TARGET_WARM_NODE_S = 120
POD_START_S = 15  # estimate: scheduling, sandbox, FSx CSI mount of an existing volume
ARTIFACT_LOAD_S = 45  # estimate: compiled NEFFs and pre-sharded weights onto the NeuronCores
WARM_UP_S = 30  # estimate: vLLM Neuron warm-up before /health is ready
WEIGHT_READ_BUDGET_S = TARGET_WARM_NODE_S - POD_START_S - ARTIFACT_LOAD_S - WARM_UP_S
SCRATCH_2_MB_S_PER_TIB = 200  # FSx for Lustre docs: SCRATCH_2 baseline throughput
# FSx for Lustre docs ("Amazon FSx for Lustre performance"): the PERSISTENT_2 tiers, MB/s per TiB of storage.
FSX_PERSISTENT_2_THROUGHPUTS = (125, 250, 500, 1000)
# The default tier (library and stack config): at 1200 GiB, 500 MB/s per TiB feeds one replica's ~15 GB of
# weights in ~25 s, inside WEIGHT_READ_BUDGET_S; 250 takes about 50 s.
DEFAULT_THROUGHPUT_PER_TIB = 500


def fsx_throughput_mb_s(deployment_type: str, capacity_gib: int, per_tib: int | None) -> float:
    """Baseline throughput of the whole file system (MB/s): capacity in TiB times the per-TiB tier."""
    tier = SCRATCH_2_MB_S_PER_TIB if deployment_type == "SCRATCH_2" else (per_tib or 0)
    return capacity_gib / 1024 * tier


def weight_read_seconds(weights_gb: float, fsx_mb_s: float, loading_pods: int) -> float:
    """Seconds for each of `loading_pods` pods reading the weights at once (they share the throughput)."""
    return weights_gb * 1000 / (fsx_mb_s / max(loading_pods, 1))
