"""neuron-monitor as a DaemonSet on the Inferentia2 nodes only: the Neuron SDK's published image, run the
way the SDK's own manifest runs it (aws-neuron-sdk src/k8/k8s-neuron-monitor-daemonset.yml), exporting
Prometheus metrics (inferentia_chat/metrics.py) on port 8000.

Differences from the upstream manifest, and why:
- placement by the pool's node selector and its taint's toleration (upstream lists instance types), so it
  runs exactly where the Neuron devices are and follows the pool's configuration;
- `hostNetwork`: neuron-monitor reads the instance identity (the `instance_id` label the alerts group by)
  from the instance metadata service, which the inference nodes' hop limit of 1 keeps from pod networks;
- privileged, as upstream (it reads the Neuron driver's device files); so it runs in kube-system with the
  cluster's other node agents (the Neuron device plugin), never in a namespace the stack creates `restricted`;
- no service-account token, a readiness probe, pinned image.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from . import metrics, versions

APP = "neuron-monitor"
LABELS = {
    "app.kubernetes.io/name": APP,
    "app.kubernetes.io/part-of": "inferentia-chat",
    "app.kubernetes.io/component": "monitoring",
}
SELECTOR = {"app.kubernetes.io/name": APP}
# Upstream's requests and limits (and its GOMEMLIMIT under the memory limit).
RESOURCES = {"requests": {"cpu": "256m", "memory": "128Mi"}, "limits": {"cpu": "500m", "memory": "256Mi"}}


def daemon_set_spec(
    node_selector: Mapping[str, str],
    tolerations: Sequence[Mapping[str, str]],
    image: str = versions.NEURON_MONITOR_IMAGE,
) -> dict[str, Any]:
    """The DaemonSet spec: the inference nodes only; `image` the pinned one (or it pinned by digest)."""
    port = metrics.NEURON_MONITOR_PORT
    return {
        "selector": {"matchLabels": SELECTOR},
        "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}},
        "template": {
            "metadata": {"labels": LABELS},
            "spec": {
                "nodeSelector": {**node_selector, "kubernetes.io/os": "linux"},
                "tolerations": [dict(t) for t in tolerations],
                "hostNetwork": True,
                "dnsPolicy": "ClusterFirstWithHostNet",
                "automountServiceAccountToken": False,
                "enableServiceLinks": False,
                "priorityClassName": "system-node-critical",
                "securityContext": {"seccompProfile": {"type": "RuntimeDefault"}},
                "containers": [
                    {
                        "name": APP,
                        "image": image,
                        "imagePullPolicy": "IfNotPresent",
                        "command": ["/opt/bin/entrypoint.sh"],
                        "args": [
                            "--port",
                            str(port),
                            "--neuron-monitor-config",
                            "/opt/aws/neuron/bin/neuron-monitor.conf",
                        ],
                        "ports": [{"name": "metrics", "containerPort": port, "protocol": "TCP"}],
                        "env": [{"name": "GOMEMLIMIT", "value": "160MiB"}],
                        "resources": RESOURCES,
                        "readinessProbe": {"tcpSocket": {"port": port}, "periodSeconds": 15, "timeoutSeconds": 5},
                        "livenessProbe": {
                            "tcpSocket": {"port": port},
                            "periodSeconds": 30,
                            "timeoutSeconds": 5,
                            "failureThreshold": 4,
                        },
                        "securityContext": {"privileged": True, "seccompProfile": {"type": "RuntimeDefault"}},
                    }
                ],
            },
        },
    }
