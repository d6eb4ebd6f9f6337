"""NeuronCompileHost: the compilation on an inf2 instance started with the network, handed to the cluster
through the model bucket; the in-cluster compile Job waits for it while its lease holds."""

from __future__ import annotations

import base64
import copy
import json
import os
import re
import shlex
import subprocess
import time
from pathlib import Path

import pytest
from conftest import NO_COMPILE_HOST, Plan, plan_for
from parliament import analyze_policy_string
from team_stacks import QWEN_SUFFIX, TWO_MODELS

from inferentia_chat import versions
from inferentia_chat.model_store.model_loader import SCRIPT_FILES, SCRIPT_SOURCE
from inferentia_chat.vllm.compile_host import (
    ARTIFACTS_KEY_TAG,
    HOST_SCRIPT,
    IMPORT_SETTLE_S,
    neuron_ami_parameter,
)
from inferentia_chat.vllm.compile_job import HOST_DEADLINE_S, JOB_DEADLINE_S
from inferentia_chat.vllm.pod_spec import COMPLETE_MARKER, FAILED_FILE, LEASE_FILE
from offline import budget, deploy_budget
from offline.render import stack_config
from stacks.config import ConfigError, parse_config

GROUP = "aws:autoscaling/group:Group"
HF_TOKEN = "hf_offline_read_token_for_the_test"
TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
OBJECT = "aws:s3/bucketObjectv2:BucketObjectv2"


def group(plan: Plan, name: str = "compile-host-group"):
    return plan.named(name)


def user_data(plan: Plan, name: str = "compile-host-launch-template") -> str:
    return base64.b64decode(plan.named(name).inputs["userData"]).decode()


def environment(plan: Plan, name: str = "compile-host-launch-template") -> dict[str, str | list[str]]:
    """The configuration the user data writes to /etc/compile-host.env, read back with bash."""
    text = user_data(plan, name).split("<<'EOF'\n", 1)[1].split("\nEOF\n", 1)[0]
    names = [line.split("=", 1)[0] for line in text.splitlines()]
    script = text + "\n" + "\n".join(f"declare -p {n}" for n in names)
    out = subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=True).stdout
    env: dict[str, str | list[str]] = {}
    for line in out.splitlines():
        name, _, value = line.split(" ", 2)[2].partition("=")
        if value.startswith("("):
            env[name] = re.findall(r'\[\d+\]="([^"]*)"', value)
        else:
            env[name] = json.loads(value) if value.startswith('"') else value
    return env


def job(plan: Plan, name: str = "vllm-compile") -> dict:
    return plan.named(name).inputs


def objects(plan: Plan, prefix: str = "compile-host-") -> dict[str, str]:
    """The bootstrap files in the host's bucket, by key."""
    return {
        r.inputs["key"].rsplit("/", 1)[1]: r.inputs["content"]
        for r in plan.of_type(OBJECT)
        if r.name.startswith(prefix)
        and r.inputs["key"].startswith("compile-host/")
        and (prefix != "compile-host-" or QWEN_SUFFIX not in r.name)
    }


# --- The same compilation as the compile Job ----------------------------------------------------------------


def test_the_host_compiles_exactly_what_the_compile_job_would(dev: Plan):
    spec = job(dev)["spec"]["template"]["spec"]
    (container,) = spec["containers"]
    artifacts = {e["name"]: e.get("value") for e in container["env"]}["NEURON_COMPILED_ARTIFACTS"]
    env = environment(dev)
    # The same key (hence directory), image and server arguments, on the compile Job's instance type.
    key = next(t["value"] for t in group(dev).inputs["tags"] if t["key"] == ARTIFACTS_KEY_TAG)
    assert artifacts == f"/neuron-cache/{key}" and env["ARTIFACT_KEY"] == key
    assert env["ARTIFACTS_PREFIX"] == f"neuron-cache/{key}/" == dev.outputs["compiledArtifactsObjectsPrefix"]
    assert env["IMAGE"] == container["image"]
    assert env["MODEL_DIR"] == next(m["mountPath"] for m in container["volumeMounts"] if m["name"] == "model")
    assert (
        dev.named("compile-host-launch-template").inputs["instanceType"]
        == spec["nodeSelector"]["node.kubernetes.io/instance-type"]
    )
    files = objects(dev)
    server = next(line for line in files["compile.sh"].splitlines() if "vllm.entrypoints" in line)
    assert server in container["command"][2]  # the Job's script runs the very same server command
    assert "--enable-prefix-caching" in shlex.split(server)
    # The host's copy has no lease wait (it holds the lease); the Job's has.
    assert LEASE_FILE not in files["compile.sh"] and LEASE_FILE in container["command"][2]


