"""The compile host's measured phases (NeuronCompileHost), from what AWS recorded about its run.

    python -m offline phases ... --bucket <modelBucketName> [--compile-host-group G --artifacts-prefix P]
                                 [--region R]

reads, with boto3 (requirements-dev.txt), the Auto Scaling group's creation time and activities (the launch
attempts, the termination), the instance (launch time), and the artifact prefix in the model bucket: every
object's LastModified (the listing) and the bodies of the lease (`.compiling`: instanceId, startedAt,
deadline) and of `.failed` (instanceId, reason, at). compile_host.sh leaves that trail:

    lease written (startedAt)  -> pull the image while the model downloads -> compile
    -> directory objects and artifacts uploaded (the first of them ~ the compilation's end)
    -> sleep IMPORT_SETTLE_S -> `.complete` (its LastModified) -> desired capacity 0 (the termination)

so the phases are: instance launch (the run's first launch attempt to the lease), the pull, download and
compilation as ONE span (the host logs no time between them; docs/performance.md proposes the lines), the
upload (first artifact to `.complete` less the settle), and, with the cluster's side, the import lag (upload
end to the first serving pod's wait for the marker ending). Everything below `collect_host` works on the
responses exactly as boto3 returns them (datetimes with a time zone), which is what the tests feed it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from inferentia_chat.model_layout import CACHE_DIR
from inferentia_chat.vllm.compile_host import ARTIFACTS_KEY_TAG, IMPORT_SETTLE_S
from inferentia_chat.vllm.pod_spec import COMPLETE_MARKER, FAILED_FILE, LEASE_FILE

from .deploy_budget import HOST_SPAN as SPAN  # one span: the host logs no time between them

HOST_GROUP = "aws:autoscaling/group:Group"
LAUNCHING = re.compile(r"^Launching a new EC2 instance(?:: (?P<id>i-[0-9a-f]+))?")
TERMINATING = re.compile(r"^Terminating EC2 instance: (?P<id>i-[0-9a-f]+)")


@dataclass
class HostRecord:
    """What `collect_host` read about one compile host: boto3's responses, unchanged."""

    group: str
    bucket: str
    prefix: str
    groups: list[dict[str, Any]]  # describe_auto_scaling_groups: AutoScalingGroups
    activities: list[dict[str, Any]]  # describe_scaling_activities: Activities (newest first)
    instances: list[dict[str, Any]]  # describe_instances: Reservations[].Instances[]
    objects: list[dict[str, Any]]  # list_objects_v2: Contents under the prefix
    bodies: dict[str, Any] = field(default_factory=dict)  # `.compiling`, `.failed`: their JSON


def collect_host(session: Any, group: str, bucket: str, prefix: str) -> HostRecord:
    """Read one host's trail with a boto3 session (autoscaling, ec2 and s3 read calls only)."""
    from botocore.exceptions import ClientError

    asg, ec2, s3 = session.client("autoscaling"), session.client("ec2"), session.client("s3")
    groups = asg.describe_auto_scaling_groups(AutoScalingGroupNames=[group])["AutoScalingGroups"]
    pages = asg.get_paginator("describe_scaling_activities").paginate(AutoScalingGroupName=group)
    activities = [a for page in pages for a in page["Activities"]]
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    objects = [o for page in pages for o in page.get("Contents") or []]
    keys = {o["Key"] for o in objects}
    bodies = {
        name: json.loads(s3.get_object(Bucket=bucket, Key=prefix + name)["Body"].read())
        for name in (LEASE_FILE, FAILED_FILE)
        if prefix + name in keys
    }
    rec = HostRecord(group, bucket, prefix, groups, activities, [], objects, bodies)
    instance = _run_instance(rec)
    if instance:
        try:  # a terminated instance stays visible for about an hour
            reservations = ec2.describe_instances(InstanceIds=[instance])["Reservations"]
            rec.instances = [i for r in reservations for i in r["Instances"]]
        except ClientError as e:
            if e.response["Error"]["Code"] != "InvalidInstanceID.NotFound":
                raise
    return rec


def _launches(rec: HostRecord) -> list[dict[str, Any]]:
    """The launch activities, oldest first (a refused attempt names no instance)."""
    return sorted(
        (a for a in rec.activities if LAUNCHING.match(a.get("Description") or "")), key=lambda a: a["StartTime"]
    )


def _run_instance(rec: HostRecord) -> str | None:
    """The instance of the run measured: the one that wrote the lease (or `.failed`), else the last launched."""
    written = (rec.bodies.get(LEASE_FILE) or rec.bodies.get(FAILED_FILE) or {}).get("instanceId")
    launched = [m["id"] for a in _launches(rec) if (m := LAUNCHING.match(a["Description"])) and m["id"]]
    return written or (launched[-1] if launched else None)


def seconds_between(start: datetime | None, end: datetime | None) -> float | None:
    """Seconds from `start` to `end` (0.1 s), or None when either is unknown."""
    return round((end - start).total_seconds(), 1) if start and end else None


def _epoch(value: Any) -> datetime | None:
    return datetime.fromtimestamp(int(value), UTC) if value is not None else None


