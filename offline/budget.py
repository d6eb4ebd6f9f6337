"""The time budget of a stack: how fast a new serving replica is ready, and how long `pulumi up` takes.

Two reports, written by the render command to build/<stack>/budget.json and summarised on stdout:

- **Replica time-to-ready**, by phase, on a node that already runs (image cached) and on a new node
  (Karpenter launch, image pull), with the weight read computed from the model size and the share of FSx
  throughput each loading pod gets.
- **`pulumi up` critical path** (offline/deploy_budget.py): the longest chain through the recorded dependency
  graph, each resource weighted by a creation time from ONE table (`CREATE_TIMES`), the in-cluster waits and
  the compile host's phases; it names the chain and flags dependencies that make slow resources wait for
  each other although AWS could create them in parallel.

Every number is a `Figure` that says whether it is published (with its source) or an estimate (with its
basis). Estimates are deliberately round; replace them with measurements from a real deployment.
"""

import dataclasses
import math
from dataclasses import asdict
from typing import Any

from inferentia_chat import hardware, versions
from stacks.config import StackConfig

from .deploy_budget import CACHE_HIT, COMPILE, HOST_SPAN, LOAD_JOB, TARGET_DEPLOY_S, deploy_budget
from .engine import RunResult
from .figure import _MEASURED, _MEASURED_BYTES, CONTAINERD_PULL_MB_S, IMAGE_GB, Figure

# The product's targets (seconds); the warm-node one lives beside the phases config validation uses.
TARGET_WARM_NODE_S = hardware.TARGET_WARM_NODE_S
TARGET_NEW_NODE_S = 300


# --- Serving pod phases ----------------------------------------------------------------------------

POD_START = Figure(hardware.POD_START_S, "estimate", "scheduling, sandbox and the FSx CSI mount of an existing volume")
NODE_LAUNCH = Figure(
    90,
    "estimate",
    "Karpenter NodeClaim to Ready on AL2023: EC2 launch and boot, nodeadm join, Neuron device plugin "
    "advertising aws.amazon.com/neuron",
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
        "deploy": deploy_budget(result.resources, replica, compile_, load, given.get("compileHost")),
        # The same `pulumi up` when compiled artifacts for this configuration are already in the cache: a
        # re-deploy, or the DR region (the artifacts replicate with the bucket).
        "deployWithCachedArtifacts": deploy_budget(
            result.resources, replica, CACHE_HIT, load, given.get("compileHost")
        ),
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


def _compiles(host: dict[str, Any]) -> str:
    measured_as_one = any(p["phase"] == HOST_SPAN for p in host["phases"])
    return "pulls, downloads and compiles (measured as one)" if measured_as_one else "compiles"


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
    if c and c.get("waitsForCompileHost"):
        done = c["finishesAt"] / 60
        out.append(f"  in-cluster compile Job (the fallback): finds the compile host's marker, done at {done:.0f} min")
    elif c:
        verdict = "as early as its inputs allow" if c["startsAsSoonAsItsInputsExist"] else "DELAYED"
        out.append(
            f"  compilation starts at {c['startsAt'] / 60:.0f} min (its node at {c['nodeReadyAt'] / 60:.0f}, "
            f"the model at {c['modelReadyAt'] / 60:.0f}): {verdict}"
        )
    for h in d.get("compileHosts") or []:
        verdict = "as early as its inputs allow" if h["startsAsSoonAsItsInputsExist"] else "DELAYED"
        out.append(
            f"  compile host {h['group']} starts at {h['startsAt'] / 60:.0f} min (the network at "
            f"{h['networkReadyAt'] / 60:.0f}), {_compiles(h)} from {h['compilationStartsAt'] / 60:.0f} min, "
            f"its marker at {h['markerAt'] / 60:.0f} min: {verdict}"
        )
    for f in d["falseDependencies"]:
        out.append(f"  FLAG: {f['resource']} waits for {f['waitsFor']} ({f['why']})")
    return "\n".join(out)
