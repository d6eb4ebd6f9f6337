"""Measured start-up phases of a deployed stack, beside the budget's figures.

    python -m offline phases --kubeconfig ~/.kube/config [--context C] [--namespace inference]
                             [--stack dev] [--json build/dev/measured.json] [--from DIR]
                             [--bucket B [--compile-host-group G --artifacts-prefix P] [--region R]]

reads, with the official Kubernetes Python client, what the cluster recorded about the serving pods: the
Karpenter NodeClaim of each pod's node (status conditions Launched, Registered, Initialized), the kubelet's
events (Pulling, Pulled with the image size and pull duration, Started), the pods' conditions and container
states (init containers waiting for the model and the compiled artifacts, the startup probe passing as the
Ready condition), and the compile Job's start and completion. It prints each phase measured beside its
budget figure and writes a JSON that `python -m offline render --measured <file>` takes in place of the
estimates. With `--bucket`, it also measures the compile hosts from what AWS recorded (offline/phases_host.py).
Everything below `collect` works on plain API dictionaries, exactly as the API returns them
(`kubectl get -o json` gives the same), which is what the offline tests feed it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .phases_host import SPAN, HostRecord, measure_host, seconds_between
from .phases_host import budget_input as host_budget_input

SERVING_SELECTOR = "app.kubernetes.io/name=vllm"
COMPILE_COMPONENT = "neuron-compile"
LOAD_COMPONENT = "model-load"  # the model store's load Job (model_store/labels.py)
JOBS_SELECTOR = f"app.kubernetes.io/component in ({COMPILE_COMPONENT},{LOAD_COMPONENT})"
SERVING_CONTAINER = "vllm"
COMPILE_CONTAINER = "compile"
WAIT_CONTAINERS = ("wait-for-model", "wait-for-compiled-artifacts")
# The kubelet's Pulled event (pkg/kubelet/images/image_manager.go): 'Successfully pulled image "<image>" in
# <duration> (<duration> including waiting). Image size: <n> bytes.'; older kubelets omit the size.
PULLED = re.compile(
    r'Successfully pulled image "(?P<image>[^"]+)" in (?P<took>[0-9.hmsuµn]+)'
    r"(?: \((?P<waiting>[0-9.hmsuµn]+) including waiting\))?(?:\. Image size: (?P<bytes>\d+) bytes)?"
)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)  # sorts events without a time first
_GO_DURATION = re.compile(r"(\d+(?:\.\d+)?)(h|ms|us|µs|ns|m|s)")
_UNIT_S = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9}


def go_duration_seconds(text: str) -> float:
    """Seconds in a Go duration string as the kubelet prints it (1m52.33s, 59.813s, 450ms)."""
    parts = _GO_DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"not a Go duration: {text!r}")
    return round(sum(float(n) * _UNIT_S[u] for n, u in parts), 3)


def ts(value: str | None) -> datetime | None:
    """An API timestamp (RFC 3339, 'Z' or an offset, optional fraction)."""
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def event_time(event: dict[str, Any]) -> datetime | None:
    """When an event happened: events.k8s.io writers set eventTime, the kubelet sets first/lastTimestamp."""
    return ts(
        event.get("eventTime") or event.get("firstTimestamp") or (event.get("metadata") or {}).get("creationTimestamp")
    )


def _condition(obj: dict[str, Any], kind: str) -> datetime | None:
    for c in (obj.get("status") or {}).get("conditions") or []:
        if c.get("type") == kind and c.get("status") == "True":
            return ts(c.get("lastTransitionTime"))
    return None


@dataclass
class Snapshot:
    """What `collect` read: the four API lists as plain dictionaries."""

    events: dict[str, Any]
    pods: dict[str, Any]
    jobs: dict[str, Any]
    nodeclaims: dict[str, Any]


def collect(kubeconfig: str | None, context: str | None, namespace: str) -> Snapshot:
    """Read the lists from a live cluster with the official client (kubernetes==36.0.0, requirements-dev.txt)."""
    from kubernetes import client, config

    config.load_kube_config(config_file=kubeconfig, context=context)
    api = client.ApiClient()
    core, batch = client.CoreV1Api(api), client.BatchV1Api(api)
    plain = api.sanitize_for_serialization  # model objects back to the API's JSON field names
    return Snapshot(
        events=plain(core.list_namespaced_event(namespace)),
        pods=plain(core.list_namespaced_pod(namespace, label_selector=SERVING_SELECTOR)),
        jobs=plain(batch.list_namespaced_job(namespace, label_selector=JOBS_SELECTOR)),
        nodeclaims=client.CustomObjectsApi(api).list_cluster_custom_object("karpenter.sh", "v1", "nodeclaims"),
    )


FILES = ("events", "pods", "jobs", "nodeclaims")


def load_files(folder: Path) -> Snapshot:
    """The same lists saved with kubectl (`--from DIR`): events.json, pods.json, jobs.json, nodeclaims.json from
    `kubectl get events|pods|jobs -n <ns> -o json` and `kubectl get nodeclaims -o json`."""
    return Snapshot(**{name: json.loads((folder / f"{name}.json").read_text()) for name in FILES})


def _pod_events(events: dict[str, Any], pod: str) -> list[dict[str, Any]]:
    mine = [e for e in events.get("items") or [] if (e.get("involvedObject") or {}).get("kind") == "Pod"]
    mine = [e for e in mine if e["involvedObject"].get("name") == pod]
    return sorted(mine, key=lambda e: event_time(e) or _EPOCH)


def _pull(events: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The first real pull of the pod (its first container to need the image pulls it for all)."""
    for e in events:
        if e.get("reason") == "Pulled":
            m = PULLED.search(e.get("message") or "")
            if m:
                size = int(m["bytes"]) if m["bytes"] else None
                took = go_duration_seconds(m["took"])
                return {
                    "image": m["image"],
                    "seconds": took,
                    "bytes": size,
                    "MBps": round(size / took / 1e6, 1) if size and took else None,
                }
    return None


