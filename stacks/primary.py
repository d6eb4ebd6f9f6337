"""The primary stack: network, cluster and the serving platform.

`build_platform` is the whole composition; the primary stack builds it with its own model bucket, and a DR
stack with `dr.standby: serving` builds the same platform in the DR region on the replica bucket.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi

from inferentia_chat import versions
from inferentia_chat.cognito_user_pool import CognitoUserPool
from inferentia_chat.eks_cluster import EksCluster, EksClusterArgs
from inferentia_chat.inferentia_node_pool import InferentiaNodePool, InferentiaNodePoolArgs
from inferentia_chat.karpenter import Karpenter, KarpenterArgs
from inferentia_chat.kube import ENVIRONMENT_LABEL
from inferentia_chat.model_layout import artifacts_objects_prefix, model_objects_prefix, model_path
from inferentia_chat.model_names import model_resource_name, model_suffix
from inferentia_chat.model_store import (
    LinkedBucketArgs,
    LustreModelStore,
    LustreModelStoreArgs,
    ModelLoader,
    ModelLoaderArgs,
    ModelSourceArgs,
    ModelVolume,
    model_request,
    model_volume_args,
)
from inferentia_chat.network import Network, NetworkArgs
from inferentia_chat.open_webui import SELECTOR as WEBUI_POD_LABELS
from inferentia_chat.open_webui import OpenWebUI
from inferentia_chat.vllm import VllmNeuronServer, VllmNeuronServerArgs, compiled_artifacts_key
from stacks.chat_ui import WEBUI_NAMESPACE, cognito_user_pool, web_ui
from stacks.compile_hosts import compile_hosts, compiled_shape
from stacks.config import CONFIG_NAMESPACE, ConfigError, StackConfig
from stacks.config.schema import ModelConfig
from stacks.operations import Operations, build_operations, karpenter_pool, metrics_access, system_capacity

# Namespace of the model claim, hence of every pod that mounts it (the serving pods).
INFERENCE_NAMESPACE = "inference"
# The store, its volume and its loader share one name: their resources keep the names (and URNs, through
# aliases) they had when one component made them all.
MODEL_STORE = "model-store"


def namespace_labels(cfg: StackConfig) -> dict[str, str]:
    """Labels of every namespace the stack creates beyond Pod Security: the environment (policy pack)."""
    return {ENVIRONMENT_LABEL: cfg.environment}


def network_args(cfg: StackConfig) -> NetworkArgs:
    """Network inputs from the validated config (new VPC or bring-your-own)."""
    net, tags = cfg.network, cfg.common_tags
    if net.bring_your_own:
        return NetworkArgs(
            cluster_name=cfg.cluster.name,
            vpc_id=net.vpc_id or "",
            private_subnet_ids=list(net.private_subnet_ids),
            public_subnet_ids=list(net.public_subnet_ids),
            flow_logs=net.flow_logs,
            flow_log_retention_days=net.flow_log_retention_days,
            tags=tags,
        )
    return NetworkArgs(
        cluster_name=cfg.cluster.name,
        cidr=net.cidr,
        availability_zones=list(net.availability_zones),
        az_count=net.az_count,
        nat_gateways=net.nat_gateways,
        flow_logs=net.flow_logs,
        flow_log_retention_days=net.flow_log_retention_days,
        tags=tags,
    )


def serving_zone(cfg: StackConfig, network: Network) -> tuple[pulumi.Output[str], pulumi.Output[str]]:
    """The one zone (and its private subnet) of the FSx file system, hence of the inference nodes.

    FSx for Lustre is single-AZ: serving pods must run where it is. `modelStore.availabilityZone` picks
    the zone (never replaced by another: config validation checks it against the network's zones, and a
    zone that is still missing here stops the deployment); otherwise the network's first.
    """
    wanted = cfg.model_store.availability_zone

    def pick(args: list[list[str]]) -> tuple[str, str]:
        zones, subnets = args
        if wanted and wanted not in zones:
            raise ConfigError(
                [
                    f"{CONFIG_NAMESPACE}:modelStore.availabilityZone = {wanted!r}: must be one of the network's "
                    f"zones: {', '.join(zones)}"
                ]
            )
        zone = wanted or zones[0]
        return zone, subnets[zones.index(zone)]

    pair = pulumi.Output.all(network.availability_zones, network.private_subnet_ids).apply(pick)
    return pair.apply(lambda p: p[0]), pair.apply(lambda p: p[1])


@dataclass(frozen=True)
class ReplicaLink:
    """A DR region's model store reads the replica bucket (import only) instead of owning a model bucket."""

    bucket: LinkedBucketArgs
    ready: Sequence[pulumi.Resource]  # the replica's protections, in place before the file system links it


