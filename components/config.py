"""The stack configuration: read once, validated whole, typed.

Every key lives under the `inferentia-chat:` namespace in `Pulumi.<stack>.yaml` (plus `aws:region`).
`parse_config` is a pure function: it turns the raw values into one frozen `StackConfig` or raises ONE
`ConfigError` that lists every problem, each naming the key path, the bad value and what is allowed.
Unknown keys are problems too (a typo must not silently fall back to a default). `load_config` reads the
Pulumi configuration and calls it; the program calls that before registering any resource.

Defaults are the secure production choice; the cheap/dev choices are explicit values in a stack file.
"""

from __future__ import annotations

import dataclasses
import difflib
import ipaddress
import json
import re
import urllib.parse
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

import pulumi

from . import versions
from .hardware import (
    COMPILE_MIN_HOST_MEMORY_GIB,
    INF2_TP_DEGREES,
    INF2_TYPES,
    KNOWN_MODELS,
    SCRATCH_2_MB_S_PER_TIB,
    WEIGHT_READ_BUDGET_S,
    fit_report,
    fsx_throughput_mb_s,
    pool_devices_needed,
    serving_pod_requests,
    types_that_fit_tp,
    weight_read_seconds,
)

NAMESPACE = "inferentia-chat"

ROLES = ("primary", "dr")
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
FSX_THROUGHPUTS = (125, 250, 500, 1000)  # MB/s per TiB, PERSISTENT_2
DEFAULT_THROUGHPUT_PER_TIB = 500
THROUGHPUT_CHECKS = ("warn", "error")
EXPOSURES = ("cluster", "internal-alb", "public-alb")
STANDBY_LEVELS = ("none", "storage", "serving")
REPLICA_STORAGE_CLASSES = ("STANDARD", "INTELLIGENT_TIERING", "STANDARD_IA", "ONEZONE_IA", "GLACIER_IR")

_REGION = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d$")
_AZ = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d[a-z]$")
_VPC_ID = re.compile(r"^vpc-[0-9a-f]{8}([0-9a-f]{9})?$")
_SUBNET_ID = re.compile(r"^subnet-[0-9a-f]{8}([0-9a-f]{9})?$")
_ROLE_ARN = re.compile(r"^arn:aws(-[a-z]+)*:iam::\d{12}:role/[\w+=,.@/-]{1,512}$")
_ACM_ARN = re.compile(r"^arn:aws(-[a-z]+)*:acm:[a-z0-9-]+:\d{12}:certificate/[0-9a-f-]{36}$")
_CLUSTER_NAME = re.compile(r"^[0-9A-Za-z][A-Za-z0-9_-]{0,99}$")
_INSTANCE_TYPE = re.compile(r"^[a-z][a-z0-9-]*\.[a-z0-9]+$")
_ACCELERATED_FAMILY = re.compile(r"^(inf\d|trn\d|dl\d|p\d|g\d|f\d|vt\d)")
_MODEL_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
_REVISION = re.compile(r"^([0-9a-f]{40}|[\w.-]{1,100})$")
_S3_URI = re.compile(r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/[\w./=-]*)?$")
_SERVED_NAME = re.compile(r"^[a-z0-9]([a-z0-9._-]{0,62}[a-z0-9])?$")
_DURATION = re.compile(r"^(\d+h)?(\d+m)?(\d+s)?$")
_SNAPSHOT_ID = re.compile(r"^snap-[0-9a-f]{8}([0-9a-f]{9})?$")
_BOTTLEROCKET_VERSION = re.compile(r"^v\d+\.\d+\.\d+$")
_STACK_NAME = re.compile(r"^[\w.-]+/[\w.-]+/[\w.-]+$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_TAG_KEY = re.compile(r"^[\w .:/=+@-]{1,128}$")
_CLIENT_ID = re.compile(r"^[\w.@:/+-]{1,255}$", re.ASCII)
_CLAIM = re.compile(r"^[\w:/-]+(\.[\w:/-]+)*$", re.ASCII)
_ROLE = re.compile(r"^[\w .:/@-]{1,128}$", re.ASCII)
_COGNITO_PREFIX = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
AUTH_MODES = ("local", "oidc", "cognito")
MAX_MODELS = 8
_HOSTNAME = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


class ConfigError(pulumi.RunError, ValueError):
    """The stack configuration is invalid; the message lists every problem.

    A `pulumi.RunError`, so `pulumi up` prints the message without a Python traceback.
    """

    def __init__(self, problems: list[str]):
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"invalid stack configuration ({len(problems)} problem{'s' * (len(problems) > 1)}):\n{lines}")


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


@dataclass(frozen=True)
class OidcConfig:
    """Sign-in through an OpenID Connect provider (`webui.oidc`, or the stack's own Cognito user pool)."""

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
    # `inferentia-chat:hfToken`: a Pulumi secret, carried as a secret Output and never as a plain value
    # (None when unset). parse_config only records whether it is set; load_config reads the secret.
    hf_token: Any = None
    # Findings that do not stop a deployment (e.g. the file system is slow for the fleet); load_config
    # logs them, the render prints them.
    warnings: tuple[str, ...] = ()

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


# ------------------------------------------------------------------------------------------------
# Reading with problems collected, not raised one at a time.
# ------------------------------------------------------------------------------------------------

_MISSING = object()


def _show(value: Any) -> str:
    return json.dumps(value) if not isinstance(value, str) else repr(value)


class _Problems:
    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, path: str, value: Any, allowed: str) -> None:
        self.items.append(f"{path} = {_show(value)}: {allowed}")

    def missing(self, path: str, allowed: str) -> None:
        self.items.append(f"{path} is required: {allowed}")


