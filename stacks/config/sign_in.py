"""`webui.auth` and its sections: how people sign in to the web UI.

`local` (accounts in Open WebUI), `oidc` (the organisation's OpenID Connect provider: `webui.oidc` and the
secret `oidcClientSecret`) or `cognito` (a user pool the stack makes: `webui.cognito`). Both providers need the
HTTPS exposure: the provider sends browsers back to https://<webui.hostname>/oauth/oidc/callback.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Mapping
from typing import Any

from .fields import _Problems, _Section
from .rules import CLAIM, CLIENT_ID, COGNITO_PREFIX, COGNITO_RESERVED, HOSTNAME, ROLE, match
from .schema import AUTH_MODES, CONFIG_NAMESPACE, CognitoConfig, OidcConfig, WebUiConfig

ALB_EXPOSURES = ("internal-alb", "public-alb")


def _webui_auth(s: _Section, exposure: str | None) -> dict[str, Any]:
    """`webui.auth` and its `webui.oidc` / `webui.cognito` sections (keyword arguments of WebUiConfig)."""
    auth = s.string("auth", "local", choices=AUTH_MODES) or "local"
    oidc_section, cognito_section = s.section("oidc"), s.section("cognito")
    for mode, section in (("oidc", oidc_section), ("cognito", cognito_section)):
        if auth != mode and s.has(mode):
            s.problems.add(section.path, s.raw[mode], f"only applies when {s.key('auth')} is {mode}")
            section.used.update(map(str, section.raw))  # one problem for the section, not one per key
    if auth != "local" and exposure not in ALB_EXPOSURES:
        s.problems.add(
            s.key("auth"),
            auth,
            f"needs the HTTPS exposure ({s.key('exposure')} internal-alb or public-alb with certificateArn and "
            "hostname): the identity provider sends browsers back to https://<hostname>/oauth/oidc/callback, "
            "and session cookies must be secure",
        )
    result: dict[str, Any] = {"auth": auth}
    if auth == "oidc":
        result["oidc"] = _oidc(oidc_section)
    elif auth == "cognito":
        result["cognito"] = _cognito(cognito_section)
    oidc_section.finish()
    cognito_section.finish()
    return result


def _oidc(o: _Section) -> OidcConfig:
    """`webui.oidc`: the organisation's OpenID Connect provider."""
    issuer = o.string("issuerUrl", None, allowed="the provider's https:// issuer URL", required=True)
    if issuer is not None:
        parsed = urllib.parse.urlsplit(issuer)
        if parsed.scheme != "https" or not parsed.hostname or parsed.query or parsed.fragment or not issuer.isascii():
            o.problems.add(
                o.key("issuerUrl"),
                issuer,
                "must be the provider's https:// issuer URL (its discovery document is "
                "<issuer>/.well-known/openid-configuration); http would let the network forge sign-ins",
            )
            issuer = None
    client_id = o.string(
        "clientId", None, pattern=CLIENT_ID, allowed="the application's client id at the provider", required=True
    )

    def domain(value: str) -> str | None:
        return None if value.isascii() and HOSTNAME.fullmatch(value) else "must be an e-mail domain such as example.com"

    domains = o.strings("allowedDomains", (), item=domain, min_items=1)
    if not domains and not o.has("allowedDomains"):
        o.problems.missing(o.key("allowedDomains"), "the e-mail domains whose users may sign in, e.g. [example.com]")
    claim = o.string("rolesClaim", "roles", pattern=CLAIM, allowed="must be a claim name such as roles or groups")
    admins = o.strings("adminRoles", ("admin",), item=match(ROLE, "must be a role or group name"), min_items=1)
    name = o.string("providerName", "Single sign-on", pattern=ROLE, allowed="the sign-in button's label")
    return OidcConfig(
        issuer_url=(issuer or "").rstrip("/"),
        client_id=client_id or "",
        allowed_domains=domains,
        roles_claim=claim or "roles",
        admin_roles=admins,
        provider_name=name or "Single sign-on",
    )


def _cognito(o: _Section) -> CognitoConfig:
    """`webui.cognito`: the stack's own user pool."""
    prefix = o.string(
        "domainPrefix",
        None,
        pattern=COGNITO_PREFIX,
        allowed="must be 1-63 lowercase letters, digits or '-' (the hosted sign-in page's name)",
    )
    if prefix and any(word in prefix for word in COGNITO_RESERVED):
        o.problems.add(o.key("domainPrefix"), prefix, "must not contain aws, amazon or cognito (Cognito refuses)")
    group = o.string("adminGroup", "admins", pattern=ROLE, allowed="must be a Cognito group name")
    return CognitoConfig(domain_prefix=prefix, admin_group=group or "admins")


def _oidc_secret(raw: Mapping[str, Any], webui: WebUiConfig | None, problems: _Problems) -> None:
    """`inferentia-chat:oidcClientSecret` is required with webui.auth oidc and means nothing otherwise."""
    auth = webui.auth if webui is not None else "local"
    if auth == "oidc" and "oidcClientSecret" not in raw:
        problems.missing(
            f"{CONFIG_NAMESPACE}:oidcClientSecret",
            "webui.auth oidc needs the application's client secret at the provider: "
            f"`pulumi config set --secret {CONFIG_NAMESPACE}:oidcClientSecret <value>`",
        )
    elif auth != "oidc" and "oidcClientSecret" in raw:
        problems.items.append(
            f"{CONFIG_NAMESPACE}:oidcClientSecret = [hidden]: only applies when webui.auth is oidc (cognito makes "
            f"its own client secret); remove it with `pulumi config rm {CONFIG_NAMESPACE}:oidcClientSecret`"
        )
