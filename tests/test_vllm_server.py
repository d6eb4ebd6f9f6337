"""VllmNeuronServer: vLLM on the Inferentia pool, compiled once, reachable only by the chat front end."""

import json

import pytest
from conftest import Plan, plan_for

from inferentia_chat import hardware, versions
from inferentia_chat.vllm import (
    STARTUP_BUDGET_COMPILE_S,
    STARTUP_BUDGET_LOAD_S,
    compile_instance_type,
    compiled_artifacts_key,
    num_gpu_blocks,
)
from offline.render import run_stack
from stacks.config import ConfigError

MODEL = "inferentia-chat:model"
POOL = "inferentia-chat:inferencePool"
DEPLOY = "kubernetes:apps/v1:Deployment"
JOB = "kubernetes:batch/v1:Job"


def deployment(plan: Plan) -> dict:
    (d,) = plan.k8s("Deployment", "vllm")
    return d


def container(plan: Plan) -> dict:
    (c,) = deployment(plan)["spec"]["template"]["spec"]["containers"]
    return c


def arg(c: dict, flag: str) -> str:
    return c["args"][c["args"].index(flag) + 1]


def env(c: dict) -> dict:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in c["env"]}


def compile_job(plan: Plan) -> dict:
    (job,) = [j for j in plan.k8s("Job") if j["metadata"]["name"].startswith("vllm-compile-")]
    return job


# --- the command line --------------------------------------------------------------------------------


def test_serves_the_model_from_the_volume_with_the_configured_shape(dev: Plan):
    c = container(dev)
    assert c["image"] == versions.VLLM_NEURON_IMAGE
    assert c["command"] == ["python3", "-m", "vllm.entrypoints.openai.api_server"]
    assert arg(c, "--model") == "/models/mistral-7b-instruct"
    assert arg(c, "--served-model-name") == "mistral-7b-instruct"
    assert arg(c, "--tensor-parallel-size") == "2"
    assert arg(c, "--max-model-len") == "8192"
    assert arg(c, "--max-num-seqs") == "4"
    assert arg(c, "--port") == "8000" and arg(c, "--host") == "0.0.0.0"
    # Prefix caching on (block KV layout): block 32, and as many blocks as fit one chip's 32 GiB after the
    # 14.5 GB of weights and the 10% runtime reserve, at 4 MiB a block (32 layers x 8 KV heads x 128 x 2 x bf16
    # x 32 tokens): 3915, between the minimum (4 x 8192 / 32 = 1024) and 4x it.
    assert "--enable-prefix-caching" in c["args"] and "--no-enable-prefix-caching" not in c["args"]
    assert arg(c, "--block-size") == str(hardware.KV_BLOCK_SIZE) == "32"
    blocks = int(arg(c, "--num-gpu-blocks-override"))
    assert blocks == num_gpu_blocks(versions.MODEL_ID, 2, 8192, 4) == 3915
    facts = hardware.KNOWN_MODELS[versions.MODEL_ID]
    assert blocks * hardware.kv_block_bytes(facts, 2) + 14.5e9 <= (1 - hardware.DEVICE_MEMORY_RESERVE) * 32 * 2**30
    (job,) = [j for j in dev.k8s("Job") if j["metadata"]["name"].startswith("vllm-compile-")]
    script = job["spec"]["template"]["spec"]["containers"][0]["command"][-1]
    assert "--enable-prefix-caching" in script and "--num-gpu-blocks-override 3915" in script  # compiles the same
    assert json.loads(arg(c, "--additional-config")) == {"override_neuron_config": {"save_sharded_checkpoint": True}}


def test_never_runs_remote_code_and_never_reaches_the_hub(dev: Plan):
    c = container(dev)
    assert not any("trust-remote-code" in a for a in c["args"] + c["command"])
    assert env(c)["HF_HUB_OFFLINE"] == "1" and env(c)["TRANSFORMERS_OFFLINE"] == "1"


def test_the_api_key_comes_from_the_generated_secret(dev: Plan):
    c = container(dev)
    assert env(c)["VLLM_API_KEY"] == {"secretKeyRef": {"name": "vllm-api-key", "key": "api-key"}}
    assert not any(a.startswith("--api-key") for a in c["args"])
    (secret,) = dev.k8s("Secret", "vllm-api-key")
    assert secret["metadata"]["namespace"] == "inference"
    assert secret["stringData"] == {"api-key": "[secret]"}  # generated; never rendered
    password = dev.one("random:index/randomPassword:RandomPassword", "vllm-api-key")
    assert password.inputs["length"] >= 32 and password.inputs["special"] is False


# --- resources, probes, placement --------------------------------------------------------------------


