"""The typed stack configuration (what the program builds from) and the choices each key offers.

`parse_config` turns a stack's raw values into one frozen `StackConfig`; nothing else in the program reads
configuration. Defaults are the secure production choice; the cheap/dev choices are explicit values.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from inferentia_chat.hardware import FSX_PERSISTENT_2_THROUGHPUTS
from inferentia_chat.images import Images

# The Pulumi config namespace of every program key (`inferentia-chat:<key>` in Pulumi.<stack>.yaml). Not a
# Kubernetes namespace: those are named where the workloads are composed (stacks/primary.py).
CONFIG_NAMESPACE = "inferentia-chat"

ROLES = ("primary", "dr")
AUTH_MODES = ("local", "oidc", "cognito")
MAX_MODELS = 8
NAT_STRATEGIES = ("one-per-az", "single")
LOG_TYPES = ("api", "audit", "authenticator", "controllerManager", "scheduler")
# CloudWatch Logs accepts only these retention periods (days).
LOG_RETENTION_DAYS = (
    1,
    3,
    5,
    7,
    14,
    30,
    60,
    90,
    120,
    150,
    180,
    365,
    400,
    545,
    731,
    1096,
    1827,
    2192,
    2557,
    2922,
    3288,
    3653,
)
CAPACITY_TYPES = ("on-demand", "spot")
FSX_DEPLOYMENT_TYPES = ("PERSISTENT_2", "SCRATCH_2")
FSX_THROUGHPUTS = FSX_PERSISTENT_2_THROUGHPUTS  # MB/s per TiB (hardware.py owns the FSx figures)
THROUGHPUT_CHECKS = ("warn", "error")
EXPOSURES = ("cluster", "internal-alb", "public-alb")
STANDBY_LEVELS = ("none", "storage", "serving")
REPLICA_STORAGE_CLASSES = ("STANDARD", "INTELLIGENT_TIERING", "STANDARD_IA", "ONEZONE_IA", "GLACIER_IR")


# ------------------------------------------------------------------------------------------------
# The typed configuration.
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NetworkConfig:
    """A new VPC (cidr, AZs, NAT) or an existing one (vpc_id and subnet ids)."""

    vpc_id: str | None
    private_subnet_ids: tuple[str, ...]
    public_subnet_ids: tuple[str, ...]
    cidr: str
    az_count: int
    availability_zones: tuple[str, ...]
    nat_gateways: str
    flow_logs: bool = True
    flow_log_retention_days: int = 365

    @property
    def bring_your_own(self) -> bool:
        return self.vpc_id is not None


@dataclass(frozen=True)
class ClusterConfig:
    """The EKS control plane and its small system node group."""

    name: str
    kubernetes_version: str
    system_node_type: str
    system_node_count: int
    system_node_max_count: int
    public_endpoint: bool
    public_access_cidrs: tuple[str, ...]
    admin_role_arns: tuple[str, ...]
    log_types: tuple[str, ...]
    log_retention_days: int


@dataclass(frozen=True)
class InferencePoolConfig:
    """The Karpenter-managed Inferentia2 capacity."""

    instance_types: tuple[str, ...]
    capacity_types: tuple[str, ...]
    consolidate_after: str
    expire_after: str
    termination_grace_period: str
    max_neuron_devices: int
    image_cache_snapshot_id: str | None = None
    image_cache_bottlerocket_version: str | None = None
    image_pull: str = "soci"  # inferencePool.imagePull (inferentia_chat/image_pull.py)
    bottlerocket_version: str | None = None  # Bottlerocket nodes without the image cache


@dataclass(frozen=True)
class ModelStoreConfig:
    """The S3 bucket and the FSx for Lustre file system linked to it."""

    deployment_type: str
    storage_capacity_gib: int
    throughput_per_tib: int | None
    file_system_path: str
    bucket_prefix: str
    noncurrent_version_days: int
    availability_zone: str | None
    throughput_check: str = "warn"


@dataclass(frozen=True)
class ActiveSchedule:
    """When a scale-to-zero model keeps one replica (KEDA cron trigger): cron start/end in a time zone."""

    timezone: str
    start: str
    end: str


@dataclass(frozen=True)
class AutoscalingConfig:
    """`model.autoscaling`: KEDA scales the model's Deployment on its request queue between these bounds."""

    min_replicas: int
    max_replicas: int
    max_queue_wait_seconds: int
    active_schedule: ActiveSchedule | None = None


@dataclass(frozen=True)
class MonitoringConfig:
    """`monitoring`: Prometheus, Grafana, Alertmanager and neuron-monitor (and KEDA with it)."""

    enabled: bool
    retention: str
    storage_gib: int
    managed_prometheus: bool
    alert_target: str
    alert_email: str | None
    ttft_p95_target_seconds: int


