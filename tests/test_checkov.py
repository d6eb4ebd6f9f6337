"""checkov (kubernetes framework) over every stack's kubernetes.yaml: no failed check but the waived."""

from __future__ import annotations

import fnmatch
import json
import os
import subprocess
from pathlib import Path

import pytest
import yaml
from assurance import waivers
from conftest import STACK_VARIANTS, Plan, plan_for

from offline.render import kubernetes_objects

ROOT = Path(__file__).resolve().parent.parent
CHECKOV = Path(os.environ.get("CHECKOV", ROOT / "venv-tools" / "bin" / "checkov"))


def checkov_failures(manifest: Path) -> list[tuple[str, str]]:
    """(check id, resource) of every failed check; fails the test if checkov is missing or breaks."""
    if not CHECKOV.exists():
        pytest.fail(f"checkov not found at {CHECKOV}: run `make test` (it installs requirements-tools.txt)")
    env = {**os.environ, "BC_SKIP_MAPPING": "TRUE", "CHECKOV_NO_OUTPUT_CODE_BLOCKS": "True"}  # offline
    proc = subprocess.run(
        [str(CHECKOV), "-f", str(manifest), "--framework", "kubernetes", "-o", "json", "--skip-download", "--quiet"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    report = json.loads(proc.stdout)
    reports = report if isinstance(report, list) else [report]
    failed = []
    for r in reports:
        if "results" not in r:  # nothing to check in this file (e.g. only a StorageClass)
            assert r.get("summary", r).get("parsing_errors", 0) == 0, r
            continue
        assert r["summary"]["parsing_errors"] == 0, r["summary"]
        failed += [(c["check_id"], c["resource"]) for c in r["results"]["failed_checks"]]
    return failed


def matches(waiver: dict[str, str], check: str, resource: str) -> bool:
    """A waiver names one resource, a glob of them (a Job whose name carries a hash), or `*` for a
    project-wide decision; its reason says why."""
    return waiver["check"] == check and fnmatch.fnmatchcase(resource, waiver["resource"])


def waived(check: str, resource: str) -> bool:
    return any(matches(w, check, resource) for w in waivers("checkov"))


@pytest.mark.parametrize("stack_fixture", STACK_VARIANTS)
def test_no_unwaived_checkov_failures(stack_fixture: str, request: pytest.FixtureRequest, tmp_path: Path):
    plan: Plan = request.getfixturevalue(stack_fixture)
    manifest = tmp_path / "kubernetes.yaml"
    manifest.write_text(yaml.safe_dump_all(kubernetes_objects(plan.result), sort_keys=False))
    failures = [f for f in checkov_failures(manifest) if not waived(*f)]
    assert not failures, failures


def test_checkov_catches_an_insecure_pod(tmp_path: Path):
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "bad", "namespace": "default"},
        "spec": {"containers": [{"name": "app", "image": "nginx:latest", "securityContext": {"privileged": True}}]},
    }
    manifest = tmp_path / "bad.yaml"
    manifest.write_text(yaml.safe_dump(pod))
    checks = {c for c, _ in checkov_failures(manifest)}
    assert {"CKV_K8S_16", "CKV_K8S_14"} <= checks  # privileged container; image tag latest


def test_every_checkov_waiver_is_still_needed(all_plans: list[Plan], tmp_path: Path):
    seen: set[tuple[str, str]] = set()
    for i, plan in enumerate(all_plans):
        manifest = tmp_path / f"k{i}.yaml"
        manifest.write_text(yaml.safe_dump_all(kubernetes_objects(plan.result), sort_keys=False))
        seen.update(checkov_failures(manifest))
    stale = [w for w in waivers("checkov") if not any(matches(w, c, r) for c, r in seen)]
    assert not stale, f"waivers that match nothing: {stale}"


def test_a_production_stack_pinned_by_digest_passes_the_digest_check(tmp_path: Path):
    from test_policies import DIGESTS, PRODUCTION

    plan = plan_for("dev", **PRODUCTION, **{"inferentia-chat:images": DIGESTS})
    manifest = tmp_path / "production.yaml"
    manifest.write_text(yaml.safe_dump_all(kubernetes_objects(plan.result), sort_keys=False))
    failures = checkov_failures(manifest)
    assert failures  # the check ran (the project-wide waivers still match)
    assert not [f for f in failures if f[0] == "CKV_K8S_43"], failures  # image pinned by digest
    assert not [f for f in failures if not waived(*f)], failures
