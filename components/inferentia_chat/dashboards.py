"""Grafana dashboards as code (grafana-foundation-sdk, Grafana's own typed builders), shipped as ConfigMaps
that the Grafana sidecar of kube-prometheus-stack loads (label `grafana_dashboard: "1"`).

Why a library and not JSON: the builders produce the dashboard schema Grafana itself defines, so a panel
with a wrong field does not build; queries use the metric names of inferentia_chat/metrics.py.
"""

from __future__ import annotations

import json
from typing import Any

from grafana_foundation_sdk.builders import cloudwatch, dashboard, prometheus, stat, timeseries
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.cloudwatch import MetricEditorMode, MetricQueryType
from grafana_foundation_sdk.models.dashboard import DataSourceRef

from . import metrics
from .monitoring_values import CLOUDWATCH_DATASOURCE_UID

# kube-prometheus-stack's Prometheus data source (values `grafana.sidecar.datasources.uid`, default).
DATASOURCE = DataSourceRef(type_val="prometheus", uid="prometheus")
SIDECAR_LABEL = {"grafana_dashboard": "1"}
CLOUDWATCH = DataSourceRef(type_val="cloudwatch", uid=CLOUDWATCH_DATASOURCE_UID)


def _query(expr: str, legend: str = "") -> prometheus.Dataquery:
    return prometheus.Dataquery().expr(expr).legend_format(legend).datasource(DATASOURCE)


def _series(title: str, unit: str, *queries: prometheus.Dataquery) -> timeseries.Panel:
    panel = timeseries.Panel().title(title).unit(unit).datasource(DATASOURCE).height(8).span(12)
    for ref, q in zip("ABCDEFGH", queries, strict=False):
        panel = panel.with_target(q.ref_id(ref))
    return panel


def _board(uid: str, title: str, panels: list[Any]) -> dict[str, Any]:
    board = (
        dashboard.Dashboard(title)
        .uid(uid)
        .tags(["inferentia-chat"])
        .refresh("30s")
        .time("now-3h", "now")
        .timezone("browser")
        .editable()
    )
    for panel in panels:
        board = board.with_panel(panel)
    return json.loads(JSONEncoder(sort_keys=True).encode(board.build()))


def serving_dashboard(namespace: str) -> dict[str, Any]:
    """Requests running and waiting, TTFT p50/p95, inter-token latency, end-to-end latency, tokens/s, KV
    cache, errors: per model (the `model_name` label)."""
    sel = f'namespace="{namespace}"'
    by = f"{metrics.VLLM_MODEL_LABEL}"

    def quantile(q: float, metric: str) -> str:
        return f"histogram_quantile({q}, sum by (le, {by}) (rate({metric}_bucket{{{sel}}}[5m])))"

    return _board(
        "inferentia-chat-serving",
        "inferentia-chat / Serving",
        [
            _series(
                "Requests running and waiting",
                "short",
                _query(f"sum by ({by}) ({metrics.VLLM_REQUESTS_RUNNING}{{{sel}}})", "running {{model_name}}"),
                _query(f"sum by ({by}) ({metrics.VLLM_REQUESTS_WAITING}{{{sel}}})", "waiting {{model_name}}"),
            ),
            _series(
                "Time to first token",
                "s",
                _query(quantile(0.5, metrics.VLLM_TTFT), "p50 {{model_name}}"),
                _query(quantile(0.95, metrics.VLLM_TTFT), "p95 {{model_name}}"),
            ),
            _series(
                "Inter-token latency",
                "s",
                _query(quantile(0.5, metrics.VLLM_ITL), "p50 {{model_name}}"),
                _query(quantile(0.95, metrics.VLLM_ITL), "p95 {{model_name}}"),
            ),
            _series(
                "End-to-end request latency",
                "s",
                _query(quantile(0.5, metrics.VLLM_E2E), "p50 {{model_name}}"),
                _query(quantile(0.95, metrics.VLLM_E2E), "p95 {{model_name}}"),
            ),
            _series(
                "Tokens per second",
                "short",
                _query(
                    f"sum by ({by}) (rate({metrics.VLLM_GENERATION_TOKENS}{{{sel}}}[5m]))", "generated {{model_name}}"
                ),
                _query(f"sum by ({by}) (rate({metrics.VLLM_PROMPT_TOKENS}{{{sel}}}[5m]))", "prompt {{model_name}}"),
            ),
            _series(
                "KV cache usage",
                "percentunit",
                _query(f"max by ({by}, pod) ({metrics.VLLM_KV_CACHE_USAGE}{{{sel}}})", "{{pod}}"),
            ),
            _series(
                "Server errors (HTTP 5xx) per second",
                "reqps",
                _query(f'sum by (handler) (rate({metrics.HTTP_REQUESTS}{{{sel},status="5xx"}}[5m]))', "{{handler}}"),
            ),
            _series(
                "Finished requests by reason",
                "reqps",
                _query(
                    f"sum by ({by}, finished_reason) (rate({metrics.VLLM_REQUEST_SUCCESS}{{{sel}}}[5m]))",
                    "{{finished_reason}} {{model_name}}",
                ),
            ),
        ],
    )


