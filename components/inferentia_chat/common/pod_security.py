"""The Pod Security Standard `restricted` profile, written once for every pod and container of the library.

Kubernetes docs, "Pod Security Standards" (restricted): no privilege escalation, every capability dropped,
non-root, the RuntimeDefault seccomp profile. A read-only root file system is the house default on top.
"""

from __future__ import annotations

from typing import Any

RUNTIME_DEFAULT_SECCOMP = {"type": "RuntimeDefault"}


def restricted_container(uid: int | None = None, *, read_only_root: bool = True) -> dict[str, Any]:
    """Container securityContext: `restricted`, as `uid` (user and group) when given, read-only root unless
    the image needs to write into it (say why where you pass False)."""
    context: dict[str, Any] = {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "runAsNonRoot": True,
        "readOnlyRootFilesystem": read_only_root,
        "seccompProfile": dict(RUNTIME_DEFAULT_SECCOMP),
    }
    if uid is not None:
        context |= {"runAsUser": uid, "runAsGroup": uid}
    return context


def restricted_pod(uid: int) -> dict[str, Any]:
    """Pod securityContext: `restricted`, every container as `uid`, volumes group-owned by it."""
    return {
        "runAsNonRoot": True,
        "runAsUser": uid,
        "runAsGroup": uid,
        "fsGroup": uid,
        "seccompProfile": dict(RUNTIME_DEFAULT_SECCOMP),
    }
