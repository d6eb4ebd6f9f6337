"""VllmNeuronServer: vLLM on AWS Neuron serving the model from FSx, compiled once, reachable only in-cluster.

What the pinned image expects (versions.py VLLM_NEURON_IMAGE: vLLM 0.16.0 with the vllm-neuron
plugin, branch release-0.5.3, on NxD Inference; the Neuron platform is picked up by vLLM's plugin system,
so there is no `--device` flag and no `VLLM_NEURON_FRAMEWORK`):

- `python3 -m vllm.entrypoints.openai.api_server --model <dir> ...` (the image's entrypoint only execs its
  arguments, so the command is set explicitly);
- `NEURON_COMPILED_ARTIFACTS=<dir>`: the plugin loads compiled artifacts from exactly this directory and,
  when there are none, compiles into it. Without it, artifacts go under `<model>/neuron-compiled-artifacts/`,
  a directory the plugin empties first (so nothing would ever be reused) and which would make the weights
  volume writable;
- prefix caching ON (`--enable-prefix-caching --block-size 32 --num-gpu-blocks-override N`): the plugin then
  compiles NxD Inference's block KV layout (`is_prefix_caching`, `is_block_kv_layout`, `pa_block_size`,
  `pa_num_blocks` from those flags), and a chat turn re-uses the KV cache of the conversation so far. With it
  off the plugin sets the block size to max-model-len and ignores both numbers. N is sized to device memory
  (hardware.kv_cache_blocks). Evidence: docs/performance.md, "Prefix caching".

Compile once: the artifacts live on the shared FSx volume under a key made of model, revision, Neuron SDK,
tensor-parallel size, max-model-len, max-num-seqs and the KV layout (`compiled_artifacts_key`). A compile
Job, on an inf2 size with enough host memory, fills the key's directory before the Deployment exists; serving
pods then only load. The data repository association exports the directory to S3, and the DR stack replicates it.
"""

import hashlib
import re
import shlex
from collections.abc import Mapping, Sequence
from typing import Any, NotRequired, TypedDict

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from . import versions
from .hardware import (
    COMPILE_MIN_HOST_MEMORY_GIB,
    INF2_TYPES,
    KV_BLOCK_SIZE,
    NEURON_RESOURCE,
    kv_cache_blocks,
    serving_pod_requests,
)
from .kube import DNS_EGRESS, network_policy_spec
from .model_store import model_fetch
from .options import outer_dependencies

TYPE = "inferentia-chat:index:VllmNeuronServer"

PORT = 8000
SERVER_COMMAND = ("python3", "-m", "vllm.entrypoints.openai.api_server")
API_KEY_SECRET_KEY = "api-key"
COMPLETE_MARKER = ".complete"  # written by the compile Job once vLLM served from the new artifacts
# uid/gid 1000 is the image's `ubuntu` user (Ubuntu 24.04 base): a name in /etc/passwd keeps torch's
# getpass-based cache paths working. Every writer to the shared volume uses the same ids.
RUN_AS = 1000
# Loading ~15 GB of weights plus compiled artifacts from FSx takes minutes; compiling a 7B model on first
# start takes 10-20 more (Neuron docs and the reference workshop). The startup budget covers the case the
# configuration allows: load only when a compile Job fills the cache first, compile too otherwise.
STARTUP_BUDGET_LOAD_S = 20 * 60
STARTUP_BUDGET_COMPILE_S = 60 * 60
# In-flight generations finish within this after SIGTERM (uvicorn drains open requests); endpoints are
# removed first (preStop sleep) so no new request arrives on a terminating pod.
TERMINATION_GRACE_S = 300
PRESTOP_SLEEP_S = 15
COMPILE_BUDGET_S = 90 * 60
MODEL_WAIT_S = 60 * 60  # the longest a pod waits for the model to be loaded


