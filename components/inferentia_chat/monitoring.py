"""Monitoring: see the service and get told when it suffers.

kube-prometheus-stack (Prometheus, Alertmanager, Grafana, kube-state-metrics, node-exporter; pinned chart)
in a namespace of its own with the `restricted` Pod Security level, on the system nodes; neuron-monitor on
the Inferentia2 nodes only; PodMonitors for each served model and for neuron-monitor, a ServiceMonitor for
Karpenter's controller; the alerting rules (inferentia_chat/alerts.py) and the dashboards
(inferentia_chat/dashboards.py). Alerts go to an SNS topic (encrypted with a customer key, published to by a Pod
Identity role that may do nothing else) or to a webhook whose URL stays in a Secret. Optionally Prometheus
also writes to an Amazon Managed Service for Prometheus workspace (Pod Identity role, SigV4).
"""

import json
from collections.abc import Mapping, Sequence
from typing import Any, NotRequired, TypedDict

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s
import pulumi_random as random

from . import alerts, dashboards, metrics, versions
from . import monitoring_values as chart
from .eks_cluster import STORAGE_CLASS, SYSTEM_NODE_SELECTOR
from .hardware import Resources
from .karpenter import NAMESPACE as KARPENTER_NAMESPACE
from .karpenter import RELEASE_NAME as KARPENTER_RELEASE
from .kube import RESTRICTED_NAMESPACE_LABELS
from .monitoring_aws import MonitoringAws
from .namespace_network import namespace_network
from .neuron_monitor import APP as NEURON_MONITOR
from .neuron_monitor import SELECTOR as NEURON_MONITOR_SELECTOR
from .neuron_monitor import daemon_set_spec
from .options import outer_dependencies
from .tags import component_tags

TYPE = "inferentia-chat:index:Monitoring"
NAMESPACE = "monitoring"
# Node agents that need the host (node-exporter, neuron-monitor) run where the cluster's other node agents do:
# kube-system, which EKS does not restrict; every namespace the stack creates stays `restricted`.
NODE_NAMESPACE = "kube-system"
RELEASE = chart.FULLNAME
# The Prometheus pods (operator-made labels): what the vLLM NetworkPolicy admits to /metrics.
PROMETHEUS_POD_LABELS = {"app.kubernetes.io/name": "prometheus", "operator.prometheus.io/name": chart.PROMETHEUS_NAME}
PROMETHEUS_URL = f"http://{chart.PROMETHEUS_NAME}.{NAMESPACE}.svc:{chart.PROMETHEUS_PORT}"
LABELS = {"app.kubernetes.io/part-of": "inferentia-chat", "app.kubernetes.io/component": "monitoring"}
# The operator's admission webhook (chart values prometheusOperator.tls.internalPort), called by the API server.
OPERATOR_WEBHOOK_PORT = 10250


def monitoring_requests() -> Resources:
    """What the monitoring stack requests on the system nodes (the config's capacity check)."""
    return chart.stack_requests()


class ServedModelArgs(TypedDict):
    """One served model: where its pods are and what its alerts compare with."""

    namespace: str
    """Namespace of the model's vLLM pods."""
    deployment: str
    """Name of its Deployment (also the PodMonitor's name, hence the `job` label `<namespace>/<name>`)."""
    model_name: str
    """Served model name (vLLM's `model_name` label)."""
    pod_labels: Mapping[str, str]
    """Labels that select the serving pods (and not the compile Job's)."""
    queue_limit: int
    """Waiting requests per replica that mean an unacceptable wait (queue alert)."""


