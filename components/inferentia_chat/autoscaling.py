"""Autoscaling: KEDA scales each vLLM Deployment on its request queue, sized for Inferentia's cold start.

A new replica on Inferentia2 takes minutes (a node launch, a 15-20 GB image pull, weights and compiled
artifacts off FSx, warm-up: the replica budget, offline/budget.py). So the scaler is tuned from that budget,
not from rules of thumb (docs/operations-autoscaling.md has the derivation):

    poll        = clamp(round(T_new / 24), 5, 30) s          look ~24 times during one cold start
    reaction    = poll + HPA sync (15 s) + T_new             queue crosses the threshold -> replica ready
    rate        = maxNumSeqs / REQUEST_SECONDS               requests one replica completes per second
    limit       = floor(rate x maxQueueWait)                 waiting per replica = a maxQueueWait wait
    threshold   = max(1, floor(rate x (maxQueueWait - reaction / 2)))
    cooldown    = min(3600, ceil(2 x T_new)) s               scale-in only after twice a cold start idle

The threshold assumes demand grows by one replica's capacity over one reaction time (a linear ramp): the
queue then grows by rate x reaction / 2 before the new replica serves, which must still leave it under the
limit. `limit` is also the queue alert's threshold (inferentia_chat/alerts.py).

The `Autoscaling` component installs KEDA (pinned chart) on the system nodes and one ScaledObject per
scaled Deployment, whose Prometheus trigger reads `sum(vllm:num_requests_waiting{...})` for the model; KEDA
hands it to the HPA as an AverageValue, so the HPA compares waiting requests PER REPLICA with `threshold`.
"""

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NotRequired, TypedDict

import pulumi
import pulumi_kubernetes as k8s

from . import metrics, versions
from .eks_cluster import SYSTEM_NODE_SELECTOR
from .hardware import Resources
from .kube import RESTRICTED_NAMESPACE_LABELS
from .namespace_network import namespace_network
from .options import outer_dependencies

TYPE = "inferentia-chat:index:Autoscaling"
NAMESPACE = "keda"
MONITORING_NAMESPACE = "monitoring"  # where the Prometheus it queries runs (inferentia_chat/monitoring.py)
# The API server calls KEDA's metrics API server (chart service.portHttpsTarget 6443) and its admission
# webhooks (webhooks.port, default 9443): kedacore/charts v2.20.2 keda/values.yaml and templates.
API_SERVER_PORTS = (6443, 9443)

# The HPA controller's default --horizontal-pod-autoscaler-sync-period (Kubernetes docs, "Horizontal Pod
# Autoscaling"): KEDA hands the metric to the HPA, which acts on its next sync.
HPA_SYNC_S = 15
POLLS_PER_START = 24
# Mean time one request holds a batch slot. ESTIMATE from published figures (Llama-3-8B, vLLM on
# inf2.8xlarge at TP 2: TTFT p50 1.8 s, inter-token latency p50 53 ms) for a 256-token answer:
# 1.8 + 256 x 0.053 = 15.4 s. Replace with the p50 of vllm:e2e_request_latency_seconds once it is measured.
REQUEST_SECONDS = 15.0
# KEDA's own requests (chart 2.20.2 values.yaml `resources`): operator, metrics server, admission webhooks.
KEDA_RESOURCES: dict[str, dict[str, dict[str, str]]] = {
    part: {"requests": {"cpu": "100m", "memory": "100Mi"}, "limits": {"memory": "1000Mi"}}
    for part in ("operator", "metricServer", "webhooks")
}


@dataclass(frozen=True)
class ScalingPolicy:
    """The scaler's numbers for one model, derived from the new-node start-up budget."""

    threshold: int
    """Waiting requests per replica above which KEDA adds a replica."""
    queue_limit: int
    """Waiting requests per replica that mean a `maxQueueWait` wait: the queue alert."""
    polling_interval: int
    """Seconds between KEDA's queries."""
    cooldown_period: int
    """Seconds of low load before a replica is removed (HPA scale-down window; KEDA's for 1 -> 0)."""
    reaction_seconds: float
    """From the queue crossing the threshold to the new replica serving."""