class _Section:
    """One config object: typed getters that record problems and return a usable default."""

    def __init__(self, path: str, raw: Any, problems: _Problems):
        self.path = path
        self.problems = problems
        self.used: set[str] = set()
        if raw is _MISSING or raw is None:
            raw = {}
        if not isinstance(raw, dict):
            problems.add(path, raw, "must be an object (a YAML mapping of keys)")
            raw = {}
        self.raw: dict[str, Any] = raw

    def key(self, key: str) -> str:
        return f"{self.path}.{key}"

    def has(self, key: str) -> bool:
        return key in self.raw

    def _get(self, key: str) -> Any:
        self.used.add(key)
        return self.raw.get(key, _MISSING)

    def _check(self, key: str, value: Any, default: Any, ok: bool, allowed: str) -> Any:
        if not ok:
            self.problems.add(self.key(key), value, allowed)
            return default
        return value

    def string(
        self,
        key: str,
        default: str | None,
        *,
        choices: tuple[str, ...] | None = None,
        pattern: re.Pattern[str] | None = None,
        allowed: str = "",
        required: bool = False,
    ) -> str | None:
        value = self._get(key)
        if value is _MISSING:
            if required:
                self.problems.missing(self.key(key), allowed or f"one of {', '.join(choices or ())}")
            return default
        if not isinstance(value, str):
            return self._check(key, value, default, False, f"must be a string; {allowed}".rstrip("; "))
        if choices is not None and value not in choices:
            return self._check(key, value, default, False, f"must be one of {', '.join(choices)}")
        if pattern is not None and not pattern.match(value):
            return self._check(key, value, default, False, allowed)
        return value

    def integer(
        self, key: str, default: int, *, minimum: int | None = None, maximum: int | None = None, allowed: str = ""
    ) -> int:
        value = self._get(key)
        if value is _MISSING:
            return default
        if not isinstance(value, int) or isinstance(value, bool):
            return self._check(key, value, default, False, f"must be a whole number {allowed}".rstrip())
        if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
            bounds = f"between {minimum} and {maximum}" if maximum is not None else f"at least {minimum}"
            return self._check(key, value, default, False, f"must be {bounds} {allowed}".rstrip())
        return value

    def boolean(self, key: str, default: bool) -> bool:
        value = self._get(key)
        if value is _MISSING:
            return default
        return self._check(key, value, default, isinstance(value, bool), "must be true or false")

    def strings(
        self,
        key: str,
        default: tuple[str, ...],
        *,
        item: Callable[[str], str | None],
        min_items: int = 0,
        unique: bool = True,
    ) -> tuple[str, ...]:
        """A list of strings; `item` returns None when an element is fine, else what is allowed."""
        value = self._get(key)
        if value is _MISSING:
            return default
        if not isinstance(value, list):
            return self._check(key, value, default, False, "must be a list")
        ok = True
        for i, element in enumerate(value):
            problem = "must be a string" if not isinstance(element, str) else item(element)
            if problem:
                self.problems.add(f"{self.key(key)}[{i}]", element, problem)
                ok = False
        if ok and len(value) < min_items:
            self.problems.add(self.key(key), value, f"must list at least {min_items} item(s)")
            ok = False
        if ok and unique and len(set(value)) != len(value):
            self.problems.add(self.key(key), value, "must not repeat an item")
            ok = False
        return tuple(value) if ok else default

    def section(self, key: str) -> _Section:
        return _Section(self.key(key), self._get(key), self.problems)

    def finish(self) -> None:
        """Report keys nobody read: typos and keys from other versions."""
        for key in sorted(set(self.raw) - self.used):
            hint = difflib.get_close_matches(key, sorted(self.used), n=1)
            suggestion = f" (did you mean {hint[0]!r}?)" if hint else ""
            self.problems.add(
                self.key(key),
                self.raw[key],
                f"unknown key{suggestion}; allowed keys: {', '.join(sorted(self.used))}",
            )


# ------------------------------------------------------------------------------------------------
# Element checks (return None when fine, else what is allowed).
# ------------------------------------------------------------------------------------------------


def _cidr_problem(value: str) -> str | None:
    try:
        ipaddress.IPv4Network(value, strict=True)
    except ValueError:
        return "must be an IPv4 CIDR block such as 203.0.113.0/24 (host bits zero)"
    return None


def _match(pattern: re.Pattern[str], allowed: str) -> Callable[[str], str | None]:
    return lambda value: None if pattern.match(value) else allowed


def _choice(choices: tuple[str, ...] | list[str]) -> Callable[[str], str | None]:
    return lambda value: None if value in choices else f"must be one of {', '.join(choices)}"


def _duration_ok(value: str) -> bool:
    return bool(value) and value != "" and _DURATION.match(value) is not None and any(c.isdigit() for c in value)


# ------------------------------------------------------------------------------------------------
# Sections.
# ------------------------------------------------------------------------------------------------


def _network(s: _Section, region: str) -> NetworkConfig:
    vpc_id = s.string("vpcId", None, pattern=_VPC_ID, allowed="must be a VPC id such as vpc-0123456789abcdef0")
    subnet = _match(_SUBNET_ID, "must be a subnet id such as subnet-0123456789abcdef0")
    private = s.strings("privateSubnetIds", (), item=subnet)
    public = s.strings("publicSubnetIds", (), item=subnet)
    cidr = s.string("cidr", "10.0.0.0/16", allowed="must be an IPv4 CIDR block with a /16 to /20 prefix")
    az_count = s.integer("azCount", 3, minimum=2, maximum=6, allowed="(availability zones of the new VPC)")

    def in_region(az: str) -> str | None:
        if _AZ.match(az) and az.startswith(region):
            return None
        return f"must be an availability zone of {region}, e.g. {region}a"

    azs = s.strings("availabilityZones", (), item=in_region)
    nat = s.string("natGateways", "one-per-az", choices=NAT_STRATEGIES)

    if cidr is not None and s.has("cidr"):
        try:
            net = ipaddress.IPv4Network(cidr, strict=True)
            if not 16 <= net.prefixlen <= 20:
                s.problems.add(s.key("cidr"), cidr, "must have a /16 to /20 prefix (room for subnets in every AZ)")
        except ValueError:
            s.problems.add(s.key("cidr"), cidr, "must be an IPv4 CIDR block such as 10.0.0.0/16 (host bits zero)")
            cidr = "10.0.0.0/16"
    if azs and len(azs) < 2:
        s.problems.add(s.key("availabilityZones"), list(azs), "must list at least 2 zones (EKS needs two)")
    if azs and s.has("azCount"):
        s.problems.add(s.key("azCount"), az_count, "set either azCount or availabilityZones, not both")

    if vpc_id is not None:
        for key in ("cidr", "azCount", "availabilityZones", "natGateways"):
            if s.has(key):
                s.problems.add(s.key(key), s.raw[key], "applies to a new VPC only; remove it when vpcId is set")
        if len(private) < 2:
            s.problems.add(
                s.key("privateSubnetIds"), list(private), "must list at least 2 private subnets (in 2 AZs) with vpcId"
            )
    elif private or public:
        key = "privateSubnetIds" if private else "publicSubnetIds"
        s.problems.add(s.key(key), list(private or public), "subnet ids need vpcId (bring-your-own VPC)")
    s.finish()
    return NetworkConfig(
        vpc_id=vpc_id,
        private_subnet_ids=private,
        public_subnet_ids=public,
        cidr=cidr or "10.0.0.0/16",
        az_count=len(azs) if azs else az_count,
        availability_zones=azs,
        nat_gateways=nat or "one-per-az",
    )


