"""CognitoUserPool: the sign-in of a team without an identity provider of its own.

An Amazon Cognito user pool made for the web UI: accounts only by an administrator (no self sign-up), MFA
with an authenticator app required for everyone, a long password policy, threat protection enforced, a
hosted sign-in domain, and one confidential app client (authorization-code grant, `openid email profile`)
whose only callback is the web UI's HTTPS address. Members of the admin group (the `cognito:groups` claim of
the ID token) become Open WebUI admins. The pool holds the accounts and their MFA enrolments: deletion
protection is on.
"""

import urllib.parse
from collections.abc import Mapping
from typing import NotRequired, TypedDict

import pulumi
import pulumi_aws as aws
import pulumi_random as random

from .open_webui_sign_in import OIDC_CALLBACK_PATH
from .tags import component_tags

TYPE = "inferentia-chat:index:CognitoUserPool"
GROUPS_CLAIM = "cognito:groups"  # where Cognito puts a user's groups in the ID token
SCOPES = ["openid", "email", "profile"]
PASSWORD_MIN_LENGTH = 14


class CognitoUserPoolArgs(TypedDict):
    """Inputs of `CognitoUserPool`."""

    hostname: str
    """DNS name of the web UI (served over HTTPS): the app client's only callback and sign-out address."""
    domain_prefix: NotRequired[str]
    """Prefix of the hosted sign-in domain `<prefix>.auth.<region>.amazoncognito.com` (unique in the region;
    default `chat-<random hex>`)."""
    admin_group: NotRequired[str]
    """Group whose members are Open WebUI admins (default `admins`)."""
    tags: NotRequired[Mapping[str, str]]
    """Common tags for every AWS resource."""


def callback_url(hostname: str) -> str:
    """Where Cognito sends the browser back with the authorization code."""
    return f"https://{hostname}{OIDC_CALLBACK_PATH}"


