"""The Hugging Face token reaches the model-load Job as a read-only file, never as an environment variable
(checkov CKV_K8S_35): a pod's environment shows in `kubectl describe`-style tooling, crash dumps and child
processes. Checked on the team variant (`dev_team`, one of the assurance tier's STACK_VARIANTS: its first
model comes from Hugging Face with the token, its second from S3)."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml
from conftest import Plan, plan_for
from team_stacks import HF_TOKEN, HF_TOKEN_STACK, QWEN_SUFFIX

from inferentia_chat.model_layout import WORKLOAD_UID
from inferentia_chat.model_store.model_loader import TOKEN_DIR, TOKEN_FILE
from offline.diff import diff_runs
from offline.engine import SECRET
from offline.render import kubernetes_objects

JOB = "kubernetes:batch/v1:Job"


def pods(plan: Plan) -> list[tuple[str, dict[str, Any]]]:
    """(kind/name, pod spec) of every pod template in the render."""
    out = []
    for o in kubernetes_objects(plan.result):
        spec = o.get("spec", {})
        template = spec.get("template") or spec.get("jobTemplate", {}).get("spec", {}).get("template")
        if template and "containers" in template.get("spec", {}):  # not a NodePool's node template
            out.append((f"{o['kind']}/{o['metadata']['name']}", template["spec"]))
    return out


def load_pod(plan: Plan, name: str = "model-load") -> dict[str, Any]:
    (job,) = plan.k8s("Job", name)
    return job["spec"]["template"]["spec"]


def test_the_load_job_reads_the_token_from_a_read_only_file(dev_team: Plan):
    pod = load_pod(dev_team)
    (volume,) = [v for v in pod["volumes"] if "secret" in v]
    assert volume["secret"] == {
        "secretName": "hf-token",
        "items": [{"key": "HF_TOKEN", "path": TOKEN_FILE}],
        "defaultMode": 0o440,  # root and the pod's fsGroup read it; nobody writes it
    }
    # The pod's fsGroup is the group the containers run as: the non-root fetch can read the file.
    context = pod["securityContext"]
    assert context["fsGroup"] == context["runAsGroup"] == context["runAsUser"] == WORKLOAD_UID
    (fetch,) = pod["containers"]
    mounts = [m for m in fetch["volumeMounts"] if m["name"] == volume["name"]]
    assert mounts == [{"name": volume["name"], "mountPath": TOKEN_DIR, "readOnly": True}]
    command = fetch["command"]
    assert command[command.index("--token-file") + 1] == f"{TOKEN_DIR}/{TOKEN_FILE}"
    # Only the fetch sees it: the init container installing the packages does not mount it.
    for init in pod["initContainers"]:
        assert volume["name"] not in {m["name"] for m in init["volumeMounts"]}, init["name"]
    # The Secret keeps its name and key; its value is a Pulumi secret, and the Job waits for it.
    (secret,) = dev_team.k8s("Secret", "hf-token")
    assert secret["stringData"] == {"HF_TOKEN": SECRET}
    rec = dev_team.one("kubernetes:core/v1:Secret", "model-store-hf-token")
    assert dev_team.depends(dev_team.one(JOB, "model-store-load"), rec)


def test_no_pod_takes_the_token_from_its_environment(dev_team: Plan):
    checked = 0
    for where, pod in pods(dev_team):
        for c in [*pod.get("initContainers", []), *pod["containers"]]:
            for e in c.get("env", []):
                checked += 1
                ref = e.get("valueFrom", {}).get("secretKeyRef", {})
                assert e["name"] not in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"), (where, c["name"])
                assert not ref.get("name", "").startswith("hf-token"), (where, c["name"], e)
            assert not [s for s in c.get("envFrom", []) if "hf-token" in json.dumps(s)], (where, c["name"])
    assert checked > 50  # the walk really read the render's environments
    # The value never reaches the render nor any resource's inputs.
    assert HF_TOKEN not in yaml.safe_dump_all(kubernetes_objects(dev_team.result))
    assert HF_TOKEN not in json.dumps([r.inputs for r in dev_team.resources])


def test_a_model_from_s3_gets_no_token(dev_team: Plan):
    pod = load_pod(dev_team, f"model-load-{QWEN_SUFFIX}")
    assert "--token-file" not in pod["containers"][0]["command"]
    assert not [v for v in pod["volumes"] if "secret" in v]
    assert not dev_team.k8s("Secret", f"hf-token-{QWEN_SUFFIX}")


@pytest.fixture(scope="module")
def tokens() -> tuple[Plan, Plan, Plan]:
    """dev without a token, with one, and with another value."""
    return plan_for(), plan_for(**HF_TOKEN_STACK), plan_for(**{"inferentia-chat:hfToken": {"secure": "hf_rotated"}})


def test_setting_the_token_replaces_the_load_job_and_a_new_value_leaves_it(tokens: tuple[Plan, Plan, Plan]):
    """docs/day-2.md `hfToken`. A Job's pod template is immutable: pulumi-kubernetes replaces a Job whose
    `spec.template` changes (offline/data/replace_rules.yaml), deleting it first as its name stays. Setting
    the token adds the volume, the mount and `--token-file`, so the load Job is replaced (its re-run is a
    no-op once the model is complete). A new value changes only the Secrets' data (replaced:
    test_day2_diff.py::test_a_secret_data_change_replaces_the_secret): the Job's template names the Secret,
    not the value, so the Job stays."""
    none, token, rotated = tokens

    def acting(before: Plan, after: Plan) -> dict[str, str]:
        entries = diff_runs(before.result, after.result)
        return {e["urn"].rsplit("::", 1)[-1]: e["action"] for e in entries if e["action"] != "same"}

    setting = acting(none, token)
    assert setting["model-store-load"] == "replace"
    assert setting["model-store-hf-token"] == setting["compile-host-hf-token"] == "create"
    assert {n for n, a in setting.items() if a in ("replace", "delete")} == {"model-store-load"}
    assert acting(token, none)["model-store-hf-token"] == "delete"
    assert acting(token, rotated) == {}  # the values are secrets: no input the offline diff sees changes
    assert load_pod(token) == load_pod(rotated)