def test_requests_derive_from_the_tensor_parallel_size(dev: Plan):
    resources = container(dev)["resources"]
    wanted = hardware.serving_pod_requests(2, versions.MODEL_ID)
    # Memory from the load peak: 3 GiB of runtime + one rank's shard (14.5 GB / 2), x 1.25, in 256 MiB steps.
    assert wanted.memory_mib == 12544 and wanted.memory_mib <= hardware.allocatable("inf2.xlarge").memory_mib
    assert resources["requests"] == {
        "aws.amazon.com/neuron": "1",  # 2 NeuronCores = 1 Inferentia2 device
        "cpu": f"{wanted.cpu_millis}m",
        "memory": f"{wanted.memory_mib}Mi",
    }
    assert resources["limits"] == {"aws.amazon.com/neuron": "1", "memory": f"{wanted.memory_mib}Mi"}


def test_shared_memory_is_a_memory_backed_volume(dev: Plan):
    pod = deployment(dev)["spec"]["template"]["spec"]
    (dshm,) = [v for v in pod["volumes"] if v["name"] == "dshm"]
    assert dshm["emptyDir"]["medium"] == "Memory"
    assert {"name": "dshm", "mountPath": "/dev/shm"} in container(dev)["volumeMounts"]


def test_probes_check_health_with_a_startup_budget_that_covers_loading(dev: Plan):
    c = container(dev)
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert c[probe]["httpGet"] == {"path": "/health", "port": "http"}
    startup = c["startupProbe"]
    assert startup["periodSeconds"] * startup["failureThreshold"] == STARTUP_BUDGET_LOAD_S
    no_job = container(plan_for(**{MODEL: {"compileJob": False}}))["startupProbe"]
    assert no_job["periodSeconds"] * no_job["failureThreshold"] == STARTUP_BUDGET_COMPILE_S  # may compile