def _state_times(status: dict[str, Any], name: str, key: str) -> tuple[datetime | None, datetime | None]:
    for c in status.get(key) or []:
        if c.get("name") == name:
            state = c.get("state") or {}
            last = c.get("lastState") or {}
            if "terminated" in state:
                return ts(state["terminated"].get("startedAt")), ts(state["terminated"].get("finishedAt"))
            if "running" in state:
                return ts(state["running"].get("startedAt")), None
            if "terminated" in last:
                return ts(last["terminated"].get("startedAt")), ts(last["terminated"].get("finishedAt"))
    return None, None


def pod_phases(pod: dict[str, Any], snap: Snapshot) -> dict[str, Any]:
    """One serving pod's phases, in the budget's names, from its node claim, events and status."""
    meta, status = pod["metadata"], pod.get("status") or {}
    created = ts(meta.get("creationTimestamp"))
    node = (pod.get("spec") or {}).get("nodeName")
    claim = next(
        (c for c in snap.nodeclaims.get("items") or [] if (c.get("status") or {}).get("nodeName") == node), None
    )
    events = _pod_events(snap.events, meta["name"])
    pull = _pull(events)
    ready = _condition(pod, "Ready")
    started, _ = _state_times(status, SERVING_CONTAINER, "containerStatuses")
    new_node = bool(claim and created and ts(claim["metadata"]["creationTimestamp"]) >= created)
    phases: dict[str, float | None] = {}
    start = created
    if new_node:
        launched = ts(claim["metadata"]["creationTimestamp"])
        initialized = _condition(claim, "Initialized")
        phases["node launch"] = seconds_between(launched, initialized)
        phases["node launch: launched"] = seconds_between(launched, _condition(claim, "Launched"))
        phases["node launch: registered"] = seconds_between(launched, _condition(claim, "Registered"))
        start = initialized or start
    phases["image pull"] = pull["seconds"] if pull else 0.0  # "already present on machine": no pull
    waits = 0.0
    for name in WAIT_CONTAINERS:
        begin, end = _state_times(status, name, "initContainerStatuses")
        took = seconds_between(begin, end)
        if took is not None:
            phases[f"waiting: {name}"] = took
            waits += took
    to_start = seconds_between(start, started)
    phases["pod start"] = round(to_start - phases["image pull"] - waits, 1) if to_start is not None else None
    phases["load to ready"] = seconds_between(started, ready)
    restarts = sum(c.get("restartCount", 0) for c in status.get("containerStatuses") or [])
    return {
        "pod": meta["name"],
        "restarts": restarts,  # e.g. OOM-killed while loading: the phases then measure the last start
        "node": node,
        "nodeClaim": claim["metadata"]["name"] if claim else None,
        "newNode": new_node,
        "image": pull,
        "phases": phases,
        "totalSeconds": seconds_between(created, ready),
        "totalWithoutWaitsSeconds": round(seconds_between(created, ready) - waits, 1) if ready and created else None,
    }


def _component(pod: dict[str, Any]) -> str | None:
    return ((pod.get("metadata") or {}).get("labels") or {}).get("app.kubernetes.io/component")


def _latest_job(snap: Snapshot, component: str) -> dict[str, Any] | None:
    jobs = [
        j
        for j in snap.jobs.get("items") or []
        if _component(j) == component and (j.get("status") or {}).get("startTime")
    ]
    return max(jobs, key=lambda j: j["status"]["startTime"]) if jobs else None


