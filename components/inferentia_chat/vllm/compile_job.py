"""The compile-once Job: vLLM started once on a node of the right size, to fill the artifact cache for this
configuration; a present marker makes it a no-op, and a new configuration (a new key) a new Job."""

import hashlib
import shlex
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pulumi
import pulumi_kubernetes as k8s

from ..hardware import COMPILE_MIN_HOST_MEMORY_GIB, INF2_TYPES, serving_pod_requests
from .pod_spec import (
    COMPLETE_MARKER,
    MODEL_WAIT_S,
    PORT,
    SERVER_COMMAND,
    PodParts,
    _resources,
    num_gpu_blocks,
    vllm_args,
)

if TYPE_CHECKING:
    from .server import VllmNeuronServerArgs

COMPILE_BUDGET_S = 90 * 60


def compile_instance_type(tensor_parallel_size: int, instance_types: Sequence[str]) -> str | None:
    """The smallest allowed inf2 type that can compile this shape (host memory and NeuronCores)."""
    able = [
        INF2_TYPES[t]
        for t in instance_types
        if t in INF2_TYPES
        and INF2_TYPES[t].memory_gib >= COMPILE_MIN_HOST_MEMORY_GIB
        and INF2_TYPES[t].neuron_cores >= tensor_parallel_size
    ]
    return min(able, key=lambda t: t.on_demand_usd_per_hour).name if able else None


def compile_job(
    parent: pulumi.Resource,
    name: str,
    args: "VllmNeuronServerArgs",
    parts: PodParts,
    labels: Mapping[str, str],
    key: str,
    upstream: list[pulumi.Resource],
    waits: list[dict[str, Any]],
) -> k8s.batch.v1.Job:
    """A Job that compiles this configuration into the cache, once; a present marker makes it a no-op."""
    tp = args["tensor_parallel_size"]
    instance_type = compile_instance_type(tp, args["instance_types"])
    if instance_type is None:  # config validation refuses this; a direct library caller gets told here
        raise ValueError(
            f"compile_job needs an inf2 type with >= {COMPILE_MIN_HOST_MEMORY_GIB} GiB host memory among "
            f"{list(args['instance_types'])}; add one (e.g. inf2.8xlarge) or set compile_job false"
        )
    spec = INF2_TYPES[instance_type]
    requests = serving_pod_requests(tp, args["model_id"])
    # The compiler's peak is host memory: ask for most of the node so the Job lands on this size.
    memory_mib = int(spec.memory_gib * 1024 * 0.6)
    server = shlex.join(
        [
            *SERVER_COMMAND,
            *vllm_args(
                parts.model_dir,
                args["served_model_name"],
                tp,
                args["max_model_len"],
                args["max_num_seqs"],
                num_gpu_blocks(args["model_id"], tp, args["max_model_len"], args["max_num_seqs"]),
                host="127.0.0.1",
            ),
        ]
    )
    script = f"""set -eu
dir="$NEURON_COMPILED_ARTIFACTS"
if [ -f "$dir/{COMPLETE_MARKER}" ]; then echo "compiled artifacts present in $dir: nothing to do"; exit 0; fi
mkdir -p "$dir"  # as uid 1000, the owner of the cache root (kubelet would create it as root)
find "$dir" -mindepth 1 -delete  # a partial compile from an interrupted run
{server} &
pid=$!
until python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:{PORT}/health', timeout=5)" \\
    2>/dev/null; do
  kill -0 "$pid" 2>/dev/null || {{ echo "vLLM exited before becoming healthy"; wait "$pid"; exit 1; }}
  sleep 15
done
touch "$dir/{COMPLETE_MARKER}"
echo "compiled artifacts written to $dir"
kill -TERM "$pid"; wait "$pid" || true
"""
    job_labels = {**labels, "app.kubernetes.io/component": "neuron-compile"}
    job_hash = hashlib.sha256(key.encode()).hexdigest()[:10]  # a new key, a new Job
    return k8s.batch.v1.Job(
        f"{name}-compile",
        metadata={"name": f"{name}-compile-{job_hash}", "namespace": args["namespace"], "labels": job_labels},
        spec={
            "backoffLimit": 1,
            "activeDeadlineSeconds": COMPILE_BUDGET_S + MODEL_WAIT_S,
            "ttlSecondsAfterFinished": 7 * 24 * 3600,
            "template": {
                "metadata": {"labels": job_labels},
                "spec": {
                    **parts.pod_spec,
                    "nodeSelector": parts.node_selector.apply(
                        lambda s: {**s, "node.kubernetes.io/instance-type": instance_type}
                    ),
                    "restartPolicy": "Never",
                    "initContainers": list(waits),
                    "containers": [
                        {
                            "name": "compile",
                            "image": parts.image,
                            "imagePullPolicy": "IfNotPresent",
                            "command": ["/bin/bash", "-c", script],
                            "env": parts.env,
                            "resources": _resources(requests.neuron_devices, requests.cpu_millis, memory_mib),
                            "securityContext": parts.container_security,
                            "volumeMounts": parts.mounts,
                        }
                    ],
                },
            },
        },
        opts=pulumi.ResourceOptions(
            parent=parent,
            depends_on=upstream,
            custom_timeouts=pulumi.CustomTimeouts(create=f"{(COMPILE_BUDGET_S + MODEL_WAIT_S) // 60}m"),
        ),
    )
