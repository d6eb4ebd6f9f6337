"""The house rules of inferentia-chat as Pulumi CrossGuard policies.

Importing this module has no side effects (constructing a `PolicyPack` starts a server and blocks, so that
happens only in `__main__.py`). Each rule is a plain function `(args, report_violation)`, unit-tested by
calling it on every resource the offline engine registers and on hand-made bad resources.

Resource props are the inputs as the engine sees them (camelCase names). During a preview some values are
unknown (None here); rules only report what they can see is wrong.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

BUCKET = "aws:s3/bucket:Bucket"
BUCKET_SSE = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
BUCKET_VERSIONING = "aws:s3/bucketVersioning:BucketVersioning"
BUCKET_PAB = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
FSX_LUSTRE = "aws:fsx/lustreFileSystem:LustreFileSystem"
EKS_COMPONENT = "eks:index:Cluster"
EKS_CLUSTER = "aws:eks/cluster:Cluster"
AWSX_VPC = "awsx:ec2:Vpc"

WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob", "Pod")
LONG_RUNNING_KINDS = ("Deployment", "StatefulSet", "DaemonSet")
SECRET_NAME = re.compile(r"(KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL)", re.IGNORECASE)
PINNED_IMAGE = re.compile(r"^[^\s]+(@sha256:[0-9a-f]{64}|:[\w][\w.-]{0,127})$")
DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")
NAMESPACE = "kubernetes:core/v1:Namespace"

# Where container images may come from: the upstream repositories of the pinned images (trivy KSV-0125,
# "restrict container images to trusted registries"). The program validates `inferentia-chat:images`
# against the same list (components/images.py ALLOWED_REPOSITORIES; a test keeps the two equal), but the
# pack must run on its own, so it keeps its copy.
ALLOWED_IMAGE_REPOSITORIES: tuple[str, ...] = (
    "docker.io/library/python",
    "ghcr.io/open-webui/open-webui",
    "public.ecr.aws/fsx-csi-driver/aws-fsx-csi-driver",
    "public.ecr.aws/neuron/neuron-monitor",
    "public.ecr.aws/neuron/pytorch-inference-vllm-neuronx",
)
# The label the program puts on every namespace it creates: `production` (the default environment) or
# `development` (components/kube.py ENVIRONMENT_LABEL).
ENVIRONMENT_LABEL = "inferentia-chat.io/environment"


# ------------------------------------------------------------------------------------------------
# Storage
# ------------------------------------------------------------------------------------------------


def bucket_sse_uses_kms(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """Bucket encryption must be SSE-KMS (a customer key), with the S3 bucket key on."""
    if args.resource_type != BUCKET_SSE:
        return
    for rule in args.props.get("rules") or []:
        default = rule.get("applyServerSideEncryptionByDefault") or {}
        if default.get("sseAlgorithm") not in ("aws:kms", "aws:kms:dsse"):
            report(f"bucket encryption is {default.get('sseAlgorithm')!r}: use aws:kms with a customer key")
        elif "kmsMasterKeyId" in default and not default["kmsMasterKeyId"]:
            report("SSE-KMS without a customer key id")


def bucket_versioning_enabled(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """Versioning must be Enabled (needed for replication and recovery)."""
    if args.resource_type != BUCKET_VERSIONING:
        return
    status = (args.props.get("versioningConfiguration") or {}).get("status")
    if status != "Enabled":
        report(f"bucket versioning is {status!r}: must be Enabled")


def bucket_public_access_blocked(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """All four Block Public Access settings on."""
    if args.resource_type != BUCKET_PAB:
        return
    keys = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    off = [k for k in keys if args.props.get(k) is not True]
    if off:
        report(f"public access not fully blocked: {', '.join(off)} must be true")


def _statements(policy: Any) -> list[dict[str, Any]]:
    if isinstance(policy, str):
        try:
            policy = json.loads(policy)
        except json.JSONDecodeError:
            return []
    if not isinstance(policy, Mapping):
        return []
    stmts = policy.get("Statement") or []
    return list(stmts) if isinstance(stmts, list) else [stmts]


def denies_insecure_transport(policy: Any) -> bool:
    """True if the policy denies every request made without TLS."""
    for stmt in _statements(policy):
        cond = (stmt.get("Condition") or {}).get("Bool") or {}
        if stmt.get("Effect") == "Deny" and str(cond.get("aws:SecureTransport")).lower() == "false":
            return True
    return False


def bucket_policy_tls_only(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """A bucket policy must deny requests without TLS."""
    if args.resource_type != BUCKET_POLICY or args.props.get("policy") is None:
        return
    if not denies_insecure_transport(args.props["policy"]):
        report("bucket policy does not deny non-TLS requests (Deny with aws:SecureTransport false)")


def every_bucket_is_protected(args: StackValidationArgs, report: ReportViolation) -> None:
    """Every bucket has its KMS encryption, versioning, public access block and TLS-only policy."""
    buckets = [r for r in args.resources if r.resource_type == BUCKET]
    for bucket in buckets:
        attached = {r.resource_type for r in args.resources if bucket in (r.dependencies or [])}
        for needed, what in (
            (BUCKET_SSE, "SSE-KMS encryption"),
            (BUCKET_VERSIONING, "versioning"),
            (BUCKET_PAB, "a public access block"),
            (BUCKET_POLICY, "a TLS-only bucket policy"),
        ):
            if needed not in attached:
                report(f"bucket {bucket.name} lacks {what}", bucket.urn)


def fsx_encrypted_with_customer_key(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """Persistent FSx for Lustre file systems are encrypted with a customer KMS key."""
    if args.resource_type != FSX_LUSTRE:
        return
    if str(args.props.get("deploymentType", "")).startswith("PERSISTENT") and "kmsKeyId" not in args.props:
        report("PERSISTENT FSx for Lustre without kmsKeyId: encrypt with the customer key")


def fsx_in_private_subnets(args: StackValidationArgs, report: ReportViolation) -> None:
    """FSx file systems are never placed in a public subnet of the stack's VPC."""
    public: set[str] = set()
    for r in args.resources:
        if r.resource_type == AWSX_VPC:
            public.update(r.props.get("publicSubnetIds") or [])
    for r in args.resources:
        if r.resource_type == FSX_LUSTRE:
            bad = set(r.props.get("subnetIds") or []) & public
            if bad:
                report(f"FSx file system {r.name} is in public subnet(s) {sorted(bad)}", r.urn)