class CognitoUserPool(pulumi.ComponentResource):
    """A Cognito user pool, its hosted domain, an admin group and the web UI's app client."""

    issuer_url: pulumi.Output[str]
    """OpenID Connect issuer of the pool, https://cognito-idp.<region>.amazonaws.com/<pool id>."""
    client_id: pulumi.Output[str]
    """Id of the web UI's app client."""
    client_secret: pulumi.Output[str]
    """Secret of the web UI's app client (a Pulumi secret)."""
    user_pool_id: pulumi.Output[str]
    """Id of the user pool (to add users: `aws cognito-idp admin-create-user`)."""
    sign_in_domain: pulumi.Output[str]
    """The hosted sign-in domain, https://<prefix>.auth.<region>.amazoncognito.com."""
    admin_group: pulumi.Output[str]
    """Name of the group whose members are admins."""
    sign_out_url: pulumi.Output[str]
    """Cognito's logout endpoint for the web UI's client, back to the web UI's sign-in page afterwards (the
    pool's discovery document names no end-session endpoint, so the web UI is told this one)."""

    def __init__(self, name: str, args: CognitoUserPoolArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(TYPE, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = component_tags(args.get("tags", {}), "CognitoUserPool")
        region = aws.get_region().region
        hostname = args["hostname"]
        pool = self._pool(name, tags)
        prefix: pulumi.Input[str]
        if "domain_prefix" in args:
            prefix = args["domain_prefix"]
        else:
            # Hex only: it can never spell a word Cognito refuses (aws, amazon, cognito).
            suffix = random.RandomId(f"{name}-domain-suffix", byte_length=5, opts=child)
            prefix = suffix.hex.apply(lambda h: f"chat-{h}")
        domain = aws.cognito.UserPoolDomain(f"{name}-domain", domain=prefix, user_pool_id=pool.id, opts=child)
        group_name = args.get("admin_group", "admins")
        aws.cognito.UserGroup(
            f"{name}-admins",
            user_pool_id=pool.id,
            name=group_name,
            description="Open WebUI admins (the web UI maps this group to its admin role)",
            opts=child,
        )
        client = self._client(name, pool, hostname, domain)
        self.issuer_url = pulumi.Output.concat("https://cognito-idp.", region, ".amazonaws.com/", pool.id)
        self.client_id = client.id
        self.client_secret = pulumi.Output.secret(client.client_secret)
        self.user_pool_id = pool.id
        self.sign_in_domain = pulumi.Output.concat("https://", domain.domain, ".auth.", region, ".amazoncognito.com")
        self.admin_group = pulumi.Output.from_input(group_name)
        back = urllib.parse.quote(f"https://{hostname}/auth", safe="")
        self.sign_out_url = pulumi.Output.concat(
            self.sign_in_domain, "/logout?client_id=", client.id, "&logout_uri=", back
        )
        self.register_outputs(
            {
                "issuer_url": self.issuer_url,
                "client_id": self.client_id,
                "client_secret": self.client_secret,
                "user_pool_id": self.user_pool_id,
                "sign_in_domain": self.sign_in_domain,
                "admin_group": self.admin_group,
                "sign_out_url": self.sign_out_url,
            }
        )

    def _pool(self, name: str, tags: Mapping[str, str]) -> aws.cognito.UserPool:
        """The pool: accounts by an administrator only, MFA required, strong passwords, threat protection."""
        return aws.cognito.UserPool(
            f"{name}-pool",
            username_attributes=["email"],
            auto_verified_attributes=["email"],
            # No self sign-up: an administrator creates every account (it gets a temporary password).
            admin_create_user_config=aws.cognito.UserPoolAdminCreateUserConfigArgs(allow_admin_create_user_only=True),
            # Everyone enrols an authenticator app at first sign-in; no SMS (SIM swapping, and no SNS role).
            mfa_configuration="ON",
            software_token_mfa_configuration=aws.cognito.UserPoolSoftwareTokenMfaConfigurationArgs(enabled=True),
            password_policy=aws.cognito.UserPoolPasswordPolicyArgs(
                minimum_length=PASSWORD_MIN_LENGTH,
                require_lowercase=True,
                require_uppercase=True,
                require_numbers=True,
                require_symbols=True,
                temporary_password_validity_days=3,
            ),
            account_recovery_setting=aws.cognito.UserPoolAccountRecoverySettingArgs(
                recovery_mechanisms=[
                    aws.cognito.UserPoolAccountRecoverySettingRecoveryMechanismArgs(name="verified_email", priority=1)
                ]
            ),
            # Threat protection (compromised credentials, adaptive authentication) blocks risky sign-ins;
            # it needs the Plus feature plan.
            user_pool_tier="PLUS",
            user_pool_add_ons=aws.cognito.UserPoolUserPoolAddOnsArgs(advanced_security_mode="ENFORCED"),
            deletion_protection="ACTIVE",
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, protect=True),
        )

    def _client(
        self, name: str, pool: aws.cognito.UserPool, hostname: str, domain: aws.cognito.UserPoolDomain
    ) -> aws.cognito.UserPoolClient:
        """The web UI's confidential app client: code grant back to the web UI's HTTPS address only."""
        return aws.cognito.UserPoolClient(
            f"{name}-webui-client",
            user_pool_id=pool.id,
            generate_secret=True,
            allowed_oauth_flows_user_pool_client=True,
            allowed_oauth_flows=["code"],
            allowed_oauth_scopes=SCOPES,
            callback_urls=[callback_url(hostname)],
            logout_urls=[f"https://{hostname}/auth"],
            supported_identity_providers=["COGNITO"],
            explicit_auth_flows=["ALLOW_REFRESH_TOKEN_AUTH"],
            prevent_user_existence_errors="ENABLED",
            enable_token_revocation=True,
            access_token_validity=60,
            id_token_validity=60,
            refresh_token_validity=12,
            token_validity_units=aws.cognito.UserPoolClientTokenValidityUnitsArgs(
                access_token="minutes", id_token="minutes", refresh_token="hours"
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[domain]),
        )
