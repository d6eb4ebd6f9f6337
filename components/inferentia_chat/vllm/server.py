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

from collections.abc import Mapping, Sequence
from typing import Any, NotRequired, TypedDict

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from .. import versions
from ..common.outputs import register_declared_outputs
from ..hardware import (
    serving_pod_requests,
)
from ..kube import DNS_EGRESS, network_policy_spec
from ..options import outer_dependencies
from .compile_job import compile_job
from .pod_spec import (
    PORT,
    SERVER_COMMAND,
    PodParts,
    _probe,
    _resources,
    compiled_artifacts_key,
    num_gpu_blocks,
    vllm_args,
)

TYPE = "inferentia-chat:index:VllmNeuronServer"

API_KEY_SECRET_KEY = "api-key"
# Loading ~15 GB of weights plus compiled artifacts from FSx takes minutes; compiling a 7B model on first
# start takes 10-20 more (Neuron docs and the reference workshop). The startup budget covers the case the
# configuration allows: load only when a compile Job fills the cache first, compile too otherwise.
STARTUP_BUDGET_LOAD_S = 20 * 60
STARTUP_BUDGET_COMPILE_S = 60 * 60
# In-flight generations finish within this after SIGTERM (uvicorn drains open requests); endpoints are
# removed first (preStop sleep) so no new request arrives on a terminating pod.
TERMINATION_GRACE_S = 300
PRESTOP_SLEEP_S = 15


class VllmNeuronServerArgs(TypedDict):
    """Inputs of `VllmNeuronServer`."""

    namespace: pulumi.Input[str]
    """Namespace of the model volume's claim (serving pods must live beside it)."""
    pvc_name: pulumi.Input[str]
    """The FSx for Lustre PersistentVolumeClaim holding weights and compiled artifacts."""
    model_subpath: pulumi.Input[str]
    """Directory of the model's weights inside the volume, e.g. models/mistral-7b-instruct
    (`ModelVolume.model_subpath`)."""
    cache_subpath: pulumi.Input[str]
    """Root of the compiled-artifact cache inside the volume, e.g. neuron-cache (`ModelVolume.cache_subpath`)."""
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


def serving_container(
    args: "VllmNeuronServerArgs", pod_common: PodParts, secret_name: pulumi.Input[str], compile_first: bool
) -> dict[str, Any]:
    """The vLLM container: the OpenAI server on the Neuron devices, its key from the Secret, probed on /health
    with a startup budget for loading (and compiling, without a compile Job)."""
    tp, max_len, max_seqs = args["tensor_parallel_size"], args["max_model_len"], args["max_num_seqs"]
    requests = serving_pod_requests(tp, args["model_id"])
    blocks = num_gpu_blocks(args["model_id"], tp, max_len, max_seqs)
    return {
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
                "valueFrom": {"secretKeyRef": {"name": secret_name, "key": API_KEY_SECRET_KEY}},
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


def deployment_spec(
    args: "VllmNeuronServerArgs",
    pod_common: PodParts,
    labels: dict[str, str],
    selector: dict[str, str],
    waits: list[dict[str, Any]],
    container: dict[str, Any],
) -> dict[str, Any]:
    """Rolling updates that never drop below `replicas`, pods scraped for metrics, waiting in the cluster."""
    return {
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
    }


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
        # Inside the volume.
        cache_dir = pulumi.Output.from_input(args["cache_subpath"]).apply(lambda c: f"{c.strip('/')}/{key}")
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
        pod_common = PodParts(args, key, node_selector)
        # Workloads wait for what the component was told to wait for (e.g. the NodePool). The model and the
        # compiled artifacts are awaited INSIDE the cluster (init containers), not by Pulumi: a new inf2 node
        # then launches and pulls the 15-20 GB image while the model loads and compiles (budget.json).
        upstream = outer_dependencies(opts)
        depends: list[pulumi.Resource] = [secret, *upstream]
        waits = [pod_common.wait_for_model(args.get("model_request"))] if args.get("model_request") else []
        if compile_first:
            compile_job(self, name, args, pod_common, labels, key, upstream, waits)
            waits.append(pod_common.wait_for_artifacts())

        container = serving_container(args, pod_common, secret.metadata["name"], compile_first)
        deployment = k8s.apps.v1.Deployment(
            f"{name}-deployment",
            metadata={"name": name, "namespace": ns, "labels": labels},
            spec=deployment_spec(args, pod_common, labels, selector, waits, container),
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
        self._disruption_and_network(name, args, labels, selector)

        self.namespace = pulumi.Output.from_input(ns)
        self.base_url = pulumi.Output.concat(
            "http://", service.metadata["name"], ".", service.metadata["namespace"], f".svc.cluster.local:{PORT}/v1"
        )
        self.served_model_name = pulumi.Output.from_input(args["served_model_name"])
        self.api_key_secret_name = secret.metadata["name"]
        self.api_key_secret_key = pulumi.Output.from_input(API_KEY_SECRET_KEY)
        self.api_key = pulumi.Output.secret(api_key.result)
        self.compiled_artifacts_dir = cache_dir
        self.pod_labels = selector
        self.deployment = deployment
        register_declared_outputs(self)

    def _disruption_and_network(
        self, name: str, args: VllmNeuronServerArgs, labels: dict[str, str], selector: dict[str, str]
    ) -> None:
        """The disruption budget and the default-deny policy that admits only the chat front end (and metrics)."""
        ns, child = args["namespace"], pulumi.ResourceOptions(parent=self)
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
