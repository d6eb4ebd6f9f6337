"""Every selector selects its own pods only: each Service, PodDisruptionBudget, NetworkPolicy and Deployment
selector of every rendered stack variant, crossed with the pod template labels of every workload (Deployments,
Jobs, DaemonSets) in its namespace. A selector that also matches another workload's pods is a defect: a PDB
counting pods it cannot evict blocks drains, a Service routes to pods that do not serve, a NetworkPolicy opens
or closes traffic for pods it was not written for. (Helm releases are not expanded by the render.)"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from conftest import STACK_VARIANTS, Plan

WORKLOAD_KINDS = ("Deployment", "Job", "DaemonSet", "StatefulSet")


@dataclass(frozen=True)
class Selector:
    kind: str
    name: str
    namespace: str
    match_labels: dict[str, str]
    match_expressions: tuple[dict[str, Any], ...]

    def matches(self, labels: dict[str, str]) -> bool:
        if any(labels.get(k) != v for k, v in self.match_labels.items()):
            return False
        for e in self.match_expressions:
            key, op, values = e["key"], e["operator"], e.get("values") or []
            if (op == "In" and labels.get(key) not in values) or (op == "NotIn" and labels.get(key) in values):
                return False
            if (op == "Exists" and key not in labels) or (op == "DoesNotExist" and key in labels):
                return False
        return True

    @property
    def selects_everything(self) -> bool:
        return not self.match_labels and not self.match_expressions


def workloads(plan: Plan) -> dict[tuple[str, str], dict[str, str]]:
    """(namespace, kind/name) -> pod template labels."""
    out = {}
    for kind in WORKLOAD_KINDS:
        for obj in plan.k8s(kind):
            meta = obj["metadata"]
            out[(meta.get("namespace", "default"), f"{kind}/{meta['name']}")] = obj["spec"]["template"]["metadata"][
                "labels"
            ]
    return out


def selectors(plan: Plan) -> list[Selector]:
    found = []
    for kind, path in (
        ("Service", ("spec", "selector")),
        ("PodDisruptionBudget", ("spec", "selector")),
        ("NetworkPolicy", ("spec", "podSelector")),
        ("Deployment", ("spec", "selector")),
    ):
        for obj in plan.k8s(kind):
            sel: Any = obj
            for part in path:
                sel = sel.get(part) or {}
            if kind == "Service":  # a plain map
                sel = {"matchLabels": sel}
            meta = obj["metadata"]
            found.append(
                Selector(
                    kind,
                    meta["name"],
                    meta.get("namespace", "default"),
                    dict(sel.get("matchLabels") or {}),
                    tuple(sel.get("matchExpressions") or ()),
                )
            )
    return found


@pytest.mark.parametrize("variant", STACK_VARIANTS)
def test_every_selector_matches_exactly_one_workload(variant: str, request: pytest.FixtureRequest):
    plan: Plan = request.getfixturevalue(variant)
    pods = workloads(plan)
    problems = []
    for sel in selectors(plan):
        if sel.selects_everything:
            assert sel.kind == "NetworkPolicy", f"{sel.kind} {sel.namespace}/{sel.name} selects every pod"
            continue  # a namespace-wide policy, on purpose
        hits = [w for (ns, w), labels in pods.items() if ns == sel.namespace and sel.matches(labels)]
        if len(hits) > 1:
            problems.append(f"{sel.kind} {sel.namespace}/{sel.name} selects {hits}")
        if sel.kind == "Deployment" and hits != [f"Deployment/{sel.name}"]:
            problems.append(f"Deployment {sel.namespace}/{sel.name} selector matches {hits}, not only its own pods")
    assert not problems, "\n".join(problems)


def test_the_serving_budget_and_service_leave_the_compile_job_alone(dev: Plan):
    """The case that was broken: the compile Job's pods (kept a week) carried the serving labels."""
    (job,) = [j for j in dev.k8s("Job") if j["metadata"]["name"].startswith("vllm-compile")]
    job_labels = job["spec"]["template"]["metadata"]["labels"]
    for sel in selectors(dev):
        if sel.name == "vllm" and sel.kind in ("Service", "PodDisruptionBudget", "NetworkPolicy"):
            assert not sel.matches(job_labels), sel
    # ...and the Job's pods have a default-deny policy of their own.
    own = [
        s for s in selectors(dev) if s.kind == "NetworkPolicy" and not s.selects_everything and s.matches(job_labels)
    ]
    assert [s.name for s in own] == ["vllm-compile"]
    (policy,) = dev.k8s("NetworkPolicy", "vllm-compile")
    assert policy["spec"]["ingress"] == [] and set(policy["spec"]["policyTypes"]) == {"Ingress", "Egress"}