def test_termination_is_graceful_and_rollouts_never_drop_below_the_replicas(dev: Plan):
    spec = deployment(dev)["spec"]
    assert spec["replicas"] == 1
    assert spec["strategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}
    pod = spec["template"]["spec"]
    assert pod["terminationGracePeriodSeconds"] >= 120
    assert container(dev)["lifecycle"]["preStop"]["sleep"]["seconds"] > 0


def test_runs_on_the_inference_pool_in_the_file_systems_zone(dev: Plan):
    pod = deployment(dev)["spec"]["template"]["spec"]
    zone = dev.outputs["servingAvailabilityZone"]
    assert pod["nodeSelector"] == {"inferentia-chat.io/pool": "inferentia", "topology.kubernetes.io/zone": zone}
    assert pod["tolerations"] == [{"key": "aws.amazon.com/neuron", "operator": "Exists", "effect": "NoSchedule"}]


def test_the_nodepool_admits_exactly_this_pod(dev: Plan):
    pod = deployment(dev)["spec"]["template"]["spec"]
    (pool,) = dev.k8s("NodePool", "inferentia")
    template = pool["spec"]["template"]
    # Every node label the pod selects is one the pool puts on its nodes or a requirement it satisfies.
    reqs = {r["key"]: r["values"] for r in template["spec"]["requirements"]}
    for key, value in pod["nodeSelector"].items():
        assert template["metadata"]["labels"].get(key) == value or value in reqs.get(key, []), key
    # The pod tolerates every taint of the pool.
    for taint in template["spec"]["taints"]:
        assert any(t["key"] == taint["key"] and t["effect"] == taint["effect"] for t in pod["tolerations"])
    # At least one allowed type hosts it after reservations.
    requests = hardware.serving_pod_requests(2, versions.MODEL_ID)
    hosts = [t for t in reqs["node.kubernetes.io/instance-type"] if hardware.fit(requests, t).pods >= 1]
    assert hosts == ["inf2.xlarge", "inf2.8xlarge"]


def test_restricted_security_context_with_documented_exceptions(dev: Plan):
    pod = deployment(dev)["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] == 1000
    assert pod["automountServiceAccountToken"] is False
    sc = container(dev)["securityContext"]
    assert sc["allowPrivilegeEscalation"] is False and sc["capabilities"] == {"drop": ["ALL"]}
    assert sc["seccompProfile"] == {"type": "RuntimeDefault"}
    assert sc["readOnlyRootFilesystem"] is False  # the one exception (see components/inferentia_chat/vllm/server.py)


# --- volumes and the compile-once cache ---------------------------------------------------------------


def test_weights_are_read_only_and_the_cache_is_writable(dev: Plan):
    mounts = {m["mountPath"]: m for m in container(dev)["volumeMounts"]}
    weights, cache = mounts["/models/mistral-7b-instruct"], mounts["/neuron-cache"]
    assert weights == {
        "name": "model",
        "mountPath": "/models/mistral-7b-instruct",
        "subPath": "models/mistral-7b-instruct",
        "readOnly": True,
    }
    assert cache["subPath"] == "neuron-cache" and not cache.get("readOnly")
    pod = deployment(dev)["spec"]["template"]["spec"]
    (volume,) = [v for v in pod["volumes"] if v["name"] == "model"]
    assert volume["persistentVolumeClaim"]["claimName"] == dev.outputs["modelPvcName"]


def test_compiled_artifacts_live_under_the_configuration_key(dev: Plan):
    key = compiled_artifacts_key(versions.MODEL_ID, versions.MODEL_REVISION, versions.NEURON_SDK_VERSION, 2, 8192, 4)
    assert env(container(dev))["NEURON_COMPILED_ARTIFACTS"] == f"/neuron-cache/{key}"
    assert env(compile_job(dev)["spec"]["template"]["spec"]["containers"][0])["NEURON_COMPILED_ARTIFACTS"] == (
        f"/neuron-cache/{key}"
    )
    assert dev.outputs["compiledArtifactsDir"] == f"neuron-cache/{key}"
    assert "neuron-sdk-2.31.1" in key and "tp2-len8192-seqs4" in key and versions.MODEL_REVISION[:12] in key
    # The KV layout the artifacts were compiled for: prefix caching, block size and number of blocks.
    assert key.endswith("-prefix-block32x3915")


def test_the_key_follows_every_shape_that_invalidates_artifacts():
    base = ("mistralai/Mistral-7B-Instruct-v0.3", "c170c708c41dac9275d15a8fff4eca08d52bab71", "2.31.1", 2, 8192, 4)
    key = compiled_artifacts_key(*base)
    assert compiled_artifacts_key(*base) == key  # same configuration, same key (every pod, every region)
    for i, other in ((3, 1), (4, 4096), (5, 8), (2, "2.32.0"), (1, "e0bc86c23ce5aae1db576c8cca6f06f1f73af2db")):
        changed = list(base)
        changed[i] = other
        assert compiled_artifacts_key(*changed) != key, f"field {i} must be part of the key"


def test_a_tensor_parallel_or_length_change_changes_the_rendered_key(dev: Plan):
    base = env(container(dev))["NEURON_COMPILED_ARTIFACTS"]
    longer = env(container(plan_for(**{MODEL: {"maxModelLen": 4096}})))["NEURON_COMPILED_ARTIFACTS"]
    single = env(container(plan_for(**{MODEL: {"tensorParallelSize": 1}})))["NEURON_COMPILED_ARTIFACTS"]
    assert len({base, longer, single}) == 3


def test_the_compile_job_runs_once_on_a_large_inf2_before_serving(dev: Plan):
    job = compile_job(dev)
    pod = job["spec"]["template"]["spec"]
    assert pod["nodeSelector"]["node.kubernetes.io/instance-type"] == "inf2.8xlarge"  # 128 GiB host memory
    assert pod["restartPolicy"] == "Never" and job["spec"]["backoffLimit"] <= 2
    assert job["spec"]["ttlSecondsAfterFinished"] > 0 and job["spec"]["activeDeadlineSeconds"] > 0
    (c,) = pod["containers"]
    script = c["command"][-1]
    assert '[ -f "$dir/.complete" ]' in script and "exit 0" in script  # present artifacts: nothing to do
    assert 'touch "$dir/.complete"' in script  # written only after vLLM became healthy
    assert int(c["resources"]["requests"]["memory"].removesuffix("Mi")) >= 64 * 1024
    assert "VLLM_API_KEY" not in env(c)  # nobody calls it: no key mounted
    # Ordering happens in the cluster: the Job waits for the load Job's marker (recording exactly this
    # model and revision), serving pods for the compile marker. Pulumi does not serialize them, so a new
    # inf2 node launches and pulls the image while the model loads (budget.json).
    (wait_model,) = pod["initContainers"]
    assert wait_model["name"] == "wait-for-model" and wait_model["image"] == versions.VLLM_NEURON_IMAGE
    want = json.loads(env(wait_model)["MODEL_REQUEST"])
    assert want == {"source": "huggingface", "id": versions.MODEL_ID, "revision": versions.MODEL_REVISION}
    assert wait_model["command"][-1] == "/models/mistral-7b-instruct/.model-complete.json"
    serving_pod = deployment(dev)["spec"]["template"]["spec"]
    assert [c["name"] for c in serving_pod["initContainers"]] == ["wait-for-model", "wait-for-compiled-artifacts"]
    assert serving_pod["initContainers"][1]["command"][-1] == env(c)["NEURON_COMPILED_ARTIFACTS"] + "/.complete"
    records = {r.name: r for r in dev.of_type(JOB)}
    serving = dev.one(DEPLOY, "vllm-deployment")
    assert not dev.depends(serving, records["vllm-compile"])
    assert not dev.depends(records["vllm-compile"], records["model-store-load"])
    assert dev.depends(serving, dev.one("kubernetes:karpenter.sh/v1:NodePool"))
    assert dev.depends(records["vllm-compile"], dev.one("kubernetes:karpenter.sh/v1:NodePool"))


def test_the_waited_for_request_is_what_the_load_job_records():
    from inferentia_chat.model_store.model_fetch import HuggingFaceSource, S3Source
    from inferentia_chat.model_store.model_files import expected_request

    assert HuggingFaceSource("a/b", "abc").request == expected_request("huggingface", "a/b", "abc")
    assert S3Source("s3://bucket/m/x", "us-east-1").request == expected_request("s3://bucket/m/x", "", "")
    plan = plan_for(**{MODEL: {"source": "s3://acme-models/mistral/v0.3/"}})
    (wait,) = [c for c in compile_job(plan)["spec"]["template"]["spec"]["initContainers"]]
    assert json.loads(env(wait)["MODEL_REQUEST"]) == {"source": "s3://acme-models/mistral/v0.3/"}


def test_without_the_compile_job_there_is_no_job_and_no_large_type_needed():
    plan = plan_for(**{MODEL: {"compileJob": False}, POOL: {"instanceTypes": ["inf2.xlarge"], "maxNeuronDevices": 2}})
    assert not [j for j in plan.k8s("Job") if j["metadata"]["name"].startswith("vllm-compile")]
    assert compile_instance_type(2, ["inf2.xlarge"]) is None


def test_a_compile_job_without_a_large_type_is_rejected():
    with pytest.raises(ConfigError, match=r"model\.compileJob = true: compiling needs an inf2 type with >= 64 GiB"):
        run_stack("dev", overrides={POOL: {"instanceTypes": ["inf2.xlarge"], "maxNeuronDevices": 2}})


def test_a_pod_no_allowed_type_can_host_is_rejected():
    with pytest.raises(ConfigError, match=r"model\.tensorParallelSize = 8: needs 8 NeuronCores"):
        run_stack("dev", overrides={MODEL: {"tensorParallelSize": 8}})


# --- service, disruption budget, network policy, outputs ---------------------------------------------------


def test_the_api_is_a_cluster_ip_service_on_8000(dev: Plan):
    (svc,) = dev.k8s("Service", "vllm")
    assert svc["spec"]["type"] == "ClusterIP"
    assert svc["spec"]["ports"] == [{"name": "http", "port": 8000, "targetPort": "http", "protocol": "TCP"}]
    assert svc["spec"]["selector"].items() <= deployment(dev)["spec"]["template"]["metadata"]["labels"].items()


def test_the_disruption_budget_never_blocks_a_drain(dev: Plan):
    (pdb,) = dev.k8s("PodDisruptionBudget", "vllm")
    assert pdb["spec"]["maxUnavailable"] == 1


def test_only_the_web_ui_may_call_the_api_and_the_pods_only_resolve_names(dev: Plan):
    (policy,) = dev.k8s("NetworkPolicy", "vllm")
    spec = policy["spec"]
    assert spec["policyTypes"] == ["Ingress", "Egress"]
    (rule,) = spec["ingress"]
    assert rule["ports"] == [{"protocol": "TCP", "port": 8000}]
    (source,) = rule["from"]
    assert source["namespaceSelector"] == {"matchLabels": {"kubernetes.io/metadata.name": "open-webui"}}
    (webui,) = [d for d in dev.k8s("Deployment") if d["metadata"]["name"] == "open-webui"]
    assert source["podSelector"]["matchLabels"] == webui["spec"]["selector"]["matchLabels"]  # exactly its pods
    (egress,) = spec["egress"]
    assert {p["port"] for p in egress["ports"]} == {53}
    template = deployment(dev)["spec"]["template"]
    assert spec["podSelector"]["matchLabels"].items() <= template["metadata"]["labels"].items()
    assert template["metadata"]["annotations"]["prometheus.io/path"] == "/metrics"


def test_outputs_give_the_in_cluster_openai_url_without_trailing_slash(dev: Plan):
    assert dev.outputs["openaiBaseUrl"] == "http://vllm.inference.svc.cluster.local:8000/v1"
    assert dev.outputs["servedModelName"] == "mistral-7b-instruct"
    assert dev.outputs["apiKeySecret"] == "inference/vllm-api-key"


def test_more_replicas_make_more_pods_within_the_pool_ceiling():
    plan = plan_for(**{MODEL: {"replicas": 3}, POOL: {"maxNeuronDevices": 5}})
    assert deployment(plan)["spec"]["replicas"] == 3
