"""The team's chat service in a real browser: headless Chromium (Debian's package, driven by Playwright) against
the real Open WebUI started with the rendered settings of a stack serving two models, first with local
accounts, then signing in through an OpenID Connect provider (`oidc-provider-mock`).

Run with `make webui-test` (part of `make test`); screenshots of every step go to
test-artifacts/browser-screenshots/<test>/. Each proof guards a setting of the stack: drop the second
connection and the picker shows one model; swap a key and that model's answer never comes; turn the login
form back on, or allow every domain, and the OIDC proofs fail.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest
from browser import Steps, chromium
from playwright.sync_api import Browser, Page
from team_app import TeamApp, answer_of, restart_with_render, team_app
from team_stacks import ALB_WEBUI, OIDC_STACK, TWO_MODELS, WEBUI

pytestmark = pytest.mark.webui_app

MODELS = ["mistral-7b-instruct", "qwen2.5-7b-instruct"]
PASSWORD_FORM = ("Enter Your Email", "Enter Your Password")
SSO_BUTTON = "Continue with Single sign-on"


def _users() -> list:
    from oidc_provider_mock import User

    return [
        # Admin through the provider's group claim (webui.oidc.adminRoles: chat-admins).
        User(sub="alice", claims={"email": "alice@example.com", "name": "Alice", "groups": ["chat-admins"]}),
        # A member of an allowed domain without the admin group.
        User(sub="bob", claims={"email": "bob@corp.example.com", "name": "Bob", "groups": ["staff"]}),
        # Someone the provider knows, from a domain the stack does not allow.
        User(sub="eve", claims={"email": "eve@elsewhere.test", "name": "Eve", "groups": ["chat-admins"]}),
    ]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as b:
        yield b


@pytest.fixture(scope="module")
def local_app() -> Iterator[TeamApp]:
    with team_app(TWO_MODELS) as app:
        yield app


@pytest.fixture(scope="module")
def oidc_app() -> Iterator[TeamApp]:
    with team_app({**TWO_MODELS, **OIDC_STACK}, oidc_users=_users()) as app:
        yield app


@pytest.fixture
def steps(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Steps]:
    """A fresh browser profile (no cookies) per test, and its screenshots."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    try:
        yield Steps.for_test(page, request.node.name)
    finally:
        context.close()


# --- what a user does ----------------------------------------------------------------------------------


def dismiss_release_notes(page: Page) -> None:
    """Open WebUI greets a new account with its release notes once."""
    ok = page.get_by_role("button", name="Okay, Let's Go!")
    try:
        ok.wait_for(timeout=5_000)
    except Exception:
        return
    ok.click()
    ok.wait_for(state="hidden")


def picker_models(page: Page) -> list[str]:
    page.locator("#model-selector-model-button").click()
    options = page.get_by_role("option")
    options.first.wait_for()
    return [o.inner_text().strip() for o in options.all()]


def ask(page: Page, app: TeamApp, steps: Steps, model: str) -> None:
    """A new chat with `model`: the answer shown is the one its backend gave, reached with its key."""
    page.goto(app.url + "/")
    page.locator("#chat-input").wait_for()
    page.locator("#model-selector-model-button").click()
    page.get_by_role("option", name=f"Select {model} model").click()
    page.locator("#model-selector-model-button", has_text=model).wait_for()
    prompt = f"Hello {model}, token {secrets.token_hex(4)}"
    page.locator("#chat-input").click()
    page.keyboard.type(prompt)
    steps.shot(f"question-to-{model}")
    page.keyboard.press("Enter")
    page.get_by_text(answer_of(model)).first.wait_for()
    steps.shot(f"answer-from-{model}")
    backend = app.backends[model]
    # The question itself (besides it, the app asks the same model for a title and follow-ups).
    asked = [
        r
        for r in backend.requests
        if r.path == "/v1/chat/completions" and (r.body or {}).get("messages", [{}])[-1].get("content") == prompt
    ]
    assert len(asked) == 1 and asked[0].authorized and asked[0].body["model"] == model
    assert all(r.authorized for r in backend.requests)
    for other, other_backend in app.backends.items():
        if other != model:
            assert not [r for r in other_backend.requests if prompt in str(r.body)], other