def test_the_host_downloads_the_model_with_the_loaders_own_files(dev: Plan):
    files = objects(dev)
    for name in SCRIPT_FILES:  # model_fetch.py, model_files.py and the hash-pinned wheels
        assert files[name] == SCRIPT_SOURCE.with_name(name).read_text()
    assert files["compile_host.sh"] == HOST_SCRIPT.read_text()
    env = environment(dev)
    load = dev.named("model-store-load").inputs["spec"]["template"]["spec"]
    assert env["LOADER_IMAGE"] == load["containers"][0]["image"]
    assert env["FETCH_ARGS"] == [
        "--source", "huggingface", "--model-id", versions.MODEL_ID, "--revision", versions.MODEL_REVISION
    ]  # fmt: skip
    script = HOST_SCRIPT.read_text()
    assert "--require-hashes" in script and "model_fetch.py fetch" in script


def test_the_host_boots_the_node_class_neuron_ami_release(dev: Plan):
    release = versions.INFERENCE_AMI_ALIAS.split("@")[1]
    (node_class,) = dev.k8s("EC2NodeClass", "inferentia")
    assert node_class["spec"]["amiSelectorTerms"] == [{"alias": f"al2023@{release}"}]
    # The parameter Karpenter resolves that alias through (al2023.go resolvePath), for the x86_64 neuron variant.
    assert neuron_ami_parameter("1.36") == (
        "/aws/service/eks/optimized-ami/1.36/amazon-linux-2023/x86_64/neuron/"
        f"amazon-eks-node-al2023-x86_64-neuron-1.36-{release}/image_id"
    )
    assert re.fullmatch(r"ami-[0-9a-f]{17}", dev.named("compile-host-launch-template").inputs["imageId"])


# --- Lifecycle: a group of one that ends itself --------------------------------------------------------------


def test_the_group_runs_one_instance_that_takes_the_group_to_zero(dev: Plan):
    g = group(dev)
    assert (g.inputs["minSize"], g.inputs["maxSize"], g.inputs["desiredCapacity"]) == (0, 1, 1)
    assert g.options["ignoreChanges"] == ["desiredCapacity"]  # Pulumi never puts the 1 back
    assert g.inputs["waitForCapacityTimeout"] == "0"  # nor waits for the half-hour instance
    assert set(g.inputs["vpcZoneIdentifiers"]) == set(dev.outputs["privateSubnetIds"])
    template = dev.named("compile-host-launch-template")
    version = str(template.outputs["latestVersion"])  # a string in the schema
    assert g.inputs["launchTemplate"] == {"id": template.outputs["id"], "version": version}
    assert template.inputs["instanceInitiatedShutdownBehavior"] == "terminate"
    env = environment(dev)
    assert env["GROUP"] == g.inputs["name"] and env["DEADLINE_S"] == str(HOST_DEADLINE_S)
    # The script ending the group on success, on any failure and at the watchdog's deadline, and at once when
    # the marker is already there, runs in bash with stubs: tests/test_compile_host_script.py.


def test_a_new_artifact_key_is_a_new_group_hence_a_new_compilation(dev: Plan):
    longer = plan_for(**{"inferentia-chat:model": {**NO_COMPILE_HOST["inferentia-chat:model"], "compileHost": True,
                                                     "maxNumSeqs": 2}})  # fmt: skip
    a, b = group(dev).inputs, group(longer).inputs
    assert a["name"] != b["name"] and a["name"].startswith("inferentia-chat-dev-compile-host-")
    key = next(t["value"] for t in b["tags"] if t["key"] == ARTIFACTS_KEY_TAG)
    assert "seqs2" in key
    import yaml

    rules = yaml.safe_load((Path(__file__).resolve().parent.parent / "offline/data/replace_rules.yaml").read_text())
    assert "name" in rules["aws"][GROUP]["forceNew"]  # the provider replaces a group whose name changes


