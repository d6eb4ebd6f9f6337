"""What AWS, Kubernetes and Hugging Face accept for a value a user writes: patterns, limits and element
checks, each with the source of its limit.

Every pattern is matched against the WHOLE string (`fullmatch`) in ASCII mode: `re.match(... $)` lets a
trailing newline through (`$` also matches before a final `\\n`) and `\\d`/`\\w` accept non-ASCII digits
and letters (`us-east-١`). Element checks return None when a value is fine, else what is allowed.
"""

from __future__ import annotations

import difflib
import ipaddress
import re
import unicodedata
from collections.abc import Callable, Sequence

import pulumi_aws


def ascii_pattern(pattern: str) -> re.Pattern[str]:
    """A pattern for `fullmatch`, in ASCII mode."""
    return re.compile(pattern, re.ASCII)


def matches(pattern: re.Pattern[str], value: object) -> bool:
    """The whole string matches (never a prefix, never with a trailing newline)."""
    return isinstance(value, str) and pattern.fullmatch(value) is not None


def control_characters(value: str) -> bool:
    """Newlines, tabs, NUL and other control or format characters: no identifier, name or tag holds one."""
    return any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") for c in value)


# Regions and instance types as the pinned provider SDK knows them (pulumi-aws 7.51.1 `pulumi_aws.Region`,
# `pulumi_aws.ec2.InstanceType`, generated from the AWS provider's schema): a maintained list, not ours.
REGIONS: tuple[str, ...] = tuple(r.value for r in pulumi_aws.Region)
INSTANCE_TYPES: frozenset[str] = frozenset(t.value for t in pulumi_aws.ec2.InstanceType)


def region_allowed(value: str) -> str:
    """What to say about a region the provider does not know (with the closest one, for typos)."""
    if value.strip() in REGIONS:
        return f"must not have surrounding whitespace or a newline (did you mean {value.strip()}?)"
    hint = difflib.get_close_matches(value, REGIONS, n=1)
    return f"must be an AWS region pulumi-aws knows, such as us-east-1{f' (did you mean {hint[0]}?)' if hint else ''}"


def instance_type_allowed(value: str) -> str:
    hint = difflib.get_close_matches(value.strip(), sorted(INSTANCE_TYPES), n=1)
    suggestion = f" (did you mean {hint[0]}?)" if hint else ""
    return f"must be an EC2 instance type pulumi-aws knows, such as m7i.large{suggestion}"


# EC2 accelerated-computing families (EC2 User Guide, "Accelerated computing instances": DL, F, G, Gr,
# Inf, P, Trn, VT): GPUs, FPGAs, Inferentia and Trainium chips. The system node group is for controllers.
ACCELERATED_FAMILY = ascii_pattern(r"(dl|f|g|gr|inf|p|trn|vt)[0-9][a-z0-9-]*\..+")