class MonitoringArgs(TypedDict):
    """Inputs of `Monitoring`."""

    cluster_name: pulumi.Input[str]
    """EKS cluster (Pod Identity associations; the cluster ARN in the roles' trust)."""
    served_models: Sequence[ServedModelArgs]
    """The models to scrape and alert on."""
    inference_namespace: str
    """Namespace of the serving pods (capacity alert and dashboard)."""
    inference_pool: pulumi.Input[str]
    """Name of the Inferentia2 NodePool (capacity dashboard)."""
    inference_node_selector: pulumi.Input[Mapping[str, str]]
    """Node selector of the Inferentia2 nodes (neuron-monitor runs there only)."""
    inference_tolerations: pulumi.Input[Sequence[Mapping[str, str]]]
    """Tolerations of the pool's taint."""
    startup_budget_seconds: float
    """A new replica's time-to-ready on a new node (budget.json): how long "not ready" is normal."""
    vpc_cidr: pulumi.Input[str]
    """The VPC block: the Kubernetes API's interfaces (egress) and the API server calling webhooks (ingress),
    the host-network scrape targets (node-exporter, neuron-monitor, kubelets)."""
    namespace_labels: NotRequired[Mapping[str, str]]
    """Further labels of the namespace (e.g. the environment label the policy pack reads)."""
    neuron_monitor_image: NotRequired[str]
    """The neuron-monitor image (default: the pinned Neuron SDK image; digest-pinned in production)."""
    retention: NotRequired[str]
    """Prometheus retention, e.g. 15d (default)."""
    storage_gib: NotRequired[int]
    """Prometheus volume size in GiB (default 50)."""
    ttft_p95_target_seconds: NotRequired[int]
    """Time-to-first-token p95 alert target (default 10)."""
    alert_target: NotRequired[str]
    """`sns` (default: a topic), `webhook` or `none`."""
    alert_email: NotRequired[str]
    """An email address subscribed to the alert topic (sns only; it must confirm the subscription)."""
    alert_webhook_url: NotRequired[pulumi.Input[str]]
    """The webhook URL (a secret), with `webhook`."""
    replication_source_bucket: NotRequired[pulumi.Input[str]]
    """The model bucket a DR stack replicates: with it, Grafana gets a CloudWatch data source (Pod Identity role
    that may only read metrics) and the DR replication dashboard."""
    managed_prometheus: NotRequired[bool]
    """Also remote-write to an Amazon Managed Service for Prometheus workspace (default false)."""
    tags: NotRequired[Mapping[str, str]]
    """Common tags for every AWS resource."""


