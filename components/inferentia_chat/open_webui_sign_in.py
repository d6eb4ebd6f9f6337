"""Open WebUI's sign-in through an OpenID Connect provider (the organisation's, or a Cognito user pool).

The environment names are Open WebUI 0.12.4's (`open_webui/config.py`); the real-app browser tier
(tests/webui_app/test_browser.py) signs in with them through a local provider.
"""

from collections.abc import Mapping, Sequence
from typing import Any, NotRequired, TypedDict

import pulumi
import pulumi_kubernetes as k8s

OIDC_SECRET_KEY = "client-secret"
OIDC_CALLBACK_PATH = "/oauth/oidc/callback"  # Open WebUI's redirect route for the `oidc` provider
AUTH_MODES = ("local", "oidc")


class OidcArgs(TypedDict):
    """Sign-in through an OpenID Connect provider (the organisation's, or a Cognito user pool)."""

    issuer_url: pulumi.Input[str]
    """The provider's https issuer URL (its discovery document is `<issuer>/.well-known/openid-configuration`)."""
    client_id: pulumi.Input[str]
    """The application's client id at the provider."""
    client_secret: pulumi.Input[str]
    """The application's client secret (a secret; kept in a Kubernetes Secret, never rendered)."""
    allowed_domains: Sequence[str]
    """E-mail domains whose users may sign in (`*` for any, e.g. a user pool whose accounts an admin made)."""
    roles_claim: NotRequired[str]
    """Claim holding the user's roles or groups (default `roles`)."""
    admin_roles: NotRequired[Sequence[str]]
    """Values of that claim that make a user an Open WebUI admin (default `admin`)."""
    provider_name: NotRequired[str]
    """Label of the sign-in button (default `Single sign-on`)."""
    end_session_url: NotRequired[pulumi.Input[str]]
    """Where sign-out sends the browser, for a provider whose discovery document names no end-session
    endpoint (Cognito); default: the discovery document's."""


def oidc_settings(
    *,
    issuer_url: str,
    client_id: str,
    allowed_domains: Sequence[str],
    roles_claim: str,
    admin_roles: Sequence[str],
    provider_name: str,
    url: str,
) -> dict[str, str]:
    """What `auth: oidc` changes in the environment (Open WebUI 0.12.4 open_webui/config.py names): the
    provider is the only way in (no login form, no password sign-in), an account is made at a user's first
    sign-in if the e-mail domain is allowed, as a `user`; the roles claim makes admins (and takes it away)."""
    if not issuer_url.startswith("https://"):
        raise ValueError(f"oidc issuer_url {issuer_url!r} must be an https URL")
    return {
        "ENABLE_LOGIN_FORM": "False",
        "ENABLE_PASSWORD_AUTH": "False",
        "ENABLE_SIGNUP": "False",
        "ENABLE_OAUTH_SIGNUP": "True",
        "OAUTH_MERGE_ACCOUNTS_BY_EMAIL": "False",
        "DEFAULT_USER_ROLE": "user",
        "ENABLE_OAUTH_PERSISTENT_CONFIG": "False",
        "OAUTH_CLIENT_ID": client_id,
        "OPENID_PROVIDER_URL": f"{issuer_url.rstrip('/')}/.well-known/openid-configuration",
        "OPENID_REDIRECT_URI": f"{url}{OIDC_CALLBACK_PATH}",
        "OAUTH_SCOPES": "openid email profile",
        "OAUTH_PROVIDER_NAME": provider_name,
        "OAUTH_ALLOWED_DOMAINS": ",".join(allowed_domains),
        "ENABLE_OAUTH_ROLE_MANAGEMENT": "True",
        "OAUTH_ROLES_CLAIM": roles_claim,
        # Any role the provider sends admits the user (the domain decides who); these make admins.
        "OAUTH_ALLOWED_ROLES": "*",
        "OAUTH_ADMIN_ROLES": ",".join(admin_roles),
    }


def with_oidc(literal: pulumi.Output[dict[str, str]], oidc: OidcArgs, url: str) -> pulumi.Output[dict[str, str]]:
    """The literal environment with the provider's settings added (issuer and client id may be outputs)."""
    return pulumi.Output.all(literal, oidc["issuer_url"], oidc["client_id"], oidc.get("end_session_url", "")).apply(
        lambda a: {
            **a[0],
            **({"OPENID_END_SESSION_ENDPOINT": a[3]} if a[3] else {}),
            **oidc_settings(
                issuer_url=a[1],
                client_id=a[2],
                allowed_domains=oidc["allowed_domains"],
                roles_claim=oidc.get("roles_claim", "roles"),
                admin_roles=oidc.get("admin_roles", ["admin"]),
                provider_name=oidc.get("provider_name", "Single sign-on"),
                url=url,
            ),
        }
    )


def oidc_secret(resource_name: str, metadata: Any, oidc: OidcArgs, opts: pulumi.ResourceOptions) -> k8s.core.v1.Secret:
    """The Secret the container reads OAUTH_CLIENT_SECRET from (the value is never rendered)."""
    return k8s.core.v1.Secret(
        resource_name,
        metadata=metadata,
        type="Opaque",
        string_data={OIDC_SECRET_KEY: pulumi.Output.secret(oidc["client_secret"])},
        opts=opts,
    )


def checked_sign_in(args: Mapping[str, Any], alb: bool) -> OidcArgs | None:
    """The OpenID provider to sign in through (None for local accounts), once what it needs is given."""
    auth = args.get("auth", "local")
    if auth not in AUTH_MODES:
        raise ValueError(f"auth {auth!r} must be one of {', '.join(AUTH_MODES)}")
    oidc = args.get("oidc") if auth == "oidc" else None
    if auth == "oidc" and (oidc is None or not alb):
        raise ValueError("auth 'oidc' needs oidc (the provider) and an ALB exposure (HTTPS at the hostname)")
    return oidc
