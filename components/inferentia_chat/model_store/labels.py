"""Labels of the model store's Kubernetes objects (the volume's and the loader's)."""

from __future__ import annotations


def labels(component: str) -> dict[str, str]:
    """The common labels of every Kubernetes object of the store, for one of its parts."""
    return {
        "app.kubernetes.io/name": "model-store",
        "app.kubernetes.io/part-of": "inferentia-chat",
        "app.kubernetes.io/component": component,
    }