def _cluster(s: _Section, stack: str) -> ClusterConfig:
    name = s.string(
        "name",
        f"{NAMESPACE}-{stack}",
        pattern=_CLUSTER_NAME,
        allowed="must be 1-100 letters, digits, - or _, starting with a letter or digit",
    )
    version = s.string("kubernetesVersion", versions.KUBERNETES_VERSION, choices=versions.SUPPORTED_KUBERNETES_VERSIONS)
    node_type = s.string(
        "systemNodeType",
        "m7i.large",
        pattern=_INSTANCE_TYPE,
        allowed="must be an EC2 instance type such as m7i.large",
    )
    if node_type and _ACCELERATED_FAMILY.match(node_type):
        s.problems.add(
            s.key("systemNodeType"),
            node_type,
            "must be a general-purpose type (e.g. m7i.large); accelerators belong to the inference pool",
        )
    count = s.integer("systemNodeCount", 2, minimum=1, maximum=20, allowed="(nodes for controllers and the web UI)")
    max_count = s.integer("systemNodeMaxCount", max(count, 2) + 2, minimum=1, maximum=50)
    if max_count < count:
        s.problems.add(s.key("systemNodeMaxCount"), max_count, f"must be at least systemNodeCount ({count})")
    public = s.boolean("publicEndpoint", False)

    def public_cidr(value: str) -> str | None:
        problem = _cidr_problem(value)
        if problem:
            return problem
        if ipaddress.IPv4Network(value).prefixlen == 0:
            return "must not be 0.0.0.0/0: list the networks that need the Kubernetes API"
        return None

    cidrs = s.strings("publicAccessCidrs", (), item=public_cidr)
    if public and not cidrs and not any(p.startswith(s.key("publicAccessCidrs")) for p in s.problems.items):
        s.problems.add(
            s.key("publicAccessCidrs"),
            [],
            "must list the CIDR blocks allowed to reach the public endpoint when publicEndpoint is true",
        )
    if cidrs and not public:
        s.problems.add(s.key("publicAccessCidrs"), list(cidrs), "only applies when publicEndpoint is true")
    admins = s.strings(
        "adminRoleArns",
        (),
        item=_match(_ROLE_ARN, "must be an IAM role ARN such as arn:aws:iam::123456789012:role/platform-admin"),
    )
    logs = s.strings("logTypes", ("api", "audit", "authenticator"), item=_choice(LOG_TYPES))
    retention = s.integer("logRetentionDays", 365)
    if retention not in LOG_RETENTION_DAYS:
        s.problems.add(
            s.key("logRetentionDays"),
            retention,
            f"must be a CloudWatch retention: {', '.join(map(str, LOG_RETENTION_DAYS))}",
        )
        retention = 365
    s.finish()
    return ClusterConfig(
        name=name or f"{NAMESPACE}-{stack}",
        kubernetes_version=version or versions.KUBERNETES_VERSION,
        system_node_type=node_type or "m7i.large",
        system_node_count=count,
        system_node_max_count=max_count,
        public_endpoint=public,
        public_access_cidrs=cidrs,
        admin_role_arns=admins,
        log_types=logs,
        log_retention_days=retention,
    )


def _inference_pool(s: _Section) -> InferencePoolConfig:
    types = s.strings("instanceTypes", ("inf2.xlarge", "inf2.8xlarge"), item=_choice(tuple(INF2_TYPES)), min_items=1)
    capacity = s.strings("capacityTypes", ("on-demand",), item=_choice(CAPACITY_TYPES), min_items=1)
    duration = "must be a duration such as 30s, 5m or 1h30m"
    consolidate = s.string("consolidateAfter", "5m", allowed=duration)
    if consolidate is not None and not _duration_ok(consolidate):
        s.problems.add(s.key("consolidateAfter"), consolidate, duration)
    expire = s.string("expireAfter", "720h", allowed=f"{duration}, or Never")
    if expire is not None and expire != "Never" and not _duration_ok(expire):
        s.problems.add(s.key("expireAfter"), expire, f"{duration}, or Never")
    # Never is not allowed here: it would let a blocked drain keep an expired node forever.
    grace = s.string("terminationGracePeriod", "1h", allowed=duration)
    if grace is not None and not _duration_ok(grace):
        s.problems.add(s.key("terminationGracePeriod"), grace, duration)
    max_devices = s.integer(
        "maxNeuronDevices", 4, minimum=1, maximum=480, allowed="(Inferentia2 chips the pool may run at once)"
    )
    # Optional image cache: Bottlerocket nodes whose data volume is restored from a snapshot that already
    # holds the serving image (made once with the documented step), so a new node skips the image pull.
    cache = s.section("imageCache")
    snapshot = cache.string(
        "snapshotId", None, pattern=_SNAPSHOT_ID, allowed="must be an EBS snapshot id such as snap-0123456789abcdef0"
    )
    bottlerocket = cache.string(
        "bottlerocketVersion",
        None,
        pattern=_BOTTLEROCKET_VERSION,
        allowed="must be the Bottlerocket release the snapshot was made with, such as v1.46.0",
    )
    if (snapshot is None) != (bottlerocket is None) and not any(p.startswith(cache.path) for p in s.problems.items):
        missing = "bottlerocketVersion" if bottlerocket is None else "snapshotId"
        s.problems.missing(cache.key(missing), "imageCache needs both snapshotId and bottlerocketVersion")
    cache.finish()
    s.finish()
    return InferencePoolConfig(
        instance_types=types,
        capacity_types=capacity,
        consolidate_after=consolidate or "5m",
        expire_after=expire or "720h",
        termination_grace_period=grace if grace and _duration_ok(grace) else "1h",
        max_neuron_devices=max_devices,
        image_cache_snapshot_id=snapshot if bottlerocket else None,
        image_cache_bottlerocket_version=bottlerocket if snapshot else None,
    )