def test_the_marker_is_written_last_after_the_import_settles():
    script = HOST_SCRIPT.read_text()
    upload = script.index('aws s3 cp "$local_dir/"')  # run for real: tests/test_compile_host_script.py
    assert "--exclude .complete" in script[upload : upload + 200]
    settle = script.index('sleep "$IMPORT_SETTLE_S"')
    marker = script.index('put "$ARTIFACTS_PREFIX.complete"')
    assert upload < settle < marker and IMPORT_SETTLE_S == 60
    # Files and directories carry the workload user's POSIX metadata (the file system imports it).
    assert "file-owner=1000,file-group=1000" in script


# --- Security -------------------------------------------------------------------------------------------------


def test_the_instance_is_locked_down(dev: Plan):
    t = dev.named("compile-host-launch-template").inputs
    assert t["metadataOptions"] == {"httpEndpoint": "enabled", "httpTokens": "required", "httpPutResponseHopLimit": 1}
    assert "keyName" not in t and "networkInterfaces" not in t  # no SSH key, no public address
    (root,) = t["blockDeviceMappings"]
    key = dev.named("compile-host-bootstrap-key")
    assert root["ebs"]["encrypted"] == "true" and root["ebs"]["volumeType"] == "gp3"
    assert root["ebs"]["kmsKeyId"] == key.outputs["arn"]
    sg = dev.named("compile-host-sg")
    rules = [r for r in dev.resources if sg.urn in r.dependencies and r.type.startswith("aws:vpc/securityGroup")]
    assert [(r.type.rsplit(":", 1)[1], r.inputs["fromPort"], r.inputs["toPort"]) for r in rules] == [
        ("SecurityGroupEgressRule", 443, 443)
    ]
    assert "ingress" not in sg.inputs and "egress" not in sg.inputs


def test_the_role_writes_one_artifact_directory_and_ends_only_its_own_group(dev: Plan):
    role = dev.named("compile-host-role")
    (inline,) = role.inputs["inlinePolicies"]
    statements = {s["Sid"]: s for s in json.loads(inline["policy"])["Statement"]}
    bucket = dev.outputs["modelBucketArn"]
    prefix = dev.outputs["compiledArtifactsObjectsPrefix"]
    write = statements["WriteTheArtifactDirectory"]
    assert write["Resource"][0] == f"{bucket}/{prefix}*"
    assert all(r.startswith(f"{bucket}/neuron-cache/") and r.endswith("/") for r in write["Resource"][1:])
    assert statements["EndItsOwnGroup"]["Action"] == "autoscaling:SetDesiredCapacity"
    assert statements["EndItsOwnGroup"]["Resource"].endswith(f":autoScalingGroupName/{group(dev).inputs['name']}")
    assert statements["UseTheModelKeyThroughS3"]["Resource"] == dev.outputs["modelKeyArn"]
    assert "ReadTheModelToken" not in statements  # dev has no token
    actions = {a for s in statements.values() for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}
    assert not any(a.startswith(("ec2:", "iam:")) or a.endswith("*") for a in actions)


def test_the_key_lets_auto_scaling_launch_with_the_encrypted_volume(dev: Plan):
    policy = json.loads(dev.named("compile-host-bootstrap-key").inputs["policy"])
    grants = {s["Sid"]: s for s in policy["Statement"]}
    role = "arn:aws:iam::123456789012:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling"
    for sid in ("AutoScalingUsesKeyForLaunchVolumes", "AutoScalingGrantsForLaunchVolumes"):
        assert grants[sid]["Condition"]["StringEquals"]["aws:PrincipalArn"] == role
    assert grants["AutoScalingGrantsForLaunchVolumes"]["Condition"]["Bool"] == {"kms:GrantIsForAWSResource": "true"}


