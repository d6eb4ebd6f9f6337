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
    writer role. Each role is bound by Pod Identity to the chart's fixed service account."""

    def __init__(
        self, owner: pulumi.Resource, name: str, args: Mapping[str, Any], namespace: str, tags: Mapping[str, str]
    ):
        child = pulumi.ResourceOptions(parent=owner)
        self.ready: list[pulumi.Resource] = []
        self.topic_arn: pulumi.Output[str] = pulumi.Output.from_input("")
        self.remote_write_url: pulumi.Output[str] = pulumi.Output.from_input("")
        partition = aws.get_partition().partition
        region = aws.get_region().region
        account = aws.get_caller_identity().account_id
        cluster = pulumi.Output.from_input(args["cluster_name"])

        def role(role_name: str, description: str, service_account: str, policy: pulumi.Input[str]) -> None:
            # Trusted by this one service account of this one cluster (session tags, aws:SourceAccount).
            access = pod_identity_access(
                role_name=f"{name}-{role_name}-role",
                policy_name=f"{name}-{role_name}-policy",
                association_name=f"{name}-{role_name}",
                description=description,
                policy=policy,
                cluster_name=cluster,
                namespace=namespace,
                service_account=service_account,
                tags=tags,
                opts=child,
            )
            self.ready += [access.policy, access.association]
            r = access.role
            self.roles[role_name] = r

        self.roles: dict[str, aws.iam.Role] = {}
        if args.get("alert_target", "sns") == "sns":
            # CloudWatch alarms (the replication alarms) publish here too: the key lets them (confused-deputy
            # conditions in iam.kms_key_policy); not the AWS-managed SNS key, whose policy cannot.
            key = customer_key(
                f"{name}-alerts-key",
                description="inferentia-chat alert topic",
                alias=pulumi.Output.concat("alias/", cluster, "-alerts"),
                policy=json.dumps(iam.kms_key_policy(partition, account, cloudwatch_alarms_region=region)),
                tags=tags,
                parent=owner,
            )
            topic = aws.sns.Topic(f"{name}-alerts", kms_master_key_id=key.arn, tags=dict(tags), opts=child)
            role(
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
                policy=pulumi.Output.all(topic.arn, self.roles["alertmanager"].arn).apply(
                    lambda a: json.dumps(policies.alert_topic_policy(a[0], a[1], partition, account, region))
                ),
                opts=child,
            )
            if args.get("alert_email"):
                aws.sns.TopicSubscription(
                    f"{name}-alerts-email", topic=topic.arn, protocol="email", endpoint=args["alert_email"], opts=child
                )
            self.topic_arn = topic.arn
        if args.get("replication_source_bucket"):
            role(
                "grafana",
                "Grafana reads CloudWatch metrics (S3 replication dashboard) (Pod Identity)",
                chart.GRAFANA_SERVICE_ACCOUNT,
                pulumi.Output.from_input(json.dumps(policies.metrics_read_policy())),
            )
        if args.get("managed_prometheus"):
            key = customer_key(
                f"{name}-amp-key",
                description="inferentia-chat managed Prometheus workspace",
                alias=pulumi.Output.concat("alias/", cluster, "-amp"),
                tags=tags,
                parent=owner,
            )
            workspace = aws.amp.Workspace(
                f"{name}-amp", alias=cluster, kms_key_arn=key.arn, tags=dict(tags), opts=child
            )
            role(
                "prometheus",
                "Prometheus writes to the managed Prometheus workspace (Pod Identity)",
                chart.PROMETHEUS_SERVICE_ACCOUNT,
                workspace.arn.apply(lambda arn: json.dumps(policies.remote_write_policy(arn))),
            )
            self.remote_write_url = workspace.prometheus_endpoint.apply(
                lambda e: f"{e.rstrip('/')}/api/v1/remote_write"
            )