def _model_store(s: _Section, network: NetworkConfig) -> ModelStoreConfig:
    deployment = s.string("deploymentType", "PERSISTENT_2", choices=FSX_DEPLOYMENT_TYPES)
    capacity = s.integer("storageCapacityGiB", 1200, minimum=1200, maximum=2_400 * 1000, allowed="GiB")
    if s.has("storageCapacityGiB") and isinstance(capacity, int) and capacity not in (1200, 2400) and capacity % 2400:
        s.problems.add(s.key("storageCapacityGiB"), capacity, "must be 1200, 2400 or a multiple of 2400 (GiB)")
    throughput: int | None = None
    if deployment == "PERSISTENT_2":
        # 500 MB/s per TiB: at 1200 GiB that feeds one replica's ~15 GB of weights in ~25 s, inside the
        # warm-node start-up budget (hardware.WEIGHT_READ_BUDGET_S); 250 takes about 50 s.
        throughput = s.integer("throughputPerTiB", DEFAULT_THROUGHPUT_PER_TIB)
        if throughput not in FSX_THROUGHPUTS:
            s.problems.add(
                s.key("throughputPerTiB"),
                throughput,
                f"must be one of {', '.join(map(str, FSX_THROUGHPUTS))} (MB/s per TiB, PERSISTENT_2)",
            )
    elif s.has("throughputPerTiB"):
        s.used.add("throughputPerTiB")
        s.problems.add(
            s.key("throughputPerTiB"),
            s.raw["throughputPerTiB"],
            "applies to PERSISTENT_2 only (SCRATCH_2 has a fixed 200 MB/s per TiB); remove it",
        )
    fs_path = s.string(
        "fileSystemPath",
        "/",
        pattern=re.compile(r"^/([\w.-]+(/[\w.-]+)*)?$"),
        allowed="must be an absolute path such as / or /models",
    )
    prefix = s.string(
        "bucketPrefix",
        "",
        pattern=re.compile(r"^([\w.=-]+/)*$"),
        allowed="must be empty (whole bucket) or a prefix ending in /, such as models/",
    )
    noncurrent = s.integer("noncurrentVersionDays", 30, minimum=1, maximum=3650, allowed="(days)")
    az = s.string("availabilityZone", None, pattern=_AZ, allowed="must be an availability zone name such as us-east-1a")
    if az and network.availability_zones and az not in network.availability_zones:
        s.problems.add(
            s.key("availabilityZone"),
            az,
            f"must be one of the network's zones: {', '.join(network.availability_zones)}",
        )
    check = s.string("throughputCheck", "warn", choices=THROUGHPUT_CHECKS)
    s.finish()
    return ModelStoreConfig(
        deployment_type=deployment or "PERSISTENT_2",
        storage_capacity_gib=capacity,
        throughput_per_tib=throughput
        if throughput in FSX_THROUGHPUTS
        else (DEFAULT_THROUGHPUT_PER_TIB if deployment == "PERSISTENT_2" else None),
        file_system_path=fs_path or "/",
        bucket_prefix=prefix or "",
        noncurrent_version_days=noncurrent,
        availability_zone=az,
        throughput_check=check or "warn",
    )


def _model(s: _Section, pool: InferencePoolConfig, role: str) -> ModelConfig:
    model_id = s.string(
        "id", versions.MODEL_ID, pattern=_MODEL_ID, allowed="must be a Hugging Face id such as org/model"
    )
    revision = s.string(
        "revision",
        versions.MODEL_REVISION,
        pattern=_REVISION,
        allowed="must be a commit SHA (40 hex digits) or a tag/branch name",
    )
    source = s.string("source", "huggingface", allowed="must be huggingface or an s3:// URI")
    if source is not None and source != "huggingface" and not _S3_URI.match(source):
        s.problems.add(s.key("source"), source, "must be huggingface or an s3:// URI such as s3://bucket/models/x/")
    served = s.string(
        "servedName",
        "mistral-7b-instruct",
        pattern=_SERVED_NAME,
        allowed="must be lowercase letters, digits, '.', '_' or '-' (at most 64)",
    )
    tp = s.integer("tensorParallelSize", 2)
    if tp not in INF2_TP_DEGREES:
        s.problems.add(
            s.key("tensorParallelSize"), tp, f"must be one of {', '.join(map(str, INF2_TP_DEGREES))} (Inf2 TP degrees)"
        )
    elif not types_that_fit_tp(tp, pool.instance_types):
        cores = ", ".join(f"{t} has {INF2_TYPES[t].neuron_cores}" for t in pool.instance_types)
        s.problems.add(
            s.key("tensorParallelSize"),
            tp,
            f"needs {tp} NeuronCores on one node but no allowed instance type has that many ({cores}); "
            "lower it or add a larger type to inferencePool.instanceTypes",
        )
    facts = KNOWN_MODELS.get(model_id or "")
    if facts and tp in INF2_TP_DEGREES and facts.attention_heads % tp:
        s.problems.add(
            s.key("tensorParallelSize"),
            tp,
            f"must divide the model's {facts.attention_heads} attention heads",
        )
    replicas = s.integer("replicas", 0 if role == "dr" else 1, minimum=0, maximum=64)
    compile_job = s.boolean("compileJob", True)
    if tp in INF2_TP_DEGREES and types_that_fit_tp(tp, pool.instance_types):
        _check_fit(s, tp, replicas, pool, compile_job)
    max_len = s.integer("maxModelLen", 8192, minimum=128, maximum=131072, allowed="(tokens)")
    if facts and max_len > facts.max_context:
        s.problems.add(s.key("maxModelLen"), max_len, f"must be at most the model's context of {facts.max_context}")
    max_seqs = s.integer("maxNumSeqs", 4, minimum=1, maximum=256, allowed="(concurrent sequences per replica)")
    if compile_job and tp in INF2_TP_DEGREES:
        big = [
            t
            for t in pool.instance_types
            if t in INF2_TYPES and INF2_TYPES[t].memory_gib >= COMPILE_MIN_HOST_MEMORY_GIB
        ]
        if not big:
            s.problems.add(
                s.key("compileJob"),
                True,
                f"compiling needs an inf2 type with >= {COMPILE_MIN_HOST_MEMORY_GIB} GiB host memory in "
                f"inferencePool.instanceTypes (e.g. inf2.8xlarge; {', '.join(pool.instance_types)} are too small), "
                "or set compileJob: false to let serving pods compile on first start",
            )
    s.finish()
    return ModelConfig(
        id=model_id or versions.MODEL_ID,
        revision=revision or versions.MODEL_REVISION,
        source=source or "huggingface",
        served_name=served or "mistral-7b-instruct",
        tensor_parallel_size=tp,
        max_model_len=max_len,
        max_num_seqs=max_seqs,
        replicas=replicas,
        compile_job=compile_job,
    )


