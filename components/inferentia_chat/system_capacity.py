"""What the system nodes can hold, and what the platform asks of them: the check that the monitoring stack
(and KEDA) fit the system capacity at its largest (`cluster.systemNodeMaxCount` nodes).

Instance sizes follow the EC2 naming scheme for the general-purpose, compute and memory families of the
current generations (EC2 User Guide, "Instance types": `large` = 2 vCPUs, `xlarge` = 4, `<n>xlarge` =
4n; memory per vCPU 2 GiB for c, 4 GiB for m, 8 GiB for r). Other types (burstable, metal, x/z families)
are not estimated: the check then becomes a warning.
"""

from __future__ import annotations

import re

from .hardware import Resources
from .karpenter import CONTROLLER_RESOURCES

_TYPE = re.compile(r"^(?P<family>[cmr])(?P<gen>[5-8])[a-z-]*\.(?P<size>large|xlarge|(?P<n>\d+)xlarge)$")
_GIB_PER_VCPU = {"c": 2, "m": 4, "r": 8}

# Reserved by the kubelet and the system on a small node (EKS AMI: ~6% of the first core, 255 MiB + 11 MiB
# per pod), rounded up, plus the DaemonSets every node runs (aws-node, kube-proxy, Pod Identity agent,
# EBS and FSx CSI node plugins, node-exporter: about 300m and 500Mi). An estimate; check with
# `kubectl describe node` on a system node.
NODE_OVERHEAD = Resources(neuron_devices=0, cpu_millis=400, memory_mib=1400)


def millis(quantity: str) -> int:
    """A Kubernetes cpu quantity ("500m", "1") in millicores."""
    return int(quantity[:-1]) if quantity.endswith("m") else int(float(quantity) * 1000)


def mib(quantity: str) -> int:
    """A Kubernetes memory quantity ("512Mi", "2Gi") in MiB."""
    return int(quantity[:-2]) * 1024 if quantity.endswith("Gi") else int(quantity[:-2])


_KARPENTER = CONTROLLER_RESOURCES["requests"]
# What else runs on the system nodes, requested (estimates where a chart sets none): two Karpenter
# controllers (inferentia_chat/karpenter.py), CoreDNS x2 (100m/70Mi each, EKS add-on default), the EBS and FSx
# CSI controllers (about 100m/300Mi together) and Open WebUI (~500m/1Gi).
BASELINE = Resources(
    neuron_devices=0,
    cpu_millis=2 * millis(_KARPENTER["cpu"]) + 200 + 100 + 500,
    memory_mib=2 * mib(_KARPENTER["memory"]) + 140 + 300 + 1024,
)


def node_capacity(instance_type: str) -> Resources | None:
    """vCPUs and memory of a c/m/r instance type of generations 5-8, from its name; None if not estimated."""
    match = _TYPE.match(instance_type)
    if not match:
        return None
    size = match["size"]
    vcpu = 2 if size == "large" else 4 * (int(match["n"]) if match["n"] else 1)
    return Resources(neuron_devices=0, cpu_millis=vcpu * 1000, memory_mib=vcpu * _GIB_PER_VCPU[match["family"]] * 1024)


def system_requests(*, autoscaling: bool) -> Resources:
    """The system workloads' requests: the baseline, the monitoring stack, and KEDA when a model autoscales."""
    from .autoscaling import keda_requests  # late: the components import this module's callers
    from .monitoring import monitoring_requests

    parts = [BASELINE, monitoring_requests(), *([keda_requests()] if autoscaling else [])]
    return Resources(0, sum(p.cpu_millis for p in parts), sum(p.memory_mib for p in parts))


def system_fit(instance_type: str, max_count: int, need: Resources) -> str | None:
    """ "" when `max_count` nodes of the type hold `need`, the problem when they do not, None when the type's
    size is not estimated here."""
    capacity = node_capacity(instance_type)
    if capacity is None:
        return None
    cpu = max_count * (capacity.cpu_millis - NODE_OVERHEAD.cpu_millis)
    mem = max_count * (capacity.memory_mib - NODE_OVERHEAD.memory_mib)
    if need.cpu_millis <= cpu and need.memory_mib <= mem:
        return ""
    return (
        f"{max_count} x {instance_type} leave {cpu}m cpu and {mem}Mi memory for pods, less than the system "
        f"workloads with monitoring request ({need.cpu_millis}m cpu, {need.memory_mib}Mi memory); raise it, "
        "pick a larger cluster.systemNodeType, or set monitoring.enabled false"
    )
