"""Values of the kube-prometheus-stack chart (pinned in inferentia_chat/versions.py), as one pure function.

What they decide, against the chart's defaults:
- names: `fullnameOverride: kps`, so the Prometheus is `kps-prometheus` (Service port 9090, pods labelled
  `operator.prometheus.io/name: kps-prometheus`) and the service accounts Pod Identity binds are fixed;
- placement: every pod on the system nodes; node-exporter (host network and PID: not `restricted`) in
  kube-system, with the cluster's other node agents;
- selection: Prometheus picks up every ServiceMonitor, PodMonitor and PrometheusRule of the cluster (not only
  those labelled with the release), so the components' own monitors need no chart-specific label;
- storage: a volume of `storage_gib` on the encrypted gp3 class, `retention` and a size cap at 85 % of the
  volume (Prometheus stops writing when its disk is full);
- EKS: the control-plane components Prometheus cannot reach (controller manager, scheduler, etcd, and
  kube-proxy, which listens on localhost) are not scraped, so their rules do not alert on nothing;
- Grafana: admin from an existing Secret (a generated password), no sign-up, no anonymous access, no
  update checks or reporting, dashboards from labelled ConfigMaps of the monitoring namespace only;
- kube-state-metrics exports the Karpenter node labels the capacity dashboard groups by.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .hardware import Resources

FULLNAME = "kps"
PROMETHEUS_NAME = f"{FULLNAME}-prometheus"
PROMETHEUS_SERVICE_ACCOUNT = f"{FULLNAME}-prometheus"
ALERTMANAGER_SERVICE_ACCOUNT = f"{FULLNAME}-alertmanager"
PROMETHEUS_PORT = 9090
GRAFANA_SERVICE = f"{FULLNAME}-grafana"  # the grafana subchart's fullname, <release>-grafana (release `kps`)
GRAFANA_SERVICE_ACCOUNT = GRAFANA_SERVICE
GRAFANA_ADMIN_SECRET = "grafana-admin"
# Grafana's CloudWatch data source (the DR replication dashboard), credentials from Pod Identity.
CLOUDWATCH_DATASOURCE_UID = "cloudwatch"
WEBHOOK_SECRET = "alert-webhook"
WEBHOOK_URL_KEY = "url"
# Requests (and memory limits) of the stack's pods: one table, read by the values and the capacity check.
RESOURCES: dict[str, dict[str, dict[str, str]]] = {
    "prometheus": {"requests": {"cpu": "500m", "memory": "2Gi"}, "limits": {"memory": "4Gi"}},
    "alertmanager": {"requests": {"cpu": "50m", "memory": "128Mi"}, "limits": {"memory": "256Mi"}},
    "grafana": {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"memory": "512Mi"}},
    "grafana-sidecar": {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"memory": "128Mi"}},
    "operator": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "256Mi"}},
    "kube-state-metrics": {"requests": {"cpu": "50m", "memory": "128Mi"}, "limits": {"memory": "256Mi"}},
}
# Pods per entry on the system nodes (the Grafana pod runs two sidecars: dashboards and datasources).
REPLICAS = {"grafana-sidecar": 2}


def stack_requests() -> Resources:
    """What the chart's pods on the system nodes request in all."""
    from .system_capacity import mib, millis

    cpu = mem = 0
    for part, res in RESOURCES.items():
        n = REPLICAS.get(part, 1)
        cpu += n * millis(res["requests"]["cpu"])
        mem += n * mib(res["requests"]["memory"])
    return Resources(0, cpu, mem)


def alertmanager_config(target: str, region: str, topic_arn: str | None) -> dict[str, Any]:
    """Routing: every alert to one receiver (the SNS topic, the webhook, or nowhere), the chart's always-firing
    `Watchdog` to a null receiver."""
    receiver: dict[str, Any] = {"name": "oncall"}
    if target == "sns" and topic_arn:
        receiver["sns_configs"] = [
            {
                "topic_arn": topic_arn,
                "sigv4": {"region": region},  # credentials from Pod Identity (the SDK's default chain)
                "subject": "[{{ .Status | toUpper }}] {{ .CommonLabels.alertname }}",
                "send_resolved": True,
            }
        ]
    elif target == "webhook":
        receiver["webhook_configs"] = [
            # The URL (often a token) stays in a Secret mounted by the operator, never in the values.
            {"url_file": f"/etc/alertmanager/secrets/{WEBHOOK_SECRET}/{WEBHOOK_URL_KEY}", "send_resolved": True}
        ]
    return {
        "route": {
            "receiver": "oncall",
            "group_by": ["alertname", "namespace"],
            "group_wait": "30s",
            "group_interval": "5m",
            "repeat_interval": "4h",
            "routes": [{"receiver": "null", "matchers": ['alertname = "Watchdog"']}],
        },
        "receivers": [{"name": "null"}, receiver],
    }


