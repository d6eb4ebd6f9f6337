"""The `pulumi up` part of the time budget: creation times per resource, the waits inside the cluster, the
compile host's phases, and the critical path through the recorded dependency graph.

Each resource is weighted by ONE table (`CREATE_TIMES`) or, for what runs after its creation (Jobs, the
serving Deployment, the compile host's instance), by a `Timing`: `prep` once its Pulumi dependencies exist,
`work` once `prep` and every in-cluster gate are done. The chain that ends last is the critical path.
"""

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

from inferentia_chat.vllm.compile_host import ARTIFACTS_KEY_TAG, IMPORT_SETTLE_S

from .engine import Record
from .figure import CONTAINERD_PULL_MB_S, IMAGE_GB, Figure

TARGET_DEPLOY_S = 35 * 60
SLOW_S = 120  # a resource this slow, waiting for another one, is worth a look


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

# --- The compile host (NeuronCompileHost): an Auto Scaling group of one inf2 instance, created with the network.
HOST_GROUP = "aws:autoscaling/group:Group"
HOST_LAUNCH = Figure(
    60, "estimate", "EC2 Auto Scaling launches the instance once the group exists: boot of the AL2023 AMI, cloud-init"
)
HOST_PULL = Figure(
    round(IMAGE_GB.value * 1000 / CONTAINERD_PULL_MB_S.value, 1),
    "computed",
    f"{IMAGE_GB.value} GB at {CONTAINERD_PULL_MB_S.value} MB/s (containerd's default pull, as `ctr` on the host)",
)
HOST_UPLOAD = Figure(
    150,
    "estimate",
    "~16 GB of artifacts (the pre-sharded weights, 14.5 GB, and the NEFFs) to S3 with the AWS CLI's default "
    "10 concurrent part uploads, ~100 MB/s from one instance",
)
IMPORT_LAG = Figure(
    IMPORT_SETTLE_S + 30,
    "estimate",
    f"the host waits {IMPORT_SETTLE_S} s after the last upload for the file system's auto import (FSx publishes "
    "no latency for it: measure it), then the marker's own import, ~30 s",
)


HOST_SPAN = "image pull, model download and compilation"  # what `phases` measures as one (offline/phases_host.py)
HOST_MEASURED = "measured on a deployment (python -m offline phases --bucket ...; render --measured)"


def host_phases(
    compile_: Figure = COMPILE, load: Figure = LOAD_JOB, measured: dict[str, Any] | None = None
) -> list[tuple[str, Figure]]:
    """The compile host's run after its group exists: launch; the image pull and the model download at once;
    the compilation; the upload; the file system's import. With cached artifacts: launch, marker found.
    `measured`: the `compileHost` figures of a phases JSON in place of these (the pull, download and
    compilation measured as one span)."""
    phases = _host_estimates(compile_, load)
    if not measured:
        return phases
    source = f"{HOST_MEASURED}, group {measured.get('fromGroup')}"
    out: list[tuple[str, Figure]] = []
    for name, figure in phases:
        if name in ("image pull and model download", "compilation") and HOST_SPAN in measured:
            if name == "compilation":
                out.append((HOST_SPAN, Figure(float(measured[HOST_SPAN]), "measured", source)))
            continue
        out.append((name, Figure(float(measured[name]), "measured", source) if name in measured else figure))
    return out


def _host_estimates(compile_: Figure, load: Figure) -> list[tuple[str, Figure]]:
    if compile_ is CACHE_HIT:
        return [("instance launch", HOST_LAUNCH), ("marker found", CACHE_HIT)]
    both = Figure(
        max(HOST_PULL.value, load.value),
        "computed",
        f"in parallel, the longer of the image pull ({HOST_PULL.value} s: {HOST_PULL.source}) and the model "
        f"download ({load.value} s, the model-load Job's figure: {load.source})",
    )
    return [
        ("instance launch", HOST_LAUNCH),
        ("image pull and model download", both),
        ("compilation", compile_),
        ("upload", HOST_UPLOAD),
        ("import lag", IMPORT_LAG),
    ]


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
    host: dict[str, Any] | None = None,
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
    if rec.type == HOST_GROUP and _tag(rec, ARTIFACTS_KEY_TAG):
        phases = host_phases(compile_, load, host)
        described = ", ".join(f"{n} {f.value:.0f} s" for n, f in phases)
        return Timing(NONE, Figure(round(sum(f.value for _, f in phases), 1), "computed", f"compile host: {described}"))
    if rec.type == "kubernetes:batch/v1:Job":
        component = _label(rec, "app.kubernetes.io/component")
        if component == "model-load":
            return Timing(NONE, load)
        if component == "model-preload":
            return Timing(NONE, PRELOAD_JOB)
        if component == "neuron-compile" and "compile-host" in mine:
            # The host holds the lease: the Job waits for its marker, then finds the artifacts complete.
            return Timing(node_and_pull, CACHE_HIT, (*waits, mine["compile-host"]))
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


def _tag(rec: Record, key: str) -> str | None:
    """The value of an Auto Scaling group's tag."""
    tags = rec.inputs.get("tags")
    tags = tags if isinstance(tags, list) else []
    found = [t.get("value") for t in tags if isinstance(t, dict) and t.get("key") == key]
    return found[0] if found and isinstance(found[0], str) else None


