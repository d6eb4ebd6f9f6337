"""The compile-once Job: vLLM started once on a node of the right size, to fill the artifact cache for this
configuration; a present marker makes it a no-op, and a new configuration (a new key) a new Job."""

import hashlib
import shlex
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pulumi
import pulumi_kubernetes as k8s

from ..hardware import COMPILE_MIN_HOST_MEMORY_GIB, INF2_TYPES, serving_pod_requests
from ..kube import DNS_EGRESS, network_policy_spec
from .pod_spec import (
    COMPLETE_MARKER,
    FAILED_FILE,
    LEASE_FILE,
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
# The longest a compile host runs (its watchdog ends it then) and so the longest its lease holds the Job back:
# the image pull and model download, a compilation within COMPILE_BUDGET_S, the upload.
HOST_DEADLINE_S = 2 * 3600
JOB_DEADLINE_S = MODEL_WAIT_S + HOST_DEADLINE_S + COMPILE_BUDGET_S


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


def compile_server_command(args: "VllmNeuronServerArgs", model_dir: str) -> str:
    """The vLLM server the compilation runs: the serving arguments, on loopback (the same in the Job and on
    the compile host, so both write the same artifacts)."""
    tp = args["tensor_parallel_size"]
    return shlex.join(
        [
            *SERVER_COMMAND,
            *vllm_args(
                model_dir,
                args["served_model_name"],
                tp,
                args["max_model_len"],
                args["max_num_seqs"],
                num_gpu_blocks(args["model_id"], tp, args["max_model_len"], args["max_num_seqs"]),
                host="127.0.0.1",
            ),
        ]
    )


# While a compile host (NeuronCompileHost) holds the lease of this key's directory, the Job waits for its
# marker instead of compiling the same thing: until the lease's deadline (the host's watchdog ends it by
# then), unless the host recorded a failure. A stale lease or a failure: the Job compiles, as without a host.
LEASE_WAIT = f"""lease="$dir/{LEASE_FILE}"
while [ -f "$lease" ] && [ ! -f "$dir/{FAILED_FILE}" ] && [ ! -f "$dir/{COMPLETE_MARKER}" ]; do
  deadline=$(python3 -c 'import json, sys; print(int(json.load(open(sys.argv[1]))["deadline"]))' "$lease" \\
    2>/dev/null || echo 0)
  [ "$(date +%s)" -lt "$deadline" ] || {{ echo "the compile host's lease ended at $deadline: compiling here"; break; }}
  echo "a compile host holds the lease of $dir until $deadline: waiting for its marker"; sleep 30
done
if [ -f "$dir/{COMPLETE_MARKER}" ]; then echo "compiled artifacts present in $dir (compile host)"; exit 0; fi
"""


# The Job compiling (no lease when it looked, or a stale one) leaves its own, without a deadline (the wait above
# reads it as ended): auto export copies it to the bucket, where a compile host launched late finds it and leaves
# the key to the Job instead of compiling it too and uploading over the Job's files.
JOB_LEASE = f"""printf '{{"owner": "job", "startedAt": %s}}\\n' "$(date +%s)" >"$dir/{LEASE_FILE}"
"""


def compile_script(server: str, lease: bool) -> str:
    """The compilation in the serving image: a present marker makes it a no-op; otherwise vLLM compiles into
    $NEURON_COMPILED_ARTIFACTS, and once it serves the marker is written. `lease`: first wait while a compile
    host holds the directory's lease (the in-cluster Job; the host itself does not)."""
    return f"""set -eu
dir="$NEURON_COMPILED_ARTIFACTS"
if [ -f "$dir/{COMPLETE_MARKER}" ]; then echo "compiled artifacts present in $dir: nothing to do"; exit 0; fi
{LEASE_WAIT if lease else ""}mkdir -p "$dir"  # as uid 1000, the cache root's owner (kubelet would create it as root)
find "$dir" -mindepth 1 -delete  # a partial compile from an interrupted run
{JOB_LEASE if lease else ""}{server} &
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
    server = compile_server_command(args, parts.model_dir)
    script = compile_script(server, lease=True)
    # Its own name label: the serving selector (name + instance) must not match the Job's pods, which stay
    # a week after they finish (a PDB over pods it cannot count blocks drains; a Service would route to
    # them). So they get their own default-deny policy: no caller, DNS only.
    job_labels = {**labels, "app.kubernetes.io/name": "vllm-compile", "app.kubernetes.io/component": "neuron-compile"}
    job_selector = {k: job_labels[k] for k in ("app.kubernetes.io/name", "app.kubernetes.io/instance")}
    k8s.networking.v1.NetworkPolicy(
        f"{name}-compile-netpol",
        metadata={"name": f"{name}-compile", "namespace": args["namespace"], "labels": job_labels},
        spec=network_policy_spec(job_selector, egress=[DNS_EGRESS]),
        opts=pulumi.ResourceOptions(parent=parent),
    )
    job_hash = hashlib.sha256(key.encode()).hexdigest()[:10]  # a new key, a new Job
    return k8s.batch.v1.Job(
        f"{name}-compile",
        metadata={"name": f"{name}-compile-{job_hash}", "namespace": args["namespace"], "labels": job_labels},
        spec={
            "backoffLimit": 1,
            "activeDeadlineSeconds": JOB_DEADLINE_S,
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
            custom_timeouts=pulumi.CustomTimeouts(create=f"{JOB_DEADLINE_S // 60}m"),
        ),
    )
