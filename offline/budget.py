"""The time budget of a stack: how fast a new serving replica is ready, and how long `pulumi up` takes.

Two reports, written by the render command to build/<stack>/budget.json and summarised on stdout:

- **Replica time-to-ready**, by phase, on a node that already runs (image cached) and on a new node
  (Karpenter launch, image pull), with the weight read computed from the model size and the share of FSx
  throughput each loading pod gets.
- **`pulumi up` critical path**: the longest chain through the recorded dependency graph, each resource
  weighted by a creation time from ONE table (`CREATE_TIMES`); it names the chain and flags dependencies
  that make slow resources wait for each other although AWS could create them in parallel.

Every number is a `Figure` that says whether it is published (with its source) or an estimate (with its
basis). Estimates are deliberately round; replace them with measurements from a real deployment.
"""

import dataclasses
import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

from inferentia_chat import hardware, versions
from stacks.config import StackConfig

from .engine import Record, RunResult

# The product's targets (seconds); the warm-node one lives beside the phases config validation uses.
TARGET_WARM_NODE_S = hardware.TARGET_WARM_NODE_S
TARGET_NEW_NODE_S = 300
TARGET_DEPLOY_S = 35 * 60
SLOW_S = 120  # a resource this slow, waiting for another one, is worth a look


@dataclass(frozen=True)
class Figure:
    """A duration (or size/rate) and where it comes from."""

    value: float
    kind: str  # "published" | "estimate" | "computed" | "measured"
    source: str


# --- Serving pod phases ----------------------------------------------------------------------------

POD_START = Figure(hardware.POD_START_S, "estimate", "scheduling, sandbox and the FSx CSI mount of an existing volume")
NODE_LAUNCH = Figure(
    90,
    "estimate",
    "Karpenter NodeClaim to Ready on AL2023: EC2 launch and boot, nodeadm join, Neuron device plugin "
    "advertising aws.amazon.com/neuron",
)
# The image's size as the kubelet reports it ("Image size" of its `Pulled` event: containerd's packed layers),
# the unit the pull rates below count in. The "15-20 GB" often quoted for the Neuron vLLM DLC is the unpacked
# size (`docker images`), which the rates do not apply to. The pinned tag's own packed size is not published;
# the nearest published one is of the same repository, two releases earlier (vLLM 0.9.1, Neuron SDK 2.25):
# "Image size: 8454539505 bytes" in the kubelet events of two public write-ups of AWS's "Scaling LLM Inference
# with vLLM and AWS Trainium" EKS workshop (2026-09-11). `pull_break_even_gb` says how much larger the pinned
# image may be before the new-node target misses; `python -m offline phases` measures the real one.
_DLC_LINE_IMAGE_BYTES = 8_454_539_505
IMAGE_GB = Figure(
    round(_DLC_LINE_IMAGE_BYTES / 1e9, 2),
    "published",
    "kubelet 'Image size: 8454539505 bytes' (packed) of public.ecr.aws/neuron/pytorch-inference-vllm-neuronx:"
    "0.9.1-neuronx-py310-sdk2.25.0-ubuntu22.04, the same DLC repository as the pinned tag (AWS 'Scaling LLM "
    "Inference with vLLM and AWS Trainium' EKS workshop write-ups, 2026-09-11); the pinned tag's size is unpublished",
)
# Pull rates from ONE published measurement, same image, same node class, with and without SOCI: the vLLM DLC
# (10,778,400,361 bytes as the kubelet reports it) on AL2023 nodes with a gp3 root at 600 MiB/s
# (aws-samples/karpenter-blueprints, blueprints/soci-snapshotter/README.md, "Results"; 2025).
_MEASURED = "aws-samples/karpenter-blueprints soci-snapshotter Results: 10,778,400,361-byte vLLM DLC on AL2023"
_MEASURED_BYTES = 10_778_400_361
CONTAINERD_PULL_MB_S = Figure(
    round(_MEASURED_BYTES / 112.33 / 1e6, 1), "published", f"{_MEASURED}, containerd default pull: 112.33 s"
)
SOCI_PULL_MB_S = Figure(
    round(_MEASURED_BYTES / 59.813 / 1e6, 1), "published", f"{_MEASURED}, SOCI parallel pull/unpack: 59.813 s"
)
SOCI_BOTTLEROCKET_PULL_MB_S = Figure(
    round(_MEASURED_BYTES / 44.974 / 1e6, 1),
    "published",
    f"{_MEASURED.replace('on AL2023', 'on Bottlerocket')}, SOCI parallel pull/unpack: 44.974 s",
)
IMAGE_CACHED = Figure(20, "estimate", "image already on the Bottlerocket data volume restored from the snapshot")
ARTIFACT_LOAD = Figure(
    hardware.ARTIFACT_LOAD_S, "estimate", "loading the compiled NEFFs and the pre-sharded weights onto the NeuronCores"
)
WARM_UP = Figure(hardware.WARM_UP_S, "estimate", "vLLM Neuron warm-up requests before /health reports ready")
SCRATCH_MB_S_PER_TIB = Figure(
    hardware.SCRATCH_2_MB_S_PER_TIB, "published", "FSx for Lustre SCRATCH_2: 200 MB/s per TiB (FSx docs)"
)


