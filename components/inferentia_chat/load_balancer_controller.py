"""LoadBalancerController: the AWS Load Balancer Controller, which turns `alb` Ingresses into ALBs.

Part of the cluster platform, but only installed when something needs an ALB (the web UI's
`internal-alb` and `public-alb` exposures): a controller with write access to load balancers and
security groups is not kept around for nothing.
"""

import json
from collections.abc import Mapping
from typing import Any, NotRequired, TypedDict

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from . import iam, versions
from .common.outputs import register_declared_outputs
from .common.pod_identity import pod_identity_access
from .common.pod_security import restricted_container
from .options import outer_dependencies
from .system_node_group import SYSTEM_NODE_SELECTOR
from .tags import component_tags

TYPE = "inferentia-chat:index:LoadBalancerController"
NAMESPACE = "kube-system"
SERVICE_ACCOUNT = "aws-load-balancer-controller"
INGRESS_CLASS = "alb"


class LoadBalancerControllerArgs(TypedDict):
    """Inputs of `LoadBalancerController`."""

    cluster_name: pulumi.Input[str]
    """EKS cluster whose Ingresses the controller serves."""
    region: str
    """Region of the cluster (the controller does not read it from IMDS then)."""
    vpc_id: pulumi.Input[str]
    """VPC of the cluster (the controller does not read it from IMDS then)."""
    replicas: NotRequired[int]
    """Controller replicas (default 2: one leader, one standby that also answers the webhooks)."""
    tags: NotRequired[Mapping[str, str]]
    """Common tags: on the IAM role, and on every load balancer the controller creates."""


def chart_values(cluster_name: str, region: str, vpc_id: str, replicas: int, tags: Mapping[str, str]) -> dict[str, Any]:
    """Helm values of the controller (a pure function, so the values are testable without a cluster)."""
    return {
        "clusterName": cluster_name,
        "region": region,
        "vpcId": vpc_id,
        "replicaCount": replicas,
        # The chart's ServiceAccount; its AWS identity comes from the Pod Identity association.
        "serviceAccount": {"create": True, "name": SERVICE_ACCOUNT},
        "nodeSelector": dict(SYSTEM_NODE_SELECTOR),
        "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "256Mi"}},
        "podDisruptionBudget": {"maxUnavailable": 1},
        "securityContext": restricted_container(),
        "ingressClass": INGRESS_CLASS,
        "createIngressClassResource": True,
        # Do not take over every `type: LoadBalancer` Service in the cluster (the chart's default):
        # this controller is here for the web UI's Ingress only.
        "enableServiceMutatorWebhook": False,
        # No WAF, WAFv2 or Shield add-ons: the IAM policy has none of their actions, and with them on the
        # controller would call those APIs on every reconcile (upstream flags, default true).
        "enableWaf": False,
        "enableWafv2": False,
        "enableShield": False,
        "defaultTags": dict(tags),
    }


class LoadBalancerController(pulumi.ComponentResource):
    """The AWS Load Balancer Controller (pinned eks-charts chart) with its upstream IAM policy on a Pod
    Identity role, running on the system nodes. Give it the cluster's Kubernetes provider through
    `opts=ResourceOptions(providers={"kubernetes": provider})`.
    """

    role_arn: pulumi.Output[str]
    """IAM role the controller's ServiceAccount assumes through Pod Identity."""
    ingress_class: pulumi.Output[str]
    """The IngressClass it serves (`alb`)."""

    def __init__(self, name: str, args: LoadBalancerControllerArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(TYPE, name, None, opts)
        waits = outer_dependencies(opts)  # e.g. the nodes and the Pod Identity agent
        child = pulumi.ResourceOptions(parent=self)
        tags = component_tags(args.get("tags", {}), "LoadBalancerController")
        partition = aws.get_partition().partition
        account = aws.get_caller_identity().account_id

        access = pod_identity_access(
            role_name=f"{name}-role",
            policy_name=f"{name}-policy",
            association_name=f"{name}-pod-identity",
            description="AWS Load Balancer Controller through Pod Identity",
            policy=pulumi.Output.from_input(args["vpc_id"]).apply(
                lambda vpc: json.dumps(iam.aws_load_balancer_controller_policy(partition, args["region"], account, vpc))
            ),
            cluster_name=args["cluster_name"],
            namespace=NAMESPACE,
            service_account=SERVICE_ACCOUNT,
            tags=tags,
            opts=child,
        )
        replicas = args.get("replicas", 2)
        values = pulumi.Output.all(args["cluster_name"], args["vpc_id"]).apply(
            lambda a: chart_values(a[0], args["region"], a[1], replicas, args.get("tags", {}))
        )
        k8s.helm.v3.Release(
            f"{name}-release",
            name=SERVICE_ACCOUNT,
            namespace=NAMESPACE,
            chart=versions.LOAD_BALANCER_CONTROLLER_CHART,
            version=versions.LOAD_BALANCER_CONTROLLER_CHART_VERSION,
            repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=versions.LOAD_BALANCER_CONTROLLER_REPO),
            values=values,
            # Webhooks must answer before the release counts as deployed.
            atomic=True,
            timeout=600,
            # Credentials must exist before the controller's first AWS call.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[*waits, access.association, access.policy]),
        )

        self.role_arn = access.role.arn
        self.ingress_class = pulumi.Output.from_input(INGRESS_CLASS)
        register_declared_outputs(self)