def signed_in_with_both_models(page: Page, app: TeamApp, steps: Steps) -> dict:
    """After a sign-in: the chat page, both models in the picker; returns who the app says we are."""
    page.locator("#chat-input").wait_for()
    dismiss_release_notes(page)
    steps.shot("signed-in")
    me = page.request.get(app.url + "/api/v1/auths/").json()
    assert picker_models(page) == MODELS
    steps.shot("model-picker")
    page.keyboard.press("Escape")
    return me


def sign_out(page: Page) -> None:
    page.get_by_role("button", name="User menu").first.click()
    page.get_by_text("Sign Out").click()


def session_cookie(page: Page) -> list[dict]:
    return [c for c in page.context.cookies() if c["name"] == "token"]


# --- local accounts ------------------------------------------------------------------------------------


def test_local_admin_signs_in_sees_both_models_gets_an_answer_from_each_and_signs_out(local_app: TeamApp, steps: Steps):
    page = steps.page
    page.goto(local_app.url + "/auth")
    page.get_by_placeholder(PASSWORD_FORM[0]).fill(local_app.env["WEBUI_ADMIN_EMAIL"])
    page.get_by_placeholder(PASSWORD_FORM[1]).fill(local_app.env["WEBUI_ADMIN_PASSWORD"])
    steps.shot("sign-in-form")
    page.get_by_role("button", name="Sign in").click()
    assert signed_in_with_both_models(page, local_app, steps)["role"] == "admin"
    for model in MODELS:
        ask(page, local_app, steps, model)
    sign_out(page)
    page.get_by_role("button", name="Sign in").wait_for()
    steps.shot("signed-out")
    assert not session_cookie(page)
    assert page.request.get(local_app.url + "/api/models").status == 401


def test_nobody_can_sign_up(local_app: TeamApp, steps: Steps):
    page = steps.page
    page.goto(local_app.url + "/auth")
    page.get_by_role("button", name="Sign in").wait_for()
    steps.shot("no-sign-up-offered")
    assert page.get_by_text("Sign up").count() == 0
    stranger = {"name": "Mallory", "email": "mallory@example.com", "password": "Str4nger-Passw0rd!"}
    refused = page.request.post(local_app.url + "/api/v1/auths/signup", data=stranger)
    assert refused.status == 403, refused.text()
    page.get_by_placeholder(PASSWORD_FORM[0]).fill(stranger["email"])
    page.get_by_placeholder(PASSWORD_FORM[1]).fill(stranger["password"])
    page.get_by_role("button", name="Sign in").click()
    page.get_by_text("The email or password provided is incorrect").first.wait_for()
    steps.shot("stranger-refused")
    assert not session_cookie(page)


def test_nothing_probes_for_ollama(local_app: TeamApp):
    token = local_app.pod.request(
        "POST",
        "/api/v1/auths/signin",
        {"email": local_app.env["WEBUI_ADMIN_EMAIL"], "password": local_app.env["WEBUI_ADMIN_PASSWORD"]},
    )[1]["token"]
    status, body = local_app.pod.request("GET", "/api/models", token=token)
    assert status == 200 and [m["id"] for m in body["data"]] == MODELS
    assert local_app.ollama.connections == 0


# --- the organisation's identity provider --------------------------------------------------------------


def sign_in_with_provider(page: Page, app: TeamApp, steps: Steps, who: str) -> None:
    page.goto(app.url + "/auth")
    page.get_by_role("button", name=SSO_BUTTON).wait_for()
    steps.shot("sign-in-page")
    for placeholder in PASSWORD_FORM:
        assert page.get_by_placeholder(placeholder).count() == 0, "the login form must be off"
    page.get_by_role("button", name=SSO_BUTTON).click()
    page.get_by_role("button", name=who, exact=True).wait_for()
    assert app.provider_url and page.url.startswith(app.provider_url)
    steps.shot(f"provider-{who}")
    page.get_by_role("button", name=who, exact=True).click()