def replica_budget(cfg: StackConfig, loading_pods: int = 1, measured: dict[str, Any] | None = None) -> dict[str, Any]:
    """Time-to-ready of a new replica, by phase, on a warm node and on a new node. `measured`: the
    `budgetInput` of `python -m offline phases --json` from a real deployment; its phases replace the figures
    (the model load to Ready replaces weight read, artifact load and warm-up, which it cannot tell apart)."""
    ms, model = cfg.model_store, cfg.model
    if ms.deployment_type == "SCRATCH_2":
        per_tib = SCRATCH_MB_S_PER_TIB
    else:
        per_tib = Figure(
            ms.throughput_per_tib or 0,
            "published",
            f"FSx for Lustre PERSISTENT_2 tier {ms.throughput_per_tib} MB/s per TiB (FSx docs, configured)",
        )
    fleet_mb_s = hardware.fsx_throughput_mb_s(ms.deployment_type, ms.storage_capacity_gib, ms.throughput_per_tib)
    share = fleet_mb_s / max(loading_pods, 1)
    facts = hardware.KNOWN_MODELS.get(model.id)
    weights_gb = Figure(
        facts.weights_gb if facts else 15.0,
        "published" if facts else "estimate",
        f"{model.id} bf16 weights (Hugging Face repository)" if facts else "a ~7B model in bf16",
    )
    weight_read = Figure(
        round(hardware.weight_read_seconds(weights_gb.value, fleet_mb_s, loading_pods), 1),
        "computed",
        f"{weights_gb.value} GB (read once, as pre-sharded checkpoint) / {share:.0f} MB/s: "
        f"{fleet_mb_s:.0f} MB/s of the file system ({ms.storage_capacity_gib} GiB x {per_tib.value} MB/s/TiB) "
        f"shared by {loading_pods} loading pod(s)",
    )
    pull = image_pull(cfg)
    common = [
        ("pod start", POD_START),
        ("weight read", weight_read),
        ("artifact load", ARTIFACT_LOAD),
        ("warm-up", WARM_UP),
    ]
    new_items = [("node launch", NODE_LAUNCH), ("image pull", pull), *common]
    if measured:
        common, new_items = _with_measured(common, measured), _with_measured(new_items, measured)
    warm = _phases(common, TARGET_WARM_NODE_S)
    new = _phases(new_items, TARGET_NEW_NODE_S)
    image, rate = _measured_image(measured) or (IMAGE_GB, pull_rate(cfg))
    return {
        "warmNode": warm,
        "newNode": new,
        "inputs": {
            "weightsGB": asdict(weights_gb),
            "fsxThroughputPerTiB": asdict(per_tib),
            "imageGB": asdict(image),
            "imagePullMBps": asdict(rate),
            "imageBreakEvenGB": asdict(even) if (even := pull_break_even_gb(cfg, new, rate)) else None,
        },
    }


MEASURED_SOURCE = "measured on a deployment (python -m offline phases --json; render --measured)"