def compiled_artifacts_key(
    model_id: str, revision: str, neuron_sdk: str, tensor_parallel_size: int, max_model_len: int, max_num_seqs: int
) -> str:
    """The cache directory (relative to the cache root) of one compiled configuration.

    Artifacts are only valid for the same weights, Neuron SDK and shapes, so all of those are in the key,
    with the KV layout they were compiled for (prefix caching, block size, number of blocks); the same
    configuration always yields the same key (in every pod and every region).
    """
    model = re.sub(r"[^A-Za-z0-9._-]+", "--", model_id)
    blocks = num_gpu_blocks(model_id, tensor_parallel_size, max_model_len, max_num_seqs)
    return (
        f"{model}/{revision[:12]}/neuron-sdk-{neuron_sdk}/"
        f"tp{tensor_parallel_size}-len{max_model_len}-seqs{max_num_seqs}-prefix-block{KV_BLOCK_SIZE}x{blocks}"
    )


def num_gpu_blocks(model_id: str, tensor_parallel_size: int, max_model_len: int, max_num_seqs: int) -> int:
    """KV-cache blocks the plugin allocates (`--num-gpu-blocks-override`, NxD Inference `pa_num_blocks`)."""
    return kv_cache_blocks(model_id, tensor_parallel_size, max_model_len, max_num_seqs)


# NxD Inference options (`--additional-config`): store pre-sharded weights with the compiled artifacts,
# so serving pods load one shard per NeuronCore instead of the whole checkpoint through host memory
# (an inf2.xlarge has 16 GiB). Ignored by a pod that loads existing artifacts (they carry it already).
NEURON_CONFIG = '{"override_neuron_config": {"save_sharded_checkpoint": true}}'


def vllm_args(
    model_dir: str,
    served_name: str,
    tensor_parallel_size: int,
    max_model_len: int,
    max_num_seqs: int,
    kv_blocks: int,
    host: str = "0.0.0.0",
) -> list[str]:
    """The OpenAI server's arguments (the API key comes from VLLM_API_KEY, never an argument)."""
    return [
        "--model",
        model_dir,
        "--served-model-name",
        served_name,
        "--tensor-parallel-size",
        str(tensor_parallel_size),
        "--max-model-len",
        str(max_model_len),
        "--max-num-seqs",
        str(max_num_seqs),
        "--enable-prefix-caching",
        "--block-size",
        str(KV_BLOCK_SIZE),
        "--num-gpu-blocks-override",
        str(kv_blocks),
        "--additional-config",
        NEURON_CONFIG,
        "--host",
        host,
        "--port",
        str(PORT),
    ]


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


class VllmNeuronServerArgs(TypedDict):
    """Inputs of `VllmNeuronServer`."""

    namespace: pulumi.Input[str]
    """Namespace of the model volume's claim (serving pods must live beside it)."""
    pvc_name: pulumi.Input[str]
    """The FSx for Lustre PersistentVolumeClaim holding weights and compiled artifacts."""
    model_subpath: str
    """Directory of the model's weights inside the volume, e.g. models/mistral-7b-instruct."""
    cache_subpath: str
    """Root of the compiled-artifact cache inside the volume, e.g. neuron-cache."""
    model_id: str
    """Hugging Face id of the model (part of the compiled-artifact key)."""
    model_revision: str
    """Revision of the weights (part of the compiled-artifact key)."""
    served_model_name: str
    """Name clients use in the OpenAI API."""
    tensor_parallel_size: int
    """NeuronCores per replica (two per Neuron device)."""
    max_model_len: int
    """Context length the model is compiled for."""
    max_num_seqs: int
    """Concurrent sequences per replica (compiled batch size)."""
    replicas: int
    """Serving pods (0 keeps everything ready but runs no inference node)."""
    instance_types: Sequence[str]
    """The inference pool's allowed inf2 types (for the compile Job's placement)."""
    node_selector: pulumi.Input[Mapping[str, str]]
    """Labels of the inference pool's nodes (from `InferentiaNodePool`)."""
    tolerations: pulumi.Input[Sequence[Mapping[str, str]]]
    """Tolerations of the inference pool's taint (from `InferentiaNodePool`)."""
    availability_zone: pulumi.Input[str]
    """The file system's zone: pods must run there."""
    client_namespace: str
    """Namespace of the only client (Open WebUI) allowed to call the API."""
    client_pod_labels: Mapping[str, str]
    """Pod labels of that client."""
    compile_job: NotRequired[bool]
    """Compile once in a Job on a large inf2 size before serving (default true)."""
    model_request: NotRequired[pulumi.Input[str]]
    """What the model's completion marker must record (`LustreModelStore.model_request`): pods start (so a new
    node launches and pulls the image) while the model still loads, and wait in an init container for it."""
    metrics_namespace: NotRequired[str]
    """Namespace of a Prometheus that may scrape /metrics (default: none)."""
    image: NotRequired[str]
    """The vLLM Neuron image (default: the pinned Deep Learning Container; digest-pinned in production)."""


