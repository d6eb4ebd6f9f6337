"""Validate a stack's raw configuration into one `StackConfig`, or raise ONE `ConfigError` listing every
problem: each names the key as written, the bad value and what is allowed. Unknown keys are problems too (a
typo must not silently fall back to a default), and no value is ever replaced by another.

One function per section; each reads its keys through a `_Section` (fields.py). The model section and its
hardware checks live in model.py, the inference pool in pool.py, the DR section in standby.py, the tags in
tags.py, the patterns and limits in rules.py; the checks that need the region's zones in zones.py.
"""

from __future__ import annotations

import difflib
from collections.abc import Collection, Mapping
from typing import Any

from inferentia_chat import versions
from inferentia_chat.hardware import DEFAULT_THROUGHPUT_PER_TIB
from inferentia_chat.network import max_zones

from .data_protection import _data_protection
from .fields import _MISSING, ConfigError, _Problems, _Section
from .model import _device_budget, _fleet_throughput, _models
from .operations import _monitoring, _operations_fit
from .pool import _inference_pool
from .rules import (
    ACCELERATED_FAMILY,
    ACM_ARN,
    CLUSTER_NAME,
    EKS_MAX_PUBLIC_ACCESS_CIDRS,
    EMAIL,
    FILE_SYSTEM_PATH,
    HOSTNAME,
    INSTANCE_TYPES,
    KEY_PREFIX,
    LOCAL_EMAIL,
    REGIONS,
    ROLE_ARN,
    SUBNET_ID,
    VPC_ID,
    choice,
    cidr_problem,
    instance_type_allowed,
    match,
    matches,
    public_cidr_problem,
    region_allowed,
    union_problem,
    vpc_cidr_problem,
    zone_of_region,
)
from .schema import (
    CONFIG_NAMESPACE,
    EXPOSURES,
    FSX_DEPLOYMENT_TYPES,
    FSX_THROUGHPUTS,
    LOG_RETENTION_DAYS,
    LOG_TYPES,
    NAT_STRATEGIES,
    ROLES,
    THROUGHPUT_CHECKS,
    ClusterConfig,
    DrConfig,
    ModelStoreConfig,
    NetworkConfig,
    StackConfig,
    WebUiConfig,
)
from .security import _environment, _images
from .sign_in import _oidc_secret, _webui_auth
from .standby import _dr, _dr_sections
from .tags import _tags

# ------------------------------------------------------------------------------------------------
# Sections.
# ------------------------------------------------------------------------------------------------


def _zones_fit(s: _Section, cidr: str, azs: tuple[str, ...], az_count: int) -> None:
    """No more zones than the VPC library can lay subnets out for (inferentia_chat.network `max_zones`: 4
    with this project's subnet sizes). azCount's own maximum says the same for the default block."""
    try:
        most = max_zones(cidr)
    except ValueError:
        return  # the CIDR's own problem is reported already
    if azs and len(azs) > most:
        s.problems.add(
            s.key("availabilityZones"),
            list(azs),
            f"at most {most} zones: awsx splits the VPC into equal per-zone blocks and {len(azs)} zones leave no "
            "room for both the private and the public subnet of a zone",
        )


def _log_retention(s: _Section, key: str) -> int:
    """A CloudWatch Logs retention in days (default 365): only the values CloudWatch accepts."""
    days = s.integer(key, 365)
    if days not in LOG_RETENTION_DAYS:
        s.problems.add(s.key(key), days, f"must be a CloudWatch retention: {', '.join(map(str, LOG_RETENTION_DAYS))}")
        return 365
    return days


def _network(s: _Section, region: str) -> NetworkConfig:
    vpc_id = s.string("vpcId", None, pattern=VPC_ID, allowed="must be a VPC id such as vpc-0123456789abcdef0")
    subnet = match(SUBNET_ID, "must be a subnet id such as subnet-0123456789abcdef0")
    private = s.strings("privateSubnetIds", (), item=subnet)
    public = s.strings("publicSubnetIds", (), item=subnet)
    cidr = s.string("cidr", "10.0.0.0/16", allowed="must be an IPv4 CIDR block with a /16 to /20 prefix")
    az_count = s.integer("azCount", 3, minimum=2, maximum=4, allowed="(availability zones of the new VPC)")

    def in_region(az: str) -> str | None:
        return None if zone_of_region(az, region) else f"must be an availability zone of {region}, e.g. {region}a"

    azs = s.strings("availabilityZones", (), item=in_region)
    nat = s.string("natGateways", "one-per-az", choices=NAT_STRATEGIES)
    flow_logs = s.boolean("flowLogs", True)
    flow_retention = _log_retention(s, "flowLogRetentionDays")

    if cidr is not None and s.has("cidr") and vpc_cidr_problem(cidr):
        s.problems.add(s.key("cidr"), cidr, vpc_cidr_problem(cidr) or "")
        cidr = "10.0.0.0/16"
    if azs and len(azs) < 2:
        s.problems.add(s.key("availabilityZones"), list(azs), "must list at least 2 zones (EKS needs two)")
    if azs and s.has("azCount"):
        s.problems.add(s.key("azCount"), az_count, "set either azCount or availabilityZones, not both")
    _zones_fit(s, cidr or "10.0.0.0/16", azs, az_count)

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
        flow_logs=flow_logs,
        flow_log_retention_days=flow_retention,
    )