def measure_host(rec: HostRecord, serving_waits: list[tuple[datetime, datetime]] | None = None) -> dict[str, Any]:
    """The host's phases, in deploy_budget.host_phases' names. `serving_waits`: (start, end) of the serving
    pods' `wait-for-compiled-artifacts` (the cluster's side): the first that ends after the marker was written
    measures the import lag."""
    lease, failed = rec.bodies.get(LEASE_FILE), rec.bodies.get(FAILED_FILE)
    modified = {o["Key"].removeprefix(rec.prefix): o["LastModified"] for o in rec.objects}
    complete = modified.get(COMPLETE_MARKER)
    instance = _run_instance(rec)
    by_time = sorted(rec.activities, key=lambda a: a["StartTime"])
    launches = _launches(rec)
    mine = next((a for a in launches if instance and a["Description"].endswith(f": {instance}")), None)
    # The run's attempts: its successful launch and the failed ones since the previous termination.
    ended = [a["StartTime"] for a in by_time if TERMINATING.match(a.get("Description") or "")]
    since = max((t for t in ended if mine and t < mine["StartTime"]), default=None)
    attempts = [
        a
        for a in launches
        if (since is None or a["StartTime"] > since) and (not mine or a["StartTime"] <= mine["StartTime"])
    ]
    first = attempts[0]["StartTime"] if attempts else None
    started = _epoch(lease.get("startedAt")) if lease else None
    ec2 = next((i for i in rec.instances if i["InstanceId"] == instance), None)
    gone = next((a for a in by_time if instance and a["Description"] == f"Terminating EC2 instance: {instance}"), None)
    artifacts = [t for k, t in modified.items() if k and k not in (LEASE_FILE, COMPLETE_MARKER, FAILED_FILE)]
    upload_start = min(artifacts) if artifacts else None
    succeeded = bool(complete and lease and not failed)
    phases: dict[str, float | None] = {"instance launch": seconds_between(first, started)}
    phases["instance launch: instance running"] = seconds_between(first, ec2["LaunchTime"] if ec2 else None)
    upload_end = complete - timedelta(seconds=IMPORT_SETTLE_S) if complete else None
    if succeeded:
        phases[SPAN] = seconds_between(started, upload_start)
        phases["upload"] = seconds_between(upload_start, upload_end)
        # A pod already waiting when the marker was written sees it once imported (plus its wait's poll).
        waits = sorted(end for start, end in serving_waits or [] if start <= complete < end)
        if waits:
            phases["import lag"] = seconds_between(upload_end, waits[0])
        phases["lease to marker"] = seconds_between(started, complete)
    elif failed:
        phases["lease to failure"] = seconds_between(started, _epoch(failed.get("at")))
    last = ("failure", _epoch(failed.get("at"))) if failed else ("marker", complete)
    phases[f"{last[0]} to termination"] = seconds_between(last[1], gone.get("EndTime") if gone else None)
    return {
        "group": rec.group,
        "artifactsPrefix": rec.prefix,
        "instanceId": instance,
        "succeeded": succeeded,
        "outcome": _outcome(lease, failed, complete),
        "failure": failed.get("reason") if failed else None,
        "failedLaunchAttempts": sum(a["StatusCode"] == "Failed" for a in attempts),
        "createdTime": rec.groups[0]["CreatedTime"].isoformat() if rec.groups else None,
        "phases": phases,
        # What the instance was billed for: running to terminated.
        "instanceSeconds": seconds_between(ec2["LaunchTime"] if ec2 else None, gone.get("EndTime") if gone else None),
    }


def _outcome(lease: dict | None, failed: dict | None, complete: datetime | None) -> str:
    if failed:
        return f"FAILED: {failed.get('reason')}"
    if complete and lease:
        return "compiled"
    if complete:  # the host found the marker and wrote no lease, or the compile Job compiled (and removed it)
        return "no lease beside the marker: not compiled by the host"
    return "no marker yet" if lease else "no lease: the host has not started"


def budget_input(hosts: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The figures `render --measured` takes (deploy_budget.host_phases): the slowest successful run's phases,
    else a failed run's launch (a launch is a launch)."""
    done = [h for h in hosts if h["succeeded"] and h["phases"].get("lease to marker") is not None]
    runs = [max(done, key=lambda h: h["phases"]["lease to marker"])] if done else hosts
    run = next((h for h in runs if h["phases"].get("instance launch") is not None), None)
    if run is None:
        return None
    names = ("instance launch", SPAN, "upload", "import lag") if run["succeeded"] else ("instance launch",)
    given = {n: run["phases"][n] for n in names if run["phases"].get(n) is not None}
    return {**given, "fromGroup": run["group"]}


def discover(out_dir: Path, stack: str) -> list[tuple[str, str]]:
    """(group, artifact prefix) of each compile host the render of `stack` has: the group's name and artifact key
    (its tag) from resources.json, the model's artifact prefix (bucket prefix included) from outputs.json."""
    resources = json.loads((out_dir / stack / "resources.json").read_text())
    outputs = json.loads((out_dir / stack / "outputs.json").read_text())
    prefixes = [m["compiledArtifacts"] for m in (outputs.get("modelObjects") or {}).values()]
    found = []
    for r in resources:
        tags = {t.get("key"): t.get("value") for t in r["inputs"].get("tags") or []} if r["type"] == HOST_GROUP else {}
        key = tags.get(ARTIFACTS_KEY_TAG)
        prefix = next((p for p in prefixes if key and p.endswith(f"{CACHE_DIR}/{key}/")), None)
        if prefix:
            found.append((r["inputs"]["name"], prefix))
    return found
