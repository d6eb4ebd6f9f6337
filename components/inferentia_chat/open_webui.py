"""OpenWebUI: the chat front end, in front of the in-cluster OpenAI-compatible vLLM endpoint.

Secure by default: login required, signup closed, the first admin created at first start from generated
credentials (so there is never a moment in which a stranger can register and become admin), every
secret from a Kubernetes Secret, environment authoritative over settings stored in the database, no
model downloads, a restricted non-root pod with a read-only root filesystem on the system nodes, and a
NetworkPolicy that lets it talk to DNS and the vLLM pods only.

Decisions (see docs/design-notes.md, "The chat front end"):
- One replica, SQLite on an encrypted ReadWriteOnce volume, `Recreate` rollouts. More replicas would need
  Postgres, Redis websockets and a shared secret key; config validation refuses them instead.
- `ENABLE_PERSISTENT_CONFIG=False`: Open WebUI otherwise stores its settings in the database at first boot
  and from then on ignores the environment, so a later `pulumi up` could not, for example, close signup
  again. Settings changed in the admin panel therefore last until the next restart only; change them here.
- Retrieval (RAG) runs without an embedding model (`BYPASS_EMBEDDING_AND_RETRIEVAL`): attached documents
  go to the model whole. A local embedding model would have to be downloaded or baked in; the pod has no
  egress but to vLLM.
"""

from collections.abc import Mapping, Sequence
from typing import Any, NotRequired, TypedDict

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from . import versions
from .common.outputs import register_declared_outputs
from .common.pod_security import restricted_container, restricted_pod
from .eks_cluster import STORAGE_CLASS
from .kube import DNS_EGRESS, RESTRICTED_NAMESPACE_LABELS, default_deny, https_egress, network_policy_spec
from .model_names import model_suffix
from .open_webui_env import (
    DATA_DIR,
    INFERENCE_KEY,
    PORT,
    READY_PATH,
    InferenceEndpointArgs,
    check_base_url,
    inference_keys_env,
    settings,
)
from .open_webui_ingress import alb_ingress
from .open_webui_sign_in import OIDC_SECRET_KEY, OidcArgs, checked_sign_in, oidc_secret, with_oidc
from .options import outer_dependencies
from .system_node_group import SYSTEM_NODE_SELECTOR
from .vllm import VllmNeuronServer

TYPE = "inferentia-chat:index:OpenWebUI"
APP = "open-webui"
UID = 10001  # non-root, above host uid ranges; the image needs no passwd entry (verified by the real-app tier)
EXPOSURES = ("cluster", "internal-alb", "public-alb")
# Keys of the Secrets the container reads.
SECRET_KEY = "webui-secret-key"
ADMIN_PASSWORD_KEY = "admin-password"
OIDC_SECRET = f"{APP}-oidc"  # the Secret holding the OIDC client secret