@pytest.fixture(scope="module")
def gated() -> Plan:
    """A team's two models (the second from s3://) with a Hugging Face token (a secret)."""
    return plan_for(**TWO_MODELS, **{"inferentia-chat:hfToken": {"secure": HF_TOKEN}})


def test_the_token_reaches_the_host_through_secrets_manager_only(gated: Plan):
    dev_team = gated
    secret = dev_team.named("compile-host-hf-token")
    assert secret.type == "aws:secretsmanager/secret:Secret"
    assert dev_team.named("compile-host-hf-token-value").inputs["secretId"] == secret.outputs["id"]
    assert secret.inputs["kmsKeyId"] == dev_team.named("compile-host-bootstrap-key").outputs["arn"]
    (version,) = [r for r in dev_team.of_type("aws:secretsmanager/secretVersion:SecretVersion")]
    assert version.inputs["secretString"] in ("[secret]", {"value": "[secret]"})  # a Pulumi secret, never rendered
    everything = json.dumps([r.inputs for r in dev_team.resources])
    assert HF_TOKEN not in everything and HF_TOKEN not in user_data(dev_team)
    env = environment(dev_team)
    assert env["SECRET_ARN"] == secret.outputs["arn"]
    role = dev_team.named("compile-host-role")
    statements = {s["Sid"]: s for s in json.loads(role.inputs["inlinePolicies"][0]["policy"])["Statement"]}
    assert statements["ReadTheModelToken"]["Resource"] == secret.outputs["arn"]
    # Only this role among the stack's is granted the value (and the key's use through Secrets Manager).
    readers = [
        r.name
        for r in dev_team.of_type("aws:iam/role:Role")
        if "secretsmanager:GetSecretValue" in json.dumps(r.inputs.get("inlinePolicies") or [])
    ]
    assert readers == ["compile-host-role"]
    # The role's document passes parliament with its community auditors, like every policy of the variants.
    document = json.dumps(json.loads(role.inputs["inlinePolicies"][0]["policy"]))
    assert analyze_policy_string(document, include_community_auditors=True).findings == []
    # The second model comes from s3://: no token for it; its host reads the source like the load Job.
    assert not [r for r in dev_team.resources if r.name == f"compile-host-{QWEN_SUFFIX}-hf-token"]
    second = environment(dev_team, f"compile-host-{QWEN_SUFFIX}-launch-template")
    assert second["FETCH_ARGS"][:2] == ["--source", "s3://corp-models/qwen2.5-7b-instruct/"]
    policy = json.loads(dev_team.named(f"compile-host-{QWEN_SUFFIX}-role").inputs["inlinePolicies"][0]["policy"])
    assert "arn:aws:s3:::corp-models/qwen2.5-7b-instruct/*" in [s["Resource"] for s in policy["Statement"]]


# --- Configuration ----------------------------------------------------------------------------------------------


def test_on_by_default_where_the_compile_job_runs_and_never_on_a_dr_stack(dev: Plan, dev_dr: Plan, no_host: Plan):
    assert dev.of_type("inferentia-chat:index:NeuronCompileHost")
    assert not dev_dr.of_type("inferentia-chat:index:NeuronCompileHost")
    assert not no_host.of_type("inferentia-chat:index:NeuronCompileHost") and not no_host.of_type(GROUP)
    assert not plan_for(**{"inferentia-chat:model": {"compileJob": False}}).of_type(GROUP)  # serving pods compile


def test_a_host_without_the_compile_job_or_on_a_dr_stack_is_refused():
    with pytest.raises(ConfigError, match=r"model\.compileHost = true: needs compileJob: true"):
        parse_config({"model": {"compileJob": False, "compileHost": True}}, region="us-east-1", stack="dev")
    dr = {"role": "dr", "dr": {"primaryStack": "o/p/dev", "primaryRegion": "us-east-1"}}
    with pytest.raises(ConfigError, match=r"model\.compileHost = true: must be false on a DR stack"):
        parse_config({**dr, "model": {"compileHost": True}}, region="us-west-2", stack="dev-dr")


