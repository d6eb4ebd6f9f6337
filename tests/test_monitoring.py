"""Monitoring: the Prometheus stack, what it scrapes, who may reach vLLM's metrics, dashboards, alert routing
and the AWS side (topic, managed Prometheus, Pod Identity roles), read from the plan."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from conftest import Plan, plan_for

from inferentia_chat import metrics, versions
from inferentia_chat.eks_cluster import SYSTEM_NODE_SELECTOR
from inferentia_chat.inferentia_node_pool import NEURON_TOLERATION
from inferentia_chat.monitoring import PROMETHEUS_POD_LABELS
from offline.render import run_stack
from stacks.config import ConfigError

MON = "inferentia-chat:monitoring"
ROOT = Path(__file__).resolve().parent.parent
RELEASE = "kubernetes:helm.sh/v3:Release"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"


def stack(plan: Plan) -> dict:
    return plan.one(RELEASE, "monitoring-stack").inputs


def values(plan: Plan) -> dict:
    return stack(plan)["values"]


def namespace(plan: Plan, name: str) -> dict:
    (ns,) = plan.k8s("Namespace", name)
    return ns


# --- the chart -------------------------------------------------------------------------------------


def test_the_stack_is_the_pinned_chart_in_its_own_restricted_namespace(dev: Plan):
    release = stack(dev)
    assert release["chart"] == versions.PROMETHEUS_STACK_CHART
    assert release["version"] == versions.PROMETHEUS_STACK_CHART_VERSION
    assert release["repositoryOpts"]["repo"] == versions.PROMETHEUS_STACK_REPO
    assert release["namespace"] == "monitoring"
    labels = namespace(dev, "monitoring")["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
    # node-exporter needs the host: it runs with the cluster's other node agents, in kube-system.
    assert values(dev)["prometheus-node-exporter"]["namespaceOverride"] == "kube-system"


def test_the_monitoring_namespace_denies_by_default_and_opens_what_the_stack_needs(dev: Plan):
    by_name = {
        p["metadata"]["name"]: p["spec"] for p in dev.k8s("NetworkPolicy") if p["metadata"]["namespace"] == "monitoring"
    }
    assert by_name["default-deny"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    vpc = dev.one("awsx:ec2:Vpc").inputs["cidrBlock"]
    webhooks = by_name["api-server-webhooks"]["ingress"]
    assert webhooks == [{"from": [{"ipBlock": {"cidr": vpc}}], "ports": [{"protocol": "TCP", "port": 10250}]}]
    egress = by_name["platform-egress"]["egress"]
    assert {
        "to": [
            {"ipBlock": {"cidr": vpc}},
            {"ipBlock": {"cidr": "10.100.0.0/16"}},
            {"ipBlock": {"cidr": "172.20.0.0/16"}},
        ],
        "ports": [{"protocol": "TCP", "port": 443}],
    } in egress
    prometheus = by_name["prometheus"]
    assert prometheus["podSelector"]["matchLabels"] == PROMETHEUS_POD_LABELS
    assert prometheus["egress"] == [{"to": [{"namespaceSelector": {}}, {"ipBlock": {"cidr": vpc}}]}]
    (keda_in,) = prometheus["ingress"]
    assert keda_in["from"] == [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "keda"}}}]
    keda = {p["metadata"]["name"]: p["spec"] for p in dev.k8s("NetworkPolicy") if p["metadata"]["namespace"] == "keda"}
    assert {"default-deny", "same-namespace", "platform-egress", "api-server-webhooks", "to-prometheus"} == set(keda)
    assert {p["port"] for p in keda["api-server-webhooks"]["ingress"][0]["ports"]} == {6443, 9443}


def test_every_pod_of_the_stack_runs_on_the_system_nodes(dev: Plan):
    v = values(dev)
    for part in (
        v["prometheus"]["prometheusSpec"],
        v["alertmanager"]["alertmanagerSpec"],
        v["grafana"],
        v["kube-state-metrics"],
        v["prometheusOperator"],
        v["prometheusOperator"]["admissionWebhooks"]["patch"],
    ):
        assert part["nodeSelector"] == SYSTEM_NODE_SELECTOR


def test_storage_and_retention_follow_the_config(dev: Plan):
    spec = values(dev)["prometheus"]["prometheusSpec"]
    assert spec["retention"] == "7d"  # dev's value
    claim = spec["storageSpec"]["volumeClaimTemplate"]["spec"]
    assert claim["resources"]["requests"]["storage"] == "20Gi" and claim["storageClassName"] == "gp3-encrypted"
    assert spec["retentionSize"] == "17GB"  # stops before the disk is full
    other = values(plan_for(**{MON: {"retention": "30d", "storageGiB": 200}}))["prometheus"]["prometheusSpec"]
    assert (
        other["retention"] == "30d"
        and other["storageSpec"]["volumeClaimTemplate"]["spec"]["resources"]["requests"]["storage"] == "200Gi"
    )


def test_prometheus_selects_the_monitors_and_rules_of_every_namespace(dev: Plan):
    spec = values(dev)["prometheus"]["prometheusSpec"]
    for kind in ("serviceMonitor", "podMonitor", "rule"):
        assert spec[f"{kind}SelectorNilUsesHelmValues"] is False


def test_grafana_admin_password_is_generated_and_never_in_the_values(dev: Plan):
    grafana = values(dev)["grafana"]
    assert grafana["admin"]["existingSecret"] == "grafana-admin"
    assert "adminPassword" not in grafana
    (secret,) = dev.k8s("Secret", "grafana-admin")
    assert secret["stringData"] == {"admin-user": "[secret]", "admin-password": "[secret]"}
    assert "grafanaAdminPassword" in dev.result.secret_outputs
    assert dev.outputs["grafanaPortForwardCommand"] == "kubectl -n monitoring port-forward svc/kps-grafana 3000:80"
    assert grafana["grafana.ini"]["auth.anonymous"]["enabled"] is False


# --- what is scraped --------------------------------------------------------------------------------


def vllm_template(plan: Plan) -> dict:
    (d,) = plan.k8s("Deployment", "vllm")
    return d["spec"]["template"]


def test_the_pod_monitor_selects_the_serving_pods_and_not_the_compile_job(dev: Plan):
    (monitor,) = dev.k8s("PodMonitor", "vllm")
    selector = monitor["spec"]["selector"]["matchLabels"]
    assert monitor["metadata"]["namespace"] == "inference"
    assert selector.items() <= vllm_template(dev)["metadata"]["labels"].items()
    (job,) = [j for j in dev.k8s("Job") if j["metadata"]["name"].startswith("vllm-compile-")]
    assert not selector.items() <= job["spec"]["template"]["metadata"]["labels"].items()
    (endpoint,) = monitor["spec"]["podMetricsEndpoints"]
    ports = {p["name"]: p["containerPort"] for p in vllm_template(dev)["spec"]["containers"][0]["ports"]}
    assert endpoint["path"] == "/metrics" and ports[endpoint["port"]] == 8000


def test_only_the_prometheus_pods_reach_the_vllm_metrics_port(dev: Plan):
    (policy,) = dev.k8s("NetworkPolicy", "vllm")
    (rule,) = policy["spec"]["ingress"]
    assert rule["ports"] == [{"protocol": "TCP", "port": 8000}]
    scrapers = [
        s for s in rule["from"] if s["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"] == "monitoring"
    ]
    assert scrapers == [
        {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}},
            "podSelector": {"matchLabels": PROMETHEUS_POD_LABELS},
        }
    ]
    # The labels the operator puts on the pods of the Prometheus the chart names `<fullname>-prometheus`.
    assert PROMETHEUS_POD_LABELS["operator.prometheus.io/name"] == values(dev)["fullnameOverride"] + "-prometheus"


def test_without_monitoring_nothing_reaches_the_metrics_and_nothing_is_deployed():
    plan = plan_for(**{MON: {"enabled": False}, "inferentia-chat:model": {"replicas": 1}})
    assert not plan.of_type("inferentia-chat:index:Monitoring")
    assert not plan.k8s("PodMonitor") and not plan.k8s("ScaledObject")
    (policy,) = plan.k8s("NetworkPolicy", "vllm")
    (rule,) = policy["spec"]["ingress"]
    assert [s["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"] for s in rule["from"]] == [
        "open-webui"
    ]


def test_neuron_monitor_runs_on_the_inf2_nodes_only(dev: Plan):
    (ds,) = dev.k8s("DaemonSet", "neuron-monitor")
    pod = ds["spec"]["template"]["spec"]
    (inf2,) = dev.k8s("NodePool", "inferentia")
    (system,) = dev.k8s("NodePool", "system")
    wanted = {k: v for k, v in pod["nodeSelector"].items() if k != "kubernetes.io/os"}
    assert wanted and wanted.items() <= inf2["spec"]["template"]["metadata"]["labels"].items()
    assert not wanted.items() <= system["spec"]["template"]["metadata"]["labels"].items()
    assert not wanted.items() <= SYSTEM_NODE_SELECTOR.items()
    assert pod["tolerations"] == [NEURON_TOLERATION]
    (container,) = pod["containers"]
    assert container["image"] == versions.NEURON_MONITOR_IMAGE
    assert container["ports"] == [{"name": "metrics", "containerPort": metrics.NEURON_MONITOR_PORT, "protocol": "TCP"}]
    assert ds["metadata"]["namespace"] == "kube-system"
    (monitor,) = dev.k8s("PodMonitor", "neuron-monitor")
    assert monitor["spec"]["selector"]["matchLabels"].items() <= ds["spec"]["template"]["metadata"]["labels"].items()


def test_karpenter_controller_metrics_are_scraped(dev: Plan):
    (monitor,) = dev.k8s("ServiceMonitor", "karpenter")
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": ["kube-system"]}
    assert monitor["spec"]["selector"]["matchLabels"] == {
        "app.kubernetes.io/name": "karpenter",
        "app.kubernetes.io/instance": dev.one(RELEASE, "karpenter-chart").inputs["name"],
    }
    assert monitor["spec"]["endpoints"][0]["port"] == "http-metrics"


def test_kube_state_metrics_exports_the_karpenter_node_labels_the_capacity_board_uses(dev: Plan):
    allow = values(dev)["kube-state-metrics"]["metricLabelsAllowlist"]
    assert "karpenter.sh/capacity-type" in allow[0] and "karpenter.sh/nodepool" in allow[0]


# --- dashboards -------------------------------------------------------------------------------------

KNOWN = {v for k, v in vars(metrics).items() if k.isupper() and isinstance(v, str)}
KNOWN |= {f"{m}_bucket" for m in KNOWN} | {"kube_pod_status_scheduled"}


def test_dashboards_are_sidecar_configmaps_querying_only_known_metrics(dev: Plan):
    boards = {
        c["metadata"]["name"]: c
        for c in dev.k8s("ConfigMap")
        if c["metadata"].get("labels", {}).get("grafana_dashboard")
    }
    assert set(boards) == {"dashboard-serving", "dashboard-neuron", "dashboard-capacity", "dashboard-replication"}
    for cm in boards.values():
        assert cm["metadata"]["labels"]["grafana_dashboard"] == "1" and cm["metadata"]["namespace"] == "monitoring"
        (board,) = [json.loads(v) for v in cm["data"].values()]
        assert board["panels"], board["title"]
        for panel in board["panels"]:
            for target in [t for t in panel["targets"] if t["datasource"]["type"] == "prometheus"]:
                names = set(re.findall(r"([a-z0-9_:]+)[{\[]", target["expr"])) | set(
                    re.findall(r"(?<!by )\(([a-z_:]+)\)", target["expr"])
                )
                assert names and names <= KNOWN, (board["title"], panel["title"], names - KNOWN)
    serving = json.loads(boards["dashboard-serving"]["data"]["serving.json"])
    titles = {p["title"] for p in serving["panels"]}
    assert {"Requests running and waiting", "Time to first token", "KV cache usage", "Inter-token latency"} <= titles


# --- alert routing and the AWS side -------------------------------------------------------------------


def test_alerts_go_to_an_encrypted_topic_only_alertmanager_may_publish_to(dev: Plan):
    topic = dev.one("aws:sns/topic:Topic", "monitoring-alerts")
    key = dev.one("aws:kms/key:Key", "monitoring-alerts-key")
    assert topic.inputs["kmsMasterKeyId"] == key.outputs["arn"] and key.inputs["enableKeyRotation"] is True
    policy = dev.policy(dev.one(ROLE_POLICY, "monitoring-alertmanager-policy"))
    actions = {a for s in policy["Statement"] for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}
    assert actions == {"sns:Publish", "kms:GenerateDataKey", "kms:Decrypt"}
    publish = next(s for s in policy["Statement"] if s["Action"] == "sns:Publish")
    assert publish["Resource"] == topic.outputs["arn"]
    role = dev.one("aws:iam/role:Role", "monitoring-alertmanager-role")
    trust = json.loads(role.inputs["assumeRolePolicy"])["Statement"][0]
    assert trust["Principal"] == {"Service": "pods.eks.amazonaws.com"}
    assert trust["Condition"]["StringEquals"] == {
        "aws:SourceAccount": "123456789012",
        "aws:RequestTag/eks-cluster-arn": "arn:aws:eks:us-east-1:123456789012:cluster/inferentia-chat-dev",
        "aws:RequestTag/kubernetes-namespace": "monitoring",
        "aws:RequestTag/kubernetes-service-account": "kps-alertmanager",
    }
    assoc = dev.one("aws:eks/podIdentityAssociation:PodIdentityAssociation", "monitoring-alertmanager")
    assert (assoc.inputs["namespace"], assoc.inputs["serviceAccount"]) == ("monitoring", "kps-alertmanager")
    assert values(dev)["alertmanager"]["serviceAccount"]["name"] == "kps-alertmanager"
    receiver = {r["name"]: r for r in values(dev)["alertmanager"]["config"]["receivers"]}["oncall"]
    (sns,) = receiver["sns_configs"]
    assert sns["topic_arn"] == topic.outputs["arn"] and sns["sigv4"] == {"region": "us-east-1"}
    assert dev.outputs["alertTopicArn"] == topic.outputs["arn"]
    topic_policy = dev.policy(dev.one("aws:sns/topicPolicy:TopicPolicy", "monitoring-alerts-policy"))
    assert any(
        s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        for s in topic_policy["Statement"]
    )


def test_an_alert_email_subscribes_to_the_topic():
    plan = plan_for(**{MON: {"alertEmail": "oncall@example.com"}})
    sub = plan.one("aws:sns/topicSubscription:TopicSubscription", "monitoring-alerts-email")
    assert sub.inputs["protocol"] == "email" and sub.inputs["endpoint"] == "oncall@example.com"


def test_a_webhook_url_stays_in_a_secret(tmp_path):
    # A project copy whose dev stack holds the URL as a `secure:` value, as `pulumi config set --secret` does.
    for item in ("__main__.py", "Pulumi.yaml", "components", "stacks", "offline"):
        (tmp_path / item).symlink_to(ROOT / item)
    stack_file = yaml.safe_load((ROOT / "Pulumi.dev.yaml").read_text())
    stack_file["config"][MON] = {"alertTarget": "webhook"}
    stack_file["config"]["inferentia-chat:alertWebhookUrl"] = {"secure": "v1:opaque"}
    (tmp_path / "Pulumi.dev.yaml").write_text(yaml.safe_dump(stack_file))
    plan = Plan(run_stack("dev", root=tmp_path, out=tmp_path / "build"))
    (secret,) = plan.k8s("Secret", "alert-webhook")
    assert secret["metadata"]["namespace"] == "monitoring" and secret["stringData"] == {"url": "[secret]"}
    am = values(plan)["alertmanager"]
    assert am["alertmanagerSpec"]["secrets"] == ["alert-webhook"]
    receiver = {r["name"]: r for r in am["config"]["receivers"]}["oncall"]
    assert receiver["webhook_configs"] == [
        {"url_file": "/etc/alertmanager/secrets/alert-webhook/url", "send_resolved": True}
    ]
    assert "offline-placeholder-secret" not in json.dumps([r.inputs for r in plan.resources])
    assert not plan.of_type("aws:sns/topic:Topic") or all(
        "monitoring" not in r.name for r in plan.of_type("aws:sns/topic:Topic")
    )
    with pytest.raises(ConfigError, match="alertWebhookUrl is required"):
        run_stack("dev", overrides={MON: {"alertTarget": "webhook"}})


def test_managed_prometheus_gets_a_workspace_and_a_write_only_role():
    plan = plan_for(**{MON: {"managedPrometheus": True}})
    workspace = plan.one("aws:amp/workspace:Workspace")
    assert workspace.inputs["kmsKeyArn"] == plan.one("aws:kms/key:Key", "monitoring-amp-key").outputs["arn"]
    policy = plan.policy(plan.one(ROLE_POLICY, "monitoring-prometheus-policy"))
    assert policy["Statement"] == [
        {"Sid": "RemoteWrite", "Effect": "Allow", "Action": "aps:RemoteWrite", "Resource": workspace.outputs["arn"]}
    ]
    assoc = plan.one("aws:eks/podIdentityAssociation:PodIdentityAssociation", "monitoring-prometheus")
    assert assoc.inputs["serviceAccount"] == "kps-prometheus"
    (write,) = values(plan)["prometheus"]["prometheusSpec"]["remoteWrite"]
    assert write["url"] == workspace.outputs["prometheusEndpoint"] + "api/v1/remote_write"
    assert write["sigv4"] == {"region": "us-east-1"}
    assert "remoteWrite" not in values(plan_for())["prometheus"]["prometheusSpec"]


def test_replication_alarms_of_the_dr_stack_notify_the_same_topic(dev_dr: Plan, dev: Plan):
    topic = dev.outputs["alertTopicArn"]
    alarms = dev_dr.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")
    own = dev_dr.outputs["alarmTopicArn"]  # the DR stack's own topic, and the primary's alert topic
    assert alarms and all(a.inputs["alarmActions"] == [own, topic] for a in alarms)
    # The topic takes CloudWatch alarms of this account and region, and its key lets them encrypt.
    policy = dev.policy(dev.one("aws:sns/topicPolicy:TopicPolicy", "monitoring-alerts-policy"))
    (cloudwatch,) = [s for s in policy["Statement"] if s.get("Principal") == {"Service": "cloudwatch.amazonaws.com"}]
    assert cloudwatch["Condition"]["StringEquals"] == {"aws:SourceAccount": "123456789012"}
    assert cloudwatch["Condition"]["ArnLike"]["aws:SourceArn"].startswith("arn:aws:cloudwatch:us-east-1:")
    key_policy = dev.policy(dev.one("aws:kms/key:Key", "monitoring-alerts-key"))
    assert any(s.get("Principal") == {"Service": "cloudwatch.amazonaws.com"} for s in key_policy["Statement"])


def test_the_replication_dashboard_reads_cloudwatch_with_a_read_only_role(dev: Plan):
    (cm,) = dev.k8s("ConfigMap", "dashboard-replication")
    board = json.loads(cm["data"]["replication.json"])
    bucket = dev.outputs["modelBucketName"]
    queries = [t for p in board["panels"] for t in p["targets"]]
    assert {q["metricName"] for q in queries} == {
        metrics.S3_REPLICATION_LATENCY,
        metrics.S3_REPLICATION_PENDING_OPERATIONS,
        metrics.S3_REPLICATION_PENDING_BYTES,
        metrics.S3_REPLICATION_FAILED_OPERATIONS,
    }
    assert all(q["namespace"] == "AWS/S3" and q["dimensions"]["SourceBucket"] == bucket for q in queries)
    (source,) = values(dev)["grafana"]["additionalDataSources"]
    assert (source["type"], source["uid"], source["jsonData"]["authType"]) == ("cloudwatch", "cloudwatch", "default")
    assert all(q["datasource"]["uid"] == source["uid"] for q in queries)
    policy = dev.policy(dev.one(ROLE_POLICY, "monitoring-grafana-policy"))
    assert [st["Action"] for st in policy["Statement"]] == [["cloudwatch:GetMetricData", "cloudwatch:ListMetrics"]]
    assoc = dev.one("aws:eks/podIdentityAssociation:PodIdentityAssociation", "monitoring-grafana")
    assert assoc.inputs["serviceAccount"] == values(dev)["grafana"]["serviceAccount"]["name"] == "kps-grafana"