class OpenWebUIArgs(TypedDict):
    """Inputs of `OpenWebUI`. The inference endpoint fields are what `VllmNeuronServer` provides."""

    openai_base_url: pulumi.Input[str]
    """In-cluster OpenAI base URL, `http://<svc>.<ns>.svc.cluster.local:8000/v1`, without a trailing slash."""
    served_model_name: pulumi.Input[str]
    """Model name the endpoint serves (preselected for new chats)."""
    api_key: pulumi.Input[str]
    """The endpoint's API key (a secret). A Secret can only be read by pods of its own namespace, so the
    component keeps a copy in its namespace and reads it with `secretKeyRef`."""
    inference_namespace: pulumi.Input[str]
    """Namespace of the inference pods (NetworkPolicy egress)."""
    inference_pod_labels: Mapping[str, str]
    """Labels of the inference pods (NetworkPolicy egress)."""
    inference_port: NotRequired[int]
    """Port of the inference pods (default 8000)."""
    namespace: NotRequired[str]
    """Namespace created for the web UI (default `open-webui`)."""
    exposure: NotRequired[str]
    """`cluster` (default: ClusterIP, reached with `kubectl port-forward`), `internal-alb` or `public-alb`."""
    hostname: NotRequired[str]
    """DNS name users open (ALB exposures; it must match the certificate)."""
    certificate_arn: NotRequired[str]
    """ACM certificate of the HTTPS listener (ALB exposures)."""
    allowed_cidrs: NotRequired[Sequence[str]]
    """Source CIDRs allowed to reach the ALB (required for `public-alb`; default the VPC for `internal-alb`)."""
    vpc_cidr: NotRequired[pulumi.Input[str]]
    """The VPC block: where ALB traffic to the pods comes from (ALB exposures)."""
    admin_email: NotRequired[str]
    """Login of the first admin account (default `admin@localhost`)."""
    image: NotRequired[str]
    """Image of Open WebUI (default: the pinned official image; a digest-pinned reference in production)."""
    namespace_labels: NotRequired[Mapping[str, str]]
    """Further labels of the namespace (e.g. the environment label the policy pack reads)."""
    admin_name: NotRequired[str]
    """Display name of the first admin account (default `Admin`)."""
    storage_gib: NotRequired[int]
    """Size of the data volume (SQLite database, uploads), default 10."""
    storage_class: NotRequired[str]
    """StorageClass of the data volume (default the cluster's encrypted gp3 class)."""
    protect_data: NotRequired[bool]
    """Pulumi `protect` on the data claim: no delete, no replacement (default false)."""
    node_selector: NotRequired[Mapping[str, str]]
    """Where the pod runs (default the system nodes)."""
    additional_endpoints: NotRequired[Sequence[InferenceEndpointArgs]]
    """Further models: one more OpenAI connection each, with its own key (all in `inference_namespace`)."""
    auth: NotRequired[str]
    """`local` (default: accounts in Open WebUI, password sign-in) or `oidc` (sign-in through `oidc` only;
    needs an ALB exposure: the provider redirects to https://<hostname>/oauth/oidc/callback)."""
    oidc: NotRequired[OidcArgs]
    """The OpenID Connect provider (with `auth` oidc)."""


def endpoint_args(server: VllmNeuronServer) -> OpenWebUIArgs:
    """The inference endpoint fields of `OpenWebUIArgs` from `server`'s outputs: the UI's connection to it.
    Add the others: `OpenWebUIArgs(**endpoint_args(server), storage_class=...)`."""
    return OpenWebUIArgs(
        openai_base_url=server.base_url,
        served_model_name=server.served_model_name,
        api_key=server.api_key,
        inference_namespace=server.namespace,
        inference_pod_labels=server.pod_labels,
    )


def labels(component: str = "web-ui") -> dict[str, str]:
    """Common labels of every object of the web UI."""
    return {
        "app.kubernetes.io/name": APP,
        "app.kubernetes.io/part-of": "inferentia-chat",
        "app.kubernetes.io/component": component,
        "app.kubernetes.io/version": versions.OPEN_WEBUI_VERSION,
        "app.kubernetes.io/managed-by": "pulumi",
    }


SELECTOR = {"app.kubernetes.io/name": APP, "app.kubernetes.io/component": "web-ui"}


def public_url(exposure: str, hostname: str | None) -> str:
    """Where users open the UI: the hostname behind the ALB, or the port-forward on the workstation."""
    return f"https://{hostname}" if exposure != "cluster" and hostname else f"http://localhost:{PORT}"


def meta(namespace: str, obj_name: str, component: str = "web-ui", **extra: Any) -> k8s.meta.v1.ObjectMetaArgs:
    """Name, namespace and labels of one of the UI's objects."""
    return k8s.meta.v1.ObjectMetaArgs(name=obj_name, namespace=namespace, labels=labels(component), **extra)