def load_job(snap: Snapshot) -> dict[str, Any] | None:
    """The model-load Job: start to completion (download, verification, the marker)."""
    job = _latest_job(snap, LOAD_COMPONENT)
    if job is None:
        return None
    s = job["status"]
    return {
        "job": job["metadata"]["name"],
        "seconds": seconds_between(ts(s["startTime"]), ts(s.get("completionTime"))),
        "succeeded": bool(s.get("succeeded")),
    }


def compile_job(snap: Snapshot) -> dict[str, Any] | None:
    """The compile Job: its start and completion (status.startTime, status.completionTime: node launch, pull
    and the wait for the model included) and the compilation itself (its `compile` container's run)."""
    job = _latest_job(snap, COMPILE_COMPONENT)
    if job is None:
        return None
    s, name = job["status"], job["metadata"]["name"]
    runs = [
        _state_times(p.get("status") or {}, COMPILE_CONTAINER, "containerStatuses")
        for p in snap.pods.get("items") or []
        if _component(p) == COMPILE_COMPONENT
        and (p["metadata"].get("labels") or {}).get("batch.kubernetes.io/job-name") == name
    ]
    runs = [r for r in runs if r[0] and r[1]]
    return {
        "job": name,
        "startTime": ts(s["startTime"]).isoformat(),
        "completionTime": ts(s["completionTime"]).isoformat() if s.get("completionTime") else None,
        "jobSeconds": seconds_between(ts(s["startTime"]), ts(s.get("completionTime"))),
        "seconds": seconds_between(*max(runs, key=lambda r: r[1])) if runs else None,  # the compilation itself
        "succeeded": bool(s.get("succeeded")),
    }


def serving_waits(snap: Snapshot) -> list[tuple[datetime, datetime]]:
    """(start, end) of each serving pod's wait for the compiled artifacts' marker on the file system."""
    runs = [
        _state_times(p.get("status") or {}, WAIT_CONTAINERS[1], "initContainerStatuses")
        for p in snap.pods.get("items") or []
        if _component(p) == "inference"
    ]
    return [(a, b) for a, b in runs if a and b]


def measure(snap: Snapshot, hosts: list[HostRecord] | None = None) -> dict[str, Any]:
    """The measured JSON: per pod, the compile Job, the compile hosts (`hosts`: what AWS recorded of each, when
    read) and the figures the budget takes (`budgetInput`)."""
    serving = [p for p in snap.pods.get("items") or [] if _component(p) == "inference" and _condition(p, "Ready")]
    pods = [pod_phases(p, snap) for p in serving]
    pods.sort(key=lambda p: p["pod"])
    job, load = compile_job(snap), load_job(snap)
    fresh = [p for p in pods if p["newNode"]]
    budget_input: dict[str, Any] = {}
    if fresh:  # a new node's pod measures every phase; the slowest such pod is the honest one
        worst = max(fresh, key=lambda p: p["totalWithoutWaitsSeconds"] or 0)
        for phase in ("node launch", "image pull", "pod start", "load to ready"):
            if worst["phases"].get(phase) is not None:
                budget_input[phase] = worst["phases"][phase]
        if worst["image"] and worst["image"]["MBps"]:
            budget_input["imagePullMBps"] = worst["image"]["MBps"]
            budget_input["imageGB"] = round(worst["image"]["bytes"] / 1e9, 2)
        budget_input["fromPod"] = worst["pod"]
    warm = [p for p in pods if not p["newNode"]]
    if warm and "load to ready" not in budget_input:
        budget_input["load to ready"] = max(p["phases"]["load to ready"] or 0 for p in warm)
    measured_hosts = [measure_host(h, serving_waits(snap)) for h in hosts or []]
    host_compiled = any(h["succeeded"] for h in measured_hosts)
    # Where a host compiled, the Job's compile container only waited for its marker: no compilation to take.
    if job and job["seconds"] is not None and job["succeeded"] and not host_compiled:
        budget_input["compile"] = job["seconds"]
    if load and load["seconds"] is not None and load["succeeded"]:
        budget_input["model load"] = load["seconds"]
    if host_input := host_budget_input(measured_hosts):
        budget_input["compileHost"] = host_input
    return {
        "pods": pods,
        "compileJob": job,
        "modelLoadJob": load,
        "compileHosts": measured_hosts,
        "budgetInput": budget_input,
    }


