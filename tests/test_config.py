"""Stack configuration: secure defaults, and every bad value named before any resource exists."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from inferentia_chat import versions
from offline import engine
from offline.render import main as render_main
from offline.render import run_stack
from stacks.config import ConfigError, parse_config

ROOT = Path(__file__).resolve().parent.parent

CERT = "arn:aws:acm:us-east-1:123456789012:certificate/0b5f6c2e-6a3b-4e39-9d7a-1c2b3d4e5f60"
DR = {"primaryStack": "organization/inferentia-chat/dev", "primaryRegion": "us-east-1"}
# A DR stack in us-east-1 (problems_of's region) whose primary is elsewhere.
DR_OK = {**DR, "primaryRegion": "eu-west-1"}
SERVING_MODEL = {
    "id": versions.MODEL_ID,
    "revision": versions.MODEL_REVISION,
    "servedName": "mistral-7b-instruct",
    "tensorParallelSize": 2,
    "maxModelLen": 8192,
    "maxNumSeqs": 4,
}
SERVING = {
    "role": "dr",
    "dr": {**DR_OK, "standby": "serving"},
    "cluster": {"publicEndpoint": False},
    "inferencePool": {"instanceTypes": ["inf2.xlarge", "inf2.8xlarge"]},
    "model": SERVING_MODEL,
}


def problems_of(raw: dict[str, Any], region: str | None = "us-east-1", stack: str = "dev") -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(raw, region=region, stack=stack)
    return info.value.problems


def test_defaults_are_the_secure_production_choice():
    cfg = parse_config({}, region="us-east-1", stack="prod")
    assert cfg.role == "primary"
    assert cfg.network.nat_gateways == "one-per-az"
    assert cfg.network.az_count == 3
    assert cfg.cluster.public_endpoint is False and cfg.cluster.public_access_cidrs == ()
    assert cfg.cluster.kubernetes_version == versions.KUBERNETES_VERSION
    assert set(cfg.cluster.log_types) >= {"api", "audit", "authenticator"}
    assert cfg.cluster.name == "inferentia-chat-prod"
    assert cfg.inference_pool.capacity_types == ("on-demand",)
    assert cfg.model_store.deployment_type == "PERSISTENT_2"
    assert cfg.model_store.storage_capacity_gib == 1200 and cfg.model_store.throughput_per_tib == 500
    assert cfg.model.id == versions.MODEL_ID and cfg.model.revision == versions.MODEL_REVISION
    assert cfg.model.tensor_parallel_size == 2 and cfg.model.replicas == 1
    assert cfg.webui.exposure == "cluster" and cfg.webui.replicas == 1
    assert cfg.dr is None
    assert cfg.common_tags == {"project": "inferentia-chat", "stack": "prod"}


def test_shipped_stack_files_validate():
    for stack in ("dev", "dev-dr"):
        raw = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())["config"]
        values = {k.split(":", 1)[1]: v for k, v in raw.items() if k.startswith("inferentia-chat:")}
        cfg = parse_config(values, region=raw["aws:region"], stack=stack)
        assert cfg.stack == stack
    assert cfg.role == "dr" and cfg.dr is not None and cfg.dr.primary_region != cfg.region


# Each case: the raw `inferentia-chat:*` values, the key path the message must name, and a phrase
# from what is allowed.
BAD: list[tuple[str, dict[str, Any], str, str]] = [
    ("unknown top-level key", {"modle": {}}, "inferentia-chat:modle", "did you mean inferentia-chat:model"),
    ("unknown nested key", {"model": {"replcas": 2}}, "inferentia-chat:model.replcas", "did you mean 'replicas'"),
    ("section not an object", {"cluster": "big"}, "inferentia-chat:cluster", "must be an object"),
    (
        "wrong type: string for int",
        {"model": {"maxModelLen": "8k"}},
        "inferentia-chat:model.maxModelLen",
        "whole number",
    ),
    ("wrong type: bool for int", {"model": {"replicas": True}}, "inferentia-chat:model.replicas", "whole number"),
    ("wrong type: string for bool", {"cluster": {"publicEndpoint": "yes"}}, "cluster.publicEndpoint", "true or false"),
    ("wrong type: string for list", {"inferencePool": {"instanceTypes": "inf2.xlarge"}}, "instanceTypes", "a list"),
    ("bad role", {"role": "secondary"}, "inferentia-chat:role", "primary, dr"),
    ("out of range replicas", {"model": {"replicas": 65}}, "inferentia-chat:model.replicas", "between 0 and 64"),
    ("out of range maxNumSeqs", {"model": {"maxNumSeqs": 0}}, "model.maxNumSeqs", "between 1 and 256"),
    ("TP not an Inf2 degree", {"model": {"tensorParallelSize": 3}}, "model.tensorParallelSize", "1, 2, 4, 8, 24"),
    (
        "TP larger than every allowed instance's NeuronCores",
        {"model": {"tensorParallelSize": 8}},
        "inferentia-chat:model.tensorParallelSize",
        "needs 8 NeuronCores",
    ),
    (
        "TP that does not divide the attention heads",
        {"model": {"tensorParallelSize": 24}, "inferencePool": {"instanceTypes": ["inf2.48xlarge"]}},
        "model.tensorParallelSize",
        "divide the model's 32 attention heads",
    ),
    ("maxModelLen over the model context", {"model": {"maxModelLen": 65536}}, "model.maxModelLen", "32768"),
    ("unknown inf2 type", {"inferencePool": {"instanceTypes": ["inf2.2xlarge"]}}, "instanceTypes[0]", "inf2.xlarge"),
    ("empty capacity types", {"inferencePool": {"capacityTypes": []}}, "capacityTypes", "at least 1"),
    ("bad duration", {"inferencePool": {"consolidateAfter": "soon"}}, "consolidateAfter", "duration"),
    (
        "FSx capacity off the grid",
        {"modelStore": {"storageCapacityGiB": 3600}},
        "storageCapacityGiB",
        "multiple of 2400",
    ),
    ("FSx capacity too small", {"modelStore": {"storageCapacityGiB": 600}}, "storageCapacityGiB", "between 1200"),
    ("FSx throughput not a tier", {"modelStore": {"throughputPerTiB": 200}}, "throughputPerTiB", "125, 250, 500, 1000"),
    (
        "throughput given for SCRATCH_2",
        {"modelStore": {"deploymentType": "SCRATCH_2", "throughputPerTiB": 250}},
        "modelStore.throughputPerTiB",
        "PERSISTENT_2 only",
    ),
    ("bad deployment type", {"modelStore": {"deploymentType": "PERSISTENT_1"}}, "deploymentType", "SCRATCH_2"),
    (
        "public endpoint without CIDRs",
        {"cluster": {"publicEndpoint": True}},
        "inferentia-chat:cluster.publicAccessCidrs",
        "when publicEndpoint is true",
    ),
    (
        "public endpoint open to the world",
        {"cluster": {"publicEndpoint": True, "publicAccessCidrs": ["0.0.0.0/0"]}},
        "cluster.publicAccessCidrs[0]",
        "must not be 0.0.0.0/0",
    ),
    ("CIDRs without public endpoint", {"cluster": {"publicAccessCidrs": ["198.51.100.0/24"]}}, "publicAccessCidrs", ""),
    ("malformed CIDR", {"network": {"cidr": "10.0.0.1/16"}}, "inferentia-chat:network.cidr", "host bits zero"),
    ("VPC too small", {"network": {"cidr": "10.0.0.0/24"}}, "network.cidr", "/16 to /20"),
    ("AZ count too low", {"network": {"azCount": 1}}, "network.azCount", "between 2 and 6"),
    (
        "AZ of another region",
        {"network": {"availabilityZones": ["eu-west-1a", "eu-west-1b"]}},
        "availabilityZones[0]",
        "",
    ),
    (
        "subnets without VPC",
        {"network": {"privateSubnetIds": ["subnet-0123456789abcdef0"]}},
        "privateSubnetIds",
        "vpcId",
    ),
    (
        "BYO VPC with one subnet",
        {"network": {"vpcId": "vpc-0123456789abcdef0"}},
        "network.privateSubnetIds",
        "at least 2",
    ),
    ("BYO VPC with new-VPC keys", {"network": {"vpcId": "vpc-0123456789abcdef0", "cidr": "10.0.0.0/16"}}, "cidr", ""),
    ("bad VPC id", {"network": {"vpcId": "vpc-xyz"}}, "inferentia-chat:network.vpcId", "VPC id"),
    ("bad admin role ARN", {"cluster": {"adminRoleArns": ["arn:aws:iam::1:user/bob"]}}, "adminRoleArns[0]", "role ARN"),
    ("unsupported Kubernetes", {"cluster": {"kubernetesVersion": "1.29"}}, "cluster.kubernetesVersion", "1.36"),
    ("accelerator as system node", {"cluster": {"systemNodeType": "inf2.xlarge"}}, "systemNodeType", "general-purpose"),
    ("bad log type", {"cluster": {"logTypes": ["everything"]}}, "cluster.logTypes[0]", "api"),
    ("bad log retention", {"cluster": {"logRetentionDays": 100}}, "cluster.logRetentionDays", "CloudWatch retention"),
    ("model id not org/name", {"model": {"id": "mistral"}}, "inferentia-chat:model.id", "org/model"),
    ("model source not s3", {"model": {"source": "http://example.com/m"}}, "inferentia-chat:model.source", "s3://"),
    ("served name with capitals", {"model": {"servedName": "Mistral"}}, "model.servedName", "lowercase"),
    (
        "public ALB without certificate",
        {"webui": {"exposure": "public-alb", "allowedCidrs": ["198.51.100.0/24"]}},
        "webui.certificateArn",
        "HTTPS",
    ),
    (
        "public ALB without CIDR allowlist",
        {
            "webui": {
                "exposure": "public-alb",
                "certificateArn": CERT,
                "hostname": "chat.example.com",
            }
        },
        "webui.allowedCidrs",
        "allowlist",
    ),
    ("unknown exposure", {"webui": {"exposure": "nodeport"}}, "inferentia-chat:webui.exposure", "cluster"),
    (
        "several web UI replicas",
        {"webui": {"replicas": 2}},
        "inferentia-chat:webui.replicas",
        "must be 1: Open WebUI keeps its users and chats in SQLite",
    ),
    (
        "internal ALB without certificate",
        {"webui": {"exposure": "internal-alb", "hostname": "chat.internal.example.com"}},
        "inferentia-chat:webui.certificateArn",
        "internal-alb serves HTTPS only",
    ),
    (
        "ALB without hostname",
        {"webui": {"exposure": "internal-alb", "certificateArn": CERT}},
        "inferentia-chat:webui.hostname",
        "the DNS name users open",
    ),
    ("ALB settings on the cluster exposure", {"webui": {"hostname": "chat.example.com"}}, "webui.hostname", "only"),
    ("admin login not an email", {"webui": {"adminEmail": "admin"}}, "inferentia-chat:webui.adminEmail", "email"),
    ("dr section on a primary", {"dr": DR}, "inferentia-chat:dr", "only applies when role is dr"),
    ("DR without primary stack", {"role": "dr", "dr": {"primaryRegion": "us-west-2"}}, "dr.primaryStack", "required"),
    (
        "DR region equal to the primary region",
        {"role": "dr", "dr": DR},
        "inferentia-chat:dr.primaryRegion",
        "must differ",
    ),
    (
        "bad replica storage class",
        {"role": "dr", "dr": {**DR, "primaryRegion": "eu-west-1", "replicaStorageClass": "GLACIER"}},
        "dr.replicaStorageClass",
        "STANDARD",
    ),
    (
        "serving standby without saying how to reach the DR cluster",
        {**SERVING, "cluster": {}},
        "inferentia-chat:cluster.publicEndpoint is required",
        "true with publicAccessCidrs, or false to deploy from inside the DR VPC",
    ),
    (
        "serving standby without the DR region's inf2 sizes",
        {k: v for k, v in SERVING.items() if k != "inferencePool"},
        "inferentia-chat:inferencePool.instanceTypes is required",
        "inf2 sizes the DR region offers",
    ),
    (
        "serving standby without the primary's model settings",
        {**SERVING, "model": {"id": versions.MODEL_ID}},
        "inferentia-chat:model.revision is required",
        "the primary's value",
    ),
    (
        "network section in a DR stack without a standby platform",
        {"role": "dr", "dr": DR_OK, "network": {"cidr": "10.50.0.0/16"}},
        "inferentia-chat:network",
        "does not apply to a DR stack with dr.standby none (only with storage or serving)",
    ),
    (
        "cluster section in a storage standby",
        {"role": "dr", "dr": {**DR_OK, "standby": "storage"}, "cluster": {"publicEndpoint": False}},
        "inferentia-chat:cluster",
        "only with serving",
    ),
    (
        "model section in a storage standby",
        {"role": "dr", "dr": {**DR_OK, "standby": "storage"}, "model": SERVING_MODEL},
        "inferentia-chat:model",
        "dr.standby storage",
    ),
    (
        "overlapping replication prefixes",
        {"role": "dr", "dr": {**DR_OK, "prefixes": ["models/", "models/mistral/"]}},
        "inferentia-chat:dr.prefixes[1]",
        "overlaps 'models/'",
    ),
    (
        "a standby whose file system would miss the compiled artifacts",
        {"role": "dr", "dr": {**DR_OK, "standby": "storage", "prefixes": ["models/"]}},
        "inferentia-chat:dr.prefixes",
        "must cover neuron-cache/",
    ),
    ("bad standby level", {"role": "dr", "dr": {**DR_OK, "standby": "warm"}}, "dr.standby", "none, storage, serving"),
    ("bad alarm email", {"role": "dr", "dr": {**DR_OK, "alarmEmail": "oncall"}}, "dr.alarmEmail", "email address"),
    ("reserved tag key", {"tags": {"project": "x"}}, "inferentia-chat:tags.project", "set by the program"),
    (
        "multi-device pod sharing a node (needs the Neuron scheduler extension)",
        {"model": {"tensorParallelSize": 8}, "inferencePool": {"instanceTypes": ["inf2.xlarge", "inf2.24xlarge"]}},
        "inferentia-chat:model.tensorParallelSize",
        "inf2.24xlarge: 4 of its 6 Neuron devices: a multi-device pod must take them all",
    ),
    (
        "device ceiling below what the replicas need",
        {"model": {"replicas": 3}, "inferencePool": {"maxNeuronDevices": 2}},
        "inferentia-chat:inferencePool.maxNeuronDevices",
        "must be at least 5: 3 replica(s)",
    ),
    (
        "device ceiling below the only type that fits",
        {"inferencePool": {"instanceTypes": ["inf2.24xlarge"], "maxNeuronDevices": 4}},
        "inferentia-chat:inferencePool.maxNeuronDevices",
        "must be at least 6",
    ),
    (
        "bad termination grace period",
        {"inferencePool": {"terminationGracePeriod": "a while"}},
        "terminationGracePeriod",
        "duration",
    ),
    (
        "termination grace period Never",
        {"inferencePool": {"terminationGracePeriod": "Never"}},
        "terminationGracePeriod",
        "duration",
    ),
]


@pytest.mark.parametrize(("raw", "key", "allowed"), [c[1:] for c in BAD], ids=[c[0] for c in BAD])
def test_bad_configuration_is_named(raw: dict[str, Any], key: str, allowed: str):
    problems = problems_of(raw)
    matching = [p for p in problems if key in p]
    assert matching, f"no problem names {key}: {problems}"
    assert allowed in matching[0], matching[0]


def test_bad_cases_cover_the_required_kinds():
    assert len(BAD) >= 20


def test_message_names_key_value_and_what_is_allowed():
    (problem,) = problems_of({"model": {"tensorParallelSize": 3}})
    assert problem.startswith("inferentia-chat:model.tensorParallelSize = 3: must be one of 1, 2, 4, 8, 24")


def test_one_error_lists_every_problem():
    raw = {
        "modle": {},
        "model": {"tensorParallelSize": 4, "maxModelLen": "x"},  # TP 4: more NeuronCores than any allowed type
        "modelStore": {"storageCapacityGiB": 3000, "throughputPerTiB": 300},
        "cluster": {"publicEndpoint": True},
    }
    with pytest.raises(ConfigError) as info:
        parse_config(raw, region="us-east-1", stack="dev")
    message = str(info.value)
    assert message.startswith("invalid stack configuration (6 problems):")
    for key in (
        "inferentia-chat:modle",
        "model.tensorParallelSize",
        "model.maxModelLen",
        "modelStore.storageCapacityGiB",
        "modelStore.throughputPerTiB",
        "cluster.publicAccessCidrs",
    ):
        assert key in message


def test_region_is_required_and_checked():
    assert problems_of({}, region=None) == ["aws:region is required: the AWS region of this stack, e.g. us-east-1"]
    assert "aws:region" in problems_of({}, region="useast1")[0]


def test_tp_that_fits_a_larger_allowed_type_is_accepted():
    cfg = parse_config(
        {
            "model": {"tensorParallelSize": 1},
            "inferencePool": {"instanceTypes": ["inf2.24xlarge"], "maxNeuronDevices": 6},
        },
        region="us-east-1",
        stack="dev",
    )
    assert cfg.model.tensor_parallel_size == 1


def test_fsx_capacity_grid_accepts_1200_2400_and_multiples():
    for capacity in (1200, 2400, 4800, 9600):
        cfg = parse_config({"modelStore": {"storageCapacityGiB": capacity}}, region="us-east-1", stack="dev")
        assert cfg.model_store.storage_capacity_gib == capacity


def test_web_ui_defaults_to_port_forward_and_a_local_admin_login():
    webui = parse_config({}, region="us-east-1", stack="dev").webui
    assert (webui.exposure, webui.replicas, webui.storage_gib) == ("cluster", 1, 10)
    assert webui.admin_email == "admin@localhost"  # Open WebUI accepts name@localhost as a login


def test_alb_exposures_take_certificate_hostname_and_cidrs():
    internal = {"exposure": "internal-alb", "certificateArn": CERT, "hostname": "chat.corp.example.com"}
    cfg = parse_config({"webui": internal}, region="us-east-1", stack="dev").webui
    assert cfg.allowed_cidrs == ()  # optional inside the VPC: the component then allows the VPC block
    public = {**internal, "exposure": "public-alb", "allowedCidrs": ["198.51.100.0/24"], "adminEmail": "ops@corp.io"}
    cfg = parse_config({"webui": public}, region="us-east-1", stack="dev").webui
    assert (cfg.exposure, cfg.certificate_arn, cfg.hostname) == ("public-alb", CERT, "chat.corp.example.com")
    assert cfg.allowed_cidrs == ("198.51.100.0/24",) and cfg.admin_email == "ops@corp.io"


def test_public_alb_missing_certificate_hostname_and_cidrs_names_all_three():
    problems = problems_of({"webui": {"exposure": "public-alb"}})
    assert [p.split(" ", 1)[0] for p in problems] == [
        "inferentia-chat:webui.certificateArn",
        "inferentia-chat:webui.hostname",
        "inferentia-chat:webui.allowedCidrs",
    ]


def test_scratch_has_no_per_unit_throughput():
    cfg = parse_config({"modelStore": {"deploymentType": "SCRATCH_2"}}, region="us-east-1", stack="dev")
    assert cfg.model_store.throughput_per_tib is None


def test_invalid_config_fails_before_any_resource_is_registered():
    with pytest.raises(ConfigError, match=r"model\.tensorParallelSize"):
        run_stack("dev", overrides={"inferentia-chat:model": {"tensorParallelSize": 8}})
    registered = {r.type for r in engine.install().records}
    assert registered == {"pulumi:pulumi:Stack"}, registered  # the runtime's root stack, nothing of ours


def test_render_exits_non_zero_with_the_message(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    for name in ("Pulumi.yaml", "__main__.py"):
        (tmp_path / name).write_text((ROOT / name).read_text())
    (tmp_path / "Pulumi.bad.yaml").write_text(
        "config:\n  aws:region: us-east-1\n  inferentia-chat:modelStore:\n    throughputPerTiB: 300\n"
    )
    code = render_main(["render", "--stack", "bad", "--out", str(tmp_path / "build")], root=tmp_path)
    assert code == 2
    err = capsys.readouterr().err
    assert "inferentia-chat:modelStore.throughputPerTiB = 300" in err
    assert not (tmp_path / "build" / "bad").exists()


def test_hf_token_must_be_a_secret_and_its_value_is_never_shown():
    token = "hf_plaintext_value_in_the_stack_file"
    with pytest.raises(ConfigError) as info:
        parse_config({"hfToken": token}, region="us-east-1", stack="dev")
    (problem,) = info.value.problems
    assert problem.startswith("inferentia-chat:hfToken = [hidden]: must be a secret")
    assert "pulumi config set --secret inferentia-chat:hfToken" in problem
    assert token not in str(info.value)
    cfg = parse_config({"hfToken": token}, region="us-east-1", stack="dev", secret_keys={"hfToken"})
    assert cfg.hf_token is True  # load_config swaps in the secret Output
    assert parse_config({}, region="us-east-1", stack="dev").hf_token is None
    (empty,) = problems_of_secret({"hfToken": " "})
    assert "non-empty" in empty and "[secret]" in empty


def problems_of_secret(raw: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(raw, region="us-east-1", stack="dev", secret_keys={"hfToken"})
    return info.value.problems


def test_model_store_combinations_name_the_key():
    # Each invalid capacity/throughput/deployment-type combination fails naming the key.
    cases = [
        ({"deploymentType": "SCRATCH_2", "storageCapacityGiB": 3000}, "modelStore.storageCapacityGiB"),
        ({"deploymentType": "SCRATCH_2", "throughputPerTiB": 125}, "modelStore.throughputPerTiB"),
        ({"deploymentType": "PERSISTENT_2", "throughputPerTiB": 200}, "modelStore.throughputPerTiB"),
        ({"deploymentType": "PERSISTENT_1"}, "modelStore.deploymentType"),
        ({"storageCapacityGiB": 1000}, "modelStore.storageCapacityGiB"),
        ({"fileSystemPath": "models"}, "modelStore.fileSystemPath"),
        ({"bucketPrefix": "models"}, "modelStore.bucketPrefix"),
        ({"noncurrentVersionDays": 0}, "modelStore.noncurrentVersionDays"),
    ]
    for raw, key in cases:
        (problem,) = problems_of({"modelStore": raw})
        assert problem.startswith(f"inferentia-chat:{key} = "), problem


def test_dr_standby_levels_accept_the_sections_they_use():
    none = parse_config({"role": "dr", "dr": DR_OK, "tags": {"team": "ml"}}, region="us-east-1", stack="dev-dr")
    assert none.dr is not None and none.dr.standby == "none" and none.model.replicas == 0
    storage = parse_config(
        {
            "role": "dr",
            "dr": {**DR_OK, "standby": "storage", "prefixes": ["models/", "neuron-cache/"]},
            "network": {"natGateways": "single"},
            "modelStore": {"storageCapacityGiB": 2400},
        },
        region="us-east-1",
        stack="dev-dr",
    )
    assert storage.model_store.storage_capacity_gib == 2400
    serving = parse_config(SERVING, region="us-east-1", stack="dev-dr")
    assert serving.dr is not None and serving.dr.standby == "serving"
    assert serving.model.replicas == 0  # until the failover sets it


def test_a_dr_stack_refuses_the_hugging_face_token_without_showing_it():
    token = "hf_secret_value"
    with pytest.raises(ConfigError) as info:
        parse_config(
            {"role": "dr", "dr": DR_OK, "hfToken": token}, region="us-east-1", stack="dev-dr", secret_keys={"hfToken"}
        )
    (problem,) = info.value.problems
    assert problem.startswith("inferentia-chat:hfToken = [hidden]: does not apply to a DR stack")
    assert token not in str(info.value)