def _with_measured(items: list[tuple[str, Figure]], measured: dict[str, Any]) -> list[tuple[str, Figure]]:
    """Phases with measured figures in place of estimates; the three load phases become one when measured."""
    load = ("weight read", "artifact load", "warm-up")
    out: list[tuple[str, Figure]] = []
    for name, figure in items:
        if name in load and "load to ready" in measured:
            if name == load[0]:
                out.append(("load to ready", Figure(float(measured["load to ready"]), "measured", MEASURED_SOURCE)))
            continue
        if name in measured:
            figure = Figure(float(measured[name]), "measured", f"{MEASURED_SOURCE}, pod {measured.get('fromPod')}")
        out.append((name, figure))
    return out


def pull_rate(cfg: StackConfig) -> Figure:
    """The pull rate of the mechanism the inference nodes use (inferencePool.imagePull, bottlerocketVersion)."""
    if cfg.inference_pool.image_pull != "soci":
        return CONTAINERD_PULL_MB_S
    return SOCI_BOTTLEROCKET_PULL_MB_S if cfg.inference_pool.bottlerocket_version else SOCI_PULL_MB_S


def image_pull(cfg: StackConfig) -> Figure:
    """The image-pull phase on a new node: the image cache, else the image size at the mechanism's rate."""
    if cfg.inference_pool.image_cache_snapshot_id is not None:
        return IMAGE_CACHED
    rate = pull_rate(cfg)
    mechanism = "containerd's sequential pull" if rate is CONTAINERD_PULL_MB_S else "SOCI parallel pull"
    return Figure(
        round(IMAGE_GB.value * 1000 / rate.value, 1),
        "computed",
        f"{IMAGE_GB.value} GB at {rate.value} MB/s ({mechanism}, inferencePool.imagePull); "
        "inferencePool.imageCache removes most of it",
    )


def _measured_image(measured: dict[str, Any] | None) -> tuple[Figure, Figure] | None:
    """The image size and pull rate a deployment measured (the kubelet's `Pulled` event), if it did."""
    if not measured or not measured.get("imageGB") or not measured.get("imagePullMBps"):
        return None
    source = f"{MEASURED_SOURCE}, pod {measured.get('fromPod')}"
    return (
        Figure(float(measured["imageGB"]), "measured", source),
        Figure(float(measured["imagePullMBps"]), "measured", source),
    )


def pull_break_even_gb(cfg: StackConfig, new: dict[str, Any], rate: Figure | None = None) -> Figure | None:
    """The largest image (packed, as the kubelet reports it) that keeps a new node's replica within its target,
    at the configured pull rate with every other phase as budgeted: the margin the pull mechanism buys. None with
    the image cache (the image is on the restored data volume: nothing is pulled)."""
    if cfg.inference_pool.image_cache_snapshot_id is not None:
        return None
    pull = next(p["seconds"] for p in new["phases"] if p["phase"] == "image pull")
    spare = new["targetSeconds"] - (new["totalSeconds"] - pull)
    rate = rate or pull_rate(cfg)
    return Figure(
        round(max(spare, 0) * rate.value / 1000, 2),
        "computed",
        f"({new['targetSeconds']} s target - {new['totalSeconds'] - pull:.1f} s of the other phases) "
        f"x {rate.value} MB/s",
    )


def _phases(items: list[tuple[str, Figure]], target: int) -> dict[str, Any]:
    phases = [{"phase": name, "seconds": f.value, "kind": f.kind, "source": f.source} for name, f in items]
    total = round(sum(p["seconds"] for p in phases), 1)
    slowest = max(phases, key=lambda p: p["seconds"])
    return {
        "phases": phases,
        "totalSeconds": total,
        "targetSeconds": target,
        "meetsTarget": total <= target,
        "slowestPhase": slowest["phase"],
    }


# --- `pulumi up`: creation times per resource type -------------------------------------------------

