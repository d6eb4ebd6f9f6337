"""The AWS side of `Monitoring`: the alert topic and its publisher role, the managed Prometheus workspace and
its writer role. Each role is bound by Pod Identity to the chart's fixed service account and trusted only by
this account's cluster (inferentia_chat/monitoring_iam.py)."""

import json
from collections.abc import Mapping
from typing import Any

import pulumi
import pulumi_aws as aws

from . import iam
from . import monitoring_iam as policies
from . import monitoring_values as chart
from .blocks import customer_key
from .common.pod_identity import pod_identity_access


class MonitoringAws:
    """The AWS resources: the alert topic and its publisher role; the managed Prometheus workspace and its
    writer role; Grafana's CloudWatch reader role. Each role is bound by Pod Identity to the chart's fixed
    service account."""

    def __init__(
        self, owner: pulumi.Resource, name: str, args: Mapping[str, Any], namespace: str, tags: Mapping[str, str]
    ):
        self._owner, self._name, self._namespace, self._tags = owner, name, namespace, tags
        self._child = pulumi.ResourceOptions(parent=owner)
        self._cluster = pulumi.Output.from_input(args["cluster_name"])
        self.ready: list[pulumi.Resource] = []
        self.topic_arn: pulumi.Output[str] = pulumi.Output.from_input("")
        self.remote_write_url: pulumi.Output[str] = pulumi.Output.from_input("")
        if args.get("alert_target", "sns") == "sns":
            self.topic_arn = self._alert_topic(args.get("alert_email"))
        if args.get("replication_source_bucket"):
            self._role(
                "grafana",
                "Grafana reads CloudWatch metrics (S3 replication dashboard) (Pod Identity)",
                chart.GRAFANA_SERVICE_ACCOUNT,
                json.dumps(policies.metrics_read_policy()),
            )
        if args.get("managed_prometheus"):
            self.remote_write_url = self._managed_prometheus()

    def _role(self, role_name: str, description: str, service_account: str, policy: pulumi.Input[str]) -> aws.iam.Role:
        """A Pod Identity role trusted by this one service account of this one cluster (session tags,
        aws:SourceAccount), with `policy` inline; the chart waits for its policy and association."""
        name = self._name
        access = pod_identity_access(
            role_name=f"{name}-{role_name}-role",
            policy_name=f"{name}-{role_name}-policy",
            association_name=f"{name}-{role_name}",
            description=description,
            policy=policy,
            cluster_name=self._cluster,
            namespace=self._namespace,
            service_account=service_account,
            tags=self._tags,
            opts=self._child,
        )
        self.ready += [access.policy, access.association]
        return access.role

    def _alert_topic(self, email: str | None) -> pulumi.Output[str]:
        """The encrypted alert topic Alertmanager publishes to (and CloudWatch alarms of the region: the DR
        stack's replication alarms); its key lets those alarms use it (confused-deputy conditions in
        iam.kms_key_policy), which the AWS-managed SNS key cannot."""
        name, tags, child = self._name, self._tags, self._child
        partition = aws.get_partition().partition
        region = aws.get_region().region
        account = aws.get_caller_identity().account_id
        key = customer_key(
            f"{name}-alerts-key",
            description="inferentia-chat alert topic",
            alias=pulumi.Output.concat("alias/", self._cluster, "-alerts"),
            policy=json.dumps(iam.kms_key_policy(partition, account, cloudwatch_alarms_region=region)),
            tags=tags,
            parent=self._owner,
        )
        topic = aws.sns.Topic(f"{name}-alerts", kms_master_key_id=key.arn, tags=dict(tags), opts=child)
        publisher = self._role(
            "alertmanager",
            "Alertmanager publishes alerts to the alert topic (Pod Identity)",
            chart.ALERTMANAGER_SERVICE_ACCOUNT,
            pulumi.Output.all(topic.arn, key.arn).apply(
                lambda a: json.dumps(policies.alert_publish_policy(a[0], a[1]))
            ),
        )
        aws.sns.TopicPolicy(
            f"{name}-alerts-policy",
            arn=topic.arn,
            policy=pulumi.Output.all(topic.arn, publisher.arn).apply(
                lambda a: json.dumps(policies.alert_topic_policy(a[0], a[1], partition, account, region))
            ),
            opts=child,
        )
        if email:
            aws.sns.TopicSubscription(
                f"{name}-alerts-email", topic=topic.arn, protocol="email", endpoint=email, opts=child
            )
        return topic.arn

    def _managed_prometheus(self) -> pulumi.Output[str]:
        """The Amazon Managed Service for Prometheus workspace (customer key) and Prometheus's writer role; the
        remote-write URL."""
        name = self._name
        key = customer_key(
            f"{name}-amp-key",
            description="inferentia-chat managed Prometheus workspace",
            alias=pulumi.Output.concat("alias/", self._cluster, "-amp"),
            tags=self._tags,
            parent=self._owner,
        )
        workspace = aws.amp.Workspace(
            f"{name}-amp", alias=self._cluster, kms_key_arn=key.arn, tags=dict(self._tags), opts=self._child
        )
        self._role(
            "prometheus",
            "Prometheus writes to the managed Prometheus workspace (Pod Identity)",
            chart.PROMETHEUS_SERVICE_ACCOUNT,
            workspace.arn.apply(lambda arn: json.dumps(policies.remote_write_policy(arn))),
        )
        return workspace.prometheus_endpoint.apply(lambda e: f"{e.rstrip('/')}/api/v1/remote_write")
