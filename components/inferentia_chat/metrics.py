"""Every metric name the dashboards, alerts and the autoscaler query, in one place, with where it was read.

Names differ between engine versions (vLLM's V0 and V1 engines, renames such as `gpu_cache_usage_perc` ->
`kv_cache_usage_perc` and `time_per_output_token_seconds` -> `inter_token_latency_seconds`), so they are
taken from the source of the pinned versions, never from a blog post:

- vLLM 0.16.0 (inferentia_chat/versions.py VLLM_VERSION): `vllm/v1/metrics/loggers.py` of the vllm 0.16.0 wheel,
  class `PrometheusStatLogger`. Every vLLM metric carries the labels `model_name` (the served model name)
  and `engine`. prometheus_client exposes a Counter `x` as `x_total` and a Histogram as `x_bucket`,
  `x_sum`, `x_count`. The vllm-neuron plugin (release-0.5.x line, in the pinned image) runs vLLM's V1
  engine and adds no metrics of its own: the names are vLLM's.
- vLLM's HTTP layer: `vllm/entrypoints/serve/instrumentator/metrics.py` (same wheel) mounts
  prometheus-fastapi-instrumentator, whose default `http_requests_total` carries `handler`, `method` and
  `status` grouped as `2xx`/`4xx`/`5xx`. `/metrics` needs no API key (vLLM's AuthenticationMiddleware guards
  only `/v1` paths): the NetworkPolicy admits only Prometheus to it.
- neuron-monitor: its Prometheus exporter `neuron-monitor-prometheus.py` (aws-neuronx-tools, installed at
  /opt/aws/neuron/bin/; Neuron SDK "Neuron Monitor User Guide"), the names the Neuron SDK's sample
  dashboard src/examples/neuron-monitor/neuron-monitor-grafana.json queries.
- Karpenter 1.14.1: website/content/en/docs/reference/metrics.md at tag v1.14.1.
- S3 replication (CloudWatch namespace `AWS/S3`, dimensions SourceBucket, DestinationBucket, RuleId): Amazon S3
  user guide, "Monitoring progress with replication metrics"; the DR stack's alarms use the same metrics.
- kube-state-metrics (subchart 8.4.0 of the pinned kube-prometheus-stack): `kube_deployment_*`,
  `kube_pod_status_phase`, `kube_node_labels` are its stable metrics.
"""

from __future__ import annotations

# --- vLLM 0.16.0 (PrometheusStatLogger) ------------------------------------------------------------
VLLM_REQUESTS_RUNNING = "vllm:num_requests_running"  # gauge: requests in execution batches
VLLM_REQUESTS_WAITING = "vllm:num_requests_waiting"  # gauge: requests queued (the autoscaling signal)
VLLM_KV_CACHE_USAGE = "vllm:kv_cache_usage_perc"  # gauge, 0..1 (1 = 100 %)
VLLM_TTFT = "vllm:time_to_first_token_seconds"  # histogram
VLLM_ITL = "vllm:inter_token_latency_seconds"  # histogram (replaces time_per_output_token_seconds)
VLLM_E2E = "vllm:e2e_request_latency_seconds"  # histogram
VLLM_QUEUE_TIME = "vllm:request_queue_time_seconds"  # histogram: time spent WAITING
VLLM_GENERATION_TOKENS = "vllm:generation_tokens_total"  # counter vllm:generation_tokens
VLLM_PROMPT_TOKENS = "vllm:prompt_tokens_total"  # counter vllm:prompt_tokens
VLLM_REQUEST_SUCCESS = "vllm:request_success_total"  # counter, label finished_reason
VLLM_PREEMPTIONS = "vllm:num_preemptions_total"  # counter vllm:num_preemptions
VLLM_MODEL_LABEL = "model_name"
# prometheus-fastapi-instrumentator (vLLM's HTTP server)
HTTP_REQUESTS = "http_requests_total"  # counter, labels handler, method, status ("5xx" ...)

# --- neuron-monitor-prometheus.py -------------------------------------------------------------------
NEURONCORE_UTILIZATION = "neuroncore_utilization_ratio"  # gauge 0..1, label neuroncore
NEURON_RUNTIME_MEMORY = "neuron_runtime_memory_used_bytes"  # gauge, label memory_location host|neuron_device
NEURON_EXECUTION_ERRORS = "execution_errors_total"  # counter, label error_type (generic, numerical, ...)
NEURON_EXECUTION_STATUS = "execution_status_total"  # counter, label status_type (completed, timed_out, ...)
NEURON_EXECUTION_LATENCY = "execution_latency_seconds"  # gauge, label percentile (p50, p99, ...)
NEURON_HARDWARE_ECC = "hardware_ecc_events_total"  # counter, label event_type (mem_ecc_uncorrected, ...)
NEURON_MONITOR_PORT = 8000  # the exporter's default --port, and the DaemonSet's in the Neuron SDK

# --- Karpenter 1.14.1 --------------------------------------------------------------------------------
KARPENTER_NODECLAIMS_CREATED = "karpenter_nodeclaims_created_total"  # labels reason, nodepool
KARPENTER_NODECLAIMS_DISRUPTED = "karpenter_nodeclaims_disrupted_total"  # labels reason, nodepool
KARPENTER_DISRUPTION_DECISIONS = "karpenter_voluntary_disruption_decisions_total"  # decision, reason
KARPENTER_NODEPOOL_USAGE = "karpenter_nodepools_usage"  # labels nodepool, resource_type
KARPENTER_NODEPOOL_LIMIT = "karpenter_nodepools_limit"  # labels nodepool, resource_type
KARPENTER_METRICS_PORT_NAME = "http-metrics"  # the chart's Service port (controller.metrics.port 8080)

# --- kube-state-metrics ------------------------------------------------------------------------------
KSM_DEPLOYMENT_SPEC_REPLICAS = "kube_deployment_spec_replicas"
KSM_DEPLOYMENT_AVAILABLE = "kube_deployment_status_replicas_available"
KSM_POD_PHASE = "kube_pod_status_phase"  # labels namespace, pod, phase
KSM_NODE_LABELS = "kube_node_labels"  # node labels as label_<name>, only those allowed (see monitoring.py)

# --- S3 replication (CloudWatch, AWS/S3) -------------------------------------------------------------
S3_NAMESPACE = "AWS/S3"
S3_REPLICATION_LATENCY = "ReplicationLatency"  # seconds, Maximum
S3_REPLICATION_PENDING_OPERATIONS = "OperationsPendingReplication"
S3_REPLICATION_PENDING_BYTES = "BytesPendingReplication"
S3_REPLICATION_FAILED_OPERATIONS = "OperationsFailedReplication"
