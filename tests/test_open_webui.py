"""OpenWebUI: the chat front end, read from the dev render (and its ALB variants) the way a reviewer would."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import ALB_WEBUI, Plan, plan_for

from inferentia_chat import versions
from inferentia_chat.open_webui import check_base_url
from inferentia_chat.system_node_group import SYSTEM_NODE_SELECTOR
from offline.engine import SECRET
from offline.render import write_render

NS = "open-webui"
WEBUI = "inferentia-chat:webui"
INTERNAL = {k: v for k, v in ALB_WEBUI.items() if k != "allowedCidrs"} | {"exposure": "internal-alb"}


def obj(plan: Plan, kind: str, name: str = "open-webui", namespace: str = NS) -> dict[str, Any]:
    (found,) = [o for o in plan.k8s(kind, name) if o["metadata"].get("namespace", namespace) == namespace]
    return found


def pod_spec(plan: Plan) -> dict[str, Any]:
    return obj(plan, "Deployment")["spec"]["template"]["spec"]


def container(plan: Plan) -> dict[str, Any]:
    (c,) = pod_spec(plan)["containers"]
    return c


def literal_env(plan: Plan) -> dict[str, str]:
    return {e["name"]: e["value"] for e in container(plan)["env"] if "value" in e}


def secret_refs(plan: Plan) -> dict[str, tuple[str, str]]:
    return {
        e["name"]: (e["valueFrom"]["secretKeyRef"]["name"], e["valueFrom"]["secretKeyRef"]["key"])
        for e in container(plan)["env"]
        if "valueFrom" in e
    }


# --- the workload -----------------------------------------------------------------------------------


def test_official_image_pinned_to_a_release_with_the_advisory_fixes(dev: Plan):
    image = container(dev)["image"]
    assert image == f"ghcr.io/open-webui/open-webui:v{versions.OPEN_WEBUI_VERSION}"
    assert tuple(map(int, versions.OPEN_WEBUI_VERSION.split("."))) >= (0, 9, 0)
    requirements = (Path(__file__).parent.parent / "requirements-webui.txt").read_text()
    assert f"open-webui=={versions.OPEN_WEBUI_VERSION}" in requirements  # the tests run the same version


def test_one_replica_replaced_not_rolled_with_its_data_on_an_encrypted_volume(dev: Plan):
    spec = obj(dev, "Deployment")["spec"]
    assert spec["replicas"] == 1 and spec["strategy"] == {"type": "Recreate"}
    pvc = obj(dev, "PersistentVolumeClaim", "open-webui-data")
    assert pvc["spec"]["accessModes"] == ["ReadWriteOnce"]
    assert pvc["spec"]["storageClassName"] == "gp3-encrypted-retain"  # KMS-encrypted gp3, volume retained
    assert pvc["spec"]["resources"]["requests"]["storage"] == "10Gi"
    volumes = {v["name"]: v for v in pod_spec(dev)["volumes"]}
    assert volumes["data"]["persistentVolumeClaim"] == {"claimName": "open-webui-data"}
    mounts = {m["mountPath"]: m["name"] for m in container(dev)["volumeMounts"]}
    assert mounts == {"/app/backend/data": "data", "/tmp": "tmp"}
    assert literal_env(dev)["DATA_DIR"] == "/app/backend/data"
    assert "emptyDir" in volumes["tmp"]


def test_volume_size_comes_from_config():
    plan = plan_for(**{WEBUI: {"storageGiB": 25}})
    assert obj(plan, "PersistentVolumeClaim", "open-webui-data")["spec"]["resources"]["requests"]["storage"] == "25Gi"


def test_sized_and_probed_ready_on_the_apps_readiness_route(dev: Plan):
    c = container(dev)
    assert c["resources"]["requests"]["memory"] == "1Gi" and c["resources"]["requests"]["cpu"]
    assert c["resources"]["limits"]["memory"] == "3Gi"
    # Alive when the process answers; ready only when the app says so (open_webui/main.py `/ready`: start-up
    # work done and the database answering). The real-app tier checks both routes on the running app.
    for probe in ("startupProbe", "livenessProbe"):
        assert c[probe]["httpGet"] == {"path": "/health", "port": "http"}, probe
    assert c["readinessProbe"]["httpGet"] == {"path": "/ready", "port": "http"}
    assert c["ports"] == [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]
    # First start migrates the database: the startup probe allows minutes before liveness counts.
    assert c["startupProbe"]["periodSeconds"] * c["startupProbe"]["failureThreshold"] >= 300


def test_restricted_non_root_read_only_pod(dev: Plan):
    sc = container(dev)["securityContext"]
    assert sc["runAsNonRoot"] is True and sc["runAsUser"] >= 10000 and sc["runAsGroup"] == sc["runAsUser"]
    assert sc["allowPrivilegeEscalation"] is False and sc["privileged"] is False
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["capabilities"] == {"drop": ["ALL"]}
    assert sc["seccompProfile"] == {"type": "RuntimeDefault"}
    pod = pod_spec(dev)
    assert pod["securityContext"]["fsGroup"] == sc["runAsUser"]  # the data volume is the app's
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["automountServiceAccountToken"] is False and pod["serviceAccountName"] == "open-webui"
    assert pod["enableServiceLinks"] is False
    labels = obj(dev, "Namespace", "open-webui", namespace=None)["metadata"]["labels"]
    for mode in ("enforce", "audit", "warn"):
        assert labels[f"pod-security.kubernetes.io/{mode}"] == "restricted"


def test_runs_on_the_system_nodes_never_on_inferentia(dev: Plan):
    pod = pod_spec(dev)
    assert pod["nodeSelector"] == SYSTEM_NODE_SELECTOR
    assert "tolerations" not in pod  # inf2 nodes are tainted aws.amazon.com/neuron


def test_waits_for_nodes_and_the_storage_driver(dev: Plan):
    deployment = dev.one("kubernetes:apps/v1:Deployment", "webui-deployment")
    assert dev.depends(deployment, dev.one("aws:eks/nodeGroup:NodeGroup"))
    (ebs,) = [a for a in dev.of_type("aws:eks/addon:Addon") if a.inputs["addonName"] == "aws-ebs-csi-driver"]
    assert dev.depends(deployment, ebs)
    pvc = dev.one("kubernetes:core/v1:PersistentVolumeClaim", "webui-data")
    assert dev.depends(pvc, ebs)


def test_one_pod_disruption_budget_that_never_blocks_a_drain(dev: Plan):
    pdb = obj(dev, "PodDisruptionBudget")
    assert pdb["spec"] == {"maxUnavailable": 1, "selector": obj(dev, "Deployment")["spec"]["selector"]}


def test_every_object_carries_the_common_labels(dev: Plan):
    objects = dev.k8s("Namespace", "open-webui")
    objects += [o for kind in KINDS for o in dev.k8s(kind) if o["metadata"].get("namespace") == NS]
    assert len(objects) == len(KINDS) + 3  # + the Namespace, + the second Secret, + the default-deny policy
    for o in objects:
        labels = o["metadata"]["labels"]
        assert labels["app.kubernetes.io/name"] == "open-webui", o["kind"]
        assert labels["app.kubernetes.io/part-of"] == "inferentia-chat", o["kind"]
        assert labels["app.kubernetes.io/component"], o["kind"]
        assert labels["app.kubernetes.io/version"] == versions.OPEN_WEBUI_VERSION, o["kind"]
    template = obj(dev, "Deployment")["spec"]["template"]["metadata"]["labels"]
    assert template["app.kubernetes.io/version"] == versions.OPEN_WEBUI_VERSION


KINDS = (
    "Secret",
    "PersistentVolumeClaim",
    "ServiceAccount",
    "Deployment",
    "Service",
    "PodDisruptionBudget",
    "NetworkPolicy",
)


# --- settings ---------------------------------------------------------------------------------------


def test_every_literal_setting(dev: Plan):
    assert literal_env(dev) == {
        "DATA_DIR": "/app/backend/data",
        "HOME": "/tmp",
        "STATIC_DIR": "/tmp/static",
        "WEBUI_AUTH": "True",
        "ENABLE_SIGNUP": "False",
        "ENABLE_LOGIN_FORM": "True",
        "DEFAULT_USER_ROLE": "pending",
        "WEBUI_ADMIN_EMAIL": "admin@localhost",
        "WEBUI_ADMIN_NAME": "Admin",
        "ENABLE_PERSISTENT_CONFIG": "False",
        "ENABLE_OPENAI_API": "True",
        "OPENAI_API_BASE_URLS": "http://vllm.inference.svc.cluster.local:8000/v1",
        "DEFAULT_MODELS": "mistral-7b-instruct",
        "BYPASS_MODEL_ACCESS_CONTROL": "True",
        "ENABLE_OLLAMA_API": "False",
        "ENABLE_DIRECT_CONNECTIONS": "False",
        "AIOHTTP_CLIENT_TIMEOUT_MODEL_LIST": "5",
        "OFFLINE_MODE": "True",
        "HF_HUB_OFFLINE": "1",
        "RAG_EMBEDDING_MODEL": "",
        "BYPASS_EMBEDDING_AND_RETRIEVAL": "True",
        "ENABLE_COMMUNITY_SHARING": "False",
        "ENABLE_VERSION_UPDATE_CHECK": "False",
        "ANONYMIZED_TELEMETRY": "False",
        "DO_NOT_TRACK": "True",
        "SCARF_NO_ANALYTICS": "True",
        "WEBUI_URL": "http://localhost:8080",
        "CORS_ALLOW_ORIGIN": "http://localhost:8080;http://127.0.0.1:8080",
    }


def test_secrets_come_from_secrets_that_exist_with_those_keys(dev: Plan):
    refs = secret_refs(dev)
    assert refs == {
        "WEBUI_SECRET_KEY": ("open-webui", "webui-secret-key"),
        "WEBUI_ADMIN_PASSWORD": ("open-webui", "admin-password"),
        "OPENAI_API_KEYS": ("open-webui-inference-key", "api-key"),
    }
    for name, key in refs.values():
        assert key in obj(dev, "Secret", name)["stringData"], (name, key)  # same namespace as the pod


def test_generated_secrets_are_long_and_random(dev: Plan):
    secret_key = dev.one("random:index/randomPassword:RandomPassword", "webui-secret-key")
    password = dev.one("random:index/randomPassword:RandomPassword", "webui-admin-password")
    assert secret_key.inputs["length"] >= 48 and password.inputs["length"] >= 24
    secret = dev.one("kubernetes:core/v1:Secret", "webui-secret")
    assert dev.depends(secret, secret_key) and dev.depends(secret, password)


def test_the_inference_key_is_a_copy_of_the_vllm_key(dev: Plan):
    vllm_key = dev.one("random:index/randomPassword:RandomPassword", "vllm-api-key")
    assert dev.depends(dev.one("kubernetes:core/v1:Secret", "webui-inference-key"), vllm_key)
    assert not dev.depends(dev.one("kubernetes:core/v1:Secret", "webui-secret"), vllm_key)


def test_base_url_must_not_end_in_a_slash():
    assert check_base_url("http://vllm.vllm.svc.cluster.local:8000/v1") == "http://vllm.vllm.svc.cluster.local:8000/v1"
    for bad in ("http://vllm.vllm.svc.cluster.local:8000/v1/", "vllm:8000/v1"):
        with pytest.raises(ValueError, match="without a trailing slash"):
            check_base_url(bad)


def test_admin_login_comes_from_config():
    plan = plan_for(**{WEBUI: {"adminEmail": "ops@corp.example.com"}})
    assert literal_env(plan)["WEBUI_ADMIN_EMAIL"] == "ops@corp.example.com"
    assert plan.outputs["webuiAdminEmail"] == "ops@corp.example.com"


def test_admin_password_is_a_secret_output_never_written(dev: Plan, tmp_path: Path):
    assert "webuiAdminPassword" in dev.result.secret_outputs
    real = dev.outputs["webuiAdminPassword"]
    assert isinstance(real, str) and len(real) == 32
    folder = write_render(dev.result, tmp_path)
    assert json.loads((folder / "outputs.json").read_text())["webuiAdminPassword"] == SECRET
    for name in ("resources.json", "kubernetes.yaml", "outputs.json"):
        assert real not in (folder / name).read_text(), name


# --- exposure ---------------------------------------------------------------------------------------


def test_cluster_exposure_is_a_cluster_ip_reached_by_port_forward(dev: Plan):
    service = obj(dev, "Service")
    assert service["spec"]["type"] == "ClusterIP"
    assert service["spec"]["ports"] == [{"name": "http", "port": 8080, "targetPort": "http", "protocol": "TCP"}]
    assert service["spec"]["selector"] == obj(dev, "Deployment")["spec"]["selector"]["matchLabels"]
    assert dev.outputs["webuiPortForwardCommand"] == "kubectl -n open-webui port-forward svc/open-webui 8080:8080"
    assert dev.outputs["webuiUrl"] == "http://localhost:8080"
    assert not dev.k8s("Ingress")
    assert not dev.of_type("inferentia-chat:index:LoadBalancerController")  # none without an ALB


def test_cluster_exposure_admits_no_network_ingress_and_egress_only_to_dns_and_vllm(dev: Plan):
    spec = obj(dev, "NetworkPolicy")["spec"]
    assert spec["podSelector"]["matchLabels"] == obj(dev, "Deployment")["spec"]["selector"]["matchLabels"]
    assert spec["policyTypes"] == ["Ingress", "Egress"]
    assert spec["ingress"] == []  # port-forward reaches the pod's loopback; probes come from its node
    dns, vllm = spec["egress"]
    assert dns["to"] == [
        {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
            "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
        }
    ]
    assert dns["ports"] == [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]
    # Exactly the vLLM pods: their namespace and the selector of their Deployment.
    (vllm_deploy,) = [d for d in dev.k8s("Deployment") if d["metadata"]["name"] == "vllm"]
    assert vllm["to"] == [
        {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "inference"}},
            "podSelector": {"matchLabels": vllm_deploy["spec"]["selector"]["matchLabels"]},
        }
    ]
    assert vllm["ports"] == [{"protocol": "TCP", "port": 8000}]


def test_public_alb_is_https_only_with_the_allowlist(dev_alb: Plan):
    ingress = obj(dev_alb, "Ingress")
    ann = ingress["metadata"]["annotations"]
    assert ann["alb.ingress.kubernetes.io/scheme"] == "internet-facing"
    assert ann["alb.ingress.kubernetes.io/target-type"] == "ip"
    assert json.loads(ann["alb.ingress.kubernetes.io/listen-ports"]) == [{"HTTP": 80}, {"HTTPS": 443}]
    assert ann["alb.ingress.kubernetes.io/ssl-redirect"] == "443"  # port 80 only redirects
    assert ann["alb.ingress.kubernetes.io/certificate-arn"] == ALB_WEBUI["certificateArn"]
    assert ann["alb.ingress.kubernetes.io/ssl-policy"] == "ELBSecurityPolicy-TLS13-1-2-2021-06"
    assert ann["alb.ingress.kubernetes.io/inbound-cidrs"] == "198.51.100.0/24"
    assert ann["alb.ingress.kubernetes.io/healthcheck-path"] == "/ready"
    assert (
        "routing.http.drop_invalid_header_fields.enabled=true"
        in ann["alb.ingress.kubernetes.io/load-balancer-attributes"]
    )
    assert ingress["spec"]["ingressClassName"] == "alb"
    (rule,) = ingress["spec"]["rules"]
    assert rule["host"] == "chat.example.com"
    (path,) = rule["http"]["paths"]
    assert path["backend"] == {"service": {"name": "open-webui", "port": {"name": "http"}}}
    assert dev_alb.outputs["webuiUrl"] == "https://chat.example.com"
    env = literal_env(dev_alb)
    assert env["WEBUI_URL"] == env["CORS_ALLOW_ORIGIN"] == "https://chat.example.com"
    assert env["WEBUI_SESSION_COOKIE_SECURE"] == env["WEBUI_AUTH_COOKIE_SECURE"] == "True"


def test_alb_traffic_is_admitted_from_the_vpc_on_8080_only(dev_alb: Plan):
    (rule,) = obj(dev_alb, "NetworkPolicy")["spec"]["ingress"]
    assert rule == {"from": [{"ipBlock": {"cidr": "10.40.0.0/16"}}], "ports": [{"protocol": "TCP", "port": 8080}]}


def test_internal_alb_defaults_its_allowlist_to_the_vpc():
    plan = plan_for(**{WEBUI: INTERNAL})
    ann = obj(plan, "Ingress")["metadata"]["annotations"]
    assert ann["alb.ingress.kubernetes.io/scheme"] == "internal"
    assert ann["alb.ingress.kubernetes.io/inbound-cidrs"] == "10.40.0.0/16"


def test_alb_on_an_adopted_vpc_admits_that_vpcs_block():
    network = {
        "vpcId": "vpc-0123456789abcdef0",
        "privateSubnetIds": ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1", "subnet-0123456789abcdef2"],
    }
    plan = plan_for(**{WEBUI: INTERNAL, "inferentia-chat:network": network})
    (rule,) = obj(plan, "NetworkPolicy")["spec"]["ingress"]
    assert rule["from"] == [{"ipBlock": {"cidr": "10.0.0.0/16"}}]  # the offline answer of ec2:DescribeVpcs


def test_the_ingress_waits_for_the_load_balancer_controller(dev_alb: Plan):
    ingress = dev_alb.one("kubernetes:networking.k8s.io/v1:Ingress")
    release = dev_alb.one("kubernetes:helm.sh/v3:Release", "lb-controller-release")
    assert dev_alb.depends(ingress, release)


def test_render_of_the_alb_variant_is_yaml(dev_alb: Plan, tmp_path: Path):
    folder = write_render(dev_alb.result, tmp_path)
    kinds = {o["kind"] for o in yaml.safe_load_all((folder / "kubernetes.yaml").read_text())}
    assert {"Ingress", "Deployment", "NetworkPolicy"} <= kinds