def report(measured: dict[str, Any], budget: dict[str, Any] | None) -> str:
    """Each phase measured beside the budget's figure (budget.json of the stack, when there is one)."""

    def figures(part: str) -> dict[str, float]:
        if not budget:
            return {}
        found = {p["phase"]: p["seconds"] for p in budget["replica"][part]["phases"]}
        if "load to ready" not in found:
            found["load to ready"] = sum(found.get(k, 0) for k in ("weight read", "artifact load", "warm-up"))
        found["total"] = budget["replica"][part]["totalSeconds"]
        return found

    def row(label: str, seconds: float | None, want: float | None) -> str:
        shown = "-" if seconds is None else f"{seconds:.1f}"
        return f"  {label:44} {shown:>11} {'' if want is None else f'{want:.0f}':>9}"

    lines = [f"  {'phase':44} {'measured s':>11} {'budget s':>9}"]
    for pod in measured["pods"]:
        want = figures("newNode" if pod["newNode"] else "warmNode")
        restarted = f", RESTARTED {pod['restarts']}x" if pod["restarts"] else ""
        lines.append(f"pod {pod['pod']} on {pod['node']} ({'new' if pod['newNode'] else 'running'} node{restarted})")
        for phase, seconds in pod["phases"].items():
            lines.append(row(phase, seconds, want.get(phase)))
        if pod["image"] and pod["image"]["bytes"]:
            lines.append(
                f"  {'image size, pull rate':44} {pod['image']['bytes'] / 1e9:>9.2f}GB {pod['image']['MBps']} MB/s"
            )
        lines.append(row("total without the waits", pod["totalWithoutWaitsSeconds"], want.get("total")))
    job = measured["compileJob"]
    if job:
        compile_want = budget["deploy"]["creationTimes"]["Neuron compilation"]["value"] if budget else None
        lines.append(f"compile Job {job['job']}")
        lines.append(row("compilation (its compile container)", job["seconds"], compile_want))
        lines.append(row("Job start to completion (waits included)", job["jobSeconds"], None))
    load = measured.get("modelLoadJob")
    if load:
        load_want = budget["deploy"]["creationTimes"]["model-load Job"]["value"] if budget else None
        lines.append(f"model-load Job {load['job']}")
        lines.append(row("download to completion", load["seconds"], load_want))
    for host in measured.get("compileHosts") or []:
        want = _host_figures(budget, host["group"])
        refused = f", {host['failedLaunchAttempts']} launch attempt(s) refused" if host["failedLaunchAttempts"] else ""
        lines.append(f"compile host {host['group']} (instance {host['instanceId']}, {host['outcome']}{refused})")
        for phase, seconds in host["phases"].items():
            lines.append(row(phase, seconds, want.get(phase)))
        lines.append(row("instance running (billed)", host["instanceSeconds"], None))
    return "\n".join(lines)


def _host_figures(budget: dict[str, Any] | None, group: str) -> dict[str, float]:
    """The budget's figures for a compile host's phases (the measured span is two of them)."""
    hosts = (budget or {}).get("deploy", {}).get("compileHosts") or []
    if not hosts:
        return {}
    found = {p["phase"]: p["seconds"] for p in hosts[0]["phases"]}
    if SPAN not in found and "compilation" in found:
        found[SPAN] = found.get("image pull and model download", 0) + found["compilation"]
    return found


def main_phases(args: Any, out_dir: Path) -> int:
    """The `phases` subcommand (offline/render.py wires the arguments)."""
    snap = load_files(Path(args.from_dir)) if args.from_dir else collect(args.kubeconfig, args.context, args.namespace)
    hosts = collect_hosts(args, out_dir) if args.bucket else None
    measured = measure(snap, hosts)
    budget_file = out_dir / args.stack / "budget.json" if args.stack else None
    budget = json.loads(budget_file.read_text()) if budget_file and budget_file.exists() else None
    print(report(measured, budget))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(measured, f, indent=2)
            f.write("\n")
    return 0


def collect_hosts(args: Any, out_dir: Path) -> list[HostRecord]:
    """The compile hosts' trails (`--bucket`, with `--compile-host-group` and `--artifacts-prefix`, or each host
    the render of `--stack` has), read with boto3 in `--region` (default: the stack's, else boto3's own)."""
    import boto3

    from .phases_host import collect_host, discover

    if args.compile_host_group:
        if not args.artifacts_prefix:
            raise SystemExit("phases: --compile-host-group needs --artifacts-prefix (the stack's modelObjects output)")
        hosts = [(args.compile_host_group, args.artifacts_prefix)]
    elif args.stack:
        hosts = discover(out_dir, args.stack)
    else:
        raise SystemExit("phases: --bucket needs --stack (render it first) or --compile-host-group")
    outputs = out_dir / (args.stack or "") / "outputs.json"
    region = args.region or (json.loads(outputs.read_text()).get("region") if args.stack and outputs.exists() else None)
    session = boto3.Session(region_name=region)
    return [collect_host(session, group, args.bucket, prefix) for group, prefix in hosts]