def test_oidc_admin_signs_in_sees_both_models_gets_an_answer_from_each_and_signs_out(oidc_app: TeamApp, steps: Steps):
    page = steps.page
    sign_in_with_provider(page, oidc_app, steps, "alice")
    me = signed_in_with_both_models(page, oidc_app, steps)
    assert me["email"] == "alice@example.com" and me["role"] == "admin"  # from the group claim
    for model in MODELS:
        ask(page, oidc_app, steps, model)
    sign_out(page)
    # Signing out also ends the session at the provider (its end-session endpoint from discovery).
    page.get_by_role("button", name="End session").wait_for()
    assert page.url.startswith(f"{oidc_app.provider_url}/oauth2/end_session")
    steps.shot("signed-out-at-provider")
    assert not session_cookie(page)


def test_oidc_member_is_a_user_who_may_use_every_model(oidc_app: TeamApp, steps: Steps):
    page = steps.page
    sign_in_with_provider(page, oidc_app, steps, "bob")
    me = signed_in_with_both_models(page, oidc_app, steps)
    assert me["email"] == "bob@corp.example.com" and me["role"] == "user"  # not pending, not admin
    ask(page, oidc_app, steps, MODELS[1])
    admin_only = page.request.get(oidc_app.url + "/api/v1/users/")
    assert admin_only.status in (401, 403)


def test_a_user_of_another_domain_is_refused(oidc_app: TeamApp, steps: Steps, browser: Browser):
    page = steps.page
    sign_in_with_provider(page, oidc_app, steps, "eve")
    page.get_by_role("button", name=SSO_BUTTON).wait_for()
    page.get_by_text("Sign-in with your identity provider failed").first.wait_for()
    steps.shot("refused")
    assert "/auth?error=" in page.url
    assert not session_cookie(page)
    assert "e-mail domain is not in the list of allowed domains" in oidc_app.pod.log_text()
    # No account was made for her.
    admin = browser.new_context()
    try:
        admin_page = admin.new_page()
        admin_steps = Steps(admin_page, steps.folder, steps.taken)
        sign_in_with_provider(admin_page, oidc_app, admin_steps, "alice")
        admin_page.locator("#chat-input").wait_for()
        users = admin_page.request.get(oidc_app.url + "/api/v1/users/all").text()
        assert "alice@example.com" in users and "eve@elsewhere.test" not in users
    finally:
        admin.close()


def test_there_is_no_password_door_beside_the_provider(oidc_app: TeamApp):
    seeded = {"email": oidc_app.env["WEBUI_ADMIN_EMAIL"], "password": oidc_app.env["WEBUI_ADMIN_PASSWORD"]}
    assert oidc_app.pod.request("POST", "/api/v1/auths/signin", seeded)[0] == 403
    stranger = {"name": "M", "email": "mallory@example.com", "password": "Str4nger-Passw0rd!"}
    assert oidc_app.pod.request("POST", "/api/v1/auths/signup", stranger)[0] == 403
    assert oidc_app.ollama.connections == 0


def test_break_glass_back_to_local_sign_in(oidc_app: TeamApp, steps: Steps):
    """docs/team.md: with the provider down, `webui.auth: local` and `pulumi up` bring the password sign-in
    back for the generated admin (the environment decides at every start). Last: it leaves the app local."""
    restart_with_render(oidc_app, {**TWO_MODELS, WEBUI: {**ALB_WEBUI, "auth": "local"}})
    assert "OAUTH_CLIENT_ID" not in oidc_app.pod.env and oidc_app.pod.env["ENABLE_LOGIN_FORM"] == "True"
    page = steps.page
    page.goto(oidc_app.url + "/auth")
    page.get_by_placeholder(PASSWORD_FORM[0]).fill(oidc_app.env["WEBUI_ADMIN_EMAIL"])
    page.get_by_placeholder(PASSWORD_FORM[1]).fill(oidc_app.env["WEBUI_ADMIN_PASSWORD"])
    steps.shot("local-sign-in-form-is-back")
    page.get_by_role("button", name="Sign in").click()
    page.locator("#chat-input").wait_for()
    me = page.request.get(oidc_app.url + "/api/v1/auths/").json()
    assert me["email"] == oidc_app.env["WEBUI_ADMIN_EMAIL"] and me["role"] == "admin"
    steps.shot("signed-in-as-the-generated-admin")
