"""Labels of the model store's Kubernetes objects (the volume's and the loader's)."""

from __future__ import annotations

INSTANCE_LABEL = "app.kubernetes.io/instance"


def labels(component: str, instance: str | None = None) -> dict[str, str]:
    """The common labels of every Kubernetes object of the store, for one of its parts; a further model's
    loader (`instance`) labels its objects with it, so each loader's selectors pick only its own pods."""
    out = {
        "app.kubernetes.io/name": "model-store",
        "app.kubernetes.io/part-of": "inferentia-chat",
        "app.kubernetes.io/component": component,
    }
    return {**out, INSTANCE_LABEL: instance} if instance else out


def pod_selector(component: str, instance: str | None = None) -> dict[str, object]:
    """The selector of exactly one loader's pods: the first (no instance) excludes every further one's."""
    if instance:
        return {"matchLabels": labels(component, instance)}
    return {
        "matchLabels": labels(component),
        "matchExpressions": [{"key": INSTANCE_LABEL, "operator": "DoesNotExist"}],
    }