@dataclass(frozen=True)
class Platform:
    """Everything `build_platform` composed, for the stack's outputs."""

    network: Network
    cluster: EksCluster
    karpenter: Karpenter
    pool: InferentiaNodePool
    zone: pulumi.Output[str]
    store: LustreModelStore
    volume: ModelVolume
    servers: list[VllmNeuronServer]  # one per model, the first model's first
    webui: OpenWebUI
    user_pool: CognitoUserPool | None = None  # webui.auth cognito
    operations: Operations | None = None

    @property
    def server(self) -> VllmNeuronServer:
        """The first model's server (the one-model outputs describe it)."""
        return self.servers[0]


def object_prefixes(cfg: StackConfig, model: ModelConfig | None = None) -> tuple[str, str]:
    """S3 key prefixes of a model's files and of its compiled artifacts in the model bucket (and so in the
    replica): what a DR stack must find where the primary put it. Default: the first model."""
    m, prefix = model or cfg.model, cfg.model_store.bucket_prefix
    key = compiled_artifacts_key(
        m.id, m.revision, versions.NEURON_SDK_VERSION, m.tensor_parallel_size, m.max_model_len, m.max_num_seqs
    )
    return model_objects_prefix(prefix, m.served_name), artifacts_objects_prefix(prefix, key)


def build_primary(cfg: StackConfig) -> dict[str, Any]:
    """Compose the primary stack and return its outputs."""
    platform = build_platform(cfg)
    model_objects, artifact_objects = object_prefixes(cfg)
    return {
        "role": cfg.role,
        "region": cfg.region,
        **platform_outputs(platform),
        # Where the files are in the bucket: a DR stack checks its own configuration against them.
        "modelObjectsPrefix": model_objects,
        "compiledArtifactsObjectsPrefix": artifact_objects,
        # The same for every model, by served name (the replica holds all of them).
        "modelObjects": {
            m.served_name: dict(zip(("model", "compiledArtifacts"), object_prefixes(cfg, m), strict=True))
            for m in cfg.models
        },
    }


def build_platform(cfg: StackConfig, replica: ReplicaLink | None = None) -> Platform:
    """Network, cluster, Karpenter, the Inferentia2 pool, the model store and vLLM.

    With `replica` (a DR stack's serving standby), the model store links the replica bucket, import only,
    with no load Job (the model arrives by replication); with zero `model.replicas` (the DR default) there is
    no preload and no compile Job either, so Karpenter keeps no inf2 node there until the failover.
    """
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
            retain_data=cfg.data.retain,
            protect_data=cfg.data.protect,
        ),
    )
    # Karpenter waits for the system nodes it runs on and the Pod Identity agent its credentials come
    # through; `pulumi destroy` then removes it before them.
    on_cluster = pulumi.ResourceOptions(
        providers=[cluster.provider],
        depends_on=[cluster.node_group, cluster.addons["eks-pod-identity-agent"]],
    )
    karpenter = Karpenter(
        "karpenter",
        KarpenterArgs(cluster_name=cluster.cluster_name, tags=cfg.common_tags),
        opts=on_cluster,
    )
    p = cfg.inference_pool
    zone, _ = serving_zone(cfg, network)
    node_class, pool_opts = karpenter_pool(cluster, karpenter)
    pool = InferentiaNodePool(
        "inferentia",
        InferentiaNodePoolArgs(
            **node_class,
            availability_zone=zone,
            instance_types=list(p.instance_types),
            capacity_types=list(p.capacity_types),
            max_neuron_devices=p.max_neuron_devices,
            consolidate_after=p.consolidate_after,
            expire_after=p.expire_after,
            termination_grace_period=p.termination_grace_period,
            image_pull=p.image_pull,
            **({"bottlerocket_version": p.bottlerocket_version} if p.bottlerocket_version else {}),
            tags=cfg.common_tags,
            **(
                {
                    "image_cache_snapshot_id": p.image_cache_snapshot_id,
                    "image_cache_bottlerocket_version": p.image_cache_bottlerocket_version,
                }
                if p.image_cache_snapshot_id
                else {}
            ),
        ),
        opts=pool_opts,
    )
    system_pool = system_capacity(cfg, cluster, karpenter)
    store = model_store(cfg, network, cluster, replica)
    if replica is None:  # a DR region's artifacts replicate from the primary
        compile_hosts(cfg, network, store)
    volume = model_volume(cfg, store, cluster)
    # Each model arrives in a DR region by replication: no load there, and a preload only for serving pods.
    for i, m in enumerate(cfg.models):
        if replica is None or m.replicas > 0:
            model_loader(cfg, volume, cluster, network, load=replica is None, model=m, index=i)
    servers = serving(cfg, volume, pool, zone, cluster, dr=replica is not None)
    user_pool = cognito_user_pool(cfg)
    webui = web_ui(cfg, network, cluster, servers, namespace_labels(cfg), user_pool)
    ops = build_operations(
        cfg,
        cluster,
        pool,
        servers,
        system_pool,
        INFERENCE_NAMESPACE,
        store.bucket_name,
        network.vpc_cidr,
        namespace_labels(cfg),
    )
    return Platform(network, cluster, karpenter, pool, zone, store, volume, servers, webui, user_pool, ops)