def test_each_model_of_a_team_gets_its_own_host(dev_team: Plan):
    keys = {
        next(t["value"] for t in g.inputs["tags"] if t["key"] == ARTIFACTS_KEY_TAG) for g in dev_team.of_type(GROUP)
    }
    jobs = [
        j for j in dev_team.k8s("Job") if j["metadata"]["labels"].get("app.kubernetes.io/component") == "neuron-compile"
    ]
    envs = [e for j in jobs for e in j["spec"]["template"]["spec"]["containers"][0]["env"]]
    dirs = {e["value"].removeprefix("/neuron-cache/") for e in envs if e["name"] == "NEURON_COMPILED_ARTIFACTS"}
    assert len(keys) == 2 and keys == dirs


# --- The in-cluster Job's lease wait, run for real in bash ---------------------------------------------------------


@pytest.fixture()
def job_script(dev: Plan) -> str:
    return job(dev)["spec"]["template"]["spec"]["containers"][0]["command"][2]


def run_job(script: str, directory: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """The Job's script with a fake `sleep` that lets time pass instantly (and, when told, makes the host's
    marker appear) and the server replaced by `true` (a vLLM that exits at once)."""
    bin_ = tmp_path / "bin"
    bin_.mkdir(exist_ok=True)
    (bin_ / "sleep").write_text(
        f'#!/bin/sh\n[ -f "{tmp_path}/host-finishes" ] && touch "{directory}/{COMPLETE_MARKER}"\n'
    )
    (bin_ / "sleep").chmod(0o755)
    server = next(line for line in script.splitlines() if "vllm.entrypoints" in line)
    env = {**os.environ, "PATH": f"{bin_}:{os.environ['PATH']}", "NEURON_COMPILED_ARTIFACTS": str(directory)}
    return subprocess.run(["bash", "-c", script.replace(server, "true &")], capture_output=True, text=True,
                          env=env, timeout=60)  # fmt: skip


def lease(directory: Path, deadline: float) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / LEASE_FILE).write_text(json.dumps({"instanceId": "i-0", "startedAt": 0, "deadline": int(deadline)}))


def test_the_job_waits_for_the_hosts_marker_while_the_lease_holds(job_script: str, tmp_path: Path):
    d = tmp_path / "cache" / "key"
    lease(d, time.time() + 3600)
    (tmp_path / "host-finishes").touch()
    done = run_job(job_script, d, tmp_path)
    assert done.returncode == 0 and "(compile host)" in done.stdout, done.stdout + done.stderr
    assert "holds the lease" in done.stdout and (d / LEASE_FILE).exists()  # it never compiled or cleaned up


def test_the_job_compiles_itself_when_the_lease_ended_or_the_host_failed(job_script: str, tmp_path: Path):
    stale = tmp_path / "stale"
    lease(stale, time.time() - 1)
    out = run_job(job_script, stale, tmp_path)
    # It went on to compile: the stub server exits, as a failed vLLM would, and the partial files are gone.
    assert "lease ended" in out.stdout and "vLLM exited before becoming healthy" in out.stdout
    assert out.returncode == 1 and json.loads((stale / LEASE_FILE).read_text())["owner"] == "job"
    # Its own lease (left by a first attempt) holds nothing back: the retry compiles at once.
    out = run_job(job_script, stale, tmp_path)
    assert "holds the lease" not in out.stdout and "vLLM exited before becoming healthy" in out.stdout
    failed = tmp_path / "failed"
    lease(failed, time.time() + 3600)
    (failed / FAILED_FILE).write_text("{}")
    out = run_job(job_script, failed, tmp_path)
    assert "holds the lease" not in out.stdout and "vLLM exited before becoming healthy" in out.stdout


def test_the_job_without_a_lease_or_with_the_marker_behaves_as_before(job_script: str, tmp_path: Path):
    done = tmp_path / "done"
    done.mkdir()
    (done / COMPLETE_MARKER).touch()
    out = run_job(job_script, done, tmp_path)
    assert out.returncode == 0 and "nothing to do" in out.stdout
    fresh = tmp_path / "fresh"
    out = run_job(job_script, fresh, tmp_path)
    assert "lease" not in out.stdout and "vLLM exited before becoming healthy" in out.stdout


