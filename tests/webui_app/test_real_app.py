"""The real Open WebUI, configured exactly as the dev render configures its pod, in front of a fake vLLM.

Run with `make webui-test` (part of `make test`). The app starts twice on the same data directory: the
first start creates the admin account (as the first pod start would), the second is every later restart,
when the environment alone must keep signup closed. Each proof below guards a setting of the component:
change the setting and the proof fails (e.g. ENABLE_SIGNUP=True opens signup on the second start; an
OPENAI_API_KEYS reference to another key makes the backend refuse the key; a trailing slash in the base
URL makes the model list empty).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import plan_for
from fake_openai import REPLY, FakeOpenAI
from harness import APP_NAMESPACE, VENV, Pod, resolve_env, secret_values, the_container, to_loopback

from offline.render import ROOT, kubernetes_objects, read_stack_file
from stacks.config import parse_config

pytestmark = pytest.mark.webui_app

STRANGER = {"name": "Mallory", "email": "mallory@example.com", "password": "Str4nger-Passw0rd!"}
LATECOMER = {"name": "Trent", "email": "trent@example.com", "password": "L4tecomer-Passw0rd!"}


@dataclass
class App:
    """The running app, what it was given, and what happened at its first start."""

    pod: Pod
    backend: FakeOpenAI
    served_model: str
    admin_email: str
    admin_password: str
    first_start_signup: tuple[int, object]
    panel_change: tuple[int, object]
    signup_while_panel_open: tuple[int, object]
    changed_secret_password: str  # what the admin-password Secret held at the second start
    connections_change: tuple[int, object]  # an admin replacing the inference connections in the panel
    base_urls: str  # the connections the environment gives


def dev_served_model() -> str:
    raw = read_stack_file("dev").raw
    values = {k.split(":", 1)[1]: v for k, v in raw.items() if k.startswith("inferentia-chat:")}
    return parse_config(values, region=raw["aws:region"], stack="dev").model.served_name


@pytest.fixture(scope="module")
def app() -> Iterator[App]:
    if not (VENV / "bin" / "open-webui").exists():
        pytest.fail(f"no Open WebUI at {VENV}: run `make webui-test` (it installs requirements-webui.txt)")
    plan = plan_for("dev")
    objects = kubernetes_objects(plan.result)
    deployment, container = the_container(objects)
    backend_key = secrets.token_urlsafe(32)
    env = resolve_env(container, APP_NAMESPACE, secret_values(objects, plan.resources, backend_key))
    served_model = dev_served_model()
    backend = FakeOpenAI(api_key=backend_key, model=served_model).start()
    env["OPENAI_API_BASE_URLS"] = ";".join(
        to_loopback(u, backend.base_url) for u in env["OPENAI_API_BASE_URLS"].split(";")
    )
    workdir = ROOT / ".webui-test" / secrets.token_hex(4)  # not under build/: that holds renders only
    workdir.mkdir(parents=True)
    pod = Pod.from_render(deployment, env, workdir)
    try:
        pod.start()  # first start: empty volume, the admin account is created
        first_signup = pod.request("POST", "/api/v1/auths/signup", STRANGER)
        # An admin opens signup in the admin panel (drift from what the stack says)...
        credentials = {"email": env["WEBUI_ADMIN_EMAIL"], "password": env["WEBUI_ADMIN_PASSWORD"]}
        token = pod.request("POST", "/api/v1/auths/signin", credentials)[1]["token"]
        config = pod.request("GET", "/api/v1/auths/admin/config", token=token)[1]
        panel = pod.request("POST", "/api/v1/auths/admin/config", {**config, "ENABLE_SIGNUP": True}, token=token)
        while_open = pod.request("POST", "/api/v1/auths/signup", LATECOMER)
        # ...and points the model connection somewhere else (Admin Panel > Connections).
        elsewhere = {
            "ENABLE_OPENAI_API": True,
            "OPENAI_API_BASE_URLS": ["http://127.0.0.1:9/v1"],
            "OPENAI_API_KEYS": ["not-the-key"],
            "OPENAI_API_CONFIGS": {},
        }
        connections = pod.request("POST", "/openai/config/update", elsewhere, token=token)
        pod.stop()
        # Someone changes the admin-password Secret (a new generated value after `pulumi up`)...
        first_password = env["WEBUI_ADMIN_PASSWORD"]
        env["WEBUI_ADMIN_PASSWORD"] = secrets.token_urlsafe(24)
        pod.start()  # ...and every later start: the account exists, the environment alone decides
        yield App(
            pod,
            backend,
            served_model,
            env["WEBUI_ADMIN_EMAIL"],
            first_password,
            first_signup,
            panel,
            while_open,
            env["WEBUI_ADMIN_PASSWORD"],
            connections,
            env["OPENAI_API_BASE_URLS"],
        )
    finally:
        pod.stop()
        backend.stop()
        print(f"open-webui log: {pod.log}")


def sign_in(app: App) -> str:
    status, body = app.pod.request(
        "POST", "/api/v1/auths/signin", {"email": app.admin_email, "password": app.admin_password}
    )
    assert status == 200, body
    return body["token"]


def test_health_answers(app: App):
    assert app.pod.request("GET", "/health") == (200, {"status": True})


def test_the_readiness_route_the_probe_uses_answers(app: App):
    # components/open_webui.py READY_PATH: 200 only once start-up work is done and the database answers.
    assert app.pod.request("GET", "/ready") == (200, {"status": True})


def test_the_admin_password_secret_only_seeds_the_first_admin(app: App):
    # What docs/team.md and the webuiAdminPasswordNote output say: the account keeps the password it was
    # created with; a changed Secret is not a new password.
    changed = {"email": app.admin_email, "password": app.changed_secret_password}
    assert app.pod.request("POST", "/api/v1/auths/signin", changed)[0] in (400, 401, 403)
    assert sign_in(app)


def test_the_documented_password_rotation_works(app: App):
    # docs/team.md: the admin changes the password in the app (Settings > Account, the same API call).
    new = f"R0tated-{secrets.token_urlsafe(12)}"
    token = sign_in(app)
    status, body = app.pod.request(
        "POST", "/api/v1/auths/update/password", {"password": app.admin_password, "new_password": new}, token=token
    )
    assert (status, body) == (200, True)
    try:
        old = {"email": app.admin_email, "password": app.admin_password}
        assert app.pod.request("POST", "/api/v1/auths/signin", old)[0] in (400, 401, 403)
        status, body = app.pod.request("POST", "/api/v1/auths/signin", {"email": app.admin_email, "password": new})
        assert status == 200 and body["role"] == "admin"
    finally:  # the other proofs sign in with the first password
        app.pod.request(
            "POST",
            "/api/v1/auths/update/password",
            {"password": new, "new_password": app.admin_password},
            token=app.pod.request("POST", "/api/v1/auths/signin", {"email": app.admin_email, "password": new})[1][
                "token"
            ],
        )


def test_nobody_can_sign_up_at_first_start_or_after(app: App):
    assert app.first_start_signup[0] == 403, app.first_start_signup
    status, body = app.pod.request("POST", "/api/v1/auths/signup", STRANGER)
    assert status == 403, body
    status, _ = app.pod.request("POST", "/api/v1/auths/signin", {k: STRANGER[k] for k in ("email", "password")})
    assert status in (400, 401, 403)


def test_the_environment_overrides_settings_changed_in_the_admin_panel_at_restart(app: App):
    # The change was real while the pod ran (otherwise this test would prove nothing)...
    assert app.panel_change[0] == 200, app.panel_change
    assert app.signup_while_panel_open[0] == 200, app.signup_while_panel_open
    # ...and the restart restored the stack's setting (ENABLE_PERSISTENT_CONFIG=False).
    other = {**STRANGER, "email": "mallory2@example.com"}
    status, body = app.pod.request("POST", "/api/v1/auths/signup", other)
    assert status == 403, body


def test_admins_cannot_replace_the_model_connections_for_good(app: App):
    # The change was real while the pod ran...
    assert app.connections_change[0] == 200, app.connections_change
    # ...and the restart restored the stack's connections (ENABLE_PERSISTENT_CONFIG=False).
    status, config = app.pod.request("GET", "/openai/config", token=sign_in(app))
    assert status == 200, config
    assert config["OPENAI_API_BASE_URLS"] == app.base_urls.split(";")


def test_the_bootstrapped_admin_signs_in(app: App):
    status, body = app.pod.request(
        "POST", "/api/v1/auths/signin", {"email": app.admin_email, "password": app.admin_password}
    )
    assert status == 200, body
    assert body["role"] == "admin" and body["email"] == app.admin_email
    wrong = app.pod.request("POST", "/api/v1/auths/signin", {"email": app.admin_email, "password": "not-it"})
    assert wrong[0] in (400, 401, 403)


def test_requests_without_a_session_are_refused(app: App):
    status, _ = app.pod.request("GET", "/api/models")
    assert status in (401, 403)


def test_the_served_model_is_listed(app: App):
    status, body = app.pod.request("GET", "/api/models", token=sign_in(app))
    assert status == 200, body
    assert app.served_model in [m["id"] for m in body["data"]], body
    listing = [r for r in app.backend.requests if r.path == "/v1/models"]
    assert listing and all(r.authorized for r in listing)


def test_a_chat_completion_reaches_the_backend_with_its_key(app: App):
    prompt = f"ping {secrets.token_hex(4)}"
    body = {"model": app.served_model, "messages": [{"role": "user", "content": prompt}], "stream": False}
    status, answer = app.pod.request("POST", "/api/chat/completions", body, token=sign_in(app))
    assert status == 200, answer
    assert answer["choices"][0]["message"]["content"] == REPLY
    (seen,) = [r for r in app.backend.requests if r.path == "/v1/chat/completions" and prompt in str(r.body)]
    assert seen.authorized  # it carried `Authorization: Bearer <the inference key>`
    assert seen.body["model"] == app.served_model
    assert not [r for r in app.backend.requests if not r.authorized], "a request reached the backend without the key"


def test_it_downloads_no_model(app: App):
    log = app.pod.log_text()
    for sign in ("SentenceTransformer", "snapshot_download", "huggingface.co", "Downloading"):
        assert sign not in log, sign
    data = app.pod.mounts["/app/backend/data"]
    assert (data / "webui.db").exists()
    assert not (data / "cache" / "embedding").exists()


def test_it_runs_as_the_pods_user_with_a_read_only_root(app: App):
    if not app.pod.sandboxed:
        pytest.skip("needs root for the pod-like sandbox (CI runs as root)")
    status = Path(f"/proc/{app.pod.process.pid}/status").read_text()
    uid_line = next(line for line in status.splitlines() if line.startswith("Uid:"))
    assert uid_line.split()[1:] == [str(app.pod.uid)] * 4
    assert app.pod.uid != 0
    log = app.pod.log_text()
    assert "Read-only file system" not in log and "Permission denied" not in log
    # It wrote where the pod has volumes, and nowhere else could it.
    assert any(app.pod.mounts["/tmp"].iterdir())
    assert os.stat(app.pod.mounts["/app/backend/data"] / "webui.db").st_uid == app.pod.uid
