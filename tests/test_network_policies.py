"""Default-deny networking: every namespace the stacks create denies all ingress and egress to every pod
unless a workload's own policy opens it; the explicit allows sit beside it."""

from __future__ import annotations

import ipaddress

import pytest
from conftest import STACK_VARIANTS, Plan

from inferentia_chat.kube import CLUSTER_INTERNAL_CIDRS
from inferentia_chat.open_webui import SELECTOR as WEBUI_POD_LABELS


def policies_in(plan: Plan, namespace: str) -> list[dict]:
    return [p for p in plan.k8s("NetworkPolicy") if p["metadata"]["namespace"] == namespace]


@pytest.mark.parametrize("stack_fixture", STACK_VARIANTS)
def test_every_namespace_created_has_a_default_deny_policy(stack_fixture: str, request: pytest.FixtureRequest):
    plan: Plan = request.getfixturevalue(stack_fixture)
    for ns in plan.k8s("Namespace"):
        name = ns["metadata"]["name"]
        deny = [p for p in policies_in(plan, name) if p["spec"]["podSelector"] == {}]
        assert len(deny) == 1, f"namespace {name} has no default-deny NetworkPolicy"
        spec = deny[0]["spec"]
        assert spec["policyTypes"] == ["Ingress", "Egress"]
        assert not spec.get("ingress") and not spec.get("egress"), name  # denies everything


@pytest.mark.parametrize("stack_fixture", STACK_VARIANTS)
def test_every_namespace_created_enforces_the_restricted_pod_security_standard(
    stack_fixture: str, request: pytest.FixtureRequest
):
    plan: Plan = request.getfixturevalue(stack_fixture)
    for ns in plan.k8s("Namespace"):
        labels = ns["metadata"]["labels"]
        for mode in ("enforce", "audit", "warn"):
            assert labels[f"pod-security.kubernetes.io/{mode}"] == "restricted", ns["metadata"]["name"]


def test_the_namespaces_of_dev(dev: Plan):
    assert {ns["metadata"]["name"] for ns in dev.k8s("Namespace")} == {"inference", "open-webui"}


def test_every_workload_has_its_own_allows_beside_the_default_deny(dev: Plan):
    for kind in ("Deployment", "Job"):
        for workload in dev.k8s(kind):
            ns, labels = workload["metadata"]["namespace"], workload["spec"]["template"]["metadata"]["labels"]
            own = [
                p
                for p in policies_in(dev, ns)
                if p["spec"]["podSelector"]
                and all(labels.get(k) == v for k, v in p["spec"]["podSelector"]["matchLabels"].items())
            ]
            assert own, f"{kind} {workload['metadata']['name']} has no NetworkPolicy of its own"
            # DNS to kube-dns only, whenever a pod may resolve names.
            for policy in own:
                for rule in policy["spec"]["egress"]:
                    if any(p.get("port") == 53 for p in rule.get("ports", [])):
                        assert rule["to"][0]["podSelector"] == {"matchLabels": {"k8s-app": "kube-dns"}}


def test_the_loader_reaches_https_outside_the_vpc_and_the_cluster_only(dev: Plan):
    (loader,) = [p for p in policies_in(dev, "inference") if p["metadata"]["name"] == "model-loader"]
    (https,) = [r for r in loader["spec"]["egress"] if r["ports"] == [{"protocol": "TCP", "port": 443}]]
    v4, v6 = (peer["ipBlock"] for peer in https["to"])
    assert v4["cidr"] == "0.0.0.0/0" and v6["cidr"] == "::/0"
    assert dev.one("awsx:ec2:Vpc").inputs["cidrBlock"] in v4["except"]  # nodes, pods, VPC endpoints
    assert set(CLUSTER_INTERNAL_CIDRS) <= set(v4["except"])  # Service ranges, instance metadata
    assert ipaddress.ip_address("169.254.169.254") in ipaddress.ip_network("169.254.0.0/16")
    assert "fc00::/7" in v6["except"]
    # Nothing else of the loader's egress reaches the VPC but DNS.
    others = [r for r in loader["spec"]["egress"] if r is not https]
    assert all(r["ports"][0]["port"] == 53 for r in others)
    assert loader["spec"]["ingress"] == []


def test_the_api_admits_open_webui_only(dev: Plan):
    (vllm,) = [p for p in policies_in(dev, "inference") if p["metadata"]["name"] == "vllm"]
    (rule,) = vllm["spec"]["ingress"]
    assert rule["from"] == [
        {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "open-webui"}},
            "podSelector": {"matchLabels": dict(WEBUI_POD_LABELS)},
        }
    ]
