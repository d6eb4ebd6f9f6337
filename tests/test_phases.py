"""`python -m offline phases`: measured start-up phases from what a cluster records, on recorded fixtures.

The fixtures (tests/fixtures/phases/) are the four lists the command reads, as the API returns them: core/v1
EventList and PodList, batch/v1 JobList, karpenter.sh/v1 NodeClaimList. One serving pod landed on a new
inf2.xlarge node (Karpenter launched it, the kubelet pulled the image, the pod waited for the model and the
compile Job), a second one later on the running node; the compile Job ran on its own node.
"""

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
from kubernetes import client

from offline import budget, phases
from offline.render import main as render_main

FIXTURES = Path(__file__).with_name("fixtures") / "phases"
FILES = {"events": "events.json", "pods": "pods.json", "jobs": "jobs.json", "nodeclaims": "nodeclaims.json"}
MODELS = {"events": "CoreV1EventList", "pods": "V1PodList", "jobs": "V1JobList"}
NEW, WARM = "vllm-6c9b7f8d54-x2lqv", "vllm-6c9b7f8d54-k8zrt"


def load(name: str) -> dict:
    return json.loads((FIXTURES / FILES[name]).read_text())


@pytest.fixture(scope="module")
def snap() -> phases.Snapshot:
    return phases.Snapshot(**{k: load(k) for k in FILES})


def _keys(node, path=""):
    """Every key path with a non-null value (the client drops nulls and unknown keys)."""
    if isinstance(node, dict):
        for k, v in node.items():
            if v is not None:
                yield f"{path}.{k}"
                yield from _keys(v, f"{path}.{k}")
    elif isinstance(node, list):
        for item in node:
            yield from _keys(item, f"{path}[]")


def _as_model(name: str):
    api = client.ApiClient()
    return api.deserialize(SimpleNamespace(data=json.dumps(load(name))), MODELS[name])


@pytest.mark.parametrize("name", sorted(MODELS))
def test_fixtures_use_exactly_the_api_field_names(name: str):
    # Through the official client's models and back: a misspelt or invented field would be dropped.
    back = client.ApiClient().sanitize_for_serialization(_as_model(name))
    assert set(_keys(load(name))) == set(_keys(back))


def test_nodeclaim_fixture_uses_the_nodeclaim_status_fields():
    # karpenter.sh_nodeclaims.yaml (aws/karpenter-provider-aws pkg/apis/crds): status has allocatable,
    # capacity, conditions (type, status, lastTransitionTime, reason, message, observedGeneration), imageID,
    # nodeName, providerID.
    for claim in load("nodeclaims")["items"]:
        assert claim["apiVersion"] == "karpenter.sh/v1" and claim["kind"] == "NodeClaim"
        assert set(claim["status"]) <= {"allocatable", "capacity", "conditions", "imageID", "nodeName", "providerID"}
        for c in claim["status"]["conditions"]:
            assert set(c) <= {"type", "status", "lastTransitionTime", "reason", "message", "observedGeneration"}
            assert {"type", "status", "lastTransitionTime"} <= set(c)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("1m52.33s", 112.33), ("59.813s", 59.813), ("450ms", 0.45), ("1h2m3s", 3723.0), ("1m35.804s", 95.804)],
)
def test_go_durations_as_the_kubelet_prints_them(text: str, seconds: float):
    assert phases.go_duration_seconds(text) == pytest.approx(seconds)


def test_a_malformed_duration_is_refused():
    with pytest.raises(ValueError, match="not a Go duration"):
        phases.go_duration_seconds("95 seconds")


def test_the_new_node_pod_is_measured_phase_by_phase(snap: phases.Snapshot):
    m = phases.measure(snap)
    (new,) = [p for p in m["pods"] if p["pod"] == NEW]
    assert new["newNode"] is True and new["nodeClaim"] == "inferentia-x7k2p"
    ph = new["phases"]
    # NodeClaim created 10:05:02, Launched 10:05:09, Registered 10:05:48, Initialized 10:06:30.
    assert (ph["node launch"], ph["node launch: launched"], ph["node launch: registered"]) == (88.0, 7.0, 46.0)
    # The kubelet's Pulled event: "in 1m35.804s ... Image size: 17251083722 bytes."
    assert ph["image pull"] == pytest.approx(95.804)
    assert new["image"]["bytes"] == 17251083722 and new["image"]["MBps"] == pytest.approx(180.1, abs=0.1)
    # Init containers: the model load (267 s) and the compilation (1424 s) were waited for in the cluster.
    assert ph["waiting: wait-for-model"] == 267.0 and ph["waiting: wait-for-compiled-artifacts"] == 1424.0
    # vllm started 10:36:27: 1797 s after the node was ready, less the pull and the waits.
    assert ph["pod start"] == pytest.approx(1797 - 95.804 - 267 - 1424, abs=0.1)
    assert ph["load to ready"] == 98.0  # started 10:36:27, Ready (startup probe passed) 10:38:05
    assert new["totalSeconds"] == 1985.0 and new["totalWithoutWaitsSeconds"] == 294.0
    assert new["restarts"] == 0


def test_the_running_node_pod_has_no_launch_and_no_pull(snap: phases.Snapshot):
    (warm,) = [p for p in phases.measure(snap)["pods"] if p["pod"] == WARM]
    assert warm["newNode"] is False and "node launch" not in warm["phases"]
    assert warm["phases"]["image pull"] == 0.0 and warm["image"] is None  # "already present on machine"
    assert warm["phases"]["load to ready"] == 81.0