def platform_outputs(p: Platform) -> dict[str, Any]:
    """The outputs of a platform (the primary's, and a serving DR standby's)."""
    network, cluster, store, volume, server = p.network, p.cluster, p.store, p.volume, p.server
    return {
        "vpcId": network.vpc_id,
        "privateSubnetIds": network.private_subnet_ids,
        "availabilityZones": network.availability_zones,
        "clusterName": cluster.cluster_name,
        "kubeconfig": cluster.kubeconfig,
        "nodeSecurityGroupId": cluster.node_security_group_id,
        "systemNodeGroup": cluster.system_node_group_name,
        "karpenterInterruptionQueue": p.karpenter.interruption_queue_name,
        "inferenceNodePool": p.pool.node_pool_name,
        "inferenceZone": p.zone,
        "modelBucketName": store.bucket_name,
        "modelBucketArn": store.bucket_arn,
        "modelKeyArn": store.kms_key_arn,
        "fileSystemId": store.file_system_id,
        "fileSystemDnsName": store.dns_name,
        "fileSystemMountName": store.mount_name,
        "modelStoreSubnetId": store.subnet_id,
        "servingAvailabilityZone": store.availability_zone,
        "modelNamespace": volume.namespace,
        "modelPvcName": volume.pvc_name,
        "modelPath": volume.model_path,
        "compiledCacheRoot": volume.compiled_cache_root,
        "openaiBaseUrl": server.base_url,
        "servedModelName": server.served_model_name,
        "apiKeySecret": pulumi.Output.concat(server.namespace, "/", server.api_key_secret_name),
        "compiledArtifactsDir": server.compiled_artifacts_dir,
        "apiPortForwardCommand": pulumi.Output.concat(
            "kubectl -n ", server.namespace, " port-forward svc/vllm 8000:8000"
        ),
        # Every model: its name in the OpenAI API, its in-cluster endpoint and the Secret with its key.
        "models": [
            {
                "servedModelName": s.served_model_name,
                "openaiBaseUrl": s.base_url,
                "apiKeySecret": pulumi.Output.concat(s.namespace, "/", s.api_key_secret_name),
            }
            for s in p.servers
        ],
        "webuiUrl": p.webui.url,
        "webuiPortForwardCommand": p.webui.port_forward_command,
        "webuiNamespace": p.webui.namespace,
        "webuiAdminEmail": p.webui.admin_email,
        "webuiAdminPassword": p.webui.admin_password,
        # It created the first admin on an empty database; changing the Secret later changes nothing.
        "webuiAdminPasswordNote": "seeds the first admin account only (docs/team.md: The admin password)",
        "webuiAuth": p.webui.auth,
        **(
            {
                "cognitoUserPoolId": p.user_pool.user_pool_id,
                "cognitoSignInDomain": p.user_pool.sign_in_domain,
                "cognitoAdminGroup": p.user_pool.admin_group,
            }
            if p.user_pool is not None
            else {}
        ),
        **(p.operations.outputs() if p.operations else {}),
    }


def model_store(
    cfg: StackConfig, network: Network, cluster: EksCluster | None, replica: ReplicaLink | None = None
) -> LustreModelStore:
    """The S3 bucket + FSx for Lustre model store in the serving zone.

    With `replica`: linked to the replica bucket, import only. Without `cluster` (a DR storage standby): the
    file system alone, reachable by nobody yet; the same names as with a cluster, so a later serving standby
    keeps this file system.
    """
    zone, subnet = serving_zone(cfg, network)
    ms = cfg.model_store
    args = LustreModelStoreArgs(
        vpc_id=network.vpc_id,
        subnet_id=subnet,
        availability_zone=zone,
        deployment_type=ms.deployment_type,
        storage_capacity_gib=ms.storage_capacity_gib,
        file_system_path=ms.file_system_path,
        bucket_prefix=ms.bucket_prefix,
        noncurrent_version_days=ms.noncurrent_version_days,
        tags=cfg.common_tags,
        retain_data=cfg.data.retain,
        protect_data=cfg.data.protect,
    )
    if ms.throughput_per_tib is not None:
        args["throughput_per_tib"] = ms.throughput_per_tib
    depends_on: list[pulumi.Resource] = []
    if replica is not None:
        args["linked_bucket"] = replica.bucket
        args["auto_export"] = False  # the DR file system never writes into the replica
        depends_on = list(replica.ready)
    if cluster is not None:
        args["node_security_group_id"] = cluster.node_security_group_id
    return LustreModelStore(MODEL_STORE, args, opts=pulumi.ResourceOptions(depends_on=depends_on))