CREATE_TIMES: dict[str, Figure] = {
    "awsx:ec2:Vpc": Figure(180, "estimate", "subnets and routes in seconds; NAT gateways take 1-3 minutes"),
    "eks:index:Cluster": Figure(
        720, "estimate", "EKS control plane creation, commonly 10-15 minutes (EKS user guide: 'several minutes')"
    ),
    "aws:eks/nodeGroup:NodeGroup": Figure(240, "estimate", "managed node group: ASG launch and nodes Ready"),
    "aws:eks/addon:Addon": Figure(60, "estimate", "add-on ACTIVE once its pods run"),
    "aws:eks/podIdentityAssociation:PodIdentityAssociation": Figure(5, "estimate", "API call"),
    "aws:eks/accessEntry:AccessEntry": Figure(5, "estimate", "API call"),
    "aws:fsx/lustreFileSystem:LustreFileSystem": Figure(
        720, "estimate", "PERSISTENT_2 file system CREATING to AVAILABLE, typically 10-15 minutes"
    ),
    "aws:fsx/dataRepositoryAssociation:DataRepositoryAssociation": Figure(
        300, "estimate", "association CREATING to AVAILABLE, including the metadata import of an empty prefix"
    ),
    "aws:kms/key:Key": Figure(10, "estimate", "API call"),
    "aws:iam/role:Role": Figure(10, "estimate", "API call plus IAM propagation"),
    "aws:ec2/launchTemplate:LaunchTemplate": Figure(5, "estimate", "API call"),
    "aws:cloudwatch/logGroup:LogGroup": Figure(5, "estimate", "API call"),
    "aws:sqs/queue:Queue": Figure(30, "estimate", "queue creation (SQS waits up to a minute for attributes)"),
    "kubernetes:helm.sh/v3:Release": Figure(90, "estimate", "chart install until its pods are Ready"),
    "kubernetes:apps/v1:Deployment": Figure(60, "estimate", "a small Deployment on running nodes"),
    "pulumi:providers:kubernetes": Figure(0, "estimate", "no cloud call"),
}
DEFAULT_CREATE = Figure(5, "estimate", "one API call")
LOAD_JOB = Figure(300, "estimate", "Hugging Face download of ~15 GB at ~100 MB/s, verification, and the export to S3")
PRELOAD_JOB = Figure(60, "estimate", "restore request and read-back of a model already on the file system")
COMPILE = Figure(900, "published", "Neuron compilation of a ~7B model takes 10-20 minutes (AWS Neuron docs)")
CACHE_HIT = Figure(30, "estimate", "the compile Job finds the artifacts marked complete and exits")


@dataclass(frozen=True)
class Timing:
    """How a resource's creation unfolds: `prep` runs as soon as its dependencies exist (a Pod's node launch
    and image pull); `work` starts after `prep` AND after every gate finished (what an init container waits
    for inside the cluster, which the dependency graph does not show)."""

    prep: Figure
    work: Figure
    gates: tuple[str, ...] = ()

    @property
    def total(self) -> float:
        return self.prep.value + self.work.value


NONE = Figure(0, "computed", "nothing before the work")


def timing(
    rec: Record,
    replica: dict[str, Any],
    gates: dict[str, dict[str, str]],
    compile_: Figure = COMPILE,
    load: Figure = LOAD_JOB,
) -> Timing:
    """The timing of one resource; `gates` maps a vLLM server (its instance label) and a wait (init container
    name) to the URN it waits for."""
    if not rec.custom and rec.type not in CREATE_TIMES:
        return Timing(NONE, Figure(0, "computed", "component: its children carry the time"))
    mine = gates.get(_label(rec, "app.kubernetes.io/instance") or "", {})
    waits = tuple(mine[c] for c in _init_containers(rec) if c in mine)
    new_node = {p["phase"]: p for p in replica["newNode"]["phases"]}
    node_and_pull = Figure(
        new_node["node launch"]["seconds"] + new_node["image pull"]["seconds"],
        "computed",
        "a new inf2 node and the image pull (replica budget)",
    )
    if rec.type == "kubernetes:batch/v1:Job":
        component = _label(rec, "app.kubernetes.io/component")
        if component == "model-load":
            return Timing(NONE, load)
        if component == "model-preload":
            return Timing(NONE, PRELOAD_JOB)
        if component == "neuron-compile":
            return Timing(node_and_pull, compile_, waits)
    if rec.type == "kubernetes:apps/v1:Deployment" and _label(rec, "app.kubernetes.io/name") == "vllm":
        serve = replica["newNode"]["totalSeconds"] - node_and_pull.value
        return Timing(node_and_pull, Figure(serve, "computed", "pod start, weights, artifacts, warm-up"), waits)
    return Timing(NONE, CREATE_TIMES.get(rec.type, DEFAULT_CREATE))


