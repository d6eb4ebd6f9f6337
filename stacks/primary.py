"""The primary stack: network, cluster and (as they land) the serving platform."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from components.config import StackConfig
from components.eks_cluster import EksCluster, EksClusterArgs
from components.load_balancer_controller import LoadBalancerController, LoadBalancerControllerArgs
from components.network import Network, NetworkArgs
from components.open_webui import OpenWebUI, OpenWebUIArgs


def network_args(cfg: StackConfig) -> NetworkArgs:
    """Network inputs from the validated config (new VPC or bring-your-own)."""
    net, tags = cfg.network, cfg.common_tags
    if net.bring_your_own:
        return NetworkArgs(
            cluster_name=cfg.cluster.name,
            vpc_id=net.vpc_id or "",
            private_subnet_ids=list(net.private_subnet_ids),
            public_subnet_ids=list(net.public_subnet_ids),
            tags=tags,
        )
    return NetworkArgs(
        cluster_name=cfg.cluster.name,
        cidr=net.cidr,
        availability_zones=list(net.availability_zones),
        az_count=net.az_count,
        nat_gateways=net.nat_gateways,
        tags=tags,
    )


def serving_zone(cfg: StackConfig, network: Network) -> tuple[pulumi.Output[str], pulumi.Output[str]]:
    """The one zone (and its private subnet) of the FSx file system, hence of the inference nodes.

    FSx for Lustre is single-AZ: serving pods must run where it is. `modelStore.availabilityZone` picks
    the zone; otherwise the network's first.
    """
    wanted = cfg.model_store.availability_zone

    def pick(args: list[list[str]]) -> tuple[str, str]:
        zones, subnets = args
        zone = wanted if wanted in zones else zones[0]
        return zone, subnets[zones.index(zone)]

    pair = pulumi.Output.all(network.availability_zones, network.private_subnet_ids).apply(pick)
    return pair.apply(lambda p: p[0]), pair.apply(lambda p: p[1])


@dataclass(frozen=True)
class ServingEndpoint:
    """What the chat front end needs from the inference service."""

    base_url: str
    served_model_name: str
    api_key: pulumi.Output[str]
    namespace: str
    pod_labels: dict[str, str]
    port: int


def serving_endpoint(cfg: StackConfig, cluster: EksCluster) -> ServingEndpoint:
    """PLACEHOLDER for `VllmNeuronServer` (its own issue replaces this function with the component).

    Creates only what the web UI's wiring needs to be real in the render: the vLLM namespace and the
    API-key Secret (generated key). The Service, Deployment and NetworkPolicy of vLLM come with that
    component, which must keep these names or hand its own to `OpenWebUI`.
    """
    namespace, service, port = "vllm", "vllm", 8000
    opts = pulumi.ResourceOptions(provider=cluster.provider)
    labels = {"app.kubernetes.io/name": "vllm", "app.kubernetes.io/part-of": "inferentia-chat"}
    ns = k8s.core.v1.Namespace(
        "vllm-namespace",
        metadata=k8s.meta.v1.ObjectMetaArgs(
            name=namespace, labels={**labels, "app.kubernetes.io/component": "namespace"}
        ),
        opts=opts,
    )
    key = random.RandomPassword("vllm-api-key", length=48, special=False)
    k8s.core.v1.Secret(
        "vllm-api-key-secret",
        metadata=k8s.meta.v1.ObjectMetaArgs(
            name="vllm-api-key", namespace=namespace, labels={**labels, "app.kubernetes.io/component": "secrets"}
        ),
        type="Opaque",
        string_data={"api-key": key.result},
        opts=pulumi.ResourceOptions(provider=cluster.provider, depends_on=[ns]),
    )
    return ServingEndpoint(
        base_url=f"http://{service}.{namespace}.svc.cluster.local:{port}/v1",
        served_model_name=cfg.model.served_name,
        api_key=key.result,
        namespace=namespace,
        pod_labels={"app.kubernetes.io/name": "vllm"},
        port=port,
    )


def web_ui(cfg: StackConfig, network: Network, cluster: EksCluster, serving: ServingEndpoint) -> OpenWebUI:
    """The chat front end, and for the ALB exposures the load balancer controller it needs."""
    w = cfg.webui
    # Its pod runs on the system nodes and its volume needs the EBS CSI driver.
    waits: list[pulumi.Resource] = [cluster.node_group, cluster.addons["aws-ebs-csi-driver"]]
    if w.exposure != "cluster":
        waits.append(
            LoadBalancerController(
                "lb-controller",
                LoadBalancerControllerArgs(
                    cluster_name=cluster.cluster_name,
                    region=cfg.region,
                    vpc_id=network.vpc_id,
                    tags=cfg.common_tags,
                ),
                opts=pulumi.ResourceOptions(
                    providers={"kubernetes": cluster.provider},
                    depends_on=[cluster.node_group, cluster.addons["eks-pod-identity-agent"]],
                ),
            )
        )
    args = OpenWebUIArgs(
        openai_base_url=serving.base_url,
        served_model_name=serving.served_model_name,
        api_key=serving.api_key,
        inference_namespace=serving.namespace,
        inference_pod_labels=serving.pod_labels,
        inference_port=serving.port,
        exposure=w.exposure,
        admin_email=w.admin_email,
        storage_gib=w.storage_gib,
    )
    if w.exposure != "cluster":
        args["hostname"] = w.hostname or ""
        args["certificate_arn"] = w.certificate_arn or ""
        args["allowed_cidrs"] = list(w.allowed_cidrs)
        args["vpc_cidr"] = network.vpc_cidr
    return OpenWebUI(
        "webui", args, opts=pulumi.ResourceOptions(providers={"kubernetes": cluster.provider}, depends_on=waits)
    )


def build_primary(cfg: StackConfig) -> dict[str, Any]:
    """Compose the primary stack and return its outputs."""
    network = Network("network", network_args(cfg))
    c = cfg.cluster
    cluster = EksCluster(
        "cluster",
        EksClusterArgs(
            cluster_name=c.name,
            kubernetes_version=c.kubernetes_version,
            vpc_id=network.vpc_id,
            private_subnet_ids=network.private_subnet_ids,
            public_subnet_ids=network.public_subnet_ids,
            system_node_type=c.system_node_type,
            system_node_count=c.system_node_count,
            system_node_max_count=c.system_node_max_count,
            public_endpoint=c.public_endpoint,
            public_access_cidrs=list(c.public_access_cidrs),
            admin_role_arns=list(c.admin_role_arns),
            log_types=list(c.log_types),
            log_retention_days=c.log_retention_days,
            tags=cfg.common_tags,
        ),
    )
    webui = web_ui(cfg, network, cluster, serving_endpoint(cfg, cluster))
    return {
        "role": cfg.role,
        "region": cfg.region,
        "vpcId": network.vpc_id,
        "privateSubnetIds": network.private_subnet_ids,
        "availabilityZones": network.availability_zones,
        "clusterName": cluster.cluster_name,
        "kubeconfig": cluster.kubeconfig,
        "nodeSecurityGroupId": cluster.node_security_group_id,
        "systemNodeGroup": cluster.system_node_group_name,
        "webuiUrl": webui.url,
        "webuiPortForwardCommand": webui.port_forward_command,
        "webuiNamespace": webui.namespace,
        "webuiAdminEmail": webui.admin_email,
        "webuiAdminPassword": webui.admin_password,
    }