def _cluster(s: _Section, stack: str) -> ClusterConfig:
    allowed = "must be 1-100 letters, digits, - or _, starting with a letter or digit (EKS cluster names)"
    default_name = f"{CONFIG_NAMESPACE}-{stack}"
    name = s.string("name", default_name, pattern=CLUSTER_NAME, allowed=allowed)
    if not s.has("name") and not matches(CLUSTER_NAME, default_name):
        s.problems.missing(
            s.key("name"),
            f"the default {default_name!r} made from the stack name is not a valid EKS cluster name; set one that "
            + allowed.removeprefix("must be "),
        )
    version = s.string("kubernetesVersion", versions.KUBERNETES_VERSION, choices=versions.SUPPORTED_KUBERNETES_VERSIONS)
    node_type = s.string("systemNodeType", "m7i.large", allowed="must be an EC2 instance type such as m7i.large")
    if node_type is not None and node_type not in INSTANCE_TYPES:
        s.problems.add(s.key("systemNodeType"), node_type, instance_type_allowed(node_type))
        node_type = None
    elif node_type and matches(ACCELERATED_FAMILY, node_type):
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

    # EKS User Guide, "Cluster API server endpoint": the public endpoint's allowlist holds public blocks,
    # at most 40 (EKS quota "Public endpoint access CIDR ranges per cluster").
    cidrs = s.strings("publicAccessCidrs", (), item=public_cidr_problem, max_items=EKS_MAX_PUBLIC_ACCESS_CIDRS)
    if cidrs and union_problem(cidrs):
        s.problems.add(s.key("publicAccessCidrs"), list(cidrs), union_problem(cidrs) or "")
        cidrs = ()
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
        item=match(ROLE_ARN, "must be an IAM role ARN such as arn:aws:iam::123456789012:role/platform-admin"),
    )
    logs = s.strings("logTypes", ("api", "audit", "authenticator"), item=choice(LOG_TYPES))
    retention = _log_retention(s, "logRetentionDays")
    s.finish()
    return ClusterConfig(
        name=name or f"{CONFIG_NAMESPACE}-{stack}",
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


def _model_store(s: _Section, network: NetworkConfig, region: str) -> ModelStoreConfig:
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
        pattern=FILE_SYSTEM_PATH,
        allowed="must be an absolute path such as / or /models (letters, digits, _ . = -; no '.' or '..' segments)",
    )
    prefix = s.string(
        "bucketPrefix",
        "",
        pattern=KEY_PREFIX,
        allowed="must be empty (whole bucket) or a prefix ending in /, such as models/ (no '.' or '..' segments)",
    )
    noncurrent = s.integer("noncurrentVersionDays", 30, minimum=1, maximum=3650, allowed="(days)")
    az = s.string("availabilityZone", None, allowed=f"must be an availability zone of {region}, such as {region}a")
    if az is not None and not zone_of_region(az, region):
        s.problems.add(s.key("availabilityZone"), az, f"must be an availability zone of {region}, such as {region}a")
        az = None
    elif az and network.availability_zones and az not in network.availability_zones:
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


def _admin_email_problem(value: str) -> bool:
    # Open WebUI accepts a login of the form name@domain.tld, or name@localhost.
    return not (matches(EMAIL, value) or matches(LOCAL_EMAIL, value))