def checked_exposure(args: "OpenWebUIArgs") -> str:
    """The exposure, once what it needs is given."""
    exposure = args.get("exposure", "cluster")
    if exposure not in EXPOSURES:
        raise ValueError(f"exposure {exposure!r} must be one of {', '.join(EXPOSURES)}")
    alb = exposure != "cluster"
    hostname = args.get("hostname")
    if alb and not (hostname and args.get("certificate_arn") and args.get("vpc_cidr")):
        raise ValueError(f"exposure {exposure!r} needs hostname, certificate_arn and vpc_cidr")
    if exposure == "public-alb" and not args.get("allowed_cidrs"):
        raise ValueError("exposure 'public-alb' needs allowed_cidrs (the source allowlist)")
    return exposure


def webui_container(env: pulumi.Input[list[dict[str, Any]]], image: str) -> dict[str, Any]:
    """The Open WebUI container: pinned image, alive on /health, ready on the app's /ready, restricted, writable
    data and /tmp only."""
    probe = {"httpGet": {"path": "/health", "port": "http"}, "timeoutSeconds": 5}
    ready = {"httpGet": {"path": READY_PATH, "port": "http"}, "timeoutSeconds": 5}
    container = {
        "name": APP,
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "ports": [{"name": "http", "containerPort": PORT, "protocol": "TCP"}],
        "env": env,
        "resources": {
            "requests": {"cpu": "250m", "memory": "1Gi"},
            "limits": {"cpu": "2", "memory": "3Gi"},
        },
        # First start migrates the database: up to 5 minutes before liveness applies.
        "startupProbe": {**probe, "periodSeconds": 10, "failureThreshold": 30},
        # Traffic only once start-up work is done and the database answers; restarts only when the process
        # stops answering at all.
        "readinessProbe": {**ready, "periodSeconds": 10, "failureThreshold": 3},
        "livenessProbe": {**probe, "periodSeconds": 20, "failureThreshold": 3},
        "securityContext": {**restricted_container(UID), "privileged": False},
        "volumeMounts": [
            {"name": "data", "mountPath": DATA_DIR},
            {"name": "tmp", "mountPath": "/tmp"},
        ],
    }
    return container


def deployment_spec(args: "OpenWebUIArgs", container: dict[str, Any]) -> dict[str, Any]:
    """One replica, Recreate (one pod owns the ReadWriteOnce volume and the SQLite file), system nodes."""
    return {
        "replicas": 1,
        # One pod owns the ReadWriteOnce volume and the SQLite file: the old pod goes first.
        "strategy": {"type": "Recreate"},
        "revisionHistoryLimit": 5,
        "selector": {"matchLabels": SELECTOR},
        "template": {
            "metadata": {"labels": labels()},
            "spec": {
                "serviceAccountName": APP,
                "automountServiceAccountToken": False,
                "enableServiceLinks": False,
                "nodeSelector": dict(args.get("node_selector", SYSTEM_NODE_SELECTOR)),
                "securityContext": {**restricted_pod(UID), "fsGroupChangePolicy": "OnRootMismatch"},
                "terminationGracePeriodSeconds": 30,
                "containers": [container],
                "volumes": [
                    {"name": "data", "persistentVolumeClaim": {"claimName": f"{APP}-data"}},
                    {"name": "tmp", "emptyDir": {"sizeLimit": "2Gi"}},
                ],
            },
        },
    }