def _models(
    raw: Mapping[str, Any], pool: InferencePoolConfig, role: str, problems: _Problems
) -> list[tuple[str, ModelConfig]]:
    """`inferentia-chat:models` (a list of model entries) or the one-model shorthand `inferentia-chat:model`;
    each entry is parsed by `_model`. Returns (config key, model) pairs, the first model first."""
    if "model" in raw and "models" in raw:
        problems.add(
            f"{NAMESPACE}:models",
            raw["models"],
            f"set either {NAMESPACE}:model (one model) or {NAMESPACE}:models (a list), not both",
        )
    if "models" not in raw:
        key = f"{NAMESPACE}:model"
        return [(key, _model(_Section(key, raw.get("model", _MISSING), problems), pool, role))]
    entries = raw["models"]
    if not isinstance(entries, list) or not entries or len(entries) > MAX_MODELS:
        problems.add(
            f"{NAMESPACE}:models",
            entries,
            f"must be a list of 1 to {MAX_MODELS} model entries (each with the keys of {NAMESPACE}:model)",
        )
        entries = [{}]
    models: list[tuple[str, ModelConfig]] = []
    for i, entry in enumerate(entries):
        key = f"{NAMESPACE}:models[{i}]"
        models.append((key, _model(_Section(key, entry, problems), pool, role)))
    first: dict[str, str] = {}
    for key, m in models:
        if m.served_name in first:
            problems.add(
                f"{key}.servedName",
                m.served_name,
                f"must be unique: {first[m.served_name]} serves this name already (clients pick a model by it)",
            )
        else:
            first[m.served_name] = key
    return models


def _webui_auth(s: _Section, exposure: str | None, hostname: str | None) -> dict[str, Any]:
    """`webui.auth` and its `webui.oidc` / `webui.cognito` sections (keyword arguments of WebUiConfig)."""
    auth = s.string("auth", "local", choices=AUTH_MODES) or "local"
    oidc_section, cognito_section = s.section("oidc"), s.section("cognito")
    for mode, section in (("oidc", oidc_section), ("cognito", cognito_section)):
        if auth != mode and s.has(mode):
            s.problems.add(section.path, s.raw[mode], f"only applies when {s.key('auth')} is {mode}")
            section.used.update(section.raw)  # one problem for the section, not one per key
    if auth != "local" and exposure not in ("internal-alb", "public-alb"):
        s.problems.add(
            s.key("auth"),
            auth,
            f"needs the HTTPS exposure ({s.key('exposure')} internal-alb or public-alb with certificateArn and "
            "hostname): the identity provider sends browsers back to https://<hostname>/oauth/oidc/callback, "
            "and session cookies must be secure",
        )
    result: dict[str, Any] = {"auth": auth}
    if auth == "oidc":
        result["oidc"] = _oidc(oidc_section)
    elif auth == "cognito":
        o = cognito_section
        prefix = o.string(
            "domainPrefix",
            None,
            pattern=_COGNITO_PREFIX,
            allowed="must be 1-63 lowercase letters, digits or '-' (the hosted sign-in page's name)",
        )
        if prefix and any(word in prefix for word in ("aws", "amazon", "cognito")):
            o.problems.add(o.key("domainPrefix"), prefix, "must not contain aws, amazon or cognito (Cognito refuses)")
        group = o.string("adminGroup", "admins", pattern=_ROLE, allowed="must be a Cognito group name")
        result["cognito"] = CognitoConfig(domain_prefix=prefix, admin_group=group or "admins")
    oidc_section.finish()
    cognito_section.finish()
    return result


def _oidc(o: _Section) -> OidcConfig:
    """`webui.oidc`: the organisation's OpenID Connect provider."""
    issuer = o.string("issuerUrl", None, allowed="the provider's issuer URL, https://...", required=True)
    if issuer is not None:
        parsed = urllib.parse.urlsplit(issuer)
        if parsed.scheme != "https" or not parsed.hostname or parsed.query or parsed.fragment:
            o.problems.add(
                o.key("issuerUrl"),
                issuer,
                "must be the provider's https:// issuer URL (its discovery document is "
                "<issuer>/.well-known/openid-configuration); http would let the network forge sign-ins",
            )
            issuer = None
    client_id = o.string(
        "clientId", None, pattern=_CLIENT_ID, allowed="the application's client id at the provider", required=True
    )

    def domain(value: str) -> str | None:
        return None if _HOSTNAME.fullmatch(value) else "must be an e-mail domain such as example.com"

    domains = o.strings("allowedDomains", (), item=domain, min_items=1)
    if not domains and not o.has("allowedDomains"):
        o.problems.missing(o.key("allowedDomains"), "the e-mail domains whose users may sign in, e.g. [example.com]")
    claim = o.string("rolesClaim", "roles", pattern=_CLAIM, allowed="must be a claim name such as roles or groups")
    admins = o.strings(
        "adminRoles",
        ("admin",),
        item=_match(_ROLE, "must be a role or group name"),
        min_items=1,
    )
    name = o.string("providerName", "Single sign-on", pattern=_ROLE, allowed="the sign-in button's label")
    return OidcConfig(
        issuer_url=(issuer or "").rstrip("/"),
        client_id=client_id or "",
        allowed_domains=domains,
        roles_claim=claim or "roles",
        admin_roles=admins,
        provider_name=name or "Single sign-on",
    )


def _check_fit(s: _Section, tp: int, replicas: int, pool: InferencePoolConfig, compile_job: bool) -> None:
    """The serving pod at this TP must fit an allowed instance type (after kubelet reservations and
    DaemonSets). The pool's device ceiling, shared by every model, is `_device_budget`'s."""
    requests = serving_pod_requests(tp)
    report = fit_report(requests, pool.instance_types)
    if not any(f.pods for f in report):
        why = "; ".join(f"{f.instance_type}: {f.reason}" for f in report)
        s.problems.add(
            s.key("tensorParallelSize"),
            tp,
            f"{_pod_wanted(tp)}, which no allowed instance type can host ({why}); change it or "
            "inferencePool.instanceTypes",
        )