def _cloudwatch_datasource(region: str) -> dict[str, Any]:
    """Grafana's CloudWatch data source with the AWS SDK's default credentials (Pod Identity)."""
    return {
        "name": "CloudWatch",
        "type": "cloudwatch",
        "uid": CLOUDWATCH_DATASOURCE_UID,
        "access": "proxy",
        "jsonData": {"authType": "default", "defaultRegion": region},
    }


def _volume(storage_class: str, gib: int) -> dict[str, Any]:
    return {
        "volumeClaimTemplate": {
            "spec": {
                "storageClassName": storage_class,
                "accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": f"{gib}Gi"}},
            }
        }
    }


def chart_values(
    *,
    node_selector: Mapping[str, str],
    node_namespace: str,
    dashboards_namespace: str,
    retention: str,
    storage_gib: int,
    storage_class: str,
    alertmanager: dict[str, Any],
    webhook: bool,
    remote_write_url: str | None,
    region: str,
    cloudwatch: bool = False,
) -> dict[str, Any]:
    """The chart's values (see the module docstring)."""
    system = dict(node_selector)
    select_all = {
        f"{kind}SelectorNilUsesHelmValues": False
        for kind in ("serviceMonitor", "podMonitor", "rule", "probe", "scrapeConfig")
    }
    prometheus_spec: dict[str, Any] = {
        **select_all,
        "nodeSelector": system,
        "retention": retention,
        "retentionSize": f"{int(storage_gib * 0.85)}GB",
        "resources": RESOURCES["prometheus"],
        "storageSpec": _volume(storage_class, storage_gib),
    }
    if remote_write_url:
        prometheus_spec["remoteWrite"] = [{"url": remote_write_url, "sigv4": {"region": region}}]
    return {
        "fullnameOverride": FULLNAME,
        "crds": {"enabled": True},
        "kubeControllerManager": {"enabled": False},
        "kubeScheduler": {"enabled": False},
        "kubeEtcd": {"enabled": False},
        "kubeProxy": {"enabled": False},
        "prometheusOperator": {
            "nodeSelector": system,
            "resources": RESOURCES["operator"],
            "admissionWebhooks": {"patch": {"nodeSelector": system}, "deployment": {"nodeSelector": system}},
        },
        "prometheus": {
            "serviceAccount": {"create": True, "name": PROMETHEUS_SERVICE_ACCOUNT},
            "prometheusSpec": prometheus_spec,
        },
        "alertmanager": {
            "serviceAccount": {"create": True, "name": ALERTMANAGER_SERVICE_ACCOUNT},
            "config": alertmanager,
            "alertmanagerSpec": {
                "nodeSelector": system,
                "resources": RESOURCES["alertmanager"],
                "storage": _volume(storage_class, 2),
                "secrets": [WEBHOOK_SECRET] if webhook else [],
            },
        },
        "grafana": {
            "serviceAccount": {"create": True, "name": GRAFANA_SERVICE_ACCOUNT},
            "additionalDataSources": [_cloudwatch_datasource(region)] if cloudwatch else [],
            "nodeSelector": system,
            "resources": RESOURCES["grafana"],
            "admin": {"existingSecret": GRAFANA_ADMIN_SECRET, "userKey": "admin-user", "passwordKey": "admin-password"},
            "initChownData": {"enabled": False},  # a root init container; no persistent volume to chown
            "grafana.ini": {
                "analytics": {"check_for_updates": False, "reporting_enabled": False},
                "users": {"allow_sign_up": False},
                "auth.anonymous": {"enabled": False},
            },
            "sidecar": {
                "resources": RESOURCES["grafana-sidecar"],
                "dashboards": {
                    "enabled": True,
                    "label": "grafana_dashboard",
                    "labelValue": "1",
                    "searchNamespace": dashboards_namespace,
                },
            },
        },
        "kube-state-metrics": {
            "nodeSelector": system,
            "resources": RESOURCES["kube-state-metrics"],
            "metricLabelsAllowlist": [
                "nodes=[karpenter.sh/nodepool,karpenter.sh/capacity-type,node.kubernetes.io/instance-type]"
            ],
        },
        "prometheus-node-exporter": {"namespaceOverride": node_namespace},
    }