def test_the_jobs_deadline_covers_the_model_the_host_and_its_own_compilation(dev: Plan):
    # The model wait (1 h), the host's lease at most (its watchdog, 2 h), then a compilation of its own (90 min).
    assert job(dev)["spec"]["activeDeadlineSeconds"] == JOB_DEADLINE_S == (60 + 120 + 90) * 60


# --- The budget: the host takes the compilation off the cluster's path ---------------------------------------------


@pytest.fixture(scope="module")
def no_host() -> Plan:
    return plan_for(**NO_COMPILE_HOST)


def test_the_first_deploy_meets_35_minutes_with_the_host_and_misses_without(dev: Plan, no_host: Plan):
    hosted = budget.budget(dev.result, stack_config(dev.result))["deploy"]
    plain = budget.budget(no_host.result, stack_config(no_host.result))["deploy"]
    assert hosted["meetsTarget"] is True and hosted["criticalPathSeconds"] <= 35 * 60
    assert plain["meetsTarget"] is False and plain["criticalPathSeconds"] > 35 * 60  # the mechanism tie
    (h,) = hosted["compileHosts"]
    assert [p["phase"] for p in h["phases"]] == [
        "instance launch", "image pull and model download", "compilation", "upload", "import lag"
    ]  # fmt: skip
    phases = {p["phase"]: p for p in h["phases"]}
    assert phases["compilation"]["kind"] == "published" and phases["compilation"]["seconds"] == 900
    # Pull (containerd's published rate) and download (the load Job's figure) run at once: the longer counts.
    pull = 17.5e3 / budget.CONTAINERD_PULL_MB_S.value
    assert phases["image pull and model download"]["seconds"] == pytest.approx(max(pull, 300), abs=0.1)
    assert all(p["kind"] in ("published", "estimate", "computed") and p["source"] for p in h["phases"])
    # The serving pods wait for the host's marker (their init container), not the in-cluster compilation.
    (serve,) = [s for s in hosted["criticalPath"] if s["name"] == "vllm-deployment"]
    assert "compile-host-group" in serve["waitsInCluster"]
    assert hosted["compile"]["waitsForCompileHost"] is True


def test_the_host_starts_as_soon_as_the_network_exists(dev: Plan):
    (h,) = budget.budget(dev.result, stack_config(dev.result))["deploy"]["compileHosts"]
    assert h["startsAsSoonAsItsInputsExist"] is True and h["slowDependencies"] == []
    assert h["startsAt"] - h["networkReadyAt"] < deploy_budget.SLOW_S  # only API calls in between
    assert h["markerAt"] == pytest.approx(h["startsAt"] + sum(p["seconds"] for p in h["phases"]))


def test_a_host_made_to_wait_for_the_cluster_is_delayed_and_flagged(dev: Plan):
    records = copy.deepcopy(dev.resources)
    g = next(r for r in records if r.type == GROUP)
    g.dependencies.append(next(r for r in records if r.type == "eks:index:Cluster").urn)
    replica = budget.replica_budget(stack_config(dev.result))
    worse = deploy_budget.deploy_budget(records, replica)
    (h,) = worse["compileHosts"]
    assert h["startsAsSoonAsItsInputsExist"] is False and "cluster-eks" in h["slowDependencies"]
    assert ("compile-host-group", "cluster-eks") in {(f["resource"], f["waitsFor"]) for f in worse["falseDependencies"]}
    assert worse["criticalPathSeconds"] > deploy_budget.deploy_budget(dev.resources, replica)["criticalPathSeconds"]


def test_with_cached_artifacts_the_host_only_finds_the_marker(dev: Plan):
    cached = budget.budget(dev.result, stack_config(dev.result))["deployWithCachedArtifacts"]
    (h,) = cached["compileHosts"]
    assert [p["phase"] for p in h["phases"]] == ["instance launch", "marker found"]
    assert cached["meetsTarget"] is True
