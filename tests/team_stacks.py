"""Stack configurations of a team's chat service, as config overrides of the dev stack: two models
(`inferentia-chat:models`), a Hugging Face token, and sign-in through an OpenID provider or the stack's Cognito
pool. Used by the
plan tests (test_models.py, test_sign_in.py), the assurance checks over every variant (conftest.py) and the
browser tier (webui_app/test_browser.py)."""

from __future__ import annotations

from typing import Any

from inferentia_chat.model_names import model_suffix

ALB_WEBUI = {
    "exposure": "public-alb",
    "certificateArn": "arn:aws:acm:us-east-1:123456789012:certificate/0b5f6c2e-6a3b-4e39-9d7a-1c2b3d4e5f60",
    "allowedCidrs": ["198.51.100.0/24"],
    "hostname": "chat.example.com",
}
MODELS = "inferentia-chat:models"
POOL = "inferentia-chat:inferencePool"
WEBUI = "inferentia-chat:webui"
SECRET_KEY = "inferentia-chat:oidcClientSecret"
MISTRAL = {
    "id": "mistralai/Mistral-7B-Instruct-v0.3",
    "servedName": "mistral-7b-instruct",
    "tensorParallelSize": 2,
    "maxModelLen": 8192,
    "maxNumSeqs": 4,
    # As the dev stack serves it: KEDA between 1 and 2 replicas.
    "autoscaling": {"minReplicas": 1, "maxReplicas": 2},
}
# A second model whose served name is not a DNS label ('.'): its resources get a hashed suffix.
QWEN = {
    "id": "Qwen/Qwen2.5-7B-Instruct",
    "revision": "a09a35458c702b33eeacc393d103063234e8bc28",
    "source": "s3://corp-models/qwen2.5-7b-instruct/",
    "servedName": "qwen2.5-7b-instruct",
    "tensorParallelSize": 2,
    "maxModelLen": 4096,
    "maxNumSeqs": 8,
    "replicas": 1,
}
TWO_MODELS: dict[str, Any] = {
    "inferentia-chat:model": None,
    MODELS: [MISTRAL, QWEN],
    # Mistral at its peak (2 + 1 rolling + 1 compile) and Qwen (1 + 1 + 1).
    POOL: {"instanceTypes": ["inf2.xlarge", "inf2.8xlarge"], "maxNeuronDevices": 7},
}
QWEN_SUFFIX = model_suffix("qwen2.5-7b-instruct")
CLIENT_SECRET = "s3cr3t-oidc-client-value-never-rendered"
OIDC = {
    "issuerUrl": "https://login.example.com/realms/staff",
    "clientId": "inferentia-chat",
    "allowedDomains": ["example.com", "corp.example.com"],
    "rolesClaim": "groups",
    "adminRoles": ["chat-admins"],
}
OIDC_STACK: dict[str, Any] = {
    WEBUI: {**ALB_WEBUI, "auth": "oidc", "oidc": OIDC},
    SECRET_KEY: {"secure": CLIENT_SECRET},
}
COGNITO_STACK: dict[str, Any] = {WEBUI: {**ALB_WEBUI, "auth": "cognito"}}
# Mistral is gated on Hugging Face (Pulumi.team.yaml): a team's stack sets the token, a secret.
HF_TOKEN = "hf_team_token_value_never_rendered"
HF_TOKEN_STACK: dict[str, Any] = {"inferentia-chat:hfToken": {"secure": HF_TOKEN}}