def _pod_wanted(tp: int) -> str:
    requests = serving_pod_requests(tp)
    return (
        f"a serving pod at tensorParallelSize {tp} requests {requests.neuron_devices} Neuron device(s), "
        f"{requests.cpu_millis}m cpu and {requests.memory_mib}Mi memory"
    )


def _device_budget(models: list[tuple[str, ModelConfig]], pool: InferencePoolConfig, problems: _Problems) -> None:
    """The pool's device ceiling must let Karpenter launch nodes for every pod of every model that can run
    at once. `models` pairs each model with its config key (model, or models[i])."""
    needed, parts = 0, []
    for key, m in models:
        tp = m.tensor_parallel_size
        if not m.replicas or tp not in INF2_TP_DEGREES or not types_that_fit_tp(tp, pool.instance_types):
            continue
        requests = serving_pod_requests(tp)
        if not any(f.pods for f in fit_report(requests, pool.instance_types)):
            continue  # refused by the fit check already
        # At once, during a change that needs new compiled artifacts: the old replicas keep serving, the
        # rolling update's extra pod already holds its node (it waits in an init container for the
        # artifacts), and the compile Job needs one more. A ceiling without room for all of them deadlocks:
        # the Job never gets a node, so the new pod never starts, so the old ones never go. Several models
        # may roll out in the same `pulumi up`, so their needs add up.
        pods = m.replicas + 1 + (1 if m.compile_job else 0)  # the compile pod counted like a serving pod
        needed += pool_devices_needed(requests, pods, pool.instance_types)
        extra = " and the compile Job" if m.compile_job else ""
        parts.append(
            f"{m.replicas} replica(s) of {_pod_wanted(tp)}, plus one more pod during rolling updates{extra} "
            f"({key}.replicas = {m.replicas}, {key}.compileJob = {str(m.compile_job).lower()})"
        )
    if needed > pool.max_neuron_devices:
        problems.add(
            f"{NAMESPACE}:inferencePool.maxNeuronDevices",
            pool.max_neuron_devices,
            f"must be at least {needed}: {'; '.join(parts)}, need nodes with {needed} Neuron device(s) in all; "
            f"raise it or lower {' or '.join(f'{k}.replicas' for k, _ in models)}",
        )


def _admin_email_problem(value: str) -> bool:
    # Open WebUI accepts a login of the form name@domain.tld, or name@localhost.
    return not (_EMAIL.match(value) or re.match(r"^[^@\s]+@localhost$", value))


def _webui(s: _Section) -> WebUiConfig:
    exposure = s.string("exposure", "cluster", choices=EXPOSURES)
    cert = s.string(
        "certificateArn",
        None,
        pattern=_ACM_ARN,
        allowed="must be an ACM certificate ARN such as arn:aws:acm:us-east-1:123456789012:certificate/<uuid>",
    )
    cidrs = s.strings("allowedCidrs", (), item=_cidr_problem)
    hostname = s.string("hostname", None, pattern=_HOSTNAME, allowed="must be a DNS name such as chat.example.com")
    replicas = s.integer("replicas", 1)
    if replicas != 1:
        s.problems.add(
            s.key("replicas"),
            replicas,
            "must be 1: Open WebUI keeps its users and chats in SQLite on a ReadWriteOnce volume; more "
            "replicas would need Postgres (DATABASE_URL), Redis websockets and a shared secret key, which "
            "this project does not deploy",
        )
        replicas = 1
    storage = s.integer("storageGiB", 10, minimum=1, maximum=1000, allowed="(GiB for chats and settings)")
    admin_email = s.string(
        "adminEmail", "admin@localhost", allowed="must be an email address such as admin@example.com"
    )
    if admin_email is not None and _admin_email_problem(admin_email):
        s.problems.add(s.key("adminEmail"), admin_email, "must be an email address such as admin@example.com")
        admin_email = "admin@localhost"
    if exposure in ("internal-alb", "public-alb"):
        # Passwords cross the network to the ALB: HTTPS in both modes, so a certificate and its name.
        if cert is None and not s.has("certificateArn"):
            s.problems.missing(s.key("certificateArn"), f"{exposure} serves HTTPS only: give an ACM certificate ARN")
        if hostname is None and not s.has("hostname"):
            s.problems.missing(s.key("hostname"), f"{exposure} needs the DNS name users open (the certificate's name)")
    if exposure == "public-alb" and not cidrs and not s.has("allowedCidrs"):
        s.problems.missing(
            s.key("allowedCidrs"),
            "public-alb needs the source CIDR allowlist (e.g. your office range, or 0.0.0.0/0 on purpose)",
        )
    elif exposure == "cluster":
        for key in ("certificateArn", "allowedCidrs", "hostname"):
            if s.has(key):
                s.problems.add(s.key(key), s.raw[key], "only applies to internal-alb or public-alb exposure")
    auth = _webui_auth(s, exposure, hostname)
    s.finish()
    return WebUiConfig(
        exposure=exposure or "cluster",
        certificate_arn=cert,
        allowed_cidrs=cidrs,
        hostname=hostname,
        replicas=replicas,
        storage_gib=storage,
        admin_email=admin_email or "admin@localhost",
        **auth,
    )


def _dr(s: _Section, region: str) -> DrConfig:
    primary = s.string(
        "primaryStack",
        None,
        pattern=_STACK_NAME,
        allowed="the primary stack's fully qualified name <org>/inferentia-chat/<stack>",
        required=True,
    )
    primary_region = s.string(
        "primaryRegion", None, pattern=_REGION, allowed="the primary stack's AWS region, e.g. us-east-1", required=True
    )
    if primary_region and primary_region == region:
        s.problems.add(
            s.key("primaryRegion"),
            primary_region,
            f"must differ from this DR stack's aws:region ({region}): a replica in the same region is not DR",
        )
    standby = s.string("standby", "none", choices=STANDBY_LEVELS)
    storage_class = s.string("replicaStorageClass", "STANDARD", choices=REPLICA_STORAGE_CLASSES)
    delete_markers = s.boolean("replicateDeleteMarkers", False)
    prefixes = s.strings(
        "prefixes", (), item=_match(re.compile(r"^[\w.=-]+(/[\w.=-]+)*/?$"), "must be a key prefix such as models/")
    )
    for i, prefix in enumerate(prefixes):
        wider = [p for p in prefixes[:i] if prefix.startswith(p) or p.startswith(prefix)]
        if wider:
            s.problems.add(
                f"{s.key('prefixes')}[{i}]",
                prefix,
                f"overlaps {wider[0]!r}: one replication rule per key, list it once",
            )
    email = s.string("alarmEmail", None, pattern=_EMAIL, allowed="must be an email address")
    s.finish()
    return DrConfig(
        primary_stack=primary or "",
        primary_region=primary_region or "",
        standby=standby or "none",
        replica_storage_class=storage_class or "STANDARD",
        replicate_delete_markers=delete_markers,
        prefixes=prefixes,
        alarm_email=email,
    )


