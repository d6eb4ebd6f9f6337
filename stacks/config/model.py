"""The `model` section: which model, how vLLM serves it, and the checks that tie it to the hardware.

Cross-field rules: the tensor-parallel degree against the pool's instance types and the model's attention
heads, the serving pod against what a node can host, the weights plus KV cache against the devices' memory,
and the file system's throughput against the fleet's start-up budget.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from inferentia_chat import versions
from inferentia_chat.hardware import (
    COMPILE_MIN_HOST_MEMORY_GIB,
    DEVICE_MEMORY_RESERVE,
    INF2_TP_DEGREES,
    INF2_TYPES,
    KNOWN_MODELS,
    SCRATCH_2_MB_S_PER_TIB,
    WEIGHT_READ_BUDGET_S,
    ModelFacts,
    device_memory_gb,
    fit_report,
    fsx_throughput_mb_s,
    kv_cache_gb,
    pool_devices_needed,
    serving_pod_requests,
    types_that_fit_tp,
    weight_read_seconds,
)

from .fields import _MISSING, _Problems, _Section
from .operations import _autoscaling
from .rules import MODEL_ID, REVISION, S3_URI, SERVED_NAME, has_dot_segment, matches
from .schema import CONFIG_NAMESPACE, MAX_MODELS, InferencePoolConfig, ModelConfig, ModelStoreConfig


def _model(s: _Section, pool: InferencePoolConfig, role: str) -> ModelConfig:
    model_id = s.string(
        "id",
        versions.MODEL_ID,
        pattern=MODEL_ID,
        allowed="must be a Hugging Face id such as org/model: letters, digits, _ . -, no -- or .. (at most 96)",
    )
    if model_id is not None and len(model_id) > 96:
        s.problems.add(s.key("id"), model_id, "must be at most 96 characters (Hugging Face repo ids)")
        model_id = None
    revision = s.string(
        "revision",
        versions.MODEL_REVISION,
        pattern=REVISION,
        allowed="must be a commit SHA (40 hex digits) or a tag/branch name (no '..', not starting with '.')",
    )
    source = s.string("source", "huggingface", allowed="must be huggingface or an s3:// URI")
    if source is not None and source != "huggingface" and (not matches(S3_URI, source) or has_dot_segment(source[5:])):
        s.problems.add(
            s.key("source"), source, "must be huggingface or an s3:// URI such as s3://bucket/models/x/ (no '..')"
        )
        source = None
    served = s.string(
        "servedName",
        "mistral-7b-instruct",
        pattern=SERVED_NAME,
        allowed="must be lowercase letters, digits, '.', '_' or '-' (at most 64)",
    )
    tp = s.integer("tensorParallelSize", 2)
    if tp not in INF2_TP_DEGREES:
        s.problems.add(
            s.key("tensorParallelSize"), tp, f"must be one of {', '.join(map(str, INF2_TP_DEGREES))} (Inf2 TP degrees)"
        )
    elif not types_that_fit_tp(tp, pool.instance_types):
        cores = ", ".join(f"{t} has {INF2_TYPES[t].neuron_cores}" for t in pool.instance_types)
        s.problems.add(
            s.key("tensorParallelSize"),
            tp,
            f"needs {tp} NeuronCores on one node but no allowed instance type has that many ({cores}); "
            "lower it or add a larger type to inferencePool.instanceTypes",
        )
    facts = KNOWN_MODELS.get(model_id or "")
    if facts and tp in INF2_TP_DEGREES and facts.attention_heads % tp:
        s.problems.add(
            s.key("tensorParallelSize"),
            tp,
            f"must divide the model's {facts.attention_heads} attention heads",
        )
    replicas = s.integer("replicas", 0 if role == "dr" else 1, minimum=0, maximum=64)
    autoscaling = _autoscaling(s.section("autoscaling")) if s.has("autoscaling") else None
    if autoscaling is not None:
        if s.has("replicas"):
            s.problems.add(
                s.key("replicas"),
                replicas,
                "does not apply with autoscaling (the scaler owns the replica count): remove it and set "
                "autoscaling.minReplicas and maxReplicas",
            )
        replicas = autoscaling.min_replicas
    compile_job = s.boolean("compileJob", True)
    compile_host = _compile_host(s, role, compile_job)
    if tp in INF2_TP_DEGREES and types_that_fit_tp(tp, pool.instance_types):
        _check_fit(s, tp, replicas, pool, compile_job, model_id)
    max_len = s.integer("maxModelLen", 8192, minimum=128, maximum=131072, allowed="(tokens)")
    if facts and max_len > facts.max_context:
        s.problems.add(s.key("maxModelLen"), max_len, f"must be at most the model's context of {facts.max_context}")
    max_seqs = s.integer("maxNumSeqs", 4, minimum=1, maximum=256, allowed="(concurrent sequences per replica)")
    if facts and facts.hidden_layers and tp in INF2_TP_DEGREES:
        _check_kv_cache(s, facts, tp, max_len, max_seqs)
    if compile_job and tp in INF2_TP_DEGREES:
        big = [
            t
            for t in pool.instance_types
            if t in INF2_TYPES and INF2_TYPES[t].memory_gib >= COMPILE_MIN_HOST_MEMORY_GIB
        ]
        if not big:
            s.problems.add(
                s.key("compileJob"),
                True,
                f"compiling needs an inf2 type with >= {COMPILE_MIN_HOST_MEMORY_GIB} GiB host memory in "
                f"inferencePool.instanceTypes (e.g. inf2.8xlarge; {', '.join(pool.instance_types)} are too small), "
                "or set compileJob: false to let serving pods compile on first start",
            )
    s.finish()
    return ModelConfig(
        id=model_id or versions.MODEL_ID,
        revision=revision or versions.MODEL_REVISION,
        source=source or "huggingface",
        served_name=served or "mistral-7b-instruct",
        tensor_parallel_size=tp,
        max_model_len=max_len,
        max_num_seqs=max_seqs,
        replicas=replicas,
        compile_job=compile_job,
        compile_host=compile_host,
        autoscaling=autoscaling,
    )


def _compile_host(s: _Section, role: str, compile_job: bool) -> bool:
    """`compileHost`: on by default where the compile Job runs on a primary stack. A DR stack links the replica
    read-only (the primary's artifacts replicate there); without the compile Job, serving pods never wait for
    artifacts, so a host would race them."""
    host = s.boolean("compileHost", compile_job and role != "dr")
    if host and role == "dr":
        s.problems.add(
            s.key("compileHost"),
            True,
            "must be false on a DR stack (its bucket is the read-only replica; the primary's artifacts replicate)",
        )
        return False
    if host and not compile_job:
        s.problems.add(
            s.key("compileHost"),
            True,
            "needs compileJob: true (serving pods wait for compiled artifacts only with it); set compileHost: false",
        )
        return False
    return host


def _check_kv_cache(s: _Section, facts: ModelFacts, tp: int, max_len: int, max_seqs: int) -> None:
    """The weights and the KV cache of maxModelLen x maxNumSeqs tokens must fit the devices' memory at this TP."""
    kv = kv_cache_gb(facts, tp, max_len, max_seqs)
    memory = device_memory_gb(tp)
    usable = memory * (1 - DEVICE_MEMORY_RESERVE)
    if facts.weights_gb + kv > usable:
        s.problems.add(
            s.key("maxNumSeqs"),
            max_seqs,
            f"the KV cache of maxModelLen {max_len} x maxNumSeqs {max_seqs} takes {kv:.1f} GB; with "
            f"{facts.weights_gb} GB of weights that exceeds the {usable:.1f} GB usable of the {memory:.1f} GB "
            f"device memory at tensorParallelSize {tp}; lower maxModelLen or maxNumSeqs, or raise tensorParallelSize",
        )


def _check_fit(
    s: _Section,
    tp: int,
    replicas: int,
    pool: InferencePoolConfig,
    compile_job: bool,
    model_id: str | None,
) -> None:
    """The serving pod at this TP must fit an allowed instance type (after kubelet reservations and
    DaemonSets). The pool's device ceiling, shared by every model, is `_device_budget`'s."""
    report = fit_report(serving_pod_requests(tp, model_id), pool.instance_types)
    if not any(f.pods for f in report):
        why = "; ".join(f"{f.instance_type}: {f.reason}" for f in report)
        s.problems.add(
            s.key("tensorParallelSize"),
            tp,
            f"{_pod_wanted(tp, model_id)}, which no allowed instance type can host ({why}); change it or "
            "inferencePool.instanceTypes",
        )


def _pod_wanted(tp: int, model_id: str | None) -> str:
    requests = serving_pod_requests(tp, model_id)
    return (
        f"a serving pod at tensorParallelSize {tp} requests {requests.neuron_devices} Neuron device(s), "
        f"{requests.cpu_millis}m cpu and {requests.memory_mib}Mi memory"
    )


def _models(
    raw: Mapping[str, Any], pool: InferencePoolConfig, role: str, problems: _Problems
) -> list[tuple[str, ModelConfig]]:
    """`inferentia-chat:models` (a list of model entries) or the one-model shorthand `inferentia-chat:model`;
    each entry is parsed by `_model`. Returns (config key, model) pairs, the first model first."""
    if "model" in raw and "models" in raw:
        problems.add(
            f"{CONFIG_NAMESPACE}:models",
            raw["models"],
            f"set either {CONFIG_NAMESPACE}:model (one model) or {CONFIG_NAMESPACE}:models (a list), not both",
        )
    if "models" not in raw:
        key = f"{CONFIG_NAMESPACE}:model"
        return [(key, _model(_Section(key, raw.get("model", _MISSING), problems), pool, role))]
    entries = raw["models"]
    if not isinstance(entries, list) or not entries or len(entries) > MAX_MODELS:
        problems.add(
            f"{CONFIG_NAMESPACE}:models",
            entries,
            f"must be a list of 1 to {MAX_MODELS} model entries (each with the keys of {CONFIG_NAMESPACE}:model)",
        )
        entries = [{}]
    models = [
        (key, _model(_Section(key, entry, problems), pool, role))
        for key, entry in ((f"{CONFIG_NAMESPACE}:models[{i}]", entry) for i, entry in enumerate(entries))
    ]
    first: dict[str, str] = {}
    for key, m in models:
        if m.served_name in first:
            problems.add(
                f"{key}.servedName",
                m.served_name,
                f"must be unique: {first[m.served_name]} serves this name already (clients pick a model by it)",
            )
        else:
            first[m.served_name] = key
    return models


def _device_budget(models: list[tuple[str, ModelConfig]], pool: InferencePoolConfig, problems: _Problems) -> None:
    """The pool's device ceiling must let Karpenter launch nodes for every pod of every model that can run
    at once. `models` pairs each model with its config key (model, or models[i])."""
    needed, parts = 0, []
    for key, m in models:
        tp = m.tensor_parallel_size
        # With autoscaling the most replicas at once is maxReplicas (a rollout can start at the peak).
        most = m.autoscaling.max_replicas if m.autoscaling is not None else m.replicas
        source = "autoscaling.maxReplicas" if m.autoscaling is not None else "replicas"
        if not most or tp not in INF2_TP_DEGREES or not types_that_fit_tp(tp, pool.instance_types):
            continue
        requests = serving_pod_requests(tp, m.id)
        if not any(f.pods for f in fit_report(requests, pool.instance_types)):
            continue  # refused by the fit check already
        # At once, during a change that needs new compiled artifacts: the old replicas keep serving, the
        # rolling update's extra pod already holds its node (it waits in an init container for the
        # artifacts), and the compile Job needs one more. A ceiling without room for all of them deadlocks:
        # the Job never gets a node, so the new pod never starts, so the old ones never go. Several models
        # may roll out in the same `pulumi up`, so their needs add up.
        pods = most + 1 + (1 if m.compile_job else 0)  # the compile pod counted like a serving pod
        needed += pool_devices_needed(requests, pods, pool.instance_types)
        extra = " and the compile Job" if m.compile_job else ""
        name = key.removeprefix(f"{CONFIG_NAMESPACE}:")
        parts.append(
            f"{most} replica(s) of {_pod_wanted(tp, m.id)}, plus one more pod during rolling updates{extra} "
            f"({name}.{source} = {most}, {name}.compileJob = {str(m.compile_job).lower()})"
        )
    if needed > pool.max_neuron_devices:
        lower = " or ".join(
            f"{k.removeprefix(f'{CONFIG_NAMESPACE}:')}.{'autoscaling.maxReplicas' if m.autoscaling else 'replicas'}"
            for k, m in models
        )
        problems.add(
            f"{CONFIG_NAMESPACE}:inferencePool.maxNeuronDevices",
            pool.max_neuron_devices,
            f"must be at least {needed}: {'; '.join(parts)}, need nodes with {needed} Neuron device(s) in all; "
            f"raise it or lower {lower}",
        )


def _fleet_throughput(store: ModelStoreConfig, models: list[ModelConfig], problems: _Problems) -> list[str]:
    """Can the file system feed every serving pod (of every model) loading its weights at once within the
    start-up budget? A warning by default; an error with modelStore.throughputCheck: error."""
    known = [(m, KNOWN_MODELS[m.id]) for m in models if m.id in KNOWN_MODELS]
    if not known:
        return []
    pods = sum(max(m.replicas, 1) for m in models)
    # All pods share the file system's throughput: the last one is done when all of the weights are read.
    total_gb = sum(facts.weights_gb * max(m.replicas, 1) for m, facts in known)
    mb_s = fsx_throughput_mb_s(store.deployment_type, store.storage_capacity_gib, store.throughput_per_tib)
    seconds = weight_read_seconds(total_gb, mb_s, 1)
    if seconds <= WEIGHT_READ_BUDGET_S:
        return []
    message = (
        f"{pods} serving pod(s) reading {total_gb:g} GB of weights at once share {mb_s:.0f} MB/s "
        f"({store.storage_capacity_gib} GiB x {store.throughput_per_tib or SCRATCH_2_MB_S_PER_TIB} MB/s/TiB): "
        f"{seconds:.0f} s, over the {WEIGHT_READ_BUDGET_S} s start-up budget for the weights; raise "
        "modelStore.throughputPerTiB or storageCapacityGiB, or lower the models' replicas"
    )
    if store.throughput_check == "error":
        key = f"{CONFIG_NAMESPACE}:modelStore.throughputPerTiB"
        problems.add(key, store.throughput_per_tib, message + " (modelStore.throughputCheck is error)")
        return []
    return [f"{CONFIG_NAMESPACE}:modelStore.throughputPerTiB: {message}"]
