"""Sign-in (`webui.auth`): the organisation's OpenID Connect provider, or a Cognito user pool the stack makes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import Plan, plan_for
from team_stacks import ALB_WEBUI, CLIENT_SECRET, COGNITO_STACK, OIDC, OIDC_STACK

from inferentia_chat.open_webui_sign_in import oidc_settings
from offline.render import write_render
from stacks.config import ConfigError, parse_config

POOL = "aws:cognito/userPool:UserPool"
CLIENT = "aws:cognito/userPoolClient:UserPoolClient"


@pytest.fixture(scope="module")
def oidc() -> Plan:
    return plan_for("dev", **OIDC_STACK)


@pytest.fixture(scope="module")
def cognito() -> Plan:
    return plan_for("dev", **COGNITO_STACK)


def container(plan: Plan) -> dict[str, Any]:
    (d,) = plan.k8s("Deployment", "open-webui")
    (c,) = d["spec"]["template"]["spec"]["containers"]
    return c


def literal_env(plan: Plan) -> dict[str, str]:
    return {e["name"]: e["value"] for e in container(plan)["env"] if "value" in e}


def secret_ref(plan: Plan, name: str) -> dict[str, str]:
    (ref,) = [e["valueFrom"]["secretKeyRef"] for e in container(plan)["env"] if e["name"] == name]
    return ref


def problems_of(raw: dict[str, Any], secret_keys: tuple[str, ...] = ("oidcClientSecret",)) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(raw, region="us-east-1", stack="dev", secret_keys=secret_keys)
    return info.value.problems


# --- oidc ---------------------------------------------------------------------------------------------


def test_oidc_settings_sign_in_only_through_the_provider(oidc: Plan):
    env = literal_env(oidc)
    assert env["OPENID_PROVIDER_URL"] == "https://login.example.com/realms/staff/.well-known/openid-configuration"
    assert env["OAUTH_CLIENT_ID"] == "inferentia-chat"
    assert env["OPENID_REDIRECT_URI"] == "https://chat.example.com/oauth/oidc/callback"
    assert env["OAUTH_ALLOWED_DOMAINS"] == "example.com,corp.example.com"
    assert env["ENABLE_OAUTH_ROLE_MANAGEMENT"] == "True"
    assert env["OAUTH_ROLES_CLAIM"] == "groups" and env["OAUTH_ADMIN_ROLES"] == "chat-admins"
    # No password door beside it: the login form is off and password sign-in refused; accounts are made at
    # the first sign-in (allowed domains only), as users, never by self sign-up or by e-mail merging.
    assert env["ENABLE_LOGIN_FORM"] == "False" and env["ENABLE_PASSWORD_AUTH"] == "False"
    assert env["ENABLE_SIGNUP"] == "False" and env["ENABLE_OAUTH_SIGNUP"] == "True"
    assert env["OAUTH_MERGE_ACCOUNTS_BY_EMAIL"] == "False" and env["DEFAULT_USER_ROLE"] == "user"
    assert env["WEBUI_SESSION_COOKIE_SECURE"] == "True"


def test_the_client_secret_comes_from_a_secret_and_is_never_rendered(oidc: Plan, tmp_path: Path):
    ref = secret_ref(oidc, "OAUTH_CLIENT_SECRET")
    assert ref == {"name": "open-webui-oidc", "key": "client-secret"}
    (secret,) = [s for s in oidc.k8s("Secret", "open-webui-oidc")]
    assert secret["metadata"]["namespace"] == "open-webui" and "client-secret" in secret["stringData"]
    folder = write_render(oidc.result, tmp_path)
    for name in ("resources.json", "kubernetes.yaml", "outputs.json"):
        assert CLIENT_SECRET not in (folder / name).read_text(), name
    assert json.loads((folder / "outputs.json").read_text())["webuiAuth"] == "oidc"
    # The Deployment waits for it (else the pod starts with a missing Secret).
    deployment = oidc.one("kubernetes:apps/v1:Deployment", "webui-deployment")
    assert oidc.depends(deployment, oidc.one("kubernetes:core/v1:Secret", "webui-oidc"))


def test_the_pod_may_reach_the_provider_over_https_only_with_oidc(oidc: Plan, dev_alb: Plan):
    def egress(plan: Plan) -> list[dict[str, Any]]:
        (policy,) = plan.k8s("NetworkPolicy", "open-webui")
        return policy["spec"]["egress"]

    https = [e for e in egress(oidc) if e.get("ports") == [{"protocol": "TCP", "port": 443}]]
    assert len(https) == 1
    assert not [e for e in egress(dev_alb) if e.get("ports") == [{"protocol": "TCP", "port": 443}]]


def test_local_sign_in_keeps_the_login_form(dev_alb: Plan):
    env = literal_env(dev_alb)
    assert env["ENABLE_LOGIN_FORM"] == "True" and "OAUTH_CLIENT_ID" not in env
    assert not dev_alb.k8s("Secret", "open-webui-oidc")


def test_oidc_is_refused_without_the_https_exposure():
    problems = problems_of({"webui": {"auth": "oidc", "oidc": OIDC}, "oidcClientSecret": "x"})
    (problem,) = [p for p in problems if p.startswith("inferentia-chat:webui.auth")]
    assert problem.startswith("inferentia-chat:webui.auth = 'oidc': needs the HTTPS exposure")


def test_an_http_issuer_is_refused():
    webui = {**ALB_WEBUI, "auth": "oidc", "oidc": {**OIDC, "issuerUrl": "http://login.example.com"}}
    (problem,) = problems_of({"webui": webui, "oidcClientSecret": "x"})
    assert problem.startswith("inferentia-chat:webui.oidc.issuerUrl = 'http://login.example.com': must be")
    with pytest.raises(ValueError, match="https"):
        oidc_settings(
            issuer_url="http://x",
            client_id="c",
            allowed_domains=["a.com"],
            roles_claim="r",
            admin_roles=["a"],
            provider_name="p",
            url="https://h",
        )


def test_oidc_needs_its_keys_and_the_client_secret_as_a_secret():
    problems = problems_of({"webui": {**ALB_WEBUI, "auth": "oidc"}})
    keys = [p.split(" ", 1)[0] for p in problems]
    assert keys == [
        "inferentia-chat:webui.oidc.issuerUrl",
        "inferentia-chat:webui.oidc.clientId",
        "inferentia-chat:webui.oidc.allowedDomains",
        "inferentia-chat:oidcClientSecret",
    ]
    plain = problems_of({"webui": {**ALB_WEBUI, "auth": "oidc", "oidc": OIDC}, "oidcClientSecret": "x"}, ())
    assert plain == [
        "inferentia-chat:oidcClientSecret = [hidden]: must be a secret; remove it and set it again with "
        "`pulumi config set --secret inferentia-chat:oidcClientSecret <value>`"
    ]


def test_oidc_keys_only_with_oidc():
    problems = problems_of({"webui": {"oidc": OIDC}, "oidcClientSecret": CLIENT_SECRET})
    assert any(p.startswith("inferentia-chat:webui.oidc = ") and "only applies when" in p for p in problems)
    assert any(p.startswith("inferentia-chat:oidcClientSecret = [hidden]: only applies") for p in problems)
    assert not any(CLIENT_SECRET in p for p in problems)


def test_allowed_domains_are_domains():
    webui = {**ALB_WEBUI, "auth": "oidc", "oidc": {**OIDC, "allowedDomains": ["*"]}}
    (problem,) = problems_of({"webui": webui, "oidcClientSecret": "x"})
    assert problem.startswith("inferentia-chat:webui.oidc.allowedDomains[0] = '*': must be an e-mail domain")


# --- cognito ------------------------------------------------------------------------------------------


def test_cognito_pool_has_no_self_sign_up_and_requires_mfa(cognito: Plan):
    pool = cognito.one(POOL)
    assert pool.inputs["adminCreateUserConfig"]["allowAdminCreateUserOnly"] is True
    assert pool.inputs["mfaConfiguration"] == "ON"
    assert pool.inputs["softwareTokenMfaConfiguration"] == {"enabled": True}
    policy = pool.inputs["passwordPolicy"]
    assert policy["minimumLength"] >= 14 and all(
        policy[k] for k in ("requireLowercase", "requireUppercase", "requireNumbers", "requireSymbols")
    )
    assert pool.inputs["userPoolAddOns"] == {"advancedSecurityMode": "ENFORCED"}
    assert pool.inputs["userPoolTier"] == "PLUS"
    assert pool.inputs["deletionProtection"] == "ACTIVE"  # it holds the accounts and their MFA enrolments


def test_cognito_client_is_a_code_grant_back_to_the_web_ui_only(cognito: Plan):
    client = cognito.one(CLIENT)
    assert client.inputs["generateSecret"] is True
    assert client.inputs["allowedOauthFlows"] == ["code"] and client.inputs["allowedOauthFlowsUserPoolClient"]
    assert client.inputs["allowedOauthScopes"] == ["openid", "email", "profile"]
    assert client.inputs["callbackUrls"] == ["https://chat.example.com/oauth/oidc/callback"]
    assert client.inputs["supportedIdentityProviders"] == ["COGNITO"]
    domain = cognito.one("aws:cognito/userPoolDomain:UserPoolDomain")
    assert domain.inputs["domain"].startswith("chat-")
    group = cognito.one("aws:cognito/userGroup:UserGroup")
    assert group.inputs["name"] == "admins"


def test_cognito_feeds_open_webui_through_a_secret(cognito: Plan):
    env = literal_env(cognito)
    pool = cognito.one(POOL)
    pool_id = cognito.outputs["cognitoUserPoolId"]
    assert pool_id.startswith("us-east-1_")
    assert env["OPENID_PROVIDER_URL"] == (
        f"https://cognito-idp.us-east-1.amazonaws.com/{pool_id}/.well-known/openid-configuration"
    )
    assert env["OAUTH_ROLES_CLAIM"] == "cognito:groups" and env["OAUTH_ADMIN_ROLES"] == "admins"
    assert env["OAUTH_ALLOWED_DOMAINS"] == "*"  # only an administrator makes accounts
    assert env["ENABLE_LOGIN_FORM"] == "False"
    assert secret_ref(cognito, "OAUTH_CLIENT_SECRET") == {"name": "open-webui-oidc", "key": "client-secret"}
    secret = cognito.one("kubernetes:core/v1:Secret", "webui-oidc")
    assert cognito.depends(secret, cognito.one(CLIENT)) and cognito.depends(secret, pool)
    domain = cognito.outputs["cognitoSignInDomain"]
    assert domain.endswith(".auth.us-east-1.amazoncognito.com")
    # Sign-out ends the Cognito session too and comes back to the sign-in page.
    assert env["OAUTH_CLIENT_ID"]  # the app client's id, as Cognito made it
    assert env["OPENID_END_SESSION_ENDPOINT"] == (
        f"{domain}/logout?client_id={env['OAUTH_CLIENT_ID']}&logout_uri=https%3A%2F%2Fchat.example.com%2Fauth"
    )
    assert "OPENID_END_SESSION_ENDPOINT" not in literal_env(plan_for("dev", **OIDC_STACK))


def test_cognito_is_refused_without_the_https_exposure():
    (problem,) = problems_of({"webui": {"auth": "cognito"}})
    assert problem.startswith("inferentia-chat:webui.auth = 'cognito': needs the HTTPS exposure")


def test_cognito_domain_prefix_is_checked():
    webui = {**ALB_WEBUI, "auth": "cognito", "cognito": {"domainPrefix": "my-aws-chat"}}
    (problem,) = problems_of({"webui": webui})
    assert problem.startswith("inferentia-chat:webui.cognito.domainPrefix = 'my-aws-chat': must not contain aws")