def _fleet_throughput(store: ModelStoreConfig, models: list[ModelConfig], problems: _Problems) -> list[str]:
    """Can the file system feed every serving pod (of every model) loading its weights at once within the
    start-up budget? A warning by default; an error with modelStore.throughputCheck: error."""
    known = [(m, KNOWN_MODELS[m.id]) for m in models if m.id in KNOWN_MODELS]
    if not known:
        return []
    pods = sum(max(m.replicas, 1) for m in models)
    # All pods share the file system's throughput: the last one is done when all of the weights are read.
    total_gb = sum(facts.weights_gb * max(m.replicas, 1) for m, facts in known)
    mb_s = fsx_throughput_mb_s(store.deployment_type, store.storage_capacity_gib, store.throughput_per_tib)
    seconds = weight_read_seconds(total_gb, mb_s, 1)
    if seconds <= WEIGHT_READ_BUDGET_S:
        return []
    message = (
        f"{pods} serving pod(s) reading {total_gb:g} GB of weights at once share {mb_s:.0f} MB/s "
        f"({store.storage_capacity_gib} GiB x {store.throughput_per_tib or SCRATCH_2_MB_S_PER_TIB} MB/s/TiB): "
        f"{seconds:.0f} s, over the {WEIGHT_READ_BUDGET_S} s start-up budget for the weights; raise "
        "modelStore.throughputPerTiB or storageCapacityGiB, or lower the models' replicas"
    )
    if store.throughput_check == "error":
        key = f"{NAMESPACE}:modelStore.throughputPerTiB"
        problems.add(key, store.throughput_per_tib, message + " (modelStore.throughputCheck is error)")
        return []
    return [f"{NAMESPACE}:modelStore.throughputPerTiB: {message}"]


def _oidc_secret(raw: Mapping[str, Any], webui: WebUiConfig, problems: _Problems) -> None:
    """`inferentia-chat:oidcClientSecret` is required with webui.auth oidc and means nothing otherwise."""
    if webui.auth == "oidc" and "oidcClientSecret" not in raw:
        problems.missing(
            f"{NAMESPACE}:oidcClientSecret",
            "webui.auth oidc needs the application's client secret at the provider: "
            f"`pulumi config set --secret {NAMESPACE}:oidcClientSecret <value>`",
        )
    elif webui.auth != "oidc" and "oidcClientSecret" in raw:
        problems.items.append(
            f"{NAMESPACE}:oidcClientSecret = [hidden]: only applies when webui.auth is oidc (cognito makes its "
            f"own client secret); remove it with `pulumi config rm {NAMESPACE}:oidcClientSecret`"
        )


# What a DR stack builds besides the replica, by `dr.standby`, and so which sections it may set: the rest of
# the configuration is the primary's business, and a section nothing reads must not pass silently.
DR_SECTIONS: dict[str, tuple[str, ...]] = {
    "none": (),
    "storage": ("network", "modelStore"),
    "serving": ("network", "cluster", "inferencePool", "modelStore", "model", "models", "webui"),
}
# Keys a `serving` standby must state, because a default could be wrong there without anything failing until
# the day of the failover: how `pulumi up` reaches the DR cluster's API, inf2 sizes the DR region offers, and
# the primary's model settings (the same weights and compiled artifacts, which replication brings along).
SERVING_REQUIRED: dict[str, tuple[tuple[str, ...], str]] = {
    "cluster": (
        ("publicEndpoint",),
        "serving standby: say how `pulumi up` reaches the DR cluster's API (true with publicAccessCidrs, or "
        "false to deploy from inside the DR VPC)",
    ),
    "inferencePool": (
        ("instanceTypes",),
        "serving standby: the inf2 sizes the DR region offers (check with "
        "`aws ec2 describe-instance-type-offerings --region <dr-region> --filters Name=instance-type,Values=inf2.*`)",
    ),
    "model": (
        ("id", "revision", "servedName", "tensorParallelSize", "maxModelLen", "maxNumSeqs"),
        "serving standby: the primary's value, so the DR cluster serves the same weights with the compiled "
        "artifacts replicated from the primary (checked against the primary's outputs at deploy time)",
    ),
}


def _dr_sections(raw: Mapping[str, Any], dr: DrConfig, store: ModelStoreConfig, problems: _Problems) -> None:
    """A DR stack: the sections its standby level uses, no others, and what a serving standby must state."""
    allowed = DR_SECTIONS[dr.standby]
    for key in DR_SECTIONS["serving"]:
        if key in raw and key not in allowed:
            users = [level for level, keys in DR_SECTIONS.items() if key in keys]
            problems.add(
                f"{NAMESPACE}:{key}",
                raw[key],
                f"does not apply to a DR stack with dr.standby {dr.standby} (only with {' or '.join(users)}); "
                "remove it or change dr.standby",
            )
    if "hfToken" in raw:
        problems.items.append(
            f"{NAMESPACE}:hfToken = [hidden]: does not apply to a DR stack (the model arrives by replication, "
            f"nothing downloads it); remove it with `pulumi config rm {NAMESPACE}:hfToken`"
        )
    if dr.standby == "serving":
        for section, (keys, why) in SERVING_REQUIRED.items():
            # Every entry of a models list states the model keys, as the shorthand does.
            if section == "model" and isinstance(raw.get("models"), list):
                given_list = [(f"models[{i}]", e) for i, e in enumerate(raw["models"])]
            else:
                given_list = [(section, raw.get(section))]
            for path, given in given_list:
                for key in keys:
                    if not isinstance(given, dict) or key not in given:
                        problems.missing(f"{NAMESPACE}:{path}.{key}", why)
    if dr.standby != "none" and dr.prefixes:
        for directory in (f"{store.bucket_prefix}models/", f"{store.bucket_prefix}neuron-cache/"):
            if not any(directory.startswith(p) for p in dr.prefixes):
                problems.add(
                    f"{NAMESPACE}:dr.prefixes",
                    list(dr.prefixes),
                    f"must cover {directory} (the {dr.standby} standby's file system reads it from the replica); "
                    "add a prefix such as "
                    f"{store.bucket_prefix or directory}",
                )