def scaling_policy(
    new_node_seconds: float, max_num_seqs: int, max_queue_wait_seconds: int, request_seconds: float = REQUEST_SECONDS
) -> ScalingPolicy:
    """The formula of the module docstring (and docs/operations-autoscaling.md)."""
    poll = min(30, max(5, round(new_node_seconds / POLLS_PER_START)))
    reaction = poll + HPA_SYNC_S + new_node_seconds
    rate = max_num_seqs / request_seconds
    return ScalingPolicy(
        threshold=max(1, math.floor(rate * (max_queue_wait_seconds - reaction / 2))),
        queue_limit=max(1, math.floor(rate * max_queue_wait_seconds)),
        polling_interval=poll,
        cooldown_period=min(3600, math.ceil(2 * new_node_seconds)),
        reaction_seconds=round(reaction, 1),
    )


def queue_query(namespace: str, model_name: str) -> str:
    """The PromQL the scaler reads: every waiting request of the model, summed over its replicas."""
    return f'sum({metrics.VLLM_REQUESTS_WAITING}{{namespace="{namespace}",{metrics.VLLM_MODEL_LABEL}="{model_name}"}})'


def keda_requests() -> Resources:
    """What KEDA requests on the system nodes (the config's capacity check adds it)."""
    from .system_capacity import mib, millis

    parts = [r["requests"] for r in KEDA_RESOURCES.values()]
    return Resources(0, sum(millis(p["cpu"]) for p in parts), sum(mib(p["memory"]) for p in parts))


class ActiveScheduleArgs(TypedDict):
    """When a scale-to-zero model keeps one replica (KEDA cron trigger)."""

    timezone: str
    """IANA time zone of start and end, e.g. Europe/Berlin."""
    start: str
    """Cron expression of the start, e.g. `0 8 * * 1-5`."""
    end: str
    """Cron expression of the end, e.g. `0 19 * * 1-5`."""


class ScaledDeploymentArgs(TypedDict):
    """One Deployment KEDA scales on its model's request queue."""

    namespace: pulumi.Input[str]
    """Namespace of the Deployment."""
    deployment: pulumi.Input[str]
    """Name of the Deployment (it must leave `spec.replicas` unset: the HPA owns it)."""
    model_name: str
    """Served model name (the `model_name` label of vLLM's metrics)."""
    min_replicas: int
    """Replicas kept when idle (0: scale to zero, with `active_schedule`)."""
    max_replicas: int
    """Most replicas at peak load."""
    threshold: int
    """Waiting requests per replica that trigger scale-out (`scaling_policy`)."""
    polling_interval: int
    """Seconds between queries (`scaling_policy`)."""
    cooldown_period: int
    """Seconds of low load before scale-in (`scaling_policy`)."""
    active_schedule: NotRequired[ActiveScheduleArgs]
    """With `min_replicas` 0: the hours one replica runs (nothing else can wake a model with no pod)."""


class AutoscalingArgs(TypedDict):
    """Inputs of `Autoscaling`."""

    prometheus_url: pulumi.Input[str]
    """In-cluster Prometheus the scaler queries, e.g. http://kps-prometheus.monitoring.svc:9090."""
    targets: Sequence[ScaledDeploymentArgs]
    """The scaled Deployments."""
    vpc_cidr: pulumi.Input[str]
    """The VPC block: the Kubernetes API (egress) and the API server calling KEDA's metrics API and webhooks."""
    node_selector: NotRequired[Mapping[str, str]]
    """Where KEDA runs (default the system nodes)."""
    namespace_labels: NotRequired[Mapping[str, str]]
    """Further labels of the namespace (e.g. the environment label the policy pack reads)."""


def scaled_object_spec(target: ScaledDeploymentArgs, deployment: str, namespace: str, prometheus: str) -> dict:
    """ScaledObject spec (keda.sh/v1alpha1) for one target."""
    triggers: list[dict[str, Any]] = [
        {
            "type": "prometheus",
            "metricType": "AverageValue",  # the HPA divides the sum by the replicas: queue per replica
            "metadata": {
                "serverAddress": prometheus,
                "query": queue_query(namespace, target["model_name"]),
                "threshold": str(target["threshold"]),
                # Any waiting request wakes a scaled-to-zero Deployment (none can, without pods: see cron).
                "activationThreshold": "0",
                "ignoreNullValues": "true",  # no series (no pod yet) counts as an empty queue
            },
        }
    ]
    schedule = target.get("active_schedule")
    if schedule:
        triggers.append(
            {
                "type": "cron",
                "metadata": {
                    "timezone": schedule["timezone"],
                    "start": schedule["start"],
                    "end": schedule["end"],
                    "desiredReplicas": "1",
                },
            }
        )
    cooldown = target["cooldown_period"]
    return {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": deployment},
        "pollingInterval": target["polling_interval"],
        "cooldownPeriod": cooldown,
        "minReplicaCount": target["min_replicas"],
        "maxReplicaCount": target["max_replicas"],
        # Prometheus unreachable three polls in a row: keep what runs (never scale in blind), at least one.
        "fallback": {
            "failureThreshold": 3,
            "replicas": max(target["min_replicas"], 1),
            "behavior": "currentReplicasIfHigher",
        },
        "advanced": {
            "horizontalPodAutoscalerConfig": {
                "behavior": {
                    # A removed replica costs a whole cold start to bring back: remove one at a time, and
                    # only after the load stayed low for the cooldown.
                    "scaleDown": {
                        "stabilizationWindowSeconds": cooldown,
                        "policies": [{"type": "Pods", "value": 1, "periodSeconds": 60}],
                    },
                }
            }
        },
        "triggers": triggers,
    }


