"""The policy pack: silent on everything the stacks create, loud on every hand-made violation."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import STACK_VARIANTS, Plan, plan_for
from pulumi_policy import (
    PolicyCustomTimeouts,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    StackValidationArgs,
)

from inferentia_chat.images import ALLOWED_REPOSITORIES, DEFAULT_IMAGES
from inferentia_chat.kube import ENVIRONMENT_LABEL
from offline.engine import Record
from policies import rules

OPTS = PolicyResourceOptions(
    protect=False,
    ignore_changes=[],
    delete_before_replace=None,
    aliases=[],
    custom_timeouts=PolicyCustomTimeouts(0, 0, 0),
    additional_secret_outputs=[],
)


def resource_args(type_: str, props: dict[str, Any], name: str = "x") -> ResourceValidationArgs:
    return ResourceValidationArgs(type_, props, f"urn:pulumi:t::p::{type_}::{name}", name, OPTS, None)


def violations_of(rule, type_: str, props: dict[str, Any]) -> list[str]:
    found: list[str] = []
    rule(resource_args(type_, props), lambda message, urn=None: found.append(message))
    return found


def stack_args(records: list[Record]) -> StackValidationArgs:
    """The plan as CrossGuard hands it to stack policies: resources with resolved dependencies."""
    by_urn: dict[str, PolicyResource] = {}
    for r in records:
        by_urn[r.urn] = PolicyResource(r.type, r.inputs, r.urn, r.name, OPTS, None, None, [], {})
    for r in records:
        by_urn[r.urn].dependencies = [by_urn[d] for d in r.dependencies if d in by_urn]
    return StackValidationArgs(list(by_urn.values()))


def run_all(records: list[Record]) -> list[tuple[str, str, str]]:
    found: list[tuple[str, str, str]] = []
    for r in records:
        for name, rule in rules.RESOURCE_RULES.items():
            rule(resource_args(r.type, r.inputs, r.name), lambda m, urn=None, n=name, x=r.name: found.append((n, x, m)))
    args = stack_args(records)
    for name, rule in rules.STACK_RULES.items():
        rule(args, lambda m, urn=None, n=name: found.append((n, urn or "", m)))
    return found


@pytest.mark.parametrize("stack_fixture", STACK_VARIANTS)
def test_every_policy_passes_every_resource_of_the_stacks(stack_fixture: str, request: pytest.FixtureRequest):
    plan: Plan = request.getfixturevalue(stack_fixture)
    assert run_all(plan.resources) == []


def test_the_pack_holds_every_rule():
    names = {p.name for p in rules.policies()}
    assert names == set(rules.RESOURCE_RULES) | set(rules.STACK_RULES)


BAD_CONTAINER = {"name": "app", "image": "vllm/vllm-openai:latest"}
DEPLOYMENT = "kubernetes:apps/v1:Deployment"


def deployment(container: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "spec": {"template": {"spec": {"containers": [container]}}}}


GOOD_CONTAINER = {
    "name": "app",
    "image": "public.ecr.aws/neuron/pytorch-inference-vllm-neuronx:0.16.0-neuronx-py312-sdk2.31.1-ubuntu24.04",
    "resources": {"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"memory": "1Gi"}},
    "readinessProbe": {"httpGet": {"path": "/health", "port": 8000}},
    "livenessProbe": {"httpGet": {"path": "/health", "port": 8000}},
}

BAD: list[tuple[str, Any, str, dict[str, Any], str]] = [
    (
        "bucket encrypted with SSE-S3",
        rules.bucket_sse_uses_kms,
        rules.BUCKET_SSE,
        {"rules": [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256"}}]},
        "use aws:kms",
    ),
    (
        "versioning suspended",
        rules.bucket_versioning_enabled,
        rules.BUCKET_VERSIONING,
        {"versioningConfiguration": {"status": "Suspended"}},
        "must be Enabled",
    ),
    (
        "public policy allowed",
        rules.bucket_public_access_blocked,
        rules.BUCKET_PAB,
        {"blockPublicAcls": True, "blockPublicPolicy": False, "ignorePublicAcls": True, "restrictPublicBuckets": True},
        "blockPublicPolicy",
    ),
    (
        "bucket policy without TLS deny",
        rules.bucket_policy_tls_only,
        rules.BUCKET_POLICY,
        {"policy": '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:*"}]}'},
        "non-TLS",
    ),
    (
        "FSx without customer key",
        rules.fsx_encrypted_with_customer_key,
        rules.FSX_LUSTRE,
        {"deploymentType": "PERSISTENT_2", "storageCapacity": 1200},
        "kmsKeyId",
    ),
    (
        "EKS with config map auth",
        rules.eks_secure_control_plane,
        rules.EKS_COMPONENT,
        {"authenticationMode": "CONFIG_MAP", "encryptionConfigKeyArn": "arn:k", "endpointPublicAccess": False},
        "use API",
    ),
    (
        "EKS without secrets encryption",
        rules.eks_secure_control_plane,
        rules.EKS_CLUSTER,
        {"accessConfig": {"authenticationMode": "API"}, "vpcConfig": {"endpointPublicAccess": False}},
        "not encrypted",
    ),
    (
        "EKS public endpoint open to all",
        rules.eks_secure_control_plane,
        rules.EKS_COMPONENT,
        {
            "authenticationMode": "API",
            "encryptionConfigKeyArn": "arn:k",
            "endpointPublicAccess": True,
            "publicAccessCidrs": ["0.0.0.0/0"],
        },
        "open to the internet",
    ),
    (
        "public LoadBalancer Service",
        rules.no_public_load_balancer,
        "kubernetes:core/v1:Service",
        {"metadata": {"name": "ui"}, "spec": {"type": "LoadBalancer"}},
        "internet-facing",
    ),
    ("latest image", rules.containers_are_pinned_sized_and_probed, DEPLOYMENT, deployment(BAD_CONTAINER), "not pinned"),
    (
        "untagged image",
        rules.containers_are_pinned_sized_and_probed,
        DEPLOYMENT,
        deployment({**GOOD_CONTAINER, "image": "nginx"}),
        "not pinned",
    ),
    (
        "no requests",
        rules.containers_are_pinned_sized_and_probed,
        DEPLOYMENT,
        deployment({**GOOD_CONTAINER, "resources": {}}),
        "requests are required",
    ),
    (
        "no probes",
        rules.containers_are_pinned_sized_and_probed,
        DEPLOYMENT,
        deployment({k: v for k, v in GOOD_CONTAINER.items() if not k.endswith("Probe")}),
        "readinessProbe",
    ),
    (
        "trust remote code",
        rules.no_trust_remote_code,
        DEPLOYMENT,
        deployment({**GOOD_CONTAINER, "args": ["--model", "/m", "--trust-remote-code"]}),
        "--trust-remote-code",
    ),
    (
        "API key in a plain env var",
        rules.no_secret_in_plain_env,
        DEPLOYMENT,
        deployment({**GOOD_CONTAINER, "env": [{"name": "OPENAI_API_KEYS", "value": "sk-123"}]}),
        "secretKeyRef",
    ),
    (
        "keys joined from variables that are not Secrets",
        rules.no_secret_in_plain_env,
        DEPLOYMENT,
        deployment(
            {
                **GOOD_CONTAINER,
                "env": [{"name": "K0", "value": "sk-1"}, {"name": "OPENAI_API_KEYS", "value": "$(K0);sk-2"}],
            }
        ),
        "OPENAI_API_KEYS is a literal value",
    ),
    (
        "image from a registry nobody named",
        rules.images_from_allowed_registries,
        DEPLOYMENT,
        deployment({**GOOD_CONTAINER, "image": "docker.io/someone/vllm-neuron:0.16.0"}),
        "not from an allowed repository",
    ),
    (
        "Docker Hub short name",
        rules.images_from_allowed_registries,
        "kubernetes:batch/v1:Job",
        {"spec": {"template": {"spec": {"initContainers": [{**GOOD_CONTAINER, "image": "python:3.13-slim"}]}}}},
        "not from an allowed repository",
    ),
    (
        "token in a Job env var",
        rules.no_secret_in_plain_env,
        "kubernetes:batch/v1:Job",
        {
            "spec": {
                "template": {
                    "spec": {"containers": [{**GOOD_CONTAINER, "env": [{"name": "HF_TOKEN", "value": "hf_x"}]}]}
                }
            }
        },
        "secretKeyRef",
    ),
]


@pytest.mark.parametrize(("rule", "type_", "props", "fragment"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_each_bad_resource_is_caught(rule, type_: str, props: dict[str, Any], fragment: str):
    found = violations_of(rule, type_, props)
    assert any(fragment in v for v in found), found


def test_good_container_passes():
    for rule in rules.RESOURCE_RULES.values():
        assert violations_of(rule, DEPLOYMENT, deployment(GOOD_CONTAINER)) == []
    secret_ref = {"name": "OPENAI_API_KEYS", "valueFrom": {"secretKeyRef": {"name": "k", "key": "k"}}}
    assert (
        violations_of(rules.no_secret_in_plain_env, DEPLOYMENT, deployment({**GOOD_CONTAINER, "env": [secret_ref]}))
        == []
    )
    # Keys joined by the kubelet from variables that come from Secrets, and switches, are not secrets.
    joined = [
        {"name": "KEY_0", "valueFrom": {"secretKeyRef": {"name": "a", "key": "k"}}},
        {"name": "KEY_1", "valueFrom": {"secretKeyRef": {"name": "b", "key": "k"}}},
        {"name": "OPENAI_API_KEYS", "value": "$(KEY_0);$(KEY_1)"},
        {"name": "ENABLE_PASSWORD_AUTH", "value": "False"},
    ]
    assert violations_of(rules.no_secret_in_plain_env, DEPLOYMENT, deployment({**GOOD_CONTAINER, "env": joined})) == []


def _record(type_: str, name: str, inputs: dict[str, Any], deps: list[str] = ()) -> Record:
    return Record(type_, name, f"urn:{name}", None, True, None, inputs, list(deps))


def test_a_bucket_missing_its_protections_is_caught():
    bucket = _record(rules.BUCKET, "models", {})
    versioning = _record(
        rules.BUCKET_VERSIONING, "models-v", {"versioningConfiguration": {"status": "Enabled"}}, [bucket.urn]
    )
    found = run_all([bucket, versioning])
    messages = [m for rule, _, m in found if rule == "s3-every-bucket-protected"]
    assert messages == [
        "bucket models lacks SSE-KMS encryption",
        "bucket models lacks a public access block",
        "bucket models lacks a TLS-only bucket policy",
    ]


def test_fsx_in_a_public_subnet_is_caught():
    vpc = _record(rules.AWSX_VPC, "vpc", {"publicSubnetIds": ["subnet-pub"]})
    fsx = _record(
        rules.FSX_LUSTRE, "fs", {"subnetIds": ["subnet-pub"], "deploymentType": "PERSISTENT_2", "kmsKeyId": "arn:k"}
    )
    found = [m for rule, _, m in run_all([vpc, fsx]) if rule == "fsx-private-subnets"]
    assert found == ["FSx file system fs is in public subnet(s) ['subnet-pub']"]


# --- supply chain: digests in production, allowed registries ----------------------------------------------

DIGESTS = {role: "sha256:" + f"{i:x}" * 64 for i, role in enumerate(DEFAULT_IMAGES, start=10)}
PRODUCTION = {"inferentia-chat:environment": "production"}


def digest_violations(plan: Plan) -> list[str]:
    return [m for rule, _, m in run_all(plan.resources) if rule == "k8s-images-pinned-by-digest-in-production"]


def test_a_production_stack_needs_digests():
    unpinned = plan_for("dev", **PRODUCTION)
    found = digest_violations(unpinned)
    # Every container of every workload is reported.
    expected = sum(len(containers(w)) for kind in ("Deployment", "Job", "DaemonSet") for w in unpinned.k8s(kind))
    assert len(found) == expected >= 8, found
    assert all("not pinned by digest in a production stack" in m for m in found)
    pinned = plan_for("dev", **PRODUCTION, **{"inferentia-chat:images": DIGESTS})
    assert digest_violations(pinned) == []
    assert run_all(pinned.resources) == []
    kinds = ("Deployment", "Job", "DaemonSet")
    images = {c["image"] for kind in kinds for w in pinned.k8s(kind) for c in containers(w)}
    assert images == {f"{DEFAULT_IMAGES[role]}@{DIGESTS[role]}" for role in DEFAULT_IMAGES}


def test_a_development_stack_may_run_by_tag(dev: Plan):
    assert {ns["metadata"]["labels"][rules.ENVIRONMENT_LABEL] for ns in dev.k8s("Namespace")} == {"development"}
    assert digest_violations(dev) == []


def test_the_pack_and_the_program_name_the_same_registries_and_label():
    assert rules.ALLOWED_IMAGE_REPOSITORIES == ALLOWED_REPOSITORIES
    assert rules.ENVIRONMENT_LABEL == ENVIRONMENT_LABEL
    assert {rules.image_repository(i) for i in DEFAULT_IMAGES.values()} == set(ALLOWED_REPOSITORIES)


def containers(workload: dict[str, Any]) -> list[dict[str, Any]]:
    pod = workload["spec"]["template"]["spec"]
    return [*pod.get("initContainers", []), *pod["containers"]]