def _at(value: object, *keys: str) -> object:
    """value[k1][k2]... or None; a part unknown in a preview (a string marker, not a map) is None too."""
    for key in keys:
        value = value.get(key) if isinstance(value, dict) else None
    return value


def _init_containers(rec: Record) -> list[str]:
    containers = _at(rec.inputs, "spec", "template", "spec", "initContainers")
    return [c.get("name", "") for c in containers if isinstance(c, dict)] if isinstance(containers, list) else []


def _label(rec: Record, key: str) -> str | None:
    label = _at(rec.inputs, "metadata", "labels", key)
    return label if isinstance(label, str) else None


def _gates(recs: dict[str, Record]) -> dict[str, dict[str, str]]:
    """What each waiting init container of each vLLM server (by its instance label: `vllm`, `vllm-<suffix>`)
    waits for: its own model's load Job (`model-load`, `model-load-<suffix>`) and its own compile Job."""
    gates: dict[str, dict[str, str]] = {}
    for u, r in recs.items():
        if not r.type.endswith(":Job"):
            continue
        component = _label(r, "app.kubernetes.io/component")
        if component == "neuron-compile":
            gates.setdefault(_label(r, "app.kubernetes.io/instance") or "", {})["wait-for-compiled-artifacts"] = u
        elif component == "model-load":
            job = str((r.inputs.get("metadata") or {}).get("name") or "model-load")
            gates.setdefault("vllm" + job.removeprefix("model-load"), {})["wait-for-model"] = u
    return gates


# Kinds of slow resources AWS creates independently: one never has to wait for the other.
STORAGE_TYPES = {
    "aws:fsx/lustreFileSystem:LustreFileSystem",
    "aws:fsx/dataRepositoryAssociation:DataRepositoryAssociation",
}
CLUSTER_TYPES = {"eks:index:Cluster", "aws:eks/nodeGroup:NodeGroup"}
INDEPENDENT = [
    (STORAGE_TYPES, CLUSTER_TYPES, "the file system needs only its subnet and security group, not the cluster"),
    (CLUSTER_TYPES, STORAGE_TYPES, "the cluster does not use the file system"),
]


def deploy_budget(
    records: Iterable[Record], replica: dict[str, Any], compile_: Figure = COMPILE, load: Figure = LOAD_JOB
) -> dict[str, Any]:
    """The critical path of `pulumi up` and the dependencies that serialize slow resources without need.
    `compile_`: what the compile Job's work takes (a compilation, or a cache hit on a re-deploy or in DR)."""
    recs = {r.urn: r for r in records}
    gates = _gates(recs)
    times = {u: timing(r, replica, gates, compile_, load) for u, r in recs.items()}
    finish: dict[str, float] = {}
    via: dict[str, str | None] = {}

    def done(urn: str) -> float:
        if urn not in finish:
            t = times[urn]
            deps = [d for d in recs[urn].dependencies if d in recs]
            last = max(deps, key=done, default=None)
            ready = (finish[last] if last else 0.0) + t.prep.value
            gate = max(t.gates, key=done, default=None)
            if gate and finish[gate] > ready:
                ready, last = finish[gate], gate
            finish[urn] = ready + t.work.value
            via[urn] = last
        return finish[urn]

    for urn in recs:
        done(urn)
    end = max(recs, key=lambda u: finish[u])
    chain = []
    urn: str | None = end
    while urn:
        r, t = recs[urn], times[urn]
        if t.total:
            chain.append(
                {
                    "type": r.type,
                    "name": r.name,
                    "seconds": t.total,
                    "finishesAt": round(finish[urn], 1),
                    "parts": [asdict(f) for f in (t.prep, t.work) if f.value],
                    "waitsInCluster": [recs[g].name for g in t.gates],
                }
            )
        urn = via[urn]
    chain.reverse()
    flagged = _false_dependencies(recs, {u: Figure(t.total, "computed", "") for u, t in times.items()})
    return {
        "compile": _compile_start(recs, times, finish),
        "criticalPathSeconds": round(finish[end], 1),
        "targetSeconds": TARGET_DEPLOY_S,
        "meetsTarget": finish[end] <= TARGET_DEPLOY_S,
        "criticalPath": chain,
        "falseDependencies": flagged,
        "creationTimes": {
            **{t: asdict(f) for t, f in sorted(CREATE_TIMES.items())},
            "model-load Job": asdict(load),
            "model-preload Job": asdict(PRELOAD_JOB),
            "Neuron compilation": asdict(compile_),
        },
    }