class Monitoring(pulumi.ComponentResource):
    """kube-prometheus-stack, neuron-monitor, monitors, alert rules, dashboards, alert routing and optionally
    Amazon Managed Service for Prometheus."""

    namespace: pulumi.Output[str]
    """Namespace of Prometheus, Alertmanager and Grafana."""
    prometheus_url: pulumi.Output[str]
    """In-cluster URL of Prometheus (the autoscaler's data source)."""
    grafana_port_forward_command: pulumi.Output[str]
    """Makes Grafana reachable at http://localhost:3000."""
    grafana_admin_password: pulumi.Output[str]
    """Grafana's generated admin password (a secret; user `admin`)."""
    alert_topic_arn: pulumi.Output[str]
    """The SNS topic alerts go to (empty unless `alert_target` is sns)."""
    remote_write_url: pulumi.Output[str]
    """The managed Prometheus workspace's remote-write URL (empty unless `managed_prometheus`)."""

    def __init__(self, name: str, args: MonitoringArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(TYPE, name, None, opts)
        tags = component_tags(args.get("tags", {}), "Monitoring")
        ns, password, secrets = self._namespaces_and_secrets(name, args)
        aws_side = MonitoringAws(self, name, args, NAMESPACE, tags)
        target = args.get("alert_target", "sns")
        waits: list[pulumi.Resource] = [ns, *secrets, *aws_side.ready, *outer_dependencies(opts)]
        region = aws.get_region().region
        values = pulumi.Output.all(aws_side.topic_arn, aws_side.remote_write_url).apply(
            lambda a: chart.chart_values(
                node_selector=SYSTEM_NODE_SELECTOR,
                node_namespace=NODE_NAMESPACE,
                dashboards_namespace=NAMESPACE,
                retention=args.get("retention", "15d"),
                storage_gib=args.get("storage_gib", 50),
                storage_class=STORAGE_CLASS,
                alertmanager=chart.alertmanager_config(target, region, a[0] or None),
                webhook=target == "webhook",
                remote_write_url=a[1] or None,
                region=region,
                cloudwatch="replication_source_bucket" in args,
            )
        )
        release = k8s.helm.v3.Release(
            f"{name}-stack",
            name=RELEASE,
            chart=versions.PROMETHEUS_STACK_CHART,
            version=versions.PROMETHEUS_STACK_CHART_VERSION,
            repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=versions.PROMETHEUS_STACK_REPO),
            namespace=NAMESPACE,
            atomic=True,
            cleanup_on_fail=True,
            timeout=900,
            values=values,
            opts=pulumi.ResourceOptions(parent=self, depends_on=waits),
        )
        after = pulumi.ResourceOptions(parent=self, depends_on=[release])
        self._scrape(name, args, after)
        self._rules_and_dashboards(name, args, after)

        self.release = release
        self.namespace = ns.metadata["name"]
        self.prometheus_url = pulumi.Output.from_input(PROMETHEUS_URL)
        self.grafana_port_forward_command = pulumi.Output.from_input(
            f"kubectl -n {NAMESPACE} port-forward svc/{chart.GRAFANA_SERVICE} 3000:80"
        )
        self.grafana_admin_password = pulumi.Output.secret(password.result)
        self.alert_topic_arn = aws_side.topic_arn
        self.remote_write_url = aws_side.remote_write_url
        self.register_outputs(
            {
                "namespace": self.namespace,
                "prometheus_url": self.prometheus_url,
                "grafana_port_forward_command": self.grafana_port_forward_command,
                "grafana_admin_password": self.grafana_admin_password,
                "alert_topic_arn": self.alert_topic_arn,
                "remote_write_url": self.remote_write_url,
            }
        )

    def _namespaces_and_secrets(
        self, name: str, args: MonitoringArgs
    ) -> tuple[k8s.core.v1.Namespace, random.RandomPassword, list[pulumi.Resource]]:
        """The restricted, default-deny namespace with its allows, Grafana's generated admin and the webhook URL
        (with `webhook`) as Secrets the chart reads."""
        child = pulumi.ResourceOptions(parent=self)
        ns = k8s.core.v1.Namespace(
            f"{name}-namespace",
            metadata={
                "name": NAMESPACE,
                "labels": {**LABELS, **RESTRICTED_NAMESPACE_LABELS, **args.get("namespace_labels", {})},
            },
            opts=child,
        )
        network = namespace_network(
            self, name, NAMESPACE, LABELS, args["vpc_cidr"], webhook_ports=[OPERATOR_WEBHOOK_PORT], depends_on=[ns]
        )
        network.append(self._prometheus_policy(name, args, ns))
        in_ns = pulumi.ResourceOptions(parent=self, depends_on=[ns])
        password = random.RandomPassword(f"{name}-grafana-admin", length=32, special=False, opts=child)
        secrets: list[pulumi.Resource] = [
            *network,
            k8s.core.v1.Secret(
                f"{name}-grafana-admin",
                metadata={"name": chart.GRAFANA_ADMIN_SECRET, "namespace": NAMESPACE, "labels": LABELS},
                type="Opaque",
                string_data={"admin-user": "admin", "admin-password": password.result},
                opts=in_ns,
            ),
        ]
        if args.get("alert_target", "sns") == "webhook":
            secrets.append(
                k8s.core.v1.Secret(
                    f"{name}-alert-webhook",
                    metadata={"name": chart.WEBHOOK_SECRET, "namespace": NAMESPACE, "labels": LABELS},
                    type="Opaque",
                    string_data={chart.WEBHOOK_URL_KEY: pulumi.Output.secret(args.get("alert_webhook_url", ""))},
                    opts=in_ns,
                )
            )
        return ns, password, secrets

    def _prometheus_policy(
        self, name: str, args: MonitoringArgs, ns: k8s.core.v1.Namespace
    ) -> k8s.networking.v1.NetworkPolicy:
        """Prometheus scrapes pods of every namespace and the host-network targets in the VPC (node-exporter,
        neuron-monitor, kubelets), and KEDA's operator queries it."""
        from .autoscaling import NAMESPACE as KEDA_NAMESPACE

        return k8s.networking.v1.NetworkPolicy(
            f"{name}-prometheus",
            metadata={"name": "prometheus", "namespace": NAMESPACE, "labels": LABELS},
            spec=pulumi.Output.from_input(args["vpc_cidr"]).apply(
                lambda cidr: {
                    "podSelector": {"matchLabels": PROMETHEUS_POD_LABELS},
                    "policyTypes": ["Ingress", "Egress"],
                    "ingress": [
                        {
                            "from": [
                                {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": KEDA_NAMESPACE}}}
                            ],
                            "ports": [{"protocol": "TCP", "port": chart.PROMETHEUS_PORT}],
                        }
                    ],
                    "egress": [{"to": [{"namespaceSelector": {}}, {"ipBlock": {"cidr": cidr}}]}],
                }
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[ns]),
        )

    def _scrape(self, name: str, args: MonitoringArgs, after: pulumi.ResourceOptions) -> None:
        """neuron-monitor on the inf2 nodes; PodMonitors for vLLM and neuron-monitor; Karpenter's metrics."""
        spec = pulumi.Output.all(args["inference_node_selector"], args["inference_tolerations"]).apply(
            lambda a: daemon_set_spec(a[0], a[1], args.get("neuron_monitor_image", versions.NEURON_MONITOR_IMAGE))
        )
        k8s.apps.v1.DaemonSet(
            f"{name}-neuron-monitor",
            metadata={
                "name": NEURON_MONITOR,
                "namespace": NODE_NAMESPACE,
                "labels": {**LABELS, **NEURON_MONITOR_SELECTOR},
            },
            spec=spec,
            opts=pulumi.ResourceOptions(parent=self),
        )
        monitors: list[tuple[str, str, dict[str, Any]]] = [
            (
                f"{name}-neuron-monitor",
                "PodMonitor",
                {
                    "metadata": {"name": NEURON_MONITOR, "namespace": NODE_NAMESPACE},
                    "spec": {
                        "selector": {"matchLabels": NEURON_MONITOR_SELECTOR},
                        "podMetricsEndpoints": [{"port": "metrics", "path": "/", "interval": "30s"}],
                    },
                },
            ),
            (
                f"{name}-karpenter",
                "ServiceMonitor",
                {
                    "metadata": {"name": "karpenter", "namespace": NAMESPACE},
                    "spec": {
                        "namespaceSelector": {"matchNames": [KARPENTER_NAMESPACE]},
                        "selector": {
                            "matchLabels": {
                                "app.kubernetes.io/name": "karpenter",
                                "app.kubernetes.io/instance": KARPENTER_RELEASE,
                            }
                        },
                        "endpoints": [{"port": metrics.KARPENTER_METRICS_PORT_NAME, "interval": "30s"}],
                    },
                },
            ),
        ]
        for model in args["served_models"]:
            monitors.append(
                (
                    f"{name}-{model['model_name']}",
                    "PodMonitor",
                    {
                        "metadata": {"name": model["deployment"], "namespace": model["namespace"]},
                        "spec": {
                            "selector": {"matchLabels": dict(model["pod_labels"])},
                            "podMetricsEndpoints": [{"port": "http", "path": "/metrics", "interval": "15s"}],
                        },
                    },
                )
            )
        for resource_name, kind, body in monitors:
            k8s.apiextensions.CustomResource(
                resource_name,
                api_version="monitoring.coreos.com/v1",
                kind=kind,
                metadata={**body["metadata"], "labels": LABELS},
                spec=body["spec"],
                opts=after,
            )

    def _rules_and_dashboards(self, name: str, args: MonitoringArgs, after: pulumi.ResourceOptions) -> None:
        budget = args["startup_budget_seconds"]
        groups = [
            alerts.serving_rules(
                alerts.ModelAlerts(
                    namespace=m["namespace"],
                    deployment=m["deployment"],
                    model_name=m["model_name"],
                    queue_limit=m["queue_limit"],
                    ttft_p95_target_seconds=args.get("ttft_p95_target_seconds", 10),
                    startup_budget_seconds=budget,
                )
            )
            for m in args["served_models"]
        ]
        groups += [alerts.neuron_rules(), alerts.capacity_rules(args["inference_namespace"], budget)]
        k8s.apiextensions.CustomResource(
            f"{name}-rules",
            api_version="monitoring.coreos.com/v1",
            kind="PrometheusRule",
            metadata={"name": "inferentia-chat", "namespace": NAMESPACE, "labels": LABELS},
            spec={"groups": groups},
            opts=after,
        )
        boards = pulumi.Output.from_input(args["inference_pool"]).apply(
            lambda pool: {
                "serving": dashboards.serving_dashboard(args["inference_namespace"]),
                "neuron": dashboards.neuron_dashboard(),
                "capacity": dashboards.capacity_dashboard(pool, args["inference_namespace"]),
            }
        )
        if "replication_source_bucket" in args:
            region = aws.get_region().region
            replication = pulumi.Output.from_input(args["replication_source_bucket"]).apply(
                lambda bucket: dashboards.replication_dashboard(bucket, region)
            )
            boards = pulumi.Output.all(boards, replication).apply(lambda a: {**a[0], "replication": a[1]})
        for key in ("serving", "neuron", "capacity", *(["replication"] if "replication_source_bucket" in args else [])):
            k8s.core.v1.ConfigMap(
                f"{name}-dashboard-{key}",
                metadata={
                    "name": f"dashboard-{key}",
                    "namespace": NAMESPACE,
                    "labels": {**LABELS, **dashboards.SIDECAR_LABEL},
                },
                data=boards.apply(lambda b, k=key: {f"{k}.json": json.dumps(b[k], sort_keys=True)}),
                opts=after,
            )
