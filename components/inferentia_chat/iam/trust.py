"""Trust policies: who may assume a role (EKS Pod Identity, EC2, AWS services), always scoped."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .policy import Policy


@dataclass(frozen=True)
class PodIdentitySubject:
    """The one Kubernetes service account (in one cluster of one account) that may assume a Pod Identity role."""

    account: str
    cluster_arn: str
    namespace: str
    service_account: str


def eks_cluster_arn(partition: str, region: str, account: str, cluster: str) -> str:
    """ARN of an EKS cluster (known from its name before the cluster exists)."""
    return f"arn:{partition}:eks:{region}:{account}:cluster/{cluster}"


def pod_identity_trust_policy(subject: PodIdentitySubject) -> Policy:
    """Trust policy of a role used through EKS Pod Identity, for ONE service account of ONE cluster.

    EKS Pod Identity assumes the role with session tags naming the cluster, namespace and service account
    (Amazon EKS user guide, "Create IAM role with trust policy required by EKS Pod Identity" and "Enable or
    disable session tags": `eks-cluster-arn`, `kubernetes-namespace`, `kubernetes-service-account`), so the
    trust policy can refuse every other association in the account, and `aws:SourceAccount` refuses another
    account's (confused deputy). The cluster ARN is matched through its session tag: no AWS page we found
    says Pod Identity sets `aws:SourceArn`, and a condition on a key that is absent would lock every pod out.
    """
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "EksPodIdentity",
                "Effect": "Allow",
                "Principal": {"Service": "pods.eks.amazonaws.com"},
                "Action": ["sts:AssumeRole", "sts:TagSession"],
                "Condition": {
                    "StringEquals": {
                        "aws:SourceAccount": subject.account,
                        "aws:RequestTag/eks-cluster-arn": subject.cluster_arn,
                        "aws:RequestTag/kubernetes-namespace": subject.namespace,
                        "aws:RequestTag/kubernetes-service-account": subject.service_account,
                    }
                },
            }
        ],
    }


def ec2_trust_policy() -> Policy:
    """Trust policy of an EC2 node role."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "Ec2Nodes",
                "Effect": "Allow",
                "Principal": {"Service": "ec2.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }


def service_trust_policy(
    service: str, sid: str, account: str, source_arn: str | None = None, source_arn_like: bool = False
) -> Policy:
    """Trust policy of a role that one AWS service assumes (`s3.amazonaws.com` for replication,
    `batchoperations.s3.amazonaws.com` for a Batch Replication job, `vpc-flow-logs.amazonaws.com`), as the
    AWS guides show it, with the confused-deputy conditions (IAM user guide, "The confused deputy
    problem"): the service acts for this account only, and, where the service sets it, for the one
    resource (`source_arn`, a pattern with `source_arn_like`).
    """
    condition: dict[str, Any] = {"StringEquals": {"aws:SourceAccount": account}}
    if source_arn:
        condition["ArnLike" if source_arn_like else "ArnEquals"] = {"aws:SourceArn": source_arn}
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": sid,
                "Effect": "Allow",
                "Principal": {"Service": service},
                "Action": "sts:AssumeRole",
                "Condition": condition,
            }
        ],
    }


def managed_policy_arn(partition: str, name: str) -> str:
    """ARN of an AWS managed policy (`service-role/...` names included)."""
    return f"arn:{partition}:iam::aws:policy/{name}"