class VllmNeuronServer(pulumi.ComponentResource):
    """vLLM (OpenAI API) on Inferentia2: Deployment, compile Job, ClusterIP Service, API-key Secret, PDB and
    NetworkPolicies. Never exposed outside the cluster; only the named client may call it."""

    base_url: pulumi.Output[str]
    """In-cluster OpenAI base URL, http://<svc>.<ns>.svc.cluster.local:8000/v1 (no trailing slash)."""
    served_model_name: pulumi.Output[str]
    """Model name to request."""
    api_key_secret_name: pulumi.Output[str]
    """Secret (in `namespace`) holding the API key."""
    api_key_secret_key: pulumi.Output[str]
    """Key of the API key inside that Secret."""
    api_key: pulumi.Output[str]
    """The API key itself (a Pulumi secret), for clients in other namespaces that need their own copy."""
    namespace: pulumi.Output[str]
    """Namespace of the server."""
    compiled_artifacts_dir: pulumi.Output[str]
    """Directory of this configuration's compiled artifacts inside the volume."""

    def __init__(self, name: str, args: VllmNeuronServerArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(TYPE, name, None, opts)
        ns = args["namespace"]
        tp, max_len, max_seqs = args["tensor_parallel_size"], args["max_model_len"], args["max_num_seqs"]
        key = compiled_artifacts_key(
            args["model_id"], args["model_revision"], versions.NEURON_SDK_VERSION, tp, max_len, max_seqs
        )
        cache_dir = f"{args['cache_subpath'].strip('/')}/{key}"  # inside the volume
        compile_first = args.get("compile_job", True)
        labels = {
            "app.kubernetes.io/name": "vllm",
            "app.kubernetes.io/instance": name,
            "app.kubernetes.io/component": "inference",
            "app.kubernetes.io/part-of": "inferentia-chat",
            "app.kubernetes.io/version": versions.VLLM_VERSION,
        }
        selector = {k: labels[k] for k in ("app.kubernetes.io/name", "app.kubernetes.io/instance")}
        child = pulumi.ResourceOptions(parent=self)

        api_key = random.RandomPassword(f"{name}-api-key", length=48, special=False, opts=child)
        secret = k8s.core.v1.Secret(
            f"{name}-api-key",
            metadata={"name": f"{name}-api-key", "namespace": ns, "labels": labels},
            type="Opaque",
            string_data={API_KEY_SECRET_KEY: api_key.result},
            opts=child,
        )

        node_selector = pulumi.Output.all(args["node_selector"], args["availability_zone"]).apply(
            lambda a: {**a[0], "topology.kubernetes.io/zone": a[1]}
        )
        pod_common = _PodParts(args, key, node_selector)
        # Workloads wait for what the component was told to wait for (e.g. the NodePool). The model and the
        # compiled artifacts are awaited INSIDE the cluster (init containers), not by Pulumi: a new inf2 node
        # then launches and pulls the 15-20 GB image while the model loads and compiles (budget.json).
        upstream = outer_dependencies(opts)
        depends: list[pulumi.Resource] = [secret, *upstream]
        waits = [pod_common.wait_for_model(args.get("model_request"))] if args.get("model_request") else []
        if compile_first:
            self._compile_job(name, args, pod_common, labels, key, upstream, waits)
            waits.append(pod_common.wait_for_artifacts())

        requests = serving_pod_requests(tp, args["model_id"])
        blocks = num_gpu_blocks(args["model_id"], tp, max_len, max_seqs)
        container = {
            "name": "vllm",
            "image": pod_common.image,
            "imagePullPolicy": "IfNotPresent",
            "command": list(SERVER_COMMAND),
            "args": vllm_args(pod_common.model_dir, args["served_model_name"], tp, max_len, max_seqs, blocks),
            "ports": [{"name": "http", "containerPort": PORT, "protocol": "TCP"}],
            "env": [
                *pod_common.env,
                {
                    "name": "VLLM_API_KEY",
                    "valueFrom": {"secretKeyRef": {"name": secret.metadata["name"], "key": API_KEY_SECRET_KEY}},
                },
            ],
            "resources": _resources(requests.neuron_devices, requests.cpu_millis, requests.memory_mib),
            "startupProbe": _probe(
                period=10, failures=(STARTUP_BUDGET_LOAD_S if compile_first else STARTUP_BUDGET_COMPILE_S) // 10
            ),
            "readinessProbe": _probe(period=10, failures=3),
            "livenessProbe": _probe(period=20, failures=6),
            "lifecycle": {"preStop": {"sleep": {"seconds": PRESTOP_SLEEP_S}}},
            "securityContext": pod_common.container_security,
            "volumeMounts": pod_common.mounts,
        }
        deployment = k8s.apps.v1.Deployment(
            f"{name}-deployment",
            metadata={"name": name, "namespace": ns, "labels": labels},
            spec={
                "replicas": args["replicas"],
                "revisionHistoryLimit": 3,
                "selector": {"matchLabels": selector},
                # New pods come up before old ones go: serving never drops below `replicas`.
                "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
                "progressDeadlineSeconds": STARTUP_BUDGET_COMPILE_S,
                "template": {
                    "metadata": {
                        "labels": labels,
                        "annotations": {
                            "prometheus.io/scrape": "true",
                            "prometheus.io/port": str(PORT),
                            "prometheus.io/path": "/metrics",
                        },
                    },
                    "spec": {
                        **pod_common.pod_spec,
                        "terminationGracePeriodSeconds": TERMINATION_GRACE_S,
                        "initContainers": waits,
                        "containers": [container],
                    },
                },
            },
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=depends,
                # Ready only after the model is loaded and compiled (the init containers wait for both).
                custom_timeouts=pulumi.CustomTimeouts(create="120m", update="120m"),
            ),
        )
        service = k8s.core.v1.Service(
            f"{name}-service",
            metadata={"name": name, "namespace": ns, "labels": labels},
            spec={
                "type": "ClusterIP",
                "selector": selector,
                "ports": [{"name": "http", "port": PORT, "targetPort": "http", "protocol": "TCP"}],
            },
            opts=child,
        )
        # maxUnavailable 1: a drain may always evict (a single replica then restarts elsewhere); a PDB that
        # allows zero disruptions would block node drains and Karpenter's consolidation forever.
        k8s.policy.v1.PodDisruptionBudget(
            f"{name}-pdb",
            metadata={"name": name, "namespace": ns, "labels": labels},
            spec={"maxUnavailable": 1, "selector": {"matchLabels": selector}},
            opts=child,
        )
        allowed_from: list[dict[str, Any]] = [
            {
                "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": args["client_namespace"]}},
                "podSelector": {"matchLabels": dict(args["client_pod_labels"])},
            }
        ]
        if args.get("metrics_namespace"):
            allowed_from.append(
                {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": args["metrics_namespace"]}}}
            )
        k8s.networking.v1.NetworkPolicy(
            f"{name}-netpol",
            metadata={"name": name, "namespace": ns, "labels": labels},
            # Selects the compile Job's pod too (same name/instance labels): it needs no caller at all.
            spec=network_policy_spec(
                selector,
                ingress=[{"from": allowed_from, "ports": [{"protocol": "TCP", "port": PORT}]}],
                egress=[DNS_EGRESS],
            ),
            opts=child,
        )

        self.namespace = pulumi.Output.from_input(ns)
        self.base_url = pulumi.Output.concat(
            "http://", service.metadata["name"], ".", service.metadata["namespace"], f".svc.cluster.local:{PORT}/v1"
        )
        self.served_model_name = pulumi.Output.from_input(args["served_model_name"])
        self.api_key_secret_name = secret.metadata["name"]
        self.api_key_secret_key = pulumi.Output.from_input(API_KEY_SECRET_KEY)
        self.api_key = pulumi.Output.secret(api_key.result)
        self.compiled_artifacts_dir = pulumi.Output.from_input(cache_dir)
        self.pod_labels = selector
        self.deployment = deployment
        self.register_outputs(
            {
                "base_url": self.base_url,
                "served_model_name": self.served_model_name,
                "api_key_secret_name": self.api_key_secret_name,
                "api_key_secret_key": self.api_key_secret_key,
                "api_key": self.api_key,
                "namespace": self.namespace,
                "compiled_artifacts_dir": self.compiled_artifacts_dir,
            }
        )

    def _compile_job(
        self,
        name: str,
        args: VllmNeuronServerArgs,
        parts: "_PodParts",
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
                parent=self,
                depends_on=upstream,
                custom_timeouts=pulumi.CustomTimeouts(create=f"{(COMPILE_BUDGET_S + MODEL_WAIT_S) // 60}m"),
            ),
        )