def _tags(value: Any, problems: _Problems) -> dict[str, str]:
    path = f"{NAMESPACE}:tags"
    if value is _MISSING or value is None:
        return {}
    if not isinstance(value, dict):
        problems.add(path, value, "must be a mapping of tag keys to string values")
        return {}
    tags: dict[str, str] = {}
    for k, v in value.items():
        if not _TAG_KEY.match(k) or k.lower().startswith("aws:"):
            problems.add(f"{path}.{k}", v, "tag keys are 1-128 characters and must not start with aws:")
        elif not isinstance(v, str) or len(v) > 256:
            problems.add(f"{path}.{k}", v, "tag values are strings of at most 256 characters")
        elif k in ("project", "stack", "component"):
            problems.add(f"{path}.{k}", v, "project, stack and component tags are set by the program")
        else:
            tags[k] = v
    return tags


# ------------------------------------------------------------------------------------------------
# Entry points.
# ------------------------------------------------------------------------------------------------

TOP_LEVEL_KEYS = (
    "role",
    "tags",
    "network",
    "cluster",
    "inferencePool",
    "modelStore",
    "model",
    "models",
    "webui",
    "dr",
    "hfToken",
    "oidcClientSecret",
)
# Keys whose value must be a Pulumi secret (`pulumi config set --secret`); their values never appear in
# a message.
SECRET_KEYS = ("hfToken", "oidcClientSecret")


def parse_config(
    raw: Mapping[str, Any],
    *,
    region: str | None,
    stack: str,
    project: str = NAMESPACE,
    secret_keys: Collection[str] = (),
) -> StackConfig:
    """Validate the raw `inferentia-chat:*` values (keys without the namespace) into a StackConfig.

    `raw` values are what YAML gives (objects as dicts). `secret_keys` are the keys (without the
    namespace) that the stack holds as secrets. Raises ConfigError listing every problem.
    """
    problems = _Problems()
    for key in SECRET_KEYS:
        if key not in raw:
            continue
        if key not in secret_keys:
            # Never echo the value: it is a credential stored in plain text.
            problems.items.append(
                f"{NAMESPACE}:{key} = [hidden]: must be a secret; remove it and set it again with "
                f"`pulumi config set --secret {NAMESPACE}:{key} <value>`"
            )
        elif not isinstance(raw[key], str) or not raw[key].strip():
            problems.items.append(f"{NAMESPACE}:{key} = [secret]: must be a non-empty string")
    if region is None:
        problems.missing("aws:region", "the AWS region of this stack, e.g. us-east-1")
        region = "us-east-1"
    elif not _REGION.match(region):
        problems.add("aws:region", region, "must be an AWS region name such as us-east-1")

    for key in sorted(set(raw) - set(TOP_LEVEL_KEYS)):
        hint = difflib.get_close_matches(key, TOP_LEVEL_KEYS, n=1)
        suggestion = f" (did you mean {NAMESPACE}:{hint[0]}?)" if hint else ""
        problems.add(f"{NAMESPACE}:{key}", raw[key], f"unknown key{suggestion}; allowed: {', '.join(TOP_LEVEL_KEYS)}")

    role = raw.get("role", "primary")
    if role not in ROLES:
        problems.add(f"{NAMESPACE}:role", role, f"must be one of {', '.join(ROLES)}")
        role = "primary"

    def section(key: str) -> _Section:
        return _Section(f"{NAMESPACE}:{key}", raw.get(key, _MISSING), problems)

    network = _network(section("network"), region)
    cluster = _cluster(section("cluster"), stack)
    pool = _inference_pool(section("inferencePool"))
    store = _model_store(section("modelStore"), network)
    models = _models(raw, pool, role, problems)
    _device_budget(models, pool, problems)
    webui = _webui(section("webui"))
    _oidc_secret(raw, webui, problems)
    dr: DrConfig | None = None
    if role == "dr":
        dr = _dr(section("dr"), region)
        _dr_sections(raw, dr, store, problems)
    elif "dr" in raw:
        problems.add(f"{NAMESPACE}:dr", raw["dr"], "only applies when role is dr (the DR stack's own config)")
    tags = _tags(raw.get("tags", _MISSING), problems)
    warnings = _fleet_throughput(store, [m for _, m in models], problems)

    if problems.items:
        raise ConfigError(problems.items)
    return StackConfig(
        project=project,
        stack=stack,
        region=region,
        role=role,
        tags=tags,
        network=network,
        cluster=cluster,
        inference_pool=pool,
        model_store=store,
        models=tuple(m for _, m in models),
        webui=webui,
        dr=dr,
        hf_token="hfToken" in raw or None,
        oidc_client_secret="oidcClientSecret" in raw or None,
        warnings=tuple(warnings),
    )


def decode_value(value: Any) -> Any:
    """Pulumi hands structured config to programs as JSON text; scalars stay strings."""
    if isinstance(value, str) and value[:1] in "[{":
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def load_config() -> StackConfig:
    """Read and validate this stack's configuration from the Pulumi runtime."""
    from pulumi.runtime import config as runtime_config

    # The SDK has no public "list keys"; the runtime holds the whole bag (set by the CLI through
    # PULUMI_CONFIG, or by the offline engine), which is what lets unknown keys be reported.
    bag = {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}
    prefix = f"{NAMESPACE}:"
    raw = {k[len(prefix) :]: decode_value(v) for k, v in bag.items() if k.startswith(prefix)}
    if "role" in raw:
        raw["role"] = str(raw["role"])
    secret = [k for k in SECRET_KEYS if runtime_config.is_config_secret(f"{prefix}{k}")]
    cfg = parse_config(
        raw,
        region=pulumi.Config("aws").get("region"),
        stack=pulumi.get_stack(),
        project=pulumi.get_project(),
        secret_keys=secret,
    )
    if cfg.hf_token:
        cfg = dataclasses.replace(cfg, hf_token=pulumi.Config(NAMESPACE).require_secret("hfToken"))
    if cfg.oidc_client_secret:
        secret = pulumi.Config(NAMESPACE).require_secret("oidcClientSecret")
        cfg = dataclasses.replace(cfg, oidc_client_secret=secret)
    for warning in cfg.warnings:
        pulumi.log.warn(warning)
    return cfg
