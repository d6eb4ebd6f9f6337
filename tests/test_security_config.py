"""The security keys of the stack configuration: environment, image pins, flow logs."""

from __future__ import annotations

from typing import Any

import pytest

from inferentia_chat.images import ALLOWED_REPOSITORIES, DEFAULT_IMAGES, Images, pin_problem, repository, resolve
from stacks.config import ConfigError, parse_config
from stacks.config.security import unpinned_warning

DIGEST = "sha256:" + "ab" * 32


def parse(**raw: Any):
    return parse_config(raw, region="us-east-1", stack="dev")


def test_defaults_are_production_with_flow_logs_kept_a_year():
    cfg = parse()
    assert cfg.environment == "production"
    assert cfg.network.flow_logs is True and cfg.network.flow_log_retention_days == 365
    assert cfg.images["vllm"] == DEFAULT_IMAGES["vllm"] and set(cfg.images.unpinned) == set(DEFAULT_IMAGES)


def test_a_digest_pins_the_version_tag_and_a_whole_reference_replaces_it():
    mirror = f"public.ecr.aws/neuron/pytorch-inference-vllm-neuronx:0.16.0-neuronx-py312-sdk2.31.1-ubuntu24.04@{DIGEST}"
    cfg = parse(images={"openWebui": DIGEST, "vllm": mirror})
    assert cfg.images["openWebui"] == f"{DEFAULT_IMAGES['openWebui']}@{DIGEST}"
    assert cfg.images["vllm"] == mirror
    assert set(cfg.images.unpinned) == {"modelLoader", "lustreClient"}
    assert resolve("modelLoader", None) == DEFAULT_IMAGES["modelLoader"]
    assert Images({"modelLoader": DIGEST})["modelLoader"].endswith(DIGEST)


@pytest.mark.parametrize(
    ("raw", "key", "allowed"),
    [
        ({"environment": "prod"}, "inferentia-chat:environment", "production, development"),
        ({"images": ["sha256:x"]}, "inferentia-chat:images", "must be a mapping"),
        ({"images": {"nginx": DIGEST}}, "inferentia-chat:images.nginx", "unknown image"),
        ({"images": {"vllm": "sha256:1234"}}, "inferentia-chat:images.vllm", "64 hex digits"),
        ({"images": {"vllm": "latest"}}, "inferentia-chat:images.vllm", "sha256:<64 hex digits>"),
        ({"images": {"openWebui": "ghcr.io/open-webui/open-webui:v0.12.4"}}, "images.openWebui", "@sha256"),
        ({"images": {"openWebui": f"docker.io/evil/open-webui:v1@{DIGEST}"}}, "images.openWebui", "not allowed"),
        ({"images": {"vllm": 3}}, "inferentia-chat:images.vllm", "must be a string"),
        ({"network": {"flowLogs": "yes"}}, "inferentia-chat:network.flowLogs", "true or false"),
        ({"network": {"flowLogRetentionDays": 10}}, "network.flowLogRetentionDays", "CloudWatch retention"),
    ],
)
def test_bad_security_configuration_is_named(raw: dict[str, Any], key: str, allowed: str):
    with pytest.raises(ConfigError) as err:
        parse_config(raw, region="us-east-1", stack="dev")
    assert any(key in p and allowed in p for p in err.value.problems), err.value.problems


def test_the_allowed_repositories_are_those_of_the_pinned_images():
    assert set(ALLOWED_REPOSITORIES) == {repository(i) for i in DEFAULT_IMAGES.values()}
    assert repository(f"localhost:5000/x/y:1@{DIGEST}") == "localhost:5000/x/y"
    assert pin_problem("vllm", DIGEST) is None


def test_a_production_stack_by_tag_is_warned_about_at_pulumi_up():
    cfg = parse()
    warning = unpinned_warning(cfg.environment, cfg.images)
    assert warning and "modelLoader" in warning and "inferentia-chat:images" in warning
    pinned = parse(images=dict.fromkeys(DEFAULT_IMAGES, DIGEST))
    assert unpinned_warning(pinned.environment, pinned.images) is None
    dev = parse(environment="development")
    assert unpinned_warning(dev.environment, dev.images) is None
