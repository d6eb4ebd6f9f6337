"""Every shipped stack renders with each secret it takes set the documented way (`pulumi config set --secret`,
a `secure:` value in the stack file), and the secret's value reaches no file and no line of output."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from config_cases import ROOT, project, render_text

from offline.render import SECRET_PLACEHOLDER, list_stacks
from stacks.config import CONFIG_NAMESPACE, SECRET_KEYS

# What the offline render puts in place of a `secure:` value it cannot decrypt (offline/render.py).
PLACEHOLDER = SECRET_PLACEHOLDER
# Secrets a DR stack refuses (nothing downloads the model there): tests/config_corpus.yaml covers that.
PRIMARY_ONLY = {"hfToken", "alertWebhookUrl"}
# Secrets that another key turns on: set with them (the webhook URL with the webhook alert target).
ENABLED_BY = {"alertWebhookUrl": ("monitoring", {"alertTarget": "webhook"})}
# Secrets only a sign-in mode takes (`webui.auth: oidc`); other stacks refuse them (tests/test_sign_in.py).
OIDC_ONLY = {"oidcClientSecret"}


def with_secrets(stack: str) -> tuple[str, list[str]]:
    document = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())
    role = document["config"].get(f"{CONFIG_NAMESPACE}:role", "primary")
    webui = document["config"].get(f"{CONFIG_NAMESPACE}:webui") or {}
    oidc = isinstance(webui, dict) and webui.get("auth") == "oidc"
    keys = [k for k in SECRET_KEYS if (role == "primary" or k not in PRIMARY_ONLY) and (oidc or k not in OIDC_ONLY)]
    for key in keys:
        document["config"][f"{CONFIG_NAMESPACE}:{key}"] = {"secure": "v1:c2VjcmV0LWNpcGhlcnRleHQ="}
        if key in ENABLED_BY:
            section, values = ENABLED_BY[key]
            merged = {**(document["config"].get(f"{CONFIG_NAMESPACE}:{section}") or {}), **values}
            document["config"][f"{CONFIG_NAMESPACE}:{section}"] = merged
    return yaml.safe_dump(document, sort_keys=False), keys


@pytest.mark.parametrize("stack", list_stacks(ROOT))
def test_shipped_stack_renders_with_its_secrets_set(tmp_path: Path, rendered: Path, stack: str):
    folder = project(tmp_path, rendered)
    text, keys = with_secrets(stack)
    outcome = render_text(folder, text, stack=f"{stack}-secrets")
    assert outcome.code == 0, outcome.err
    assert "Traceback" not in outcome.err
    written = "".join(p.read_text() for p in (folder / "build" / f"{stack}-secrets").iterdir())
    assert PLACEHOLDER not in written and PLACEHOLDER not in outcome.out + outcome.err
    if "hfToken" in keys:
        # The token reaches the model-load Job as a Kubernetes Secret, rendered without its value.
        objects = list(yaml.safe_load_all((folder / "build" / f"{stack}-secrets" / "kubernetes.yaml").read_text()))
        secrets = [o for o in objects if o and o["kind"] == "Secret" and "HF_TOKEN" in (o.get("stringData") or {})]
        assert secrets and all(o["stringData"]["HF_TOKEN"] == "[secret]" for o in secrets), secrets
    if "alertWebhookUrl" in keys:
        # The URL reaches Alertmanager as a Kubernetes Secret, rendered without its value.
        objects = list(yaml.safe_load_all((folder / "build" / f"{stack}-secrets" / "kubernetes.yaml").read_text()))
        hooks = [o for o in objects if o and o["kind"] == "Secret" and o["metadata"]["name"] == "alert-webhook"]
        assert hooks and hooks[0]["stringData"] == {"url": "[secret]"}, hooks


def test_every_primary_stack_takes_the_hugging_face_token():
    primaries = [s for s in list_stacks(ROOT) if with_secrets(s)[1]]
    assert "dev" in primaries