class OpenWebUI(pulumi.ComponentResource):
    """Open WebUI (pinned official image) with its namespace, generated secrets, encrypted data volume,
    Deployment, Service, PodDisruptionBudget, NetworkPolicy and, for the ALB exposures, an HTTPS Ingress.
    """

    namespace: pulumi.Output[str]
    """Namespace of the web UI."""
    service_name: pulumi.Output[str]
    """ClusterIP Service in front of the pod (port 8080)."""
    port_forward_command: pulumi.Output[str]
    """Command that makes the UI reachable at http://localhost:8080 (any exposure)."""
    url: pulumi.Output[str]
    """Where users open the UI: https://<hostname> for ALB exposures, http://localhost:8080 otherwise."""
    admin_email: pulumi.Output[str]
    """Login of the first admin account."""
    auth: pulumi.Output[str]
    """How users sign in: `local` or `oidc`."""
    admin_password: pulumi.Output[str]
    """Password the first admin account was created with (a secret). It only seeds that account on an empty
    database: changing it later changes nothing in the app (docs/team.md, "The admin password")."""

    def __init__(self, name: str, args: OpenWebUIArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(TYPE, name, None, opts)
        exposure = checked_exposure(args)
        alb = exposure != "cluster"
        oidc = checked_sign_in(args, alb)
        # Explicit dependencies of the component (cluster nodes, storage driver, ingress controller) hold
        # for every child.
        waits = outer_dependencies(opts)
        child = pulumi.ResourceOptions(parent=self, depends_on=waits)
        ns_name = args.get("namespace", APP)
        admin_email = args.get("admin_email", "admin@localhost")
        url = public_url(exposure, args.get("hostname"))
        ns = self._namespace(name, args, ns_name, child, waits)
        in_ns = pulumi.ResourceOptions(parent=self, depends_on=[*waits, ns])
        secret, key_secrets, admin_password = self._secrets(name, args, ns_name, child, in_ns)
        sign_in = [oidc_secret(f"{name}-oidc", meta(ns_name, OIDC_SECRET, "secrets"), oidc, in_ns)] if oidc else []
        pvc, account = self._storage_and_identity(name, args, ns_name, in_ns)
        env = self._env(args, admin_email, url, alb, [n for n, _ in key_secrets], oidc)
        deployment = k8s.apps.v1.Deployment(
            f"{name}-deployment",
            metadata=meta(ns_name, APP),
            spec=deployment_spec(args, webui_container(env, args.get("image", versions.OPEN_WEBUI_IMAGE))),
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=[*waits, ns, secret, *(k for _, k in key_secrets), *sign_in, pvc, account]
            ),
        )
        service = self._service_and_budget(name, ns_name, in_ns)

        self._network(name, args, ns_name, exposure, in_ns, oidc is not None)
        if alb:
            alb_ingress(
                f"{name}-ingress",
                ns_name,
                APP,
                labels(),
                exposure,
                args.get("hostname"),
                args["certificate_arn"],
                args.get("allowed_cidrs") or [],
                args["vpc_cidr"],
                pulumi.ResourceOptions(parent=self, depends_on=[*waits, service, deployment]),
            )

        self.namespace = pulumi.Output.from_input(ns_name)
        self.service_name = service.metadata.apply(lambda m: m.name)
        self.port_forward_command = pulumi.Output.from_input(
            f"kubectl -n {ns_name} port-forward svc/{APP} {PORT}:{PORT}"
        )
        self.url = pulumi.Output.from_input(url)
        self.admin_email = pulumi.Output.from_input(admin_email)
        self.admin_password = pulumi.Output.secret(admin_password.result)
        self.auth = pulumi.Output.from_input("oidc" if oidc else "local")
        register_declared_outputs(self)

    def _namespace(
        self, name: str, args: OpenWebUIArgs, ns_name: str, child: pulumi.ResourceOptions, waits: list[pulumi.Resource]
    ) -> k8s.core.v1.Namespace:
        """The UI's namespace (Pod Security `restricted`) and its default-deny policy."""
        ns = k8s.core.v1.Namespace(
            f"{name}-namespace",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=ns_name,
                labels={**labels("namespace"), **RESTRICTED_NAMESPACE_LABELS, **args.get("namespace_labels", {})},
            ),
            opts=child,
        )
        default_deny(
            f"{name}-default-deny",
            ns_name,
            labels("network-policy"),
            pulumi.ResourceOptions(parent=self, depends_on=[*waits, ns]),
        )
        return ns

    def _service_and_budget(self, name: str, ns_name: str, in_ns: pulumi.ResourceOptions) -> k8s.core.v1.Service:
        """The ClusterIP Service and the PodDisruptionBudget of the UI pod."""
        service = k8s.core.v1.Service(
            f"{name}-service",
            metadata=meta(ns_name, APP),
            spec={
                "type": "ClusterIP",
                "selector": SELECTOR,
                "ports": [{"name": "http", "port": PORT, "targetPort": "http", "protocol": "TCP"}],
            },
            opts=in_ns,
        )
        # A single Recreate replica cannot stay up through a drain anyway; maxUnavailable 1 states that
        # and never blocks node maintenance (a budget of zero disruptions would block it forever).
        k8s.policy.v1.PodDisruptionBudget(
            f"{name}-pdb",
            metadata=meta(ns_name, APP),
            spec={"maxUnavailable": 1, "selector": {"matchLabels": SELECTOR}},
            opts=in_ns,
        )
        return service

    def _secrets(
        self,
        name: str,
        args: OpenWebUIArgs,
        ns_name: str,
        child: pulumi.ResourceOptions,
        in_ns: pulumi.ResourceOptions,
    ) -> tuple[k8s.core.v1.Secret, list[tuple[str, k8s.core.v1.Secret]], random.RandomPassword]:
        """Generated secrets (session key, admin password) and the UI's copy of each inference API key (by
        Secret name, in connection order)."""
        secret_key = random.RandomPassword(f"{name}-secret-key", length=64, special=False, opts=child)
        admin_password = random.RandomPassword(f"{name}-admin-password", length=32, special=False, opts=child)
        secret = k8s.core.v1.Secret(
            f"{name}-secret",
            metadata=meta(ns_name, APP, "secrets"),
            type="Opaque",
            string_data={SECRET_KEY: secret_key.result, ADMIN_PASSWORD_KEY: admin_password.result},
            opts=in_ns,
        )
        # A copy of each endpoint's key, named by its model; the first keeps its one-model name.
        key_secrets: list[tuple[str, k8s.core.v1.Secret]] = []
        extra = args.get("additional_endpoints", [])
        for suffix, key in [
            ("", args["api_key"]),
            *((f"-{model_suffix(e['served_model_name'])}", e["api_key"]) for e in extra),
        ]:
            copy = k8s.core.v1.Secret(
                f"{name}-inference-key{suffix}",
                metadata=meta(ns_name, f"{APP}-inference-key{suffix}", "secrets"),
                type="Opaque",
                string_data={INFERENCE_KEY: pulumi.Output.secret(key)},
                opts=in_ns,
            )
            key_secrets.append((f"{APP}-inference-key{suffix}", copy))
        return secret, key_secrets, admin_password

    def _storage_and_identity(
        self, name: str, args: OpenWebUIArgs, ns_name: str, in_ns: pulumi.ResourceOptions
    ) -> tuple[k8s.core.v1.PersistentVolumeClaim, k8s.core.v1.ServiceAccount]:
        """The data volume (SQLite, uploads) and the service account (no API token)."""
        pvc = k8s.core.v1.PersistentVolumeClaim(
            f"{name}-data",
            # WaitForFirstConsumer: the claim binds when the pod is scheduled, so do not wait for it here.
            metadata=meta(ns_name, f"{APP}-data", "storage", annotations={"pulumi.com/skipAwait": "true"}),
            spec=k8s.core.v1.PersistentVolumeClaimSpecArgs(
                access_modes=["ReadWriteOnce"],
                storage_class_name=args.get("storage_class", STORAGE_CLASS),
                resources=k8s.core.v1.VolumeResourceRequirementsArgs(
                    requests={"storage": f"{args.get('storage_gib', 10)}Gi"}
                ),
            ),
            opts=pulumi.ResourceOptions.merge(
                in_ns,
                pulumi.ResourceOptions(
                    protect=args.get("protect_data", False),
                    # A claim's class cannot change (pulumi-kubernetes replaces the claim, i.e. a new empty
                    # volume): a stack made before the class was set keeps its claim and its chats.
                    ignore_changes=["spec.storageClassName"],
                ),
            ),
        )
        account = k8s.core.v1.ServiceAccount(
            f"{name}-service-account",
            metadata=meta(ns_name, APP),
            automount_service_account_token=False,  # it never calls the Kubernetes API
            opts=in_ns,
        )

        return pvc, account

    @staticmethod
    def _env(
        args: OpenWebUIArgs, admin_email: str, url: str, alb: bool, key_secrets: list[str], oidc: OidcArgs | None
    ) -> pulumi.Output[list[dict[str, Any]]]:
        """The UI's settings as environment variables, secrets by reference: one connection per endpoint (keys
        from `key_secrets`, in the same order), the OpenID provider's settings with `oidc`."""
        extra = args.get("additional_endpoints", [])
        base_url = pulumi.Output.all(args["openai_base_url"], *(e["openai_base_url"] for e in extra)).apply(
            lambda urls: ";".join(check_base_url(u) for u in urls)
        )
        literal = pulumi.Output.all(base_url, args["served_model_name"]).apply(
            lambda a: settings(
                base_url=a[0],
                served_model_name=a[1],
                admin_email=admin_email,
                admin_name=args.get("admin_name", "Admin"),
                url=url,
                https=alb,
            )
        )

        if oidc is not None:
            literal = with_oidc(literal, oidc, url)

        def from_secret(env_name: str, secret_name: str, key: str) -> dict[str, Any]:
            return {"name": env_name, "valueFrom": {"secretKeyRef": {"name": secret_name, "key": key}}}

        secret_env = [
            from_secret("WEBUI_SECRET_KEY", APP, SECRET_KEY),
            from_secret("WEBUI_ADMIN_PASSWORD", APP, ADMIN_PASSWORD_KEY),
            *inference_keys_env(key_secrets),
        ]
        if oidc is not None:
            secret_env.append(from_secret("OAUTH_CLIENT_SECRET", OIDC_SECRET, OIDC_SECRET_KEY))
        return literal.apply(lambda values: [*({"name": k, "value": v} for k, v in values.items()), *secret_env])

    def _network(
        self, name: str, args: OpenWebUIArgs, ns_name: str, exposure: str, in_ns: pulumi.ResourceOptions, oidc: bool
    ) -> None:
        """Default deny for the UI's pods, with only DNS, every inference endpoint and (with `oidc`) the
        OpenID provider out."""
        alb = exposure != "cluster"
        # Ingress: nothing in `cluster` mode (kubectl port-forward connects to the pod's loopback from
        # inside its network namespace, and kubelet probes come from the node, which the VPC CNI policy
        # agent always allows); from the VPC (the ALB's addresses, target type ip) in ALB modes.
        from_vpc = {"from": [{"ipBlock": {"cidr": args.get("vpc_cidr")}}], "ports": [{"protocol": "TCP", "port": PORT}]}
        ingress_rules: Any = [from_vpc] if alb else []
        k8s.networking.v1.NetworkPolicy(
            f"{name}-network-policy",
            metadata=meta(ns_name, APP),
            spec=network_policy_spec(
                SELECTOR,
                ingress=ingress_rules,
                egress=[
                    DNS_EGRESS,
                    {
                        "to": [
                            {
                                "namespaceSelector": {
                                    "matchLabels": {"kubernetes.io/metadata.name": args["inference_namespace"]}
                                },
                                "podSelector": {"matchLabels": dict(pod_labels)},
                            }
                            for pod_labels in [
                                args["inference_pod_labels"],
                                *(e["pod_labels"] for e in args.get("additional_endpoints", [])),
                            ]
                        ],
                        "ports": [{"protocol": "TCP", "port": args.get("inference_port", 8000)}],
                    },
                    # The provider's discovery, token and key endpoints (called by the server, not the browser),
                    # outside the VPC only, like every internet egress of the stack: a provider inside the VPC
                    # would need its own allowance.
                    *([https_egress([args["vpc_cidr"]])] if oidc else []),
                ],
            ),
            opts=in_ns,
        )