AZ = ascii_pattern(r"[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9]+[a-z]")
VPC_ID = ascii_pattern(r"vpc-[0-9a-f]{8}([0-9a-f]{9})?")
SUBNET_ID = ascii_pattern(r"subnet-[0-9a-f]{8}([0-9a-f]{9})?")
SNAPSHOT_ID = ascii_pattern(r"snap-[0-9a-f]{8}([0-9a-f]{9})?")
# IAM: role names are 1-64 of [\w+=,.@-]; a path of / separated segments (IAM User Guide, IAM quotas).
ROLE_ARN = ascii_pattern(r"arn:aws(-[a-z]+)*:iam::[0-9]{12}:role/([A-Za-z0-9+=,.@_-]+/)*[A-Za-z0-9+=,.@_-]{1,64}")
ACM_ARN = ascii_pattern(r"arn:aws(-[a-z]+)*:acm:(?P<region>[a-z0-9-]+):[0-9]{12}:certificate/[0-9a-f-]{36}")
# EKS CreateCluster `name`: 1-100 characters, `^[0-9A-Za-z][A-Za-z0-9\-_]*$` (EKS API reference).
CLUSTER_NAME = ascii_pattern(r"[0-9A-Za-z][A-Za-z0-9_-]{0,99}")
# Hugging Face repo ids (huggingface_hub `validate_repo_id`): [A-Za-z0-9_.-], no `--` or `..`, no leading or
# trailing `-`/`.`, at most 96 characters; `org/name`.
_HF_PART = r"[A-Za-z0-9](?:[A-Za-z0-9_]|[.-](?![.-]))*(?<![.-])"
MODEL_ID = ascii_pattern(rf"{_HF_PART}/{_HF_PART}")
# A commit SHA, or a branch/tag name as git accepts one (git check-ref-format: no `..`, no leading `.`).
REVISION = ascii_pattern(r"[0-9a-f]{40}|(?!\.)(?!.*\.\.)[A-Za-z0-9_.-]{1,100}")
# S3 bucket names: 3-63 of [a-z0-9.-], starting and ending with a letter or digit (S3 User Guide).
S3_URI = ascii_pattern(r"s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/[A-Za-z0-9_./=-]*)?")
SERVED_NAME = ascii_pattern(r"[a-z0-9]([a-z0-9._-]{0,62}[a-z0-9])?")
DURATION = ascii_pattern(r"([0-9]+h)?([0-9]+m)?([0-9]+s)?")
BOTTLEROCKET_VERSION = ascii_pattern(r"v[0-9]+\.[0-9]+\.[0-9]+")
# Pulumi stack names: letters, digits, `-`, `_`, `.`, at most 100; organization and project alike.
STACK_PART = ascii_pattern(r"[A-Za-z0-9_.-]{1,100}")
EMAIL = ascii_pattern(
    r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,63}"
)
LOCAL_EMAIL = ascii_pattern(r"[A-Za-z0-9._+-]+@localhost")
# DNS-1123 subdomain (Kubernetes Ingress host): lowercase labels of at most 63, at most 253 in all.
HOSTNAME = ascii_pattern(r"(?=.{1,253}\Z)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}")
# A path segment of a file system path or an S3 key prefix: never `.` or `..` (they escape the folder;
# the API server refuses a volume subPath holding `..`).
_SEGMENT = r"(?!\.\.?(?:/|\Z))[A-Za-z0-9_.=-]+"
FILE_SYSTEM_PATH = ascii_pattern(rf"/({_SEGMENT}(/{_SEGMENT})*)?")
KEY_PREFIX = ascii_pattern(rf"({_SEGMENT}/)*")
DR_PREFIX = ascii_pattern(rf"{_SEGMENT}(/{_SEGMENT})*/?")


def zone_of_region(zone: str, region: str) -> bool:
    """`zone` is an availability zone name of `region` (the region's name plus one letter)."""
    return matches(AZ, zone) and zone[:-1] == region


def has_dot_segment(path: str) -> bool:
    """A `.` or `..` path segment (`/..`, `a/../b`, `./x`)."""
    return any(part in (".", "..") for part in path.split("/"))


# ------------------------------------------------------------------------------------------------
# CIDR blocks.
# ------------------------------------------------------------------------------------------------

# Special-purpose IPv4 blocks no VPC may use (IANA IPv4 Special-Purpose Address Registry, RFC 6890; the VPC
# User Guide, "VPC CIDR blocks", lists the blocks a VPC cannot use): "this network", loopback, link-local
# (AWS's own 169.254.169.254 metadata service lives there), multicast and reserved-for-future-use.
RESERVED_IPV4 = tuple(
    ipaddress.IPv4Network(n) for n in ("0.0.0.0/8", "127.0.0.0/8", "169.254.0.0/16", "224.0.0.0/4", "240.0.0.0/4")
)
# Amazon EKS quota "Public endpoint access CIDR ranges per cluster" (EKS User Guide, service quotas).
EKS_MAX_PUBLIC_ACCESS_CIDRS = 40


def ipv4_network(value: str) -> ipaddress.IPv4Network | None:
    """The block, or None when `value` is not an IPv4 CIDR block with its host bits zero."""
    if not matches(ascii_pattern(r"[0-9]{1,3}(\.[0-9]{1,3}){3}/[0-9]{1,2}"), value):
        return None
    try:
        return ipaddress.IPv4Network(value, strict=True)
    except ValueError:
        return None


def cidr_problem(value: str) -> str | None:
    if ipv4_network(value) is None:
        return "must be an IPv4 CIDR block such as 203.0.113.0/24 (host bits zero)"
    return None


def vpc_cidr_problem(value: str) -> str | None:
    """A new VPC's block: /16 to /20 (room for a private and a public subnet in up to six zones), not reserved."""
    net = ipv4_network(value)
    if net is None:
        return "must be an IPv4 CIDR block such as 10.0.0.0/16 (host bits zero)"
    if not 16 <= net.prefixlen <= 20:
        return "must have a /16 to /20 prefix (room for subnets in every AZ)"
    reserved = [str(r) for r in RESERVED_IPV4 if net.overlaps(r)]
    if reserved:
        return f"overlaps the reserved block {reserved[0]}; use a private range such as 10.0.0.0/16 (RFC 1918)"
    return None