class _PodParts:
    """What the serving pods and the compile Job share: placement, volumes, environment, security."""

    def __init__(self, args: VllmNeuronServerArgs, key: str, node_selector: pulumi.Output):
        self.image = args.get("image", versions.VLLM_NEURON_IMAGE)
        self.model_dir = "/models/" + args["model_subpath"].strip("/").rsplit("/", 1)[-1]
        # The cache ROOT is mounted (it exists, owned by uid 1000): a subPath that does not exist yet would
        # be created by the kubelet as root, and the compiler running as 1000 could not write into it.
        self.cache_mount = "/neuron-cache"
        self.artifacts_dir = f"{self.cache_mount}/{key}"
        self.node_selector = node_selector
        self.env = [
            {"name": "NEURON_COMPILED_ARTIFACTS", "value": self.artifacts_dir},
            {"name": "HF_HUB_OFFLINE", "value": "1"},
            {"name": "TRANSFORMERS_OFFLINE", "value": "1"},
            {"name": "VLLM_NO_USAGE_STATS", "value": "1"},
            {"name": "DO_NOT_TRACK", "value": "1"},
            {"name": "HOME", "value": "/home/ubuntu"},
        ]
        # Weights read-only; the compiled-artifact cache read-write (a pod compiles when no Job did).
        self.fsx_mounts = [
            {
                "name": "model",
                "mountPath": self.model_dir,
                "subPath": args["model_subpath"].strip("/"),
                "readOnly": True,
            },
            {"name": "model", "mountPath": self.cache_mount, "subPath": args["cache_subpath"].strip("/")},
        ]
        self.mounts = [
            *self.fsx_mounts,
            {"name": "dshm", "mountPath": "/dev/shm"},
            {"name": "tmp", "mountPath": "/tmp"},
        ]
        self.container_security = {
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
            "runAsNonRoot": True,
            "runAsUser": RUN_AS,
            "runAsGroup": RUN_AS,
            # Exception: the Neuron compiler and runtime write under paths of the image (caches, lock
            # files) that are not documented; the root file system stays writable, nothing else is granted.
            "readOnlyRootFilesystem": False,
            "seccompProfile": {"type": "RuntimeDefault"},
        }
        self.pod_spec = {
            "nodeSelector": node_selector,
            "tolerations": args["tolerations"],
            "automountServiceAccountToken": False,
            "enableServiceLinks": False,
            "securityContext": {
                "runAsNonRoot": True,
                "runAsUser": RUN_AS,
                "runAsGroup": RUN_AS,
                "fsGroup": RUN_AS,
                "seccompProfile": {"type": "RuntimeDefault"},
            },
            "volumes": [
                {"name": "model", "persistentVolumeClaim": {"claimName": args["pvc_name"]}},
                {"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": "2Gi"}},
                {"name": "tmp", "emptyDir": {"sizeLimit": "10Gi"}},
            ],
        }

    def _waiter(self, name: str, code: str, args: list[Any], env: list[dict[str, Any]]) -> dict[str, Any]:
        # The serving image itself (its python3): waiting in it means the image is pulled meanwhile.
        return {
            "name": name,
            "image": self.image,
            "imagePullPolicy": "IfNotPresent",
            "command": ["python3", "-c", code, *args],
            "env": env,
            "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"memory": "128Mi"}},
            # It only reads (python3 -c over the volume): the root file system can be read-only here.
            "securityContext": {**self.container_security, "readOnlyRootFilesystem": True},
            "volumeMounts": self.fsx_mounts,
        }

    def wait_for_model(self, request: pulumi.Input[str]) -> dict[str, Any]:
        """Init container: until the load Job's completion marker records exactly this request."""
        return self._waiter(
            "wait-for-model",
            WAIT_FOR_MODEL,
            [f"{self.model_dir}/{model_fetch.MARKER}"],
            [{"name": "MODEL_REQUEST", "value": request}],
        )

    def wait_for_artifacts(self) -> dict[str, Any]:
        """Init container: until the compile Job has marked this configuration's artifacts complete."""
        return self._waiter(
            "wait-for-compiled-artifacts",
            WAIT_FOR_FILE,
            [f"{self.artifacts_dir}/{COMPLETE_MARKER}"],
            [],
        )