def _compile_start(
    recs: dict[str, Record], times: dict[str, Timing], finish: dict[str, float]
) -> dict[str, Any] | None:
    """When the compilation can start and when it does: its node (Pulumi dependencies, then the node launch and
    image pull) and the model (the load Job it waits for in the cluster). Equal times: nothing delays it."""
    job = next(
        (
            u
            for u, r in recs.items()
            if r.type.endswith(":Job") and _label(r, "app.kubernetes.io/component") == "neuron-compile"
        ),
        None,
    )
    if job is None:
        return None
    t = times[job]
    deps = [finish[d] for d in recs[job].dependencies if d in finish]
    node_ready = (max(deps) if deps else 0.0) + t.prep.value
    model_ready = max((finish[g] for g in t.gates), default=0.0)
    starts = finish[job] - t.work.value
    return {
        "nodeReadyAt": round(node_ready, 1),
        "modelReadyAt": round(model_ready, 1),
        "startsAt": round(starts, 1),
        "finishesAt": round(finish[job], 1),
        "startsAsSoonAsItsInputsExist": starts == max(node_ready, model_ready),
    }


def _false_dependencies(recs: dict[str, Record], cost: dict[str, Figure]) -> list[dict[str, Any]]:
    """Slow resources that (through any chain) wait for slow resources they do not need."""
    found = []
    for urn, r in recs.items():
        for waiting, waited, why in INDEPENDENT:
            if r.type not in waiting or cost[urn].value < SLOW_S:
                continue
            slow_waited = {u for u, x in recs.items() if x.type in waited and cost[u].value >= SLOW_S}
            for path in _paths_to(recs, urn, slow_waited.__contains__):
                found.append(
                    {
                        "resource": r.name,
                        "type": r.type,
                        "waitsFor": recs[path[-1]].name,
                        "waitsForType": recs[path[-1]].type,
                        "through": [recs[u].name for u in path[1:-1]],
                        "why": f"not needed: {why}",
                    }
                )
    return found


def _paths_to(recs: dict[str, Record], start: str, target) -> list[list[str]]:
    """One dependency path from `start` to each resource matching `target` (breadth first)."""
    seen = {start}
    queue = [[start]]
    hits = []
    while queue:
        path = queue.pop(0)
        for dep in recs[path[-1]].dependencies:
            if dep in seen or dep not in recs:
                continue
            seen.add(dep)
            if target(dep):
                hits.append([*path, dep])
            else:
                queue.append([*path, dep])
    return hits


# The pull mechanisms a stack can choose (inferencePool.imagePull / bottlerocketVersion / imageCache), each
# with the release or snapshot the comparison assumes: the first Bottlerocket release with Kubernetes 1.36.
_ALTERNATIVES = {
    "containerd (AL2023)": {"image_pull": "containerd"},
    "SOCI parallel pull (AL2023)": {"image_pull": "soci"},
    "SOCI parallel pull (Bottlerocket)": {"image_pull": "soci", "bottlerocket_version": "v1.61.0"},
    "image cache (Bottlerocket snapshot)": {
        "image_cache_snapshot_id": "snap-00000000000000000",
        "image_cache_bottlerocket_version": "v1.61.0",
    },
}


def pull_alternatives(cfg: StackConfig) -> dict[str, float]:
    """The new-node total under each pull mechanism, everything else as configured: what a choice buys."""
    base = {"image_cache_snapshot_id": None, "image_cache_bottlerocket_version": None, "bottlerocket_version": None}
    out = {}
    for label, change in _ALTERNATIVES.items():
        pool = dataclasses.replace(cfg.inference_pool, **{**base, **change})
        out[label] = replica_budget(dataclasses.replace(cfg, inference_pool=pool))["newNode"]["totalSeconds"]
    return out