def public_cidr_problem(value: str) -> str | None:
    """One entry of an internet-facing allowlist (EKS public endpoint): a public block, not the whole internet."""
    net = ipv4_network(value)
    if net is None:
        return "must be an IPv4 CIDR block such as 203.0.113.0/24 (host bits zero)"
    if net.prefixlen == 0:
        return "must not be 0.0.0.0/0: list the networks that need the Kubernetes API"
    if not net.is_global and not _documentation_range(net):
        return "must be a public (internet-routable) block: the public endpoint never sees private addresses"
    return None


def _documentation_range(net: ipaddress.IPv4Network) -> bool:
    # TEST-NET-1/2/3 (RFC 5737) are not global, but stack files and docs use them as placeholders.
    return any(net.subnet_of(ipaddress.IPv4Network(n)) for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24"))


def union_problem(values: Sequence[str]) -> str | None:
    """A set of blocks whose union is the whole IPv4 internet (0.0.0.0/1 + 128.0.0.0/1) is /0 in disguise."""
    nets = [n for n in (ipv4_network(v) for v in values) if n is not None]
    if nets and list(ipaddress.collapse_addresses(nets)) == [ipaddress.IPv4Network("0.0.0.0/0")]:
        return "together cover the whole internet (0.0.0.0/0): list the networks that need access"
    return None


# ------------------------------------------------------------------------------------------------
# Tags (AWS General Reference / Tagging AWS Resources, "Tag naming limits and requirements").
# ------------------------------------------------------------------------------------------------

MAX_TAGS_PER_RESOURCE = 50
# Tag keys the program sets on every AWS resource itself.
PROGRAM_TAG_KEYS = ("project", "stack", "component")
# The most tags the program and the controllers it installs put on ONE resource beside the user's: subnets
# carry project, stack, component, Name, karpenter.sh/discovery and kubernetes.io/role/*; Karpenter's
# instances add karpenter.sh/nodepool, karpenter.sh/nodeclaim, karpenter.k8s.aws/ec2nodeclass,
# kubernetes.io/cluster/<name>, eks:eks-cluster-name and Name to the node class's tags. (Tags starting
# with aws: do not count against the limit.)
PROGRAM_TAGS = 10
TAG_KEY_MAX = 128
TAG_VALUE_MAX = 256
_TAG_PUNCTUATION = set("_.:/=+-@ ")


def tag_text_problem(value: str, limit: int, *, empty_ok: bool) -> str | None:
    """Letters, digits, spaces and `_ . : / = + - @` (Unicode letters and digits allowed), up to `limit`."""
    if not value and not empty_ok:
        return f"must be 1-{limit} characters"
    if len(value) > limit:
        return f"must be at most {limit} characters"
    bad = [c for c in value if not (unicodedata.category(c)[0] in "LN" or c in _TAG_PUNCTUATION)]
    if bad:
        return f"must use only letters, digits, spaces and _ . : / = + - @ (not {bad[0]!r})"
    return None


# ------------------------------------------------------------------------------------------------
# Small combinators for list items.
# ------------------------------------------------------------------------------------------------


def match(pattern: re.Pattern[str], allowed: str) -> Callable[[str], str | None]:
    return lambda value: None if matches(pattern, value) else allowed


def choice(choices: Sequence[str]) -> Callable[[str], str | None]:
    return lambda value: None if value in choices else f"must be one of {', '.join(choices)}"


def duration_ok(value: str) -> bool:
    return matches(DURATION, value) and any(c.isdigit() for c in value)


# Sign-in (webui.oidc, webui.cognito): an OAuth client id (RFC 6749 allows any visible ASCII; these are what
# providers issue), a claim name with dotted paths for nested claims (Open WebUI's `_get_claim`), a role or
# group value, and a Cognito domain prefix (lowercase letters, digits and hyphens, 1-63: UserPoolDomain).
CLIENT_ID = ascii_pattern(r"[A-Za-z0-9_.@:/+-]{1,255}")
CLAIM = ascii_pattern(r"[A-Za-z0-9_:/-]+(\.[A-Za-z0-9_:/-]+)*")
ROLE = ascii_pattern(r"[A-Za-z0-9_ .:/@-]{1,128}")
COGNITO_PREFIX = ascii_pattern(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
COGNITO_RESERVED = ("aws", "amazon", "cognito")  # Cognito refuses a domain prefix holding these words
