"""The chat front end of a stack: Open WebUI with one connection per model, its sign-in (local, the
organisation's OpenID Connect provider, or the stack's own Cognito user pool), its daily volume snapshots and,
for ALB exposures, the load balancer controller."""

from __future__ import annotations

import pulumi

from inferentia_chat.cognito_user_pool import GROUPS_CLAIM as COGNITO_GROUPS_CLAIM
from inferentia_chat.cognito_user_pool import CognitoUserPool, CognitoUserPoolArgs
from inferentia_chat.eks_cluster import RETAINED_STORAGE_CLASS, SNAPSHOT_TAG, EksCluster
from inferentia_chat.load_balancer_controller import LoadBalancerController, LoadBalancerControllerArgs
from inferentia_chat.network import Network
from inferentia_chat.open_webui import APP as WEBUI_APP
from inferentia_chat.open_webui import InferenceEndpointArgs, OpenWebUI, OpenWebUIArgs, endpoint_args
from inferentia_chat.open_webui_sign_in import OidcArgs
from inferentia_chat.vllm import PORT as VLLM_PORT
from inferentia_chat.vllm import VllmNeuronServer
from inferentia_chat.volume_snapshots import VolumeSnapshots, VolumeSnapshotsArgs
from stacks.config import StackConfig

# The chat front end (the only client the serving API admits: NetworkPolicy) lives in its own namespace.
WEBUI_NAMESPACE = WEBUI_APP


def web_ui(
    cfg: StackConfig,
    network: Network,
    cluster: EksCluster,
    servers: list[VllmNeuronServer],
    namespace_labels: dict[str, str],
    user_pool: CognitoUserPool | None = None,
) -> OpenWebUI:
    """The chat front end with one connection per model, its sign-in (for `cognito`, the stack's user pool),
    and for the ALB exposures the load balancer controller it needs."""
    w = cfg.webui
    # Its pod runs on the system nodes and its volume needs the EBS CSI driver and its StorageClass.
    waits: list[pulumi.Resource] = [
        cluster.node_group,
        cluster.addons["aws-ebs-csi-driver"],
        cluster.retained_storage_class,
    ]
    chat_snapshots(cfg)
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
    server = servers[0]
    args = OpenWebUIArgs(
        # With the key's value (a secret): the UI keeps its own copy, a Secret can only be read in its namespace.
        **endpoint_args(server),
        inference_port=VLLM_PORT,
        namespace=WEBUI_NAMESPACE,
        exposure=w.exposure,
        admin_email=w.admin_email,
        storage_gib=w.storage_gib,
        # Chats outlive the claim (and the stack) and are snapshotted daily (chat_snapshots).
        storage_class=RETAINED_STORAGE_CLASS,
        protect_data=cfg.data.protect,
        image=cfg.images["openWebui"],
        namespace_labels=namespace_labels,
    )
    if len(servers) > 1:
        args["additional_endpoints"] = [
            InferenceEndpointArgs(
                openai_base_url=s.base_url,
                served_model_name=m.served_name,
                api_key=s.api_key,
                pod_labels=s.pod_labels,
            )
            for s, m in zip(servers[1:], cfg.models[1:], strict=True)
        ]
    if w.exposure != "cluster":
        args["hostname"] = w.hostname or ""
        args["certificate_arn"] = w.certificate_arn or ""
        args["allowed_cidrs"] = list(w.allowed_cidrs)
        args["vpc_cidr"] = network.vpc_cidr
    oidc = sign_in(cfg, user_pool)
    if oidc is not None:
        args["auth"] = "oidc"
        args["oidc"] = oidc
    return OpenWebUI(
        "webui", args, opts=pulumi.ResourceOptions(providers={"kubernetes": cluster.provider}, depends_on=waits)
    )


def chat_snapshots(cfg: StackConfig) -> VolumeSnapshots:
    """Daily snapshots of the chat volume (tagged by the cluster's retained StorageClass)."""
    return VolumeSnapshots(
        "chat-snapshots",
        VolumeSnapshotsArgs(
            target_tag_key=SNAPSHOT_TAG,
            target_tag_value=cfg.cluster.name,
            retain_days=cfg.data.chat_snapshot_days,
            start_time=cfg.data.chat_snapshot_time,
            tags=cfg.common_tags,
        ),
    )


def cognito_user_pool(cfg: StackConfig) -> CognitoUserPool | None:
    """The stack's own user pool (`webui.auth: cognito`), or None."""
    w = cfg.webui
    if w.auth != "cognito" or w.cognito is None:
        return None
    args = CognitoUserPoolArgs(hostname=w.hostname or "", admin_group=w.cognito.admin_group, tags=cfg.common_tags)
    if w.cognito.domain_prefix:
        args["domain_prefix"] = w.cognito.domain_prefix
    return CognitoUserPool("sign-in", args)


def sign_in(cfg: StackConfig, user_pool: CognitoUserPool | None) -> OidcArgs | None:
    """The web UI's OpenID Connect provider: the organisation's (`webui.auth: oidc`), the stack's own Cognito
    user pool (`cognito`), or none (`local`)."""
    w = cfg.webui
    if w.auth == "oidc" and w.oidc is not None:
        o = w.oidc
        return OidcArgs(
            issuer_url=o.issuer_url,
            client_id=o.client_id,
            client_secret=cfg.oidc_client_secret,
            allowed_domains=list(o.allowed_domains),
            roles_claim=o.roles_claim,
            admin_roles=list(o.admin_roles),
            provider_name=o.provider_name,
        )
    if user_pool is not None and w.cognito is not None:
        return OidcArgs(
            issuer_url=user_pool.issuer_url,
            client_id=user_pool.client_id,
            client_secret=user_pool.client_secret,
            # Only an administrator makes accounts in the pool: any address it was given may sign in.
            allowed_domains=["*"],
            roles_claim=COGNITO_GROUPS_CLAIM,
            admin_roles=[w.cognito.admin_group],
            provider_name="Sign in",
            end_session_url=user_pool.sign_out_url,
        )
    return None
