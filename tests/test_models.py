"""Several models in one stack (`inferentia-chat:models`), read from the plan the way a reviewer would."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest import Plan, plan_for
from team_stacks import MISTRAL, MODELS, QWEN, QWEN_SUFFIX, TWO_MODELS

from inferentia_chat import versions
from inferentia_chat.model_names import model_resource_name, model_suffix
from inferentia_chat.vllm import compiled_artifacts_key
from offline.render import run_stack
from stacks.config import ConfigError, parse_config
from stacks.dr import model_check_commands


@pytest.fixture(scope="module")
def two() -> Plan:
    return plan_for("dev", **TWO_MODELS)


def env_of(container: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container.get("env", [])}


def webui_container(plan: Plan) -> dict[str, Any]:
    (d,) = [o for o in plan.k8s("Deployment", "open-webui")]
    (c,) = d["spec"]["template"]["spec"]["containers"]
    return c


# --- names ------------------------------------------------------------------------------------------


def test_further_models_get_dns_label_suffixes_and_the_first_keeps_its_name():
    assert model_resource_name("vllm", "anything", 0) == "vllm"
    assert model_suffix("codestral") == "codestral"
    assert QWEN_SUFFIX.startswith("qwen2-5-7b-instruct-") and len(QWEN_SUFFIX) <= 30
    # Distinct served names that would flatten to the same stem stay distinct.
    assert model_suffix("a.b") != model_suffix("a_b")
    long = model_suffix("x" * 64)
    assert len(f"vllm-{long}-compile-0123456789") <= 63


# --- what two models render -------------------------------------------------------------------------


def test_two_models_render_two_servers_each_with_its_own_objects(two: Plan):
    deployments = {d["metadata"]["name"]: d for d in two.k8s("Deployment") if d["metadata"]["namespace"] == "inference"}
    second = f"vllm-{QWEN_SUFFIX}"
    assert set(deployments) == {"vllm", second}
    args = {n: d["spec"]["template"]["spec"]["containers"][0]["args"] for n, d in deployments.items()}
    assert args["vllm"][args["vllm"].index("--served-model-name") + 1] == "mistral-7b-instruct"
    assert args[second][args[second].index("--served-model-name") + 1] == "qwen2.5-7b-instruct"
    assert args[second][args[second].index("--model") + 1] == "/models/qwen2.5-7b-instruct"
    for kind in ("Service", "PodDisruptionBudget", "NetworkPolicy"):
        names = {o["metadata"]["name"] for o in two.k8s(kind) if o["metadata"].get("namespace") == "inference"}
        assert {"vllm", second} <= names, kind
    secrets = {o["metadata"]["name"] for o in two.k8s("Secret") if o["metadata"].get("namespace") == "inference"}
    assert {"vllm-api-key", f"{second}-api-key"} <= secrets
    # Each server has its own generated key.
    assert two.one("random:index/randomPassword:RandomPassword", "vllm-api-key")
    assert two.one("random:index/randomPassword:RandomPassword", f"{second}-api-key")


def test_each_model_compiles_under_its_own_key(two: Plan):
    jobs = {j["metadata"]["name"]: j for j in two.k8s("Job") if "-compile-" in j["metadata"]["name"]}
    assert len(jobs) == 2
    keys = {env_of(j["spec"]["template"]["spec"]["containers"][0])["NEURON_COMPILED_ARTIFACTS"] for j in jobs.values()}
    sdk = versions.NEURON_SDK_VERSION
    assert keys == {
        "/neuron-cache/" + compiled_artifacts_key(MISTRAL["id"], versions.MODEL_REVISION, sdk, 2, 8192, 4),
        "/neuron-cache/" + compiled_artifacts_key(QWEN["id"], QWEN["revision"], sdk, 2, 4096, 8),
    }


def test_the_load_job_fetches_each_model_once(two: Plan):
    loads = {j["metadata"]["name"]: j for j in two.k8s("Job") if j["metadata"]["name"].startswith("model-load")}
    assert set(loads) == {"model-load", f"model-load-{QWEN_SUFFIX}"}
    commands = {n: j["spec"]["template"]["spec"]["containers"][0]["command"] for n, j in loads.items()}
    first, second = commands["model-load"], commands[f"model-load-{QWEN_SUFFIX}"]
    assert first[first.index("--model-id") + 1] == MISTRAL["id"]
    assert first[first.index("--dest") + 1] == "/fsx/models/mistral-7b-instruct"
    assert second[second.index("--source") + 1] == QWEN["source"]
    assert second[second.index("--dest") + 1] == "/fsx/models/qwen2.5-7b-instruct"
    preloads = {j["metadata"]["name"] for j in two.k8s("Job") if j["metadata"]["name"].startswith("model-preload")}
    assert preloads == {"model-preload", f"model-preload-{QWEN_SUFFIX}"}
    # Each loader is its own: the s3:// source is readable by the second model's loader only, through its
    # own service account's Pod Identity association.
    policy = two.one("aws:iam/rolePolicy:RolePolicy", f"model-store-{QWEN_SUFFIX}-loader-read-source")
    assert "arn:aws:s3:::corp-models" in policy.inputs["policy"]
    (association,) = [
        a
        for a in two.of_type("aws:eks/podIdentityAssociation:PodIdentityAssociation")
        if a.inputs["serviceAccount"].startswith("model-loader")
    ]
    assert association.inputs["serviceAccount"] == f"model-loader-{QWEN_SUFFIX}"
    second_load = loads[f"model-load-{QWEN_SUFFIX}"]["spec"]["template"]["spec"]
    assert second_load["serviceAccountName"] == f"model-loader-{QWEN_SUFFIX}"
    assert loads["model-load"]["spec"]["template"]["spec"]["serviceAccountName"] == "model-loader"


def test_each_server_waits_for_its_own_model(two: Plan):
    second = f"vllm-{QWEN_SUFFIX}"
    (d,) = [d for d in two.k8s("Deployment", second)]
    waits = d["spec"]["template"]["spec"]["initContainers"]
    text = str(waits)
    assert "qwen2.5-7b-instruct" in text and QWEN["source"] in text
    assert "Mistral" not in text


def test_open_webui_has_one_connection_and_one_key_per_model(two: Plan):
    c = webui_container(two)
    env = env_of(c)
    assert env["OPENAI_API_BASE_URLS"] == (
        f"http://vllm.inference.svc.cluster.local:8000/v1;http://vllm-{QWEN_SUFFIX}.inference.svc.cluster.local:8000/v1"
    )
    # The kubelet joins the keys ($(VAR) expansion of variables defined before), in connection order.
    names = [e["name"] for e in c["env"]]
    assert names.index("INFERENCE_API_KEY_0") < names.index("OPENAI_API_KEYS")
    assert names.index("INFERENCE_API_KEY_1") < names.index("OPENAI_API_KEYS")
    assert env["OPENAI_API_KEYS"] == "$(INFERENCE_API_KEY_0);$(INFERENCE_API_KEY_1)"
    refs = [env["INFERENCE_API_KEY_0"]["secretKeyRef"], env["INFERENCE_API_KEY_1"]["secretKeyRef"]]
    assert [r["name"] for r in refs] == ["open-webui-inference-key", f"open-webui-inference-key-{QWEN_SUFFIX}"]
    # Each copy is the key of its own server.
    first = two.one("kubernetes:core/v1:Secret", "webui-inference-key")
    second = two.one("kubernetes:core/v1:Secret", f"webui-inference-key-{QWEN_SUFFIX}")
    first_key = two.one("random:index/randomPassword:RandomPassword", "vllm-api-key")
    second_key = two.one("random:index/randomPassword:RandomPassword", f"vllm-{QWEN_SUFFIX}-api-key")
    assert two.depends(first, first_key) and not two.depends(first, second_key)
    assert two.depends(second, second_key) and not two.depends(second, first_key)
    # Admins cannot add or override connections from the panel: the environment is authoritative.
    assert env["ENABLE_PERSISTENT_CONFIG"] == "False" and env["ENABLE_DIRECT_CONNECTIONS"] == "False"


def test_open_webui_may_call_both_servers_and_each_server_admits_it(two: Plan):
    (policy,) = [p for p in two.k8s("NetworkPolicy", "open-webui")]
    peers = [e for e in policy["spec"]["egress"] if e.get("ports") == [{"protocol": "TCP", "port": 8000}]]
    (rule,) = peers
    instances = {p["podSelector"]["matchLabels"]["app.kubernetes.io/instance"] for p in rule["to"]}
    assert instances == {"vllm", f"vllm-{QWEN_SUFFIX}"}


def test_adding_a_model_renames_nothing(dev: Plan, two: Plan):
    assert {r.urn for r in dev.resources} - {r.urn for r in two.resources} == set()


def test_outputs_list_every_model(two: Plan):
    assert [m["servedModelName"] for m in two.outputs["models"]] == ["mistral-7b-instruct", "qwen2.5-7b-instruct"]
    assert set(two.outputs["modelObjects"]) == {"mistral-7b-instruct", "qwen2.5-7b-instruct"}
    assert two.outputs["modelObjects"]["qwen2.5-7b-instruct"]["model"] == "models/qwen2.5-7b-instruct/"


def test_the_dr_stack_checks_every_replicated_model(two: Plan):
    commands = model_check_commands("us-west-2", "replica", two.outputs["modelObjects"])
    assert set(commands) == {"mistral-7b-instruct", "qwen2.5-7b-instruct"}
    assert commands["qwen2.5-7b-instruct"][0].endswith("--key models/qwen2.5-7b-instruct/.model-complete.json")
    key = compiled_artifacts_key(QWEN["id"], QWEN["revision"], versions.NEURON_SDK_VERSION, 2, 4096, 8)
    assert commands["qwen2.5-7b-instruct"][1].endswith(f"--key neuron-cache/{key}/.complete")


def test_the_dr_render_lists_the_check_commands_of_the_primarys_models(tmp_path: Path, two: Plan):
    from offline.render import write_render

    write_render(two.result, tmp_path)
    dr = run_stack("dev-dr", out=tmp_path)
    assert set(dr.outputs["replicaModelsCheckCommands"]) == {"mistral-7b-instruct", "qwen2.5-7b-instruct"}


# --- bad lists ---------------------------------------------------------------------------------------


def problems_of(raw: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(raw, region="us-east-1", stack="dev")
    return info.value.problems


def test_model_and_models_together_are_refused():
    (problem,) = problems_of({"model": MISTRAL, "models": [MISTRAL]})
    assert problem.startswith("inferentia-chat:models = ") and "not both" in problem


def test_duplicate_served_names_are_refused_naming_both_entries():
    raw = {"models": [MISTRAL, {**QWEN, "servedName": "mistral-7b-instruct"}], "inferencePool": {"maxNeuronDevices": 7}}
    (problem,) = problems_of(raw)
    assert problem.startswith("inferentia-chat:models[1].servedName = 'mistral-7b-instruct': must be unique")
    assert "inferentia-chat:models[0]" in problem


def test_devices_over_budget_for_all_models_are_refused():
    (problem,) = problems_of({"models": [MISTRAL, QWEN], "inferencePool": {"maxNeuronDevices": 4}})
    assert problem.startswith("inferentia-chat:inferencePool.maxNeuronDevices = 4: must be at least 7")
    assert "models[0].autoscaling.maxReplicas" in problem and "models[1].replicas" in problem


def test_every_entry_is_checked_like_model_with_its_own_key():
    problems = problems_of({"models": [MISTRAL, {**QWEN, "tensorParallelSize": 3, "replcas": 1}]})
    assert any(p.startswith("inferentia-chat:models[1].tensorParallelSize = 3") for p in problems)
    assert any(p.startswith("inferentia-chat:models[1].replcas") and "did you mean 'replicas'" in p for p in problems)


def test_models_must_be_a_non_empty_list():
    for bad in ([], {"id": "a/b"}, [MISTRAL] * 9):
        (problem, *_) = problems_of({"models": bad})
        assert problem.startswith("inferentia-chat:models = ") and "list of 1 to 8" in problem


def test_the_one_model_shorthand_still_means_one_entry():
    cfg = parse_config({"model": MISTRAL}, region="us-east-1", stack="dev")
    assert cfg.models == (cfg.model,) and cfg.model.served_name == "mistral-7b-instruct"


def test_a_serving_standby_states_each_entrys_model_keys():
    raw = {
        "role": "dr",
        "dr": {"primaryStack": "o/inferentia-chat/dev", "primaryRegion": "eu-west-1", "standby": "serving"},
        "cluster": {"publicEndpoint": False},
        "inferencePool": {"instanceTypes": ["inf2.xlarge", "inf2.8xlarge"]},
        "models": [{k: v for k, v in MISTRAL.items() if k != "replicas"} | {"revision": "x"}, {"id": "Qwen/Q"}],
    }
    problems = problems_of(raw)
    assert any(p.startswith("inferentia-chat:models[1].servedName is required") for p in problems)
    assert not any(p.startswith("inferentia-chat:models[0]") for p in problems)


def test_a_one_entry_list_is_the_shorthand(dev: Plan):
    one = plan_for("dev", **{"inferentia-chat:model": None, MODELS: [MISTRAL]})
    assert {r.urn: r.inputs for r in one.resources} == {r.urn: r.inputs for r in dev.resources}


def test_the_cost_estimate_counts_every_model(dev: Plan, two: Plan):
    from offline.cost import cost
    from offline.render import stack_config

    def lines(plan: Plan) -> dict[str, dict]:
        report = cost(plan.result, stack_config(plan.result))
        return {line["item"]: line for line in report["lines"]}

    one, both = lines(dev), lines(two)
    nodes = next(k for k in both if k.startswith("inference nodes"))
    assert both[nodes]["quantityIdle"] == 2 * one[nodes]["quantityIdle"]  # one serving node per model, idle
    assert len([k for k in both if k.startswith("compile host (")]) == 2  # one compile per model, on its host


def test_a_serving_standby_builds_every_model_idle(tmp_path: Path, two: Plan):
    from conftest import SERVING_STANDBY

    from offline.render import write_render

    write_render(two.result, tmp_path)
    standby = {
        **SERVING_STANDBY,
        "inferentia-chat:model": None,
        MODELS: [
            {k: v for k, v in m.items() if k not in ("replicas", "autoscaling")}
            | {"revision": m.get("revision", versions.MODEL_REVISION)}
            for m in (MISTRAL, QWEN)
        ],
    }
    plan = Plan(run_stack("dev-dr", out=tmp_path, overrides=standby))
    deployments = {
        d["metadata"]["name"]: d["spec"]["replicas"]
        for d in plan.k8s("Deployment")
        if d["metadata"]["namespace"] == "inference"
    }
    assert deployments == {"vllm": 0, f"vllm-{QWEN_SUFFIX}": 0}  # until the failover
    # The models arrive by replication: nothing loads, preloads or compiles while no pod serves.
    assert not [j for j in plan.k8s("Job") if j["metadata"].get("namespace") == "inference"]


def test_the_deploy_budget_gates_each_server_on_its_own_jobs(two: Plan):
    from offline.deploy_budget import _gates

    gates = _gates({r.urn: r for r in two.resources})
    second = f"vllm-{QWEN_SUFFIX}"
    assert set(gates) == {"vllm", second}

    def name(urn: str) -> str:  # a Job's Kubernetes name, a compile host group's name
        inputs = two.by_urn[urn].inputs
        return (inputs.get("metadata") or {}).get("name") or inputs["name"]

    names = {g: {wait: name(urn) for wait, urn in w.items()} for g, w in gates.items()}
    assert names["vllm"]["wait-for-model"] == "model-load"
    assert names[second]["wait-for-model"] == f"model-load-{QWEN_SUFFIX}"
    # Each model's serving pods and compile Job wait for the marker of its own compile host (same key).
    host = "inferentia-chat-dev-compile-host-"
    assert names["vllm"]["wait-for-compiled-artifacts"] == names["vllm"]["compile-host"]
    assert names["vllm"]["compile-host"].startswith(host) and QWEN_SUFFIX not in names["vllm"]["compile-host"]
    assert names[second]["wait-for-compiled-artifacts"] == names[second]["compile-host"]
    assert names[second]["compile-host"].startswith(f"{host}{QWEN_SUFFIX}-")