def neuron_dashboard() -> dict[str, Any]:
    """NeuronCore utilization, device memory, execution errors and ECC events (neuron-monitor)."""
    return _board(
        "inferentia-chat-neuron",
        "inferentia-chat / Neuron devices",
        [
            stat.Panel()
            .title("NeuronCores busy (mean)")
            .unit("percentunit")
            .datasource(DATASOURCE)
            .height(4)
            .span(6)
            .with_target(_query(f"avg({metrics.NEURONCORE_UTILIZATION})").ref_id("A")),
            _series(
                "NeuronCore utilization",
                "percentunit",
                _query(
                    f"avg by (instance_id, neuroncore) ({metrics.NEURONCORE_UTILIZATION})",
                    "{{instance_id}} core {{neuroncore}}",
                ),
            ),
            _series(
                "Device memory used by the runtime",
                "bytes",
                _query(
                    f'sum by (instance_id) ({metrics.NEURON_RUNTIME_MEMORY}{{memory_location="neuron_device"}})',
                    "{{instance_id}}",
                ),
            ),
            _series(
                "Execution errors",
                "short",
                _query(
                    f"sum by (instance_id, error_type) (increase({metrics.NEURON_EXECUTION_ERRORS}[5m]))",
                    "{{error_type}} {{instance_id}}",
                ),
            ),
            _series(
                "ECC events",
                "short",
                _query(
                    f"sum by (instance_id, event_type) (increase({metrics.NEURON_HARDWARE_ECC}[5m]))",
                    "{{event_type}} {{instance_id}}",
                ),
            ),
            _series(
                "Execution latency (runtime percentiles)",
                "s",
                _query(f"avg by (percentile) ({metrics.NEURON_EXECUTION_LATENCY})", "{{percentile}}"),
            ),
        ],
    )


def capacity_dashboard(inference_pool: str, inference_namespace: str) -> dict[str, Any]:
    """inf2 nodes by capacity type, pending inference pods, Karpenter launches and consolidations."""
    pool = f'label_karpenter_sh_nodepool="{inference_pool}"'
    in_ns = f'namespace="{inference_namespace}"'
    return _board(
        "inferentia-chat-capacity",
        "inferentia-chat / Capacity",
        [
            _series(
                "Inference nodes by capacity type",
                "short",
                _query(
                    f"count by (label_karpenter_sh_capacity_type) ({metrics.KSM_NODE_LABELS}{{{pool}}})",
                    "{{label_karpenter_sh_capacity_type}}",
                ),
            ),
            _series(
                "Inference pods not yet scheduled",
                "short",
                _query(
                    f'sum(kube_pod_status_scheduled{{namespace="{inference_namespace}",condition="false"}})',
                    "unscheduled",
                ),
            ),
            _series(
                "Neuron devices in use vs the pool's ceiling",
                "short",
                _query(
                    f'sum({metrics.KARPENTER_NODEPOOL_USAGE}{{nodepool="{inference_pool}",resource_type="aws.amazon.com/neuron"}})',
                    "in use",
                ),
                _query(
                    f'sum({metrics.KARPENTER_NODEPOOL_LIMIT}{{nodepool="{inference_pool}",resource_type="aws.amazon.com/neuron"}})',
                    "limit",
                ),
            ),
            _series(
                "Karpenter node launches",
                "short",
                _query(
                    f"sum by (nodepool) (increase({metrics.KARPENTER_NODECLAIMS_CREATED}[15m]))",
                    "{{nodepool}}",
                ),
            ),
            _series(
                "Karpenter disruptions (consolidation, drift, expiry)",
                "short",
                _query(
                    f"sum by (nodepool, reason) (increase({metrics.KARPENTER_NODECLAIMS_DISRUPTED}[15m]))",
                    "{{reason}} {{nodepool}}",
                ),
            ),
            _series(
                "vLLM replicas: wanted and available",
                "short",
                _query(
                    f"sum by (deployment) ({metrics.KSM_DEPLOYMENT_SPEC_REPLICAS}{{{in_ns}}})",
                    "wanted {{deployment}}",
                ),
                _query(
                    f"sum by (deployment) ({metrics.KSM_DEPLOYMENT_AVAILABLE}{{{in_ns}}})",
                    "available {{deployment}}",
                ),
            ),
        ],
    )


def _replication(title: str, unit: str, metric: str, statistic: str, bucket: str, region: str) -> timeseries.Panel:
    query = (
        cloudwatch.CloudWatchMetricsQuery()
        .datasource(CLOUDWATCH)
        .ref_id("A")
        .region(region)
        .namespace(metrics.S3_NAMESPACE)
        .metric_name(metric)
        .statistic(statistic)
        # Every replication rule and replica of the bucket (the DR stacks name them).
        .dimensions({"SourceBucket": bucket, "DestinationBucket": "*", "RuleId": "*"})
        .match_exact(False)
        .metric_query_type(MetricQueryType.SEARCH)
        .metric_editor_mode(MetricEditorMode.BUILDER)
        .period("300")
        .label("${PROP('Dim.DestinationBucket')} ${PROP('Dim.RuleId')}")
    )
    return timeseries.Panel().title(title).unit(unit).datasource(CLOUDWATCH).height(8).span(12).with_target(query)


def replication_dashboard(source_bucket: str, region: str) -> dict[str, Any]:
    """S3 replication of the model bucket to the DR region(s), from CloudWatch: latency against the 15-minute
    RTC threshold, operations and bytes pending, failed operations (empty until a DR stack replicates)."""
    return _board(
        "inferentia-chat-replication",
        "inferentia-chat / DR replication",
        [
            _replication("Replication latency", "s", metrics.S3_REPLICATION_LATENCY, "Maximum", source_bucket, region),
            _replication(
                "Operations pending",
                "short",
                metrics.S3_REPLICATION_PENDING_OPERATIONS,
                "Maximum",
                source_bucket,
                region,
            ),
            _replication(
                "Bytes pending", "bytes", metrics.S3_REPLICATION_PENDING_BYTES, "Maximum", source_bucket, region
            ),
            _replication(
                "Failed operations", "short", metrics.S3_REPLICATION_FAILED_OPERATIONS, "Sum", source_bucket, region
            ),
        ],
    )