def budget(result: RunResult, cfg: StackConfig, measured: dict[str, Any] | None = None) -> dict[str, Any]:
    """budget.json for a stack; `measured` = a phases JSON (its `budgetInput` replaces estimates)."""
    given = (measured or {}).get("budgetInput") or {}
    replica = replica_budget(cfg, measured=given)
    compile_ = (
        Figure(float(given["compile"]), "measured", f"{MEASURED_SOURCE}: the compile Job")
        if "compile" in given
        else COMPILE
    )
    load = (
        Figure(float(given["model load"]), "measured", f"{MEASURED_SOURCE}: the model-load Job")
        if "model load" in given
        else LOAD_JOB
    )
    fleet = replica_budget(cfg, loading_pods=max(cfg.model.replicas, 1))
    return {
        "stack": result.stack,
        "model": {"id": cfg.model.id, "replicas": cfg.model.replicas, "image": versions.VLLM_NEURON_IMAGE},
        "replica": replica,
        "fleetStart": {
            "loadingPods": max(cfg.model.replicas, 1),
            "weightReadSeconds": next(p["seconds"] for p in fleet["warmNode"]["phases"] if p["phase"] == "weight read"),
        },
        "deploy": deploy_budget(result.resources, replica, compile_, load),
        # The same `pulumi up` when compiled artifacts for this configuration are already in the cache: a
        # re-deploy, or the DR region (the artifacts replicate with the bucket).
        "deployWithCachedArtifacts": deploy_budget(result.resources, replica, CACHE_HIT, load),
        "newNodeByPullMechanism": pull_alternatives(cfg),
        "measured": bool(given),
        "targets": {
            "warmNodeSeconds": TARGET_WARM_NODE_S,
            "newNodeSeconds": TARGET_NEW_NODE_S,
            "deploySeconds": TARGET_DEPLOY_S,
        },
    }


def _break_even_line(inputs: dict[str, Any]) -> str:
    even, image = inputs.get("imageBreakEvenGB"), inputs["imageGB"]
    if even is None:
        return "    image: on the restored data volume (image cache), not pulled"
    kind = "measured" if image["kind"] == "measured" else "published for the DLC line"
    return (
        f"    image: {image['value']} GB packed ({kind}); the new-node target holds up to "
        f"{even['value']:.1f} GB at {inputs['imagePullMBps']['value']} MB/s"
    )


def summary(b: dict[str, Any]) -> str:
    """Lines for the render's stdout."""

    def line(label: str, part: dict[str, Any]) -> str:
        ok = "meets" if part["meetsTarget"] else f"MISSES (slowest: {part['slowestPhase']})"
        return f"  {label}: {part['totalSeconds']:.0f} s, target {part['targetSeconds']} s: {ok}"

    def deploy(label: str, d: dict[str, Any]) -> str:
        chain = " -> ".join(step["name"] for step in d["criticalPath"])
        return (
            f"  {label}: {math.ceil(d['criticalPathSeconds'] / 60)} min, target {d['targetSeconds'] // 60} min: "
            f"{'meets' if d['meetsTarget'] else 'MISSES'}; {chain}"
        )

    d = b["deploy"]
    out = [
        "budget (build/<stack>/budget.json; estimates and published figures, see there):",
        line("new replica, warm node", b["replica"]["warmNode"]),
        line("new replica, new node ", b["replica"]["newNode"]),
        "    by pull mechanism: " + ", ".join(f"{k} {v:.0f} s" for k, v in b["newNodeByPullMechanism"].items()),
        _break_even_line(b["replica"]["inputs"]),
        deploy("pulumi up, first deploy", d),
        deploy("pulumi up, cached artifacts", b["deployWithCachedArtifacts"]),
    ]
    c = d.get("compile")
    if c:
        verdict = "as early as its inputs allow" if c["startsAsSoonAsItsInputsExist"] else "DELAYED"
        out.append(
            f"  compilation starts at {c['startsAt'] / 60:.0f} min (its node at {c['nodeReadyAt'] / 60:.0f}, "
            f"the model at {c['modelReadyAt'] / 60:.0f}): {verdict}"
        )
    for f in d["falseDependencies"]:
        out.append(f"  FLAG: {f['resource']} waits for {f['waitsFor']} ({f['why']})")
    return "\n".join(out)