# ------------------------------------------------------------------------------------------------
# Cluster
# ------------------------------------------------------------------------------------------------


def eks_secure_control_plane(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """EKS: access entries (API auth), Secrets encryption, no unrestricted public endpoint."""
    p = args.props
    if args.resource_type == EKS_COMPONENT:
        auth, key = p.get("authenticationMode"), p.get("encryptionConfigKeyArn")
        public, cidrs = p.get("endpointPublicAccess", True), p.get("publicAccessCidrs")
    elif args.resource_type == EKS_CLUSTER:
        auth = (p.get("accessConfig") or {}).get("authenticationMode")
        key = [c for c in p.get("encryptionConfig") or [] if c] or None
        vpc = p.get("vpcConfig") or {}
        public, cidrs = vpc.get("endpointPublicAccess", True), vpc.get("publicAccessCidrs")
    else:
        return
    if auth != "API":
        report(f"authentication mode is {auth!r}: use API (access entries)")
    if not key:
        report("Kubernetes Secrets are not encrypted with a KMS key")
    if public is not False and (not cidrs or "0.0.0.0/0" in cidrs):
        report("the public API endpoint is open to the internet: disable it or list publicAccessCidrs")


# ------------------------------------------------------------------------------------------------
# Kubernetes workloads
# ------------------------------------------------------------------------------------------------


def _kind_of(resource_type: str) -> str | None:
    if not resource_type.startswith("kubernetes:"):
        return None
    return resource_type.rsplit(":", 1)[-1]


def _kind(args: ResourceValidationArgs) -> str | None:
    return _kind_of(args.resource_type)


def _pod_spec(kind: str, props: Mapping[str, Any]) -> Mapping[str, Any]:
    spec = props.get("spec") or {}
    if kind == "Pod":
        return spec
    if kind == "CronJob":
        return ((spec.get("jobTemplate") or {}).get("spec") or {}).get("template", {}).get("spec") or {}
    return (spec.get("template") or {}).get("spec") or {}


def _containers(kind: str, props: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    pod = _pod_spec(kind, props)
    for section in ("initContainers", "containers"):
        for c in pod.get(section) or []:
            yield section, c


def no_public_load_balancer(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """No Service of type LoadBalancer unless it is explicitly internal."""
    if _kind(args) != "Service":
        return
    spec = args.props.get("spec") or {}
    if spec.get("type") != "LoadBalancer":
        return
    ann = (args.props.get("metadata") or {}).get("annotations") or {}
    internal = ann.get("service.beta.kubernetes.io/aws-load-balancer-scheme") == "internal" or (
        ann.get("service.beta.kubernetes.io/aws-load-balancer-internal") in ("true", "0.0.0.0/0")
    )
    if not internal:
        report("Service of type LoadBalancer is internet-facing: use ClusterIP or an internal load balancer")


def containers_are_pinned_sized_and_probed(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """Every container: a pinned image (tag or digest, never latest), requests and a memory limit;
    long-running workloads also a readiness and a liveness (or startup) probe."""
    kind = _kind(args)
    if kind not in WORKLOAD_KINDS:
        return
    for section, c in _containers(kind, args.props):
        name = c.get("name", "?")
        image = c.get("image") or ""
        if not PINNED_IMAGE.match(image) or image.endswith(":latest"):
            report(f"container {name}: image {image!r} is not pinned (tag or digest, never latest)")
        resources = c.get("resources") or {}
        requests = resources.get("requests") or {}
        if "cpu" not in requests or "memory" not in requests:
            report(f"container {name}: cpu and memory requests are required")
        if "memory" not in (resources.get("limits") or {}):
            report(f"container {name}: a memory limit is required")
        if kind in LONG_RUNNING_KINDS and section == "containers":
            if "readinessProbe" not in c:
                report(f"container {name}: readinessProbe is required")
            if "livenessProbe" not in c and "startupProbe" not in c:
                report(f"container {name}: a liveness or startup probe is required")


def image_repository(image: str) -> str:
    """The repository of an image reference (registry host and path, without tag or digest)."""
    name = image.split("@", 1)[0]
    head, _, tail = name.rpartition(":")
    return head if head and "/" not in tail else name


def images_from_allowed_registries(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """Every container image comes from one of the allowed repositories (no unnamed registry, no
    Docker Hub short names)."""
    kind = _kind(args)
    if kind not in WORKLOAD_KINDS:
        return
    for _, c in _containers(kind, args.props):
        image = c.get("image")
        if image and image_repository(image) not in ALLOWED_IMAGE_REPOSITORIES:
            report(
                f"container {c.get('name')}: image {image!r} is not from an allowed repository "
                f"({', '.join(ALLOWED_IMAGE_REPOSITORIES)})"
            )


def images_pinned_by_digest_in_production(args: StackValidationArgs, report: ReportViolation) -> None:
    """In a production stack (a namespace labelled production), every container image is pinned by digest."""
    production = [
        r
        for r in args.resources
        if r.resource_type == NAMESPACE
        and ((r.props.get("metadata") or {}).get("labels") or {}).get(ENVIRONMENT_LABEL) == "production"
    ]
    if not production:
        return
    for r in args.resources:
        kind = _kind_of(r.resource_type)
        if kind not in WORKLOAD_KINDS:
            continue
        for _, c in _containers(kind, r.props):
            image = c.get("image")
            if image and not DIGEST.search(image):
                report(
                    f"{kind} {r.name}, container {c.get('name')}: image {image!r} is not pinned by digest in a "
                    "production stack: set inferentia-chat:images (docs/security.md)",
                    r.urn,
                )


def no_trust_remote_code(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """Model code from a hub is never executed: no --trust-remote-code."""
    kind = _kind(args)
    if kind not in WORKLOAD_KINDS:
        return
    for _, c in _containers(kind, args.props):
        words = [str(w) for w in (c.get("command") or []) + (c.get("args") or [])]
        if any("--trust-remote-code" in w or "trust_remote_code=True" in w for w in words):
            report(f"container {c.get('name')}: --trust-remote-code executes code from the model repository")
        for env in c.get("env") or []:
            if env.get("name") in ("TRUST_REMOTE_CODE", "VLLM_TRUST_REMOTE_CODE") and env.get("value") in (
                "1",
                "true",
                "True",
            ):
                report(f"container {c.get('name')}: {env['name']} enables remote code")


def no_secret_in_plain_env(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """Secret-looking variables come from Secrets (valueFrom), never as literal values."""
    kind = _kind(args)
    if kind not in WORKLOAD_KINDS:
        return
    for _, c in _containers(kind, args.props):
        from_secrets: set[str] = set()
        for env in c.get("env") or []:
            name, value = env.get("name", ""), env.get("value")
            if "secretKeyRef" in (env.get("valueFrom") or {}):
                from_secrets.add(name)
            if not SECRET_NAME.search(name) or value in (None, "") or _not_a_secret(str(value), from_secrets):
                continue
            report(f"container {c.get('name')}: {name} is a literal value; use valueFrom.secretKeyRef")


_ENV_REF = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)")


def _not_a_secret(value: str, from_secrets: set[str]) -> bool:
    """A switch (ENABLE_PASSWORD_AUTH=False), or only references `$(VAR)` to variables defined before it from
    Secrets (the kubelet joins them: OPENAI_API_KEYS=$(KEY_0);$(KEY_1)) with separators between them."""
    if value.lower() in ("true", "false"):
        return True
    refs = _ENV_REF.findall(value)
    return bool(refs) and set(refs) <= from_secrets and not re.sub(_ENV_REF, "", value).strip(";, ")


# ------------------------------------------------------------------------------------------------
# The pack's contents.
# ------------------------------------------------------------------------------------------------

Rule = Callable[[ResourceValidationArgs, ReportViolation], None]
RESOURCE_RULES: dict[str, Rule] = {
    "s3-bucket-kms-encryption": bucket_sse_uses_kms,
    "s3-bucket-versioning": bucket_versioning_enabled,
    "s3-bucket-public-access-block": bucket_public_access_blocked,
    "s3-bucket-tls-only": bucket_policy_tls_only,
    "fsx-customer-kms-key": fsx_encrypted_with_customer_key,
    "eks-secure-control-plane": eks_secure_control_plane,
    "k8s-no-public-load-balancer": no_public_load_balancer,
    "k8s-pinned-sized-probed-containers": containers_are_pinned_sized_and_probed,
    "k8s-no-trust-remote-code": no_trust_remote_code,
    "k8s-no-secret-in-plain-env": no_secret_in_plain_env,
    "k8s-allowed-image-registries": images_from_allowed_registries,
}
STACK_RULES: dict[str, Callable[[StackValidationArgs, ReportViolation], None]] = {
    "s3-every-bucket-protected": every_bucket_is_protected,
    "fsx-private-subnets": fsx_in_private_subnets,
    "k8s-images-pinned-by-digest-in-production": images_pinned_by_digest_in_production,
}


def policies() -> list[ResourceValidationPolicy | StackValidationPolicy]:
    """The pack's policies, all mandatory."""
    found: list[ResourceValidationPolicy | StackValidationPolicy] = [
        ResourceValidationPolicy(
            name=name,
            description=(fn.__doc__ or name).strip().splitlines()[0],
            validate=fn,
            enforcement_level=EnforcementLevel.MANDATORY,
        )
        for name, fn in RESOURCE_RULES.items()
    ]
    found += [
        StackValidationPolicy(
            name=name,
            description=(fn.__doc__ or name).strip().splitlines()[0],
            validate=fn,
            enforcement_level=EnforcementLevel.MANDATORY,
        )
        for name, fn in STACK_RULES.items()
    ]
    return found