def _webui(s: _Section, region: str) -> WebUiConfig:
    exposure = s.string("exposure", "cluster", choices=EXPOSURES)
    cert = s.string(
        "certificateArn",
        None,
        pattern=ACM_ARN,
        allowed=f"must be an ACM certificate ARN such as arn:aws:acm:{region}:123456789012:certificate/<uuid>",
    )
    cert_region = (ACM_ARN.fullmatch(cert) or {"region": region})["region"] if cert else region
    if cert_region != region:
        # Elastic Load Balancing uses certificates of its own region only (ACM User Guide, "Supported Regions").
        s.problems.add(
            s.key("certificateArn"), cert, f"must be a certificate in this stack's region {region}, not {cert_region}"
        )
        cert = None
    cidrs = s.strings("allowedCidrs", (), item=cidr_problem)
    hostname = s.string(
        "hostname",
        None,
        pattern=HOSTNAME,
        allowed="must be a DNS name such as chat.example.com (lowercase labels, DNS-1123 subdomain)",
    )
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
    auth = _webui_auth(s, exposure)
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
    "dataOnDestroy",
    "protectData",
    "chatSnapshots",
    "monitoring",
    "alertWebhookUrl",
    "oidcClientSecret",
    "environment",
    "images",
)
# Keys whose value must be a Pulumi secret (`pulumi config set --secret`); their values never appear in
# a message.
SECRET_KEYS = ("hfToken", "alertWebhookUrl", "oidcClientSecret")


def parse_config(
    raw: Mapping[str, Any],
    *,
    region: str | None,
    stack: str,
    project: str = CONFIG_NAMESPACE,
    secret_keys: Collection[str] = (),
) -> StackConfig:
    """Validate the raw `inferentia-chat:*` values (keys without the namespace) into a StackConfig.

    `raw` values are what YAML gives (objects as dicts). `secret_keys` are the keys (without the
    namespace) that the stack holds as secrets. Raises ConfigError listing every problem.
    """
    problems = _Problems(tuple(f"{CONFIG_NAMESPACE}:{k}" for k in secret_keys))
    for key in SECRET_KEYS:
        if key not in raw:
            continue
        if key not in secret_keys:
            # Never echo the value: it is a credential stored in plain text.
            problems.items.append(
                f"{CONFIG_NAMESPACE}:{key} = [hidden]: must be a secret; remove it and set it again with "
                f"`pulumi config set --secret {CONFIG_NAMESPACE}:{key} <value>`"
            )
        elif not isinstance(raw[key], str) or not raw[key].strip():
            problems.items.append(f"{CONFIG_NAMESPACE}:{key} = [secret]: must be a non-empty string")
    if region is None:
        problems.missing("aws:region", "the AWS region of this stack, e.g. us-east-1")
        region = "us-east-1"
    elif region not in REGIONS:
        problems.add("aws:region", region, region_allowed(region))
        region = "us-east-1"

    for key in sorted(set(raw) - set(TOP_LEVEL_KEYS), key=str):
        hint = difflib.get_close_matches(key, TOP_LEVEL_KEYS, n=1)
        suggestion = f" (did you mean {CONFIG_NAMESPACE}:{hint[0]}?)" if hint else ""
        problems.add(
            f"{CONFIG_NAMESPACE}:{key}", raw[key], f"unknown key{suggestion}; allowed: {', '.join(TOP_LEVEL_KEYS)}"
        )

    role = raw.get("role", "primary")
    if not isinstance(role, str) or role not in ROLES:
        problems.add(f"{CONFIG_NAMESPACE}:role", role, f"must be one of {', '.join(ROLES)}")
        role = "primary"

    def section(key: str) -> _Section:
        return _Section(f"{CONFIG_NAMESPACE}:{key}", raw.get(key, _MISSING), problems)

    network = _network(section("network"), region)
    cluster = _cluster(section("cluster"), stack)
    pool = _inference_pool(section("inferencePool"))
    store = _model_store(section("modelStore"), network, region)
    models = _models(raw, pool, role, problems)
    _device_budget(models, pool, problems)
    webui = _webui(section("webui"), region)
    _oidc_secret(raw, webui, problems)
    dr: DrConfig | None = None
    if role == "dr":
        dr = _dr(section("dr"), region, project, stack)
        _dr_sections(raw, dr, store, problems)
    elif "dr" in raw:
        problems.add(f"{CONFIG_NAMESPACE}:dr", raw["dr"], "only applies when role is dr (the DR stack's own config)")
    tags = _tags(raw.get("tags", _MISSING), problems)
    warnings = _fleet_throughput(store, [m for _, m in models], problems)
    monitoring = _monitoring(section("monitoring"))
    platform_here = role == "primary" or (dr is not None and dr.standby == "serving")
    warnings += _operations_fit(raw, monitoring, cluster, models, problems, runs_here=platform_here)
    environment = _environment(raw, problems)
    images = _images(raw.get("images", _MISSING), problems)
    data = _data_protection(raw, problems, dr, environment)

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
        monitoring=monitoring,
        alert_webhook_url="alertWebhookUrl" in raw or None,
        hf_token="hfToken" in raw or None,
        oidc_client_secret="oidcClientSecret" in raw or None,
        environment=environment,
        images=images,
        warnings=tuple(warnings),
        data=data,
    )
