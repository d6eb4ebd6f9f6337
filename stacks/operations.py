"""Composition of the operations layer: system capacity that grows, monitoring, and autoscaling on load.

Kept apart from stacks/primary.py so the platform's composition reads in one screen; `build_platform` calls
`system_capacity` after Karpenter and `build_operations` after the serving and web UI components.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi

from inferentia_chat.autoscaling import (
    Autoscaling,
    AutoscalingArgs,
    ScaledDeploymentArgs,
    ScalingPolicy,
    scaling_policy,
)
from inferentia_chat.eks_cluster import EksCluster
from inferentia_chat.inferentia_node_pool import InferentiaNodePool
from inferentia_chat.karpenter import Karpenter
from inferentia_chat.monitoring import NAMESPACE as MONITORING_NAMESPACE
from inferentia_chat.monitoring import PROMETHEUS_POD_LABELS, Monitoring, MonitoringArgs, ServedModelArgs
from inferentia_chat.system_node_pool import SystemNodePool, SystemNodePoolArgs
from inferentia_chat.vllm import VllmNeuronServer
from offline.budget import replica_budget
from stacks.config import StackConfig
from stacks.config.operations import DEFAULT_MAX_QUEUE_WAIT_S
from stacks.config.schema import ModelConfig


@dataclass(frozen=True)
class Operations:
    """What `build_operations` made, for the stack's outputs."""

    system_pool: SystemNodePool | None
    monitoring: Monitoring | None
    autoscaling: Autoscaling | None

    def outputs(self) -> dict[str, Any]:
        """Stack outputs of the operations layer."""
        out: dict[str, Any] = {}
        if self.system_pool:
            out["systemNodePool"] = self.system_pool.node_pool_name
        if self.monitoring:
            out |= {
                "grafanaPortForwardCommand": self.monitoring.grafana_port_forward_command,
                "grafanaAdminPassword": self.monitoring.grafana_admin_password,
                "alertTopicArn": self.monitoring.alert_topic_arn,
                "prometheusRemoteWriteUrl": self.monitoring.remote_write_url,
            }
        if self.autoscaling:
            out["scaledObjects"] = self.autoscaling.scaled_objects
        return out


def new_node_seconds(cfg: StackConfig) -> float:
    """A new replica's time-to-ready on a new node: the replica budget (offline/budget.py, budget.json)."""
    return float(replica_budget(cfg)["newNode"]["totalSeconds"])


def metrics_access(cfg: StackConfig) -> dict[str, Any]:
    """VllmNeuronServer args that admit exactly the Prometheus pods to /metrics (when monitoring is on)."""
    if cfg.monitoring is None or not cfg.monitoring.enabled:
        return {}
    return {"metrics_namespace": MONITORING_NAMESPACE, "metrics_pod_labels": PROMETHEUS_POD_LABELS}


def karpenter_pool(cluster: EksCluster, karpenter: Karpenter) -> tuple[dict[str, Any], pulumi.ResourceOptions]:
    """What every Karpenter NodePool of the stack shares: its node class args (the cluster, Karpenter's node
    role, the cluster's node security group) and its options: on the cluster after the controller, so that
    `pulumi destroy` removes the NodePool and EC2NodeClass before it (else their nodes are orphaned)."""
    args = {
        "cluster_name": cluster.cluster_name,
        "node_role_name": karpenter.node_role_name,
        "node_security_group_id": cluster.node_security_group_id,
    }
    return args, pulumi.ResourceOptions(providers=[cluster.provider], depends_on=[karpenter.release])


def system_capacity(cfg: StackConfig, cluster: EksCluster, karpenter: Karpenter) -> SystemNodePool | None:
    """Karpenter system nodes up to systemNodeMaxCount (none when it equals systemNodeCount)."""
    c = cfg.cluster
    extra = c.system_node_max_count - c.system_node_count
    if extra < 1:
        return None
    node_class, opts = karpenter_pool(cluster, karpenter)
    return SystemNodePool(
        "system",
        SystemNodePoolArgs(**node_class, instance_type=c.system_node_type, max_nodes=extra, tags=cfg.common_tags),
        opts=opts,
    )


