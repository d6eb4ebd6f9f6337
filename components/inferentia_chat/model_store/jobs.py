"""The shape of the model store's Jobs: one-off, on system nodes, restricted, failing fast when retrying
cannot help. Pure functions building Kubernetes objects (`ModelLoader` creates them)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pulumi

from ..common.pod_security import restricted_container, restricted_pod
from ..model_layout import WORKLOAD_UID
from ..system_node_group import SYSTEM_NODE_SELECTOR
from .labels import labels
from .model_files import EXIT_PERMANENT  # the script's exit code for "retrying cannot help"

FINISHED_TTL_SECONDS = 7 * 24 * 3600  # keep the logs a week; a deleted Job re-runs as a no-op
BACKOFF_LIMIT = 4


def job_metadata(job: str, namespace: pulumi.Input[str], deadline: int, component: str | None = None) -> dict[str, Any]:
    """Name, namespace and labels (`component`, default the name) of a Job; `pulumi up` waits for it for its own
    deadline plus scheduling time."""
    return {
        "name": job,
        "namespace": namespace,
        "labels": labels(component or job),
        "annotations": {"pulumi.com/timeoutSeconds": str(deadline + 900)},
    }


def job_spec(
    component: str,
    deadline: int,
    template_annotations: Mapping[str, str],
    *,
    service_account: str,
    containers: list[dict[str, Any]],
    volumes: list[dict[str, Any]],
    fail_fast_container: str,
    init_containers: list[dict[str, Any]] | None = None,
    instance: str | None = None,
) -> dict[str, Any]:
    """A Job spec: pods on system nodes only (never an Inferentia node: those are tainted and not selected
    here), as the workload user, failing the Job at once on the script's permanent exit code."""
    pod: dict[str, Any] = {
        "restartPolicy": "Never",
        "serviceAccountName": service_account,
        "automountServiceAccountToken": False,
        "nodeSelector": dict(SYSTEM_NODE_SELECTOR),
        "securityContext": restricted_pod(WORKLOAD_UID),
        "containers": containers,
        "volumes": volumes,
    }
    if init_containers:
        pod["initContainers"] = init_containers
    return {
        "backoffLimit": BACKOFF_LIMIT,
        "activeDeadlineSeconds": deadline,
        "ttlSecondsAfterFinished": FINISHED_TTL_SECONDS,
        # Exit code 2 of the script means retrying cannot help (missing model, refused token, no access):
        # fail the Job at once. Pods evicted by a node drain do not count as failures.
        "podFailurePolicy": {
            "rules": [
                {
                    "action": "FailJob",
                    "onExitCodes": {
                        "containerName": fail_fast_container,
                        "operator": "In",
                        "values": [EXIT_PERMANENT],
                    },
                },
                {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]},
            ]
        },
        "template": {
            "metadata": {"labels": labels(component, instance), "annotations": dict(template_annotations)},
            "spec": pod,
        },
    }


SMALL = {"requests": {"cpu": "250m", "memory": "256Mi"}, "limits": {"memory": "512Mi"}}


def container(
    name: str,
    image: str,
    command: list[Any],
    env: list[dict[str, Any]],
    mounts: list[dict[str, Any]],
    resources: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A one-off container (restricted, read-only root), SMALL unless told."""
    spec: dict[str, Any] = {
        "name": name,
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "command": command,
        "resources": resources or SMALL,
        "securityContext": restricted_container(),
        "volumeMounts": mounts,
    }
    if env:
        spec["env"] = env
    return spec
