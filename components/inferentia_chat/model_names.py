"""Names of the resources of a stack's second and later models.

The first model keeps the names a one-model stack has always had (`vllm`, `model-load`, ...), so adding a
model never renames or replaces what already runs. Every further model gets the same resources with a
suffix derived from its served name: a DNS label (Kubernetes object names, Pulumi resource names), short
enough that the longest derived name (`<server>-compile-<hash>`, a Job whose pods carry the name as a
label) stays within 63 characters, and distinct for distinct served names (a served name that is not
already such a label gets a hash of itself appended).
"""

import hashlib
import re

MAX_SUFFIX = 30
_LABEL = re.compile(r"^[a-z]([a-z0-9-]*[a-z0-9])?$")


def model_suffix(served_name: str) -> str:
    """The suffix of a further model's resource names, e.g. `codestral` or `qwen2-5-7b-1a2b3c`."""
    if len(served_name) <= MAX_SUFFIX and _LABEL.fullmatch(served_name):
        return served_name
    digest = hashlib.sha256(served_name.encode()).hexdigest()[:6]
    stem = re.sub(r"[^a-z0-9]+", "-", served_name.lower()).strip("-")[: MAX_SUFFIX - 7].strip("-")
    if not stem or not stem[0].isalpha():
        stem = f"m{stem}"[: MAX_SUFFIX - 7].rstrip("-")
    return f"{stem}-{digest}"


def model_resource_name(base: str, served_name: str, index: int) -> str:
    """`base` for the first model (index 0), `base-<suffix>` for every further one."""
    return base if index == 0 else f"{base}-{model_suffix(served_name)}"