def test_the_compile_job_is_its_compile_container_and_the_job_window(snap: phases.Snapshot):
    job = phases.measure(snap)["compileJob"]
    assert job["job"] == "vllm-compile-5d41402abc" and job["succeeded"] is True
    assert job["seconds"] == 1403.0  # compile container 10:12:45 -> 10:36:08
    assert job["jobSeconds"] == 1870.0  # status.startTime -> status.completionTime


def test_the_model_load_job_is_measured_start_to_completion(snap: phases.Snapshot):
    load = phases.measure(snap)["modelLoadJob"]
    assert load == {"job": "model-load", "seconds": 388.0, "succeeded": True}  # 10:06:10 -> 10:12:38


def test_budget_input_takes_the_new_node_pod_and_the_compilation(snap: phases.Snapshot):
    given = phases.measure(snap)["budgetInput"]
    assert given["model load"] == 388.0
    assert given["fromPod"] == NEW
    assert (given["node launch"], given["pod start"], given["load to ready"]) == (88.0, 10.2, 98.0)
    assert given["image pull"] == pytest.approx(95.804) and given["compile"] == 1403.0


def test_collect_reads_the_same_lists_through_the_official_client(monkeypatch, snap: phases.Snapshot):
    calls = []
    monkeypatch.setattr("kubernetes.config.load_kube_config", lambda **kw: calls.append(kw))
    monkeypatch.setattr(client.CoreV1Api, "list_namespaced_event", lambda self, ns: _as_model("events"))
    monkeypatch.setattr(client.CoreV1Api, "list_namespaced_pod", lambda self, ns, label_selector: _as_model("pods"))
    selector = "app.kubernetes.io/component in (neuron-compile,model-load)"  # both Jobs the command measures
    monkeypatch.setattr(
        client.BatchV1Api,
        "list_namespaced_job",
        lambda self, ns, label_selector: _as_model("jobs") if label_selector == selector else None,
    )
    monkeypatch.setattr(
        client.CustomObjectsApi,
        "list_cluster_custom_object",
        lambda self, group, version, plural: (
            load("nodeclaims") if (group, version, plural) == ("karpenter.sh", "v1", "nodeclaims") else None
        ),
    )
    live = phases.collect("/tmp/kubeconfig", "ctx", "inference")
    assert calls == [{"config_file": "/tmp/kubeconfig", "context": "ctx"}]
    assert phases.measure(live) == phases.measure(snap)


def test_the_report_puts_each_measurement_beside_the_budget(snap: phases.Snapshot, dev):
    from offline.render import stack_config

    text = phases.report(phases.measure(snap), budget.budget(dev.result, stack_config(dev.result)))
    assert f"pod {NEW} on ip-10-40-17-203.ec2.internal (new node)" in text
    node = next(line for line in text.splitlines() if line.strip().startswith("node launch "))
    assert node.split()[-2:] == ["88.0", "90"]  # measured beside NODE_LAUNCH
    assert "compilation (its compile container)" in text and "17.25GB" in text


def test_the_measured_json_replaces_the_estimates_in_the_render(snap: phases.Snapshot, tmp_path: Path):
    measured = tmp_path / "measured.json"
    measured.write_text(json.dumps(phases.measure(snap)))
    assert render_main(["render", "--stack", "dev", "--out", str(tmp_path), "--measured", str(measured)]) == 0
    report = json.loads((tmp_path / "dev" / "budget.json").read_text())
    assert report["measured"] is True
    new = {p["phase"]: p for p in report["replica"]["newNode"]["phases"]}
    assert list(new) == ["node launch", "image pull", "pod start", "load to ready"]
    assert all(p["kind"] == "measured" for p in new.values())
    assert report["replica"]["newNode"]["totalSeconds"] == pytest.approx(88 + 95.804 + 10.2 + 98, abs=0.1)
    # The measured image replaces the published one, and the break-even follows the measured rate.
    inputs = report["replica"]["inputs"]
    assert inputs["imageGB"]["kind"] == "measured" and inputs["imageGB"]["value"] == 17.25
    rate = inputs["imagePullMBps"]
    assert rate["kind"] == "measured" and rate["value"] == pytest.approx(17.25e3 / 95.804, abs=0.1)
    others = 88 + 10.2 + 98
    assert inputs["imageBreakEvenGB"]["value"] == pytest.approx((300 - others) * rate["value"] / 1000, abs=0.02)
    assert report["deploy"]["creationTimes"]["model-load Job"]["value"] == 388.0
    assert report["deploy"]["creationTimes"]["Neuron compilation"] == {
        "value": 1403.0,
        "kind": "measured",
        "source": f"{budget.MEASURED_SOURCE}: the compile Job",
    }


def test_the_phases_command_reads_lists_saved_with_kubectl(tmp_path, capsys):
    out = tmp_path / "m.json"
    assert render_main(["phases", "--from", str(FIXTURES), "--json", str(out), "--out", str(tmp_path)]) == 0
    assert json.loads(out.read_text())["budgetInput"]["compile"] == 1403.0
    assert f"pod {NEW}" in capsys.readouterr().out


def test_the_phases_command_prints_and_writes_json(monkeypatch, snap: phases.Snapshot, tmp_path, capsys):
    monkeypatch.setattr(phases, "collect", lambda kubeconfig, context, namespace: snap)
    out = tmp_path / "m.json"
    assert render_main(["phases", "--kubeconfig", "k", "--json", str(out), "--out", str(tmp_path)]) == 0
    assert json.loads(out.read_text())["budgetInput"]["node launch"] == 88.0
    assert "measured s" in capsys.readouterr().out