class Autoscaling(pulumi.ComponentResource):
    """KEDA (pinned chart, restricted pods on the system nodes) and a ScaledObject per scaled Deployment.

    Give `depends_on` the monitoring stack: the scaler reads Prometheus.
    """

    namespace: pulumi.Output[str]
    """KEDA's namespace."""
    scaled_objects: pulumi.Output[list[str]]
    """`<namespace>/<name>` of each ScaledObject."""

    def __init__(self, name: str, args: AutoscalingArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(TYPE, name, None, opts)
        upstream = outer_dependencies(opts)
        labels = {"app.kubernetes.io/part-of": "inferentia-chat", "app.kubernetes.io/component": "autoscaling"}
        namespace = k8s.core.v1.Namespace(
            f"{name}-namespace",
            metadata={
                "name": NAMESPACE,
                "labels": {**labels, **RESTRICTED_NAMESPACE_LABELS, **args.get("namespace_labels", {})},
            },
            opts=pulumi.ResourceOptions(parent=self),
        )
        network = namespace_network(
            self, name, NAMESPACE, labels, args["vpc_cidr"], webhook_ports=API_SERVER_PORTS, depends_on=[namespace]
        )
        # The operator reads the queue from Prometheus (whose own policy admits this namespace).
        network.append(
            k8s.networking.v1.NetworkPolicy(
                f"{name}-to-prometheus",
                metadata={"name": "to-prometheus", "namespace": NAMESPACE, "labels": labels},
                spec={
                    "podSelector": {},
                    "policyTypes": ["Egress"],
                    "egress": [
                        {"to": [_namespace(MONITORING_NAMESPACE)], "ports": [{"protocol": "TCP", "port": 9090}]}
                    ],
                },
                opts=pulumi.ResourceOptions(parent=self, depends_on=[namespace]),
            )
        )
        selector = dict(args.get("node_selector", SYSTEM_NODE_SELECTOR))
        release = k8s.helm.v3.Release(
            f"{name}-keda",
            name="keda",
            chart=versions.KEDA_CHART,
            version=versions.KEDA_CHART_VERSION,
            repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=versions.KEDA_REPO),
            namespace=namespace.metadata["name"],
            atomic=True,
            cleanup_on_fail=True,
            values={"nodeSelector": selector, "resources": KEDA_RESOURCES},
            opts=pulumi.ResourceOptions(parent=self, depends_on=[namespace, *network, *upstream]),
        )
        names = []
        for target in args["targets"]:
            spec = pulumi.Output.all(target["deployment"], target["namespace"], args["prometheus_url"]).apply(
                lambda a, t=target: scaled_object_spec(t, a[0], a[1], a[2])
            )
            scaled = k8s.apiextensions.CustomResource(
                f"{name}-{target['model_name']}",
                api_version="keda.sh/v1alpha1",
                kind="ScaledObject",
                metadata={
                    "name": target["deployment"],
                    "namespace": target["namespace"],
                    "labels": {**labels, "inferentia-chat.io/model": target["model_name"]},
                },
                spec=spec,
                opts=pulumi.ResourceOptions(parent=self, depends_on=[release]),
            )
            names.append(pulumi.Output.concat(target["namespace"], "/", scaled.metadata["name"]))

        self.release = release
        self.namespace = namespace.metadata["name"]
        self.scaled_objects = pulumi.Output.all(*names) if names else pulumi.Output.from_input([])
        self.register_outputs({"namespace": self.namespace, "scaled_objects": self.scaled_objects})


def _namespace(name: str) -> dict[str, Any]:
    return {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": name}}}