def build_operations(
    cfg: StackConfig,
    cluster: EksCluster,
    pool: InferentiaNodePool,
    servers: list[VllmNeuronServer],
    system_pool: SystemNodePool | None,
    inference_namespace: str,
    model_bucket: pulumi.Input[str],
    vpc_cidr: pulumi.Input[str],
    namespace_labels: dict[str, str],
) -> Operations:
    """Monitoring (with its monitors, rules, dashboards and alert routing) and, for each model with
    `autoscaling`, KEDA with its ScaledObject; thresholds from the start-up budget. `servers` pairs with
    `cfg.models`, in order."""
    mon = cfg.monitoring
    if mon is None or not mon.enabled:
        return Operations(system_pool, None, None)
    budget = new_node_seconds(cfg)
    policies = [
        scaling_policy(
            budget, m.max_num_seqs, m.autoscaling.max_queue_wait_seconds if m.autoscaling else DEFAULT_MAX_QUEUE_WAIT_S
        )
        for m in cfg.models
    ]
    served = [
        ServedModelArgs(
            namespace=inference_namespace,
            deployment=server.deployment_name,
            model_name=m.served_name,
            pod_labels=server.serving_pod_labels,
            queue_limit=policy.queue_limit,
        )
        for m, server, policy in zip(cfg.models, servers, policies, strict=True)
    ]
    args = MonitoringArgs(
        cluster_name=cluster.cluster_name,
        served_models=served,
        inference_namespace=inference_namespace,
        inference_pool=pool.node_pool_name,
        inference_node_selector=pool.node_selector,
        inference_tolerations=pool.tolerations,
        startup_budget_seconds=budget,
        vpc_cidr=vpc_cidr,
        namespace_labels=namespace_labels,
        neuron_monitor_image=cfg.images["neuronMonitor"],
        retention=mon.retention,
        storage_gib=mon.storage_gib,
        ttft_p95_target_seconds=mon.ttft_p95_target_seconds,
        alert_target=mon.alert_target,
        managed_prometheus=mon.managed_prometheus,
        replication_source_bucket=model_bucket,
        tags=cfg.common_tags,
    )
    if mon.alert_email:
        args["alert_email"] = mon.alert_email
    if mon.alert_target == "webhook":
        args["alert_webhook_url"] = cfg.alert_webhook_url
    # On the system nodes (and the extra ones Karpenter adds), with the EBS driver for its volumes and the Pod
    # Identity agent for its roles.
    waits = [cluster.node_group, cluster.addons["aws-ebs-csi-driver"], cluster.addons["eks-pod-identity-agent"]]
    monitoring = Monitoring(
        "monitoring",
        args,
        opts=pulumi.ResourceOptions(providers={"kubernetes": cluster.provider}, depends_on=waits),
    )
    targets = [
        scaled_target(m, server, policy)
        for m, server, policy in zip(cfg.models, servers, policies, strict=True)
        if m.autoscaling is not None
    ]
    autoscaling = None
    if targets:
        autoscaling = Autoscaling(
            "autoscaling",
            AutoscalingArgs(
                prometheus_url=monitoring.prometheus_url,
                targets=targets,
                vpc_cidr=vpc_cidr,
                namespace_labels=namespace_labels,
            ),
            # The scaler reads Prometheus; it scales the Deployment by name whenever that exists.
            opts=pulumi.ResourceOptions(providers=[cluster.provider], depends_on=[monitoring.release]),
        )
    return Operations(system_pool, monitoring, autoscaling)


def scaled_target(m: ModelConfig, server: VllmNeuronServer, policy: ScalingPolicy) -> ScaledDeploymentArgs:
    """The model's Deployment as KEDA scales it: the configured bounds and the budget-derived numbers."""
    a = m.autoscaling
    assert a is not None  # only called for an autoscaled model
    target = ScaledDeploymentArgs(
        namespace=server.namespace,
        deployment=server.deployment_name,
        model_name=m.served_name,
        min_replicas=a.min_replicas,
        max_replicas=a.max_replicas,
        threshold=policy.threshold,
        polling_interval=policy.polling_interval,
        cooldown_period=policy.cooldown_period,
    )
    if a.active_schedule is not None:
        target["active_schedule"] = {
            "timezone": a.active_schedule.timezone,
            "start": a.active_schedule.start,
            "end": a.active_schedule.end,
        }
    return target
