"""The compile hosts of a primary stack: one per model that compiles outside the cluster (`compileHost`)."""

from __future__ import annotations

from typing import Any

from inferentia_chat.model_names import model_resource_name
from inferentia_chat.model_store import LustreModelStore
from inferentia_chat.network import Network
from inferentia_chat.vllm import NeuronCompileHost, NeuronCompileHostArgs
from stacks.config import StackConfig
from stacks.config.schema import ModelConfig

COMPILE_HOST = "compile-host"


def compiled_shape(cfg: StackConfig, m: ModelConfig) -> dict[str, Any]:
    """The arguments that decide what a model's compilation produces (the artifact key, the server's flags):
    the server and its compile host take them from here, so the host compiles exactly what the pods read."""
    return {
        "model_id": m.id,
        "model_revision": m.revision,
        "served_model_name": m.served_name,
        "tensor_parallel_size": m.tensor_parallel_size,
        "max_model_len": m.max_model_len,
        "max_num_seqs": m.max_num_seqs,
        "instance_types": list(cfg.inference_pool.instance_types),
        "image": cfg.images["vllm"],
    }


def compile_hosts(cfg: StackConfig, network: Network, store: LustreModelStore) -> list[NeuronCompileHost]:
    """A `NeuronCompileHost` per model with `compileHost` on: it needs only the network and the model bucket,
    so its compilation starts minutes into `pulumi up` instead of after the cluster (docs/performance.md).
    The first model's is `compile-host`, every further one `compile-host-<suffix>` (model_names.py)."""
    hosts = []
    for i, m in enumerate(cfg.models):
        if not m.compile_host:
            continue
        args = NeuronCompileHostArgs(
            vpc_id=network.vpc_id,
            subnet_ids=network.private_subnet_ids,
            bucket_name=store.bucket_name,
            bucket_arn=store.bucket_arn,
            bucket_key_arn=store.kms_key_arn,
            bucket_prefix=cfg.model_store.bucket_prefix,
            kubernetes_version=cfg.cluster.kubernetes_version,
            **compiled_shape(cfg, m),
            source=m.source,
            loader_image=cfg.images["modelLoader"],
            tags=cfg.common_tags,
        )
        if cfg.hf_token is not None:
            args["hf_token"] = cfg.hf_token
        hosts.append(NeuronCompileHost(model_resource_name(COMPILE_HOST, m.served_name, i), args))
    return hosts
