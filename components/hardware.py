"""Facts about the accelerators and the model, and the checks that depend on them.

One table of Inferentia2 instance types (AWS EC2 accelerated-computing documentation) and one table of
known models (their Hugging Face config.json). Config validation and the components both read these,
so a number lives in one place.
"""

from __future__ import annotations

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


KNOWN_MODELS: dict[str, ModelFacts] = {
    # config.json: num_attention_heads 32, num_key_value_heads 8, max_position_embeddings 32768;
    # model-0000{1,2,3}-of-00003.safetensors total about 14.5 GB.
    "mistralai/Mistral-7B-Instruct-v0.3": ModelFacts(
        attention_heads=32, kv_heads=8, max_context=32768, weights_gb=14.5
    ),
    "mistralai/Mistral-7B-Instruct-v0.2": ModelFacts(
        attention_heads=32, kv_heads=8, max_context=32768, weights_gb=14.5
    ),
}


def neuron_devices_for(tensor_parallel_size: int) -> int:
    """Neuron devices (chips) a pod must request to get `tensor_parallel_size` NeuronCores."""
    return -(-tensor_parallel_size // NEURON_CORES_PER_DEVICE)


def types_that_fit_tp(tensor_parallel_size: int, instance_types: list[str] | tuple[str, ...]) -> list[str]:
    """The allowed instance types with enough NeuronCores for one pod at this tensor-parallel degree."""
    return [t for t in instance_types if t in INF2_TYPES and INF2_TYPES[t].neuron_cores >= tensor_parallel_size]
