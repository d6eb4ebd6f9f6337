"""Container images: the pinned defaults, pinning them by digest, and the registries they may come from.

A stack names its images in `inferentia-chat:images` (see docs/security.md): per role, either the digest of
the pinned tag (`sha256:<64 hex>`, giving `<repository>:<tag>@sha256:...`) or a whole reference with a digest
(`<repository>[:<tag>]@sha256:...`, e.g. a newer build or a mirror), whose repository must be one of
`ALLOWED_REPOSITORIES`. Kubernetes pulls by the digest when one is given; the tag is kept for readers.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from . import versions

# The one role name per image the stacks run, and the version-pinned default of each.
DEFAULT_IMAGES: dict[str, str] = {
    "vllm": versions.VLLM_NEURON_IMAGE,
    "modelLoader": versions.MODEL_LOADER_IMAGE,
    "lustreClient": versions.LUSTRE_CLIENT_IMAGE,
    "openWebui": versions.OPEN_WEBUI_IMAGE,
}

# Where images may come from: the upstream repositories of the pinned images, nothing else (the policy
# pack enforces the same list, policies/rules.py ALLOWED_IMAGE_REPOSITORIES; a test keeps them equal). A
# mirror (e.g. an ECR pull-through cache) is added here, in one reviewed line.
ALLOWED_REPOSITORIES: tuple[str, ...] = tuple(sorted({ref.rsplit(":", 1)[0] for ref in DEFAULT_IMAGES.values()}))

DIGEST = re.compile(r"sha256:[0-9a-f]{64}", re.ASCII)
REFERENCE = re.compile(
    r"(?P<repository>[a-z0-9][a-z0-9.-]*(:[0-9]+)?(/[a-z0-9][a-z0-9._-]*)+)"
    r"(:(?P<tag>[\w][\w.-]{0,127}))?@(?P<digest>sha256:[0-9a-f]{64})",
    re.ASCII,
)


def repository(image: str) -> str:
    """The repository of an image reference (registry host and path, without tag or digest)."""
    name = image.split("@", 1)[0]
    head, _, tail = name.rpartition(":")
    return head if head and "/" not in tail else name


def pin_problem(role: str, value: object) -> str | None:
    """None when `value` pins the `role` image, else what is allowed."""
    if role not in DEFAULT_IMAGES:
        return f"unknown image; allowed keys: {', '.join(DEFAULT_IMAGES)}"
    if not isinstance(value, str):
        return "must be a string: sha256:<64 hex digits> or <repository>[:<tag>]@sha256:<64 hex digits>"
    if DIGEST.fullmatch(value):
        return None
    match = REFERENCE.fullmatch(value)
    if not match:
        return (
            f"must be the digest of {DEFAULT_IMAGES[role]} (sha256:<64 hex digits>) or a whole reference "
            "<repository>[:<tag>]@sha256:<64 hex digits>"
        )
    if match["repository"] not in ALLOWED_REPOSITORIES:
        return f"repository {match['repository']} is not allowed; allowed: {', '.join(ALLOWED_REPOSITORIES)}"
    return None


def resolve(role: str, pin: str | None) -> str:
    """The reference a container uses: the default, pinned by `pin` (a digest or a whole reference)."""
    if not pin:
        return DEFAULT_IMAGES[role]
    return f"{DEFAULT_IMAGES[role]}@{pin}" if DIGEST.fullmatch(pin) else pin


@dataclass(frozen=True)
class Images:
    """The image of every role, as the stack's containers use them."""

    pins: Mapping[str, str] = field(default_factory=dict)

    def __getitem__(self, role: str) -> str:
        return resolve(role, self.pins.get(role))

    @property
    def unpinned(self) -> tuple[str, ...]:
        """Roles still pulled by tag only."""
        return tuple(role for role in DEFAULT_IMAGES if "@" not in self[role])