def model_volume(cfg: StackConfig, store: LustreModelStore, cluster: EksCluster) -> ModelVolume:
    """The store's file system as the claim serving pods mount, in their namespace."""
    return ModelVolume(
        MODEL_STORE,
        model_volume_args(
            store, cfg.model.served_name, namespace=INFERENCE_NAMESPACE, namespace_labels=namespace_labels(cfg)
        ),
        opts=pulumi.ResourceOptions(providers={"kubernetes": cluster.provider}),
    )


def model_loader(
    cfg: StackConfig,
    volume: ModelVolume,
    cluster: EksCluster,
    network: Network,
    *,
    load: bool,
    model: ModelConfig,
    index: int = 0,
) -> ModelLoader:
    """The Jobs that load a model (with `load`) and preload it onto the file system. The first model's loader
    keeps the one-model names; every further one gets its model's suffix (components/model_names.py)."""
    m = model
    args = ModelLoaderArgs(
        namespace=volume.namespace,
        pvc_name=volume.pvc_name,
        model_path=volume.model_path if index == 0 else model_path(cfg.model_store.file_system_path, m.served_name),
        tags=cfg.common_tags,
        # The loader reaches its source over the internet, never the VPC (nodes, pods, endpoints).
        egress_excluded_cidrs=[network.vpc_cidr],
        loader_image=cfg.images["modelLoader"],
        lustre_client_image=cfg.images["lustreClient"],
    )
    if index:
        args["instance"] = model_suffix(m.served_name)
    if load:
        source = ModelSourceArgs(
            model_id=m.id, model_revision=m.revision, uri=m.source, cluster_name=cluster.cluster_name
        )
        if cfg.hf_token is not None:
            source["hf_token"] = cfg.hf_token
        args["source"] = source
    return ModelLoader(
        model_resource_name(MODEL_STORE, m.served_name, index),
        args,
        # The Jobs need a node to run on and the FSx CSI driver to mount the volume.
        opts=pulumi.ResourceOptions(
            providers={"kubernetes": cluster.provider},
            depends_on=[cluster.node_group, cluster.addons["aws-fsx-csi-driver"]],
        ),
    )


def serving(
    cfg: StackConfig,
    volume: ModelVolume,
    pool: InferentiaNodePool,
    zone: pulumi.Output[str],
    cluster: EksCluster,
    *,
    dr: bool = False,
) -> list[VllmNeuronServer]:
    """vLLM on the inference pool, one server per model, reading the model (and the compiled-artifact cache)
    from the store. The first model's server is `vllm` (its one-model name); every further one
    `vllm-<suffix>` (components/model_names.py).

    In a DR region (`dr`) the compile Job runs only with serving pods: with none it would launch an inf2 node
    for nothing, and the primary's compiled artifacts replicate here anyway (same key, same path), so at
    failover the Job finds them complete and exits at once (or set `model.compileJob: false` to skip it).
    """
    fs_path = cfg.model_store.file_system_path
    # The volume names the first model's directory; a further model's sits beside it under models/.
    return [
        VllmNeuronServer(
            model_resource_name("vllm", m.served_name, i),
            VllmNeuronServerArgs(
                namespace=volume.namespace,
                pvc_name=volume.pvc_name,
                model_subpath=volume.model_subpath if i == 0 else model_path(fs_path, m.served_name).lstrip("/"),
                cache_subpath=volume.cache_subpath,
                **compiled_shape(cfg, m),
                replicas=m.replicas,
                node_selector=pool.node_selector,
                tolerations=pool.tolerations,
                availability_zone=zone,
                client_namespace=WEBUI_NAMESPACE,
                client_pod_labels=WEBUI_POD_LABELS,
                compile_job=m.compile_job and (m.replicas > 0 or not dr),
                autoscaled=m.autoscaling is not None,
                **metrics_access(cfg),
                # Pods wait for the model in the cluster (its completion marker, which also replicates to a DR
                # region), so node launch and image pull overlap the load.
                model_request=model_request(m.source, m.id, m.revision),
            ),
            # Serving waits for its NodePool (and, on destroy, goes before the nodes it runs on).
            opts=pulumi.ResourceOptions(providers=[cluster.provider], depends_on=[pool.node_pool]),
        )
        for i, m in enumerate(cfg.models)
    ]
