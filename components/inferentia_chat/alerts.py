"""The alerting rules, as the `spec` of PrometheusRules: one group per served model, one for the Neuron
devices and one for the inference capacity. Each alert carries a `runbook` annotation pointing at its
section of docs/operations-monitoring.md (meaning and first action); tests check that every alert has one,
and prove with `promtool test rules` that each fires above its threshold and stays quiet below it.

Thresholds come from the configuration and the start-up budget, not from habit:
- the queue limit is what `scaling_policy` derives from `maxQueueWaitSeconds` (inferentia_chat/autoscaling.py);
- "no ready replica" and "unscheduled inference pod" wait one new-node start-up budget before firing,
  since a replica that is still starting is expected to be unready for that long;
- the time-to-first-token target is `monitoring.ttftP95TargetSeconds`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from . import metrics

RUNBOOK = "docs/operations-monitoring.md"
KV_CACHE_LIMIT = 0.9  # the 90 %: above it new requests start to queue for cache blocks
ERROR_RATIO_LIMIT = 0.05  # 5 % of vLLM's HTTP answers are server errors


@dataclass(frozen=True)
class ModelAlerts:
    """What the serving alerts of one model need."""

    namespace: str
    deployment: str
    model_name: str
    queue_limit: int
    ttft_p95_target_seconds: int
    startup_budget_seconds: float


def _for(seconds: float) -> str:
    """A `for` duration in whole minutes, rounded up."""
    return f"{max(1, math.ceil(seconds / 60))}m"


def _alert(name: str, expr: str, for_: str, severity: str, summary: str, description: str) -> dict[str, Any]:
    return {
        "alert": name,
        "expr": expr,
        "for": for_,
        "labels": {"severity": severity, "app_kubernetes_io_part_of": "inferentia-chat"},
        "annotations": {
            "summary": summary,
            "description": description,
            "runbook": f"{RUNBOOK}#{name.lower()}",
        },
    }


def serving_rules(m: ModelAlerts) -> dict[str, Any]:
    """The rule group of one served model."""
    sel = f'namespace="{m.namespace}",{metrics.VLLM_MODEL_LABEL}="{m.model_name}"'
    dep = f'namespace="{m.namespace}",deployment="{m.deployment}"'
    job = f'job="{m.namespace}/{m.deployment}"'  # the PodMonitor's job label: <namespace>/<name>
    ttft = f"histogram_quantile(0.95, sum by (le) (rate({metrics.VLLM_TTFT}_bucket{{{sel}}}[5m])))"
    http = metrics.HTTP_REQUESTS
    errors = f'sum(rate({http}{{{job},status="5xx"}}[5m])) / sum(rate({http}{{{job}}}[5m]))'
    wanted, available = metrics.KSM_DEPLOYMENT_SPEC_REPLICAS, metrics.KSM_DEPLOYMENT_AVAILABLE
    return {
        "name": f"inferentia-chat.serving.{m.model_name}",
        "rules": [
            _alert(
                "VllmNoReadyReplica",
                f"{wanted}{{{dep}}} > 0 and {available}{{{dep}}} == 0",
                _for(m.startup_budget_seconds),
                "critical",
                f"{m.model_name}: no ready vLLM replica",
                "Replicas are wanted but none has been available for longer than a new replica's start-up "
                "budget: the chat cannot answer.",
            ),
            _alert(
                "VllmMetricsDown",
                # Ready pods only: a starting pod (init containers, loading) has no /metrics yet, for minutes.
                f'up{{{job}}} == 0 and on (namespace, pod) kube_pod_status_ready{{namespace="{m.namespace}",'
                'condition="true"} == 1',
                "5m",
                "warning",
                f"{m.model_name}: a vLLM pod does not answer /metrics",
                "Prometheus cannot scrape a vLLM pod that Kubernetes counts as ready: its metrics endpoint hangs, and "
                "the autoscaler is blind to its queue.",
            ),
            _alert(
                "VllmQueueBacklog",
                f"avg({metrics.VLLM_REQUESTS_WAITING}{{{sel}}}) > {m.queue_limit}",
                "5m",
                "warning",
                f"{m.model_name}: requests wait longer than the target",
                f"More than {m.queue_limit} requests wait per replica (a wait of about maxQueueWaitSeconds) for "
                "5 minutes: the fleet is at maxReplicas, the pool's device ceiling, or scaling is off.",
            ),
            _alert(
                "VllmKvCacheFull",
                f"max({metrics.VLLM_KV_CACHE_USAGE}{{{sel}}}) > {KV_CACHE_LIMIT}",
                "10m",
                "warning",
                f"{m.model_name}: KV cache above {KV_CACHE_LIMIT:.0%}",
                "A replica's KV cache has been above 90% for 10 minutes: long prompts queue for cache blocks.",
            ),
            _alert(
                "VllmTimeToFirstTokenHigh",
                f"{ttft} > {m.ttft_p95_target_seconds}",
                "10m",
                "warning",
                f"{m.model_name}: time to first token p95 above {m.ttft_p95_target_seconds} s",
                "Users wait too long for the first word of an answer (queueing, long prompts or a slow replica).",
            ),
            _alert(
                "VllmServerErrors",
                f"{errors} > {ERROR_RATIO_LIMIT}",
                "10m",
                "warning",
                f"{m.model_name}: more than {ERROR_RATIO_LIMIT:.0%} of API answers are server errors",
                "vLLM answers 5xx to a share of requests for 10 minutes.",
            ),
        ],
    }


def neuron_rules() -> dict[str, Any]:
    """Neuron device health, from neuron-monitor."""
    hard = 'event_type=~"mem_ecc_uncorrected|sram_ecc_uncorrected"'
    errors = f'increase({metrics.NEURON_EXECUTION_ERRORS}{{error_type!="transient"}}[10m])'
    return {
        "name": "inferentia-chat.neuron",
        "rules": [
            _alert(
                "NeuronExecutionErrors",
                f"sum by (instance_id, error_type) ({errors}) > 0",
                "0m",
                "warning",
                "Neuron executions fail on {{ $labels.instance_id }}",
                "The Neuron runtime reported {{ $labels.error_type }} execution errors in the last 10 minutes.",
            ),
            _alert(
                "NeuronUncorrectableEcc",
                f"sum by (instance_id) (increase({metrics.NEURON_HARDWARE_ECC}{{{hard}}}[10m])) > 0",
                "0m",
                "critical",
                "Uncorrectable memory errors on the Neuron device of {{ $labels.instance_id }}",
                "The device reported uncorrectable ECC events: its results cannot be trusted.",
            ),
        ],
    }


def capacity_rules(namespace: str, startup_budget_seconds: float) -> dict[str, Any]:
    """Inference pods that no node was found for."""
    unscheduled = f'kube_pod_status_scheduled{{namespace="{namespace}",condition="false"}}'
    return {
        "name": "inferentia-chat.capacity",
        "rules": [
            _alert(
                "InferencePodUnschedulable",
                f"max by (namespace, pod) ({unscheduled}) == 1",
                _for(startup_budget_seconds),
                "warning",
                "{{ $labels.pod }} has no node for longer than the start-up budget",
                "Karpenter has not placed an inference pod within a new replica's start-up budget: the pool's "
                "device ceiling is reached, or EC2 has no inf2 capacity of the allowed types and zone.",
            ),
        ],
    }


def alert_names(groups: list[dict[str, Any]]) -> list[str]:
    """Every alert name of the groups (each needs its runbook section)."""
    return [r["alert"] for g in groups for r in g["rules"] if "alert" in r]