@dataclass(frozen=True)
class ModelConfig:
    """The model and how vLLM serves it."""

    id: str
    revision: str
    source: str
    served_name: str
    tensor_parallel_size: int
    max_model_len: int
    max_num_seqs: int
    replicas: int
    compile_job: bool
    # Compile on an EC2 instance started with the network (NeuronCompileHost); the compile Job is the fallback.
    compile_host: bool = False
    # None: a fixed `replicas`; set: KEDA owns the count within its bounds (`replicas` is then minReplicas).
    autoscaling: AutoscalingConfig | None = None


@dataclass(frozen=True)
class OidcConfig:
    """Sign-in through the organisation's OpenID Connect provider (`webui.oidc`)."""

    issuer_url: str
    client_id: str
    allowed_domains: tuple[str, ...]
    roles_claim: str
    admin_roles: tuple[str, ...]
    provider_name: str


@dataclass(frozen=True)
class CognitoConfig:
    """The stack's own Amazon Cognito user pool (`webui.cognito`), for a team without an identity provider."""

    domain_prefix: str | None
    admin_group: str


@dataclass(frozen=True)
class WebUiConfig:
    """Open WebUI and the way users reach it."""

    exposure: str
    certificate_arn: str | None
    allowed_cidrs: tuple[str, ...]
    hostname: str | None
    replicas: int
    storage_gib: int
    admin_email: str
    # `local` (accounts in Open WebUI), `oidc` (the organisation's provider) or `cognito` (the stack's pool).
    auth: str = "local"
    oidc: OidcConfig | None = None
    cognito: CognitoConfig | None = None


@dataclass(frozen=True)
class DrConfig:
    """The disaster-recovery stack's link to the primary stack."""

    primary_stack: str
    primary_region: str
    standby: str
    replica_storage_class: str
    replicate_delete_markers: bool
    prefixes: tuple[str, ...]
    alarm_email: str | None


@dataclass(frozen=True)
class DataProtectionConfig:
    """What `pulumi destroy` keeps and what guards it (docs/day-2.md, "Destroying a stack: what survives")."""

    on_destroy: str = "retain"
    """`dataOnDestroy`: retain (model and replica buckets, their keys, the chat volume survive) or delete."""
    protect: bool = True
    """`protectData` (default: true in the `production` environment): Pulumi `protect` on the buckets, keys
    and chat claim, and EKS deletion protection on the cluster."""
    chat_snapshot_days: int = 14
    """`chatSnapshots.retainDays`: daily snapshots of the chat volume kept (Data Lifecycle Manager)."""
    chat_snapshot_time: str = "03:00"
    """`chatSnapshots.startTime`: UTC time the daily snapshot starts."""

    @property
    def retain(self) -> bool:
        """Whether stateful resources are retained on destroy (and on a replacement's delete)."""
        return self.on_destroy == "retain"


@dataclass(frozen=True)
class StackConfig:
    """The whole, validated configuration of one stack."""

    project: str
    stack: str
    region: str
    role: str
    tags: Mapping[str, str]
    network: NetworkConfig
    cluster: ClusterConfig
    inference_pool: InferencePoolConfig
    model_store: ModelStoreConfig
    # `inferentia-chat:models` (or the one-model shorthand `inferentia-chat:model`): at least one entry.
    models: tuple[ModelConfig, ...]
    webui: WebUiConfig
    dr: DrConfig | None
    monitoring: MonitoringConfig | None = None
    # `inferentia-chat:alertWebhookUrl`: a secret like hfToken (None when unset); load_config reads it.
    alert_webhook_url: Any = None
    # `inferentia-chat:hfToken`: a Pulumi secret, carried as a secret Output and never as a plain value
    # (None when unset). parse_config only records whether it is set; load_config reads the secret.
    hf_token: Any = None
    # `inferentia-chat:environment` and `inferentia-chat:images` (docs/security.md).
    environment: str = "production"
    images: Images = field(default_factory=Images)
    # Findings that do not stop a deployment (e.g. the file system is slow for the fleet); load_config
    # logs them, the render prints them.
    warnings: tuple[str, ...] = ()
    data: DataProtectionConfig = DataProtectionConfig()
    # `inferentia-chat:oidcClientSecret` (webui.auth oidc): a secret Output like hf_token, None when unset.
    oidc_client_secret: Any = None

    @property
    def model(self) -> ModelConfig:
        """The first model: the one the one-model settings and outputs describe."""
        return self.models[0]

    @property
    def common_tags(self) -> dict[str, str]:
        """Tags every AWS resource of the stack carries (components add `component`)."""
        return {"project": self.project, "stack": self.stack, **self.tags}
