"""The limits behind the validation, checked against what the program really renders: the tag budget, the
region's zones, the KV cache arithmetic, the stack file's YAML reading and the config namespaces."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import plan_for

from inferentia_chat.hardware import KNOWN_MODELS, device_memory_gb, kv_cache_gb
from offline import cloud
from offline.render import kubernetes_objects
from stacks.config import ConfigError, parse_config, read_stack_yaml
from stacks.config.reader import key_problems
from stacks.config.rules import MAX_TAGS_PER_RESOURCE, PROGRAM_TAGS, REGIONS, public_cidr_problem, union_problem

# Tags Karpenter adds to the instances it launches beside the EC2NodeClass's (karpenter.sh/nodepool,
# karpenter.sh/nodeclaim, karpenter.k8s.aws/ec2nodeclass, kubernetes.io/cluster/<name>, eks:eks-cluster-name, Name).
KARPENTER_INSTANCE_TAGS = 6


def test_the_most_user_tags_allowed_keep_every_resource_within_the_aws_limit():
    room = MAX_TAGS_PER_RESOURCE - PROGRAM_TAGS
    user = {f"team-{i:02d}": "x" for i in range(room)}
    plan = plan_for("dev", **{"inferentia-chat:tags": user})
    counted = 0
    for record in plan.resources:
        tags = record.inputs.get("tags")
        if isinstance(tags, dict):
            counted += 1
            assert len(tags) <= MAX_TAGS_PER_RESOURCE, (record.name, len(tags))
        for spec in record.inputs.get("subnetSpecs") or []:
            assert len(spec.get("tags") or {}) + 1 <= MAX_TAGS_PER_RESOURCE  # + the Name awsx adds
    (node_class,) = [o for o in kubernetes_objects(plan.result) if o["kind"] == "EC2NodeClass"]
    assert len(node_class["spec"]["tags"]) + KARPENTER_INSTANCE_TAGS <= MAX_TAGS_PER_RESOURCE
    assert counted > 20
    with pytest.raises(ConfigError, match=r"inferentia-chat:tags = .*must hold at most"):
        parse_config({"tags": {**user, "one-more": "x"}}, region="us-east-1", stack="dev")


def test_the_offline_fake_offers_each_region_its_own_zones():
    assert len(cloud.zones_of("us-east-1")) == 6
    assert cloud.zones_of("us-west-1") == ["us-west-1a", "us-west-1c"]
    assert cloud.zones_of("ap-northeast-1") == ["ap-northeast-1a", "ap-northeast-1c", "ap-northeast-1d"]
    assert all(len(cloud.zones_of(r)) >= 2 for r in REGIONS)


def test_a_vpc_spans_the_zones_asked_for_when_the_region_has_them():
    plan = plan_for("dev", **{"aws:region": "us-west-2", "inferentia-chat:network": {"azCount": 4}})
    vpc = plan.one("awsx:ec2:Vpc")
    assert vpc.inputs["availabilityZoneNames"] == ["us-west-2a", "us-west-2b", "us-west-2c", "us-west-2d"]
    with pytest.raises(ConfigError, match=r"network\.azCount = 5: must be at most 4"):
        plan_for("dev", **{"aws:region": "us-west-2", "inferentia-chat:network": {"azCount": 5}})


def test_kv_cache_arithmetic_and_its_boundary():
    mistral = KNOWN_MODELS["mistralai/Mistral-7B-Instruct-v0.3"]
    # 2 (K, V) x 32 layers x 8 KV heads x 128 dims x 2 bytes = 128 KiB per token.
    assert kv_cache_gb(mistral, 2, 8192, 4) == pytest.approx(131072 * 8192 * 4 / 1e9)
    assert device_memory_gb(2) == pytest.approx(32 * 2**30 / 1e9)  # one Inferentia2 chip
    # TP 24: more cores than the 8 KV heads, so each core keeps a replica of one head.
    assert kv_cache_gb(mistral, 24, 1024, 1) == pytest.approx(2 * 32 * 24 * 128 * 2 * 1024 / 1e9)
    ok = parse_config({"model": {"maxNumSeqs": 15}}, region="us-east-1", stack="dev")
    assert ok.model.max_num_seqs == 15
    with pytest.raises(ConfigError, match=r"model\.maxNumSeqs = 16: the KV cache"):
        parse_config({"model": {"maxNumSeqs": 16}}, region="us-east-1", stack="dev")


def test_public_access_rules():
    assert public_cidr_problem("198.51.100.0/24") is None  # documentation range, as in the dev stack file
    assert public_cidr_problem("8.8.8.0/24") is None
    assert "public" in (public_cidr_problem("172.16.0.0/12") or "")
    assert union_problem(["0.0.0.0/1", "128.0.0.0/1"])
    assert union_problem(["0.0.0.0/1", "128.0.0.0/2"]) is None


def test_the_stack_file_reads_like_the_pulumi_cli(tmp_path: Path):
    stack = tmp_path / "Pulumi.t.yaml"
    stack.write_text("config:\n  aws:region: us-east-1\n  inferentia-chat:tags: {since: 2026-01-01, on: yes}\n")
    # YAML 1.2 core, as the CLI's reader: `yes` and dates stay text.
    assert read_stack_yaml(stack)["inferentia-chat:tags"] == {"since": "2026-01-01", "on": "yes"}
    stack.write_text("config:\n  inferentia-chat:model:\n    replicas: 1\n    replicas: 2\n")
    with pytest.raises(ConfigError) as info:
        read_stack_yaml(stack)
    assert info.value.problems == ["Pulumi.t.yaml:4:5: duplicate key replicas (first at line 3): list each key once"]


def test_provider_settings_pass_and_misspelt_namespaces_do_not():
    bag = {
        "aws:region": "us-east-1",
        "aws:profile": "ops",
        "kubernetes:context": "x",
        "inferentia-chat:role": "primary",
        "inferentia_chat:model": "{}",
        "aws:regoin": "us-east-1",
        "inferentia-chats:token": "hf_x",
    }
    problems = key_problems(bag, secret={"inferentia-chats:token"})
    assert [p.split(" = ")[0] for p in problems] == ["aws:regoin", "inferentia-chats:token", "inferentia_chat:model"]
    assert "did you mean inferentia-chat:model?" in problems[2]
    assert "[hidden]" in problems[1] and "hf_x" not in problems[1]


def test_the_network_component_never_spans_fewer_zones_than_asked():
    from inferentia_chat.network import Network, NetworkArgs
    from offline import engine

    def program() -> None:
        Network("net", NetworkArgs(cluster_name="c", az_count=3))

    with pytest.raises(ValueError, match="az_count 3: the region offers only 2 zones"):
        engine.install().run(program, project="p", stack="s", config={"aws:region": "us-west-1"})