# Pollers run as `python3 -c`: standard library only, one line of output per minute while waiting.
WAIT_FOR_MODEL = """import json, os, sys, time
path, want, n = sys.argv[1], json.loads(os.environ["MODEL_REQUEST"]), 0
while True:
    try:
        if json.load(open(path)).get("request") == want:
            print("model complete:", path, flush=True); break
    except (OSError, ValueError):
        pass
    if n % 4 == 0: print("waiting for the model load to complete", path, flush=True)
    n += 1; time.sleep(15)
"""
WAIT_FOR_FILE = """import os, sys, time
n = 0
while not os.path.exists(sys.argv[1]):
    if n % 4 == 0: print("waiting for", sys.argv[1], flush=True)
    n += 1; time.sleep(15)
print("present:", sys.argv[1], flush=True)
"""


def _resources(devices: int, cpu_millis: int, memory_mib: int) -> dict[str, Any]:
    """Requests, with limits equal for memory and the devices (an extended resource needs both)."""
    return {
        "requests": {NEURON_RESOURCE: str(devices), "cpu": f"{cpu_millis}m", "memory": f"{memory_mib}Mi"},
        "limits": {NEURON_RESOURCE: str(devices), "memory": f"{memory_mib}Mi"},
    }


def _probe(period: int, failures: int) -> dict[str, Any]:
    return {
        "httpGet": {"path": "/health", "port": "http"},
        "periodSeconds": period,
        "timeoutSeconds": 5,
        "failureThreshold": failures,
    }