def _artifacts_dir(rec: Record) -> str | None:
    """NEURON_COMPILED_ARTIFACTS of a workload's first container (the compile Job's and the serving pods')."""
    containers = _at(rec.inputs, "spec", "template", "spec", "containers")
    env = containers[0].get("env") if isinstance(containers, list) and containers else None
    values = [e.get("value") for e in env or [] if isinstance(e, dict) and e.get("name") == "NEURON_COMPILED_ARTIFACTS"]
    return values[0] if values and isinstance(values[0], str) else None


def _hosts(recs: dict[str, Record]) -> dict[str, str]:
    """The compile hosts' groups by the artifact key they compile (their tag)."""
    return {key: u for u, r in recs.items() if r.type == HOST_GROUP and (key := _tag(r, ARTIFACTS_KEY_TAG))}


def _gates(recs: dict[str, Record]) -> dict[str, dict[str, str]]:
    """What each waiting init container of each vLLM server (by its instance label: `vllm`, `vllm-<suffix>`)
    waits for: its own model's load Job (`model-load`, `model-load-<suffix>`) and its own compile Job; where a
    compile host compiles the same artifact key, its marker instead (and the compile Job waits for it too)."""
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
    hosts = _hosts(recs)
    for r in recs.values():
        directory = _artifacts_dir(r) if r.type.endswith((":Job", ":Deployment")) else None
        host = next((u for key, u in hosts.items() if directory and directory.endswith(f"/{key}")), None)
        if host:
            mine = gates.setdefault(_label(r, "app.kubernetes.io/instance") or "", {})
            mine["compile-host" if r.type.endswith(":Job") else "wait-for-compiled-artifacts"] = host
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
    ({HOST_GROUP}, CLUSTER_TYPES | STORAGE_TYPES, "the compile host needs only the network and the model bucket"),
]


def deploy_budget(
    records: Iterable[Record],
    replica: dict[str, Any],
    compile_: Figure = COMPILE,
    load: Figure = LOAD_JOB,
    host: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The critical path of `pulumi up` and the dependencies that serialize slow resources without need.
    `compile_`: what the compile Job's work takes (a compilation, or a cache hit on a re-deploy or in DR);
    `host`: the compile host's measured phases (a phases JSON's `budgetInput.compileHost`)."""
    recs = {r.urn: r for r in records}
    gates = _gates(recs)
    times = {u: timing(r, replica, gates, compile_, load, host) for u, r in recs.items()}
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
    end = max(sorted(recs), key=lambda u: finish[u])  # ties: the first URN, so the report is the same every run
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
        "compileHosts": _host_starts(recs, times, finish, host_phases(compile_, load, host)),
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
            **{f"compile host: {n}": asdict(f) for n, f in host_phases(compile_, load, host)},
        },
    }


def _host_starts(
    recs: dict[str, Record], times: dict[str, Timing], finish: dict[str, float], phases: list[tuple[str, Figure]]
) -> list[dict[str, Any]]:
    """Each compile host: its phases, when its instance starts and when its marker is in the file system. It
    starts as soon as its inputs exist when nothing slow but the network lies under its group (its role, key,
    bucket and launch template are API calls): it never waits for the cluster or the file system."""
    out = []
    for key, u in _hosts(recs).items():
        t = times[u]
        below = _below(recs, u)
        slow = [recs[d].name for d in below if times[d].total >= SLOW_S and recs[d].type != "awsx:ec2:Vpc"]
        network = max((finish[d] for d in below if recs[d].type == "awsx:ec2:Vpc"), default=0.0)
        buckets = max((finish[d] for d in below if recs[d].type == "aws:s3/bucket:Bucket"), default=0.0)
        starts = finish[u] - t.work.value
        # Where the compilation starts: after the pull and download, or with them where measured as one span.
        before = next((i for i, (n, _) in enumerate(phases) if "compilation" in n), len(phases))
        out.append(
            {
                "group": recs[u].name,
                "artifactsKey": key,
                "networkReadyAt": round(network, 1),
                "bucketReadyAt": round(buckets, 1),
                "startsAt": round(starts, 1),
                "compilationStartsAt": round(starts + sum(f.value for _, f in phases[:before]), 1),
                "markerAt": round(finish[u], 1),
                "phases": [{"phase": n, "seconds": f.value, "kind": f.kind, "source": f.source} for n, f in phases],
                "slowDependencies": slow,
                "startsAsSoonAsItsInputsExist": not slow,
            }
        )
    return out


def _below(recs: dict[str, Record], urn: str) -> set[str]:
    """Every resource `urn` depends on, through any chain."""
    seen: set[str] = set()
    todo = [urn]
    while todo:
        for dep in recs[todo.pop()].dependencies:
            if dep in recs and dep not in seen:
                seen.add(dep)
                todo.append(dep)
    return seen


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
    host = [g for g in t.gates if recs[g].type == HOST_GROUP]
    model_ready = max((finish[g] for g in t.gates if g not in host), default=0.0)
    host_ready = max((finish[g] for g in host), default=0.0)
    starts = finish[job] - t.work.value
    return {
        "nodeReadyAt": round(node_ready, 1),
        "modelReadyAt": round(model_ready, 1),
        # With a compile host, the Job only waits for the host's marker (the fallback when the host fails).
        "waitsForCompileHost": bool(host),
        "compileHostMarkerAt": round(host_ready, 1) if host else None,
        "startsAt": round(starts, 1),
        "finishesAt": round(finish[job], 1),
        "startsAsSoonAsItsInputsExist": starts == max(node_ready, model_ready, host_ready),
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
