"""IAM documents of the monitoring stack, as small pure functions (unit-tested and linted with parliament).

The roles are assumed through EKS Pod Identity with the library's trust policy (iam.pod_identity_trust_policy:
this account, this cluster, the one namespace and service account, by session tags).
"""

from __future__ import annotations

from typing import Any

from . import iam

Policy = dict[str, Any]


def alert_publish_policy(topic_arn: str, key_arn: str) -> Policy:
    """Alertmanager: publish to the one alert topic, through its KMS key (SNS encrypts with a data key)."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "PublishAlerts", "Effect": "Allow", "Action": "sns:Publish", "Resource": topic_arn},
            {
                "Sid": "EncryptForTheTopic",
                "Effect": "Allow",
                "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
                "Resource": key_arn,
                "Condition": {"StringEquals": {"kms:ViaService": f"sns.{topic_arn.split(':')[3]}.amazonaws.com"}},
            },
        ],
    }


def alert_topic_policy(topic_arn: str, publisher_role_arn: str, partition: str, account: str, region: str) -> Policy:
    """The alert topic: the Alertmanager role may publish, and so may CloudWatch alarms of this account and
    region (the DR stack's replication alarms, created in this region, notify the same topic); nothing over
    plain HTTP."""
    policy = iam.alarm_topic_policy(topic_arn, partition, account, region)
    policy["Statement"].insert(
        0,
        {
            "Sid": "AlertmanagerPublishes",
            "Effect": "Allow",
            "Principal": {"AWS": publisher_role_arn},
            "Action": "sns:Publish",
            "Resource": topic_arn,
        },
    )
    return policy


def remote_write_policy(workspace_arn: str) -> Policy:
    """Prometheus: write samples to the one Amazon Managed Service for Prometheus workspace."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "RemoteWrite", "Effect": "Allow", "Action": "aps:RemoteWrite", "Resource": workspace_arn}
        ],
    }


def metrics_read_policy() -> Policy:
    """Grafana's CloudWatch data source: read metrics. Neither action supports resource-level permissions
    (Service Authorization Reference, Amazon CloudWatch), hence Resource "*"; nothing else is granted."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ReadMetrics",
                "Effect": "Allow",
                "Action": ["cloudwatch:GetMetricData", "cloudwatch:ListMetrics"],
                "Resource": "*",
            }
        ],
    }
