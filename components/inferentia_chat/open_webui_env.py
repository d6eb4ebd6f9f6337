"""Open WebUI's environment: the literal settings of the container and its inference connections (one per
served model), each key from a Secret. Pure functions (`OpenWebUI` builds the container from them).
"""

from collections.abc import Mapping, Sequence
from typing import Any, TypedDict

import pulumi

# The application's own readiness route (open_webui/main.py `/ready`: 200 once start-up work is done and the
# database answers); `/health` only says the process serves HTTP.
READY_PATH = "/ready"
PORT = 8080
DATA_DIR = "/app/backend/data"
INFERENCE_KEY = "api-key"  # key of the Secrets holding each connection's API key


class InferenceEndpointArgs(TypedDict):
    """A further OpenAI-compatible endpoint (one more served model), what `VllmNeuronServer` provides."""

    openai_base_url: pulumi.Input[str]
    """In-cluster OpenAI base URL without a trailing slash."""
    served_model_name: str
    """Model name the endpoint serves (names the Secret holding its key copy)."""
    api_key: pulumi.Input[str]
    """The endpoint's API key (a secret); copied into a Secret of the web UI's namespace."""
    pod_labels: Mapping[str, str]
    """Labels of the endpoint's pods (in `inference_namespace`; NetworkPolicy egress)."""


def check_base_url(url: str) -> str:
    """The base URL as given, or ValueError: a trailing slash makes Open WebUI call `/v1//models` (404)."""
    if not url.startswith(("http://", "https://")) or url.endswith("/"):
        raise ValueError(f"openai_base_url {url!r} must be an http(s) URL ending in /v1 without a trailing slash")
    return url


def settings(
    *,
    base_url: str,
    served_model_name: str,
    admin_email: str,
    admin_name: str,
    url: str,
    https: bool,
) -> dict[str, str]:
    """The literal (non-secret) environment of the container, setting by setting. `base_url` lists every
    connection, `;`-separated (OPENAI_API_KEYS gives their keys in the same order)."""
    env = {
        # Where things are written: the data volume and the emptyDir at /tmp; nothing else is writable.
        "DATA_DIR": DATA_DIR,
        "HOME": "/tmp",
        "STATIC_DIR": "/tmp/static",  # copied from the frontend build at every start
        # Access: login required, no self-service accounts, new accounts (made by the admin) wait for approval.
        "WEBUI_AUTH": "True",
        "ENABLE_SIGNUP": "False",
        "ENABLE_LOGIN_FORM": "True",
        "DEFAULT_USER_ROLE": "pending",
        # The first admin, created at first start when no user exists (password from the Secret).
        "WEBUI_ADMIN_EMAIL": admin_email,
        "WEBUI_ADMIN_NAME": admin_name,
        # The environment is authoritative: settings saved in the database do not override it.
        "ENABLE_PERSISTENT_CONFIG": "False",
        # The inference connections, one per served model (keys from the Secrets); no Ollama (nothing probes
        # for it), no user-added connections. Every served model is for every signed-in user: without this a
        # user (not admin) sees no model until an admin grants access in the panel, which with persistent
        # config off would not last a restart.
        "ENABLE_OPENAI_API": "True",
        "OPENAI_API_BASE_URLS": base_url,
        "DEFAULT_MODELS": served_model_name,
        "BYPASS_MODEL_ACCESS_CONTROL": "True",
        "ENABLE_OLLAMA_API": "False",
        "ENABLE_DIRECT_CONNECTIONS": "False",
        "AIOHTTP_CLIENT_TIMEOUT_MODEL_LIST": "5",  # the page loads while no replica answers the model list
        # Nothing is downloaded or phoned home.
        "OFFLINE_MODE": "True",
        "HF_HUB_OFFLINE": "1",
        "RAG_EMBEDDING_MODEL": "",
        "BYPASS_EMBEDDING_AND_RETRIEVAL": "True",
        "ENABLE_COMMUNITY_SHARING": "False",
        "ENABLE_VERSION_UPDATE_CHECK": "False",
        "ANONYMIZED_TELEMETRY": "False",
        "DO_NOT_TRACK": "True",
        "SCARF_NO_ANALYTICS": "True",
        # The address users open (links, redirects) and the only browser origins allowed (also for the
        # websocket): the hostname, or the port-forward under either loopback name.
        "WEBUI_URL": url,
        "CORS_ALLOW_ORIGIN": url if https else f"{url};http://127.0.0.1:{PORT}",
    }
    if https:
        env["WEBUI_SESSION_COOKIE_SECURE"] = "True"
        env["WEBUI_AUTH_COOKIE_SECURE"] = "True"
    return env


def inference_keys_env(secret_names: Sequence[str]) -> list[dict[str, Any]]:
    """OPENAI_API_KEYS from the key Secrets, in connection order. One key: read straight from its Secret.
    Several: each into a variable of its own, joined with `;` by the kubelet's `$(VAR)` expansion (a value
    may refer to variables defined before it), so no Secret ever holds more than one endpoint's key."""
    if len(secret_names) == 1:
        return [
            {"name": "OPENAI_API_KEYS", "valueFrom": {"secretKeyRef": {"name": secret_names[0], "key": INFERENCE_KEY}}}
        ]
    parts = [
        {"name": f"INFERENCE_API_KEY_{i}", "valueFrom": {"secretKeyRef": {"name": n, "key": INFERENCE_KEY}}}
        for i, n in enumerate(secret_names)
    ]
    joined = ";".join(f"$(INFERENCE_API_KEY_{i})" for i in range(len(secret_names)))
    return [*parts, {"name": "OPENAI_API_KEYS", "value": joined}]
