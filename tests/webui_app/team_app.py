"""The team's chat service as a browser meets it: the real Open WebUI started from a render of the dev stack
with several models (and, for OIDC, the organisation's provider), each model's vLLM replaced by a fake
OpenAI-compatible backend holding that server's key, and the provider by `oidc-provider-mock`.

What is changed from the render, and why (everything else is the pod's environment as rendered):
- each in-cluster inference URL's scheme, host and port point at its backend (path kept; `to_loopback`);
- WEBUI_URL and CORS_ALLOW_ORIGIN become the loopback address the browser opens (the render names the
  port-forward address or the ALB hostname; the browser must be at exactly WEBUI_URL's origin, or the
  websocket answers nothing and the session cookie lands on another host);
- OPENID_PROVIDER_URL becomes the local provider's discovery document and OPENID_REDIRECT_URI keeps its
  path on the loopback origin (the provider runs on plain http on loopback; the render refuses http);
- OLLAMA_BASE_URL, which the render leaves at Open WebUI's default, points at a listener that counts
  connections: with the rendered ENABLE_OLLAMA_API=False nothing may ever connect.
"""

from __future__ import annotations

import os
import secrets
import socket
import threading
import urllib.parse
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from conftest import plan_for
from fake_openai import FakeOpenAI
from harness import APP_NAMESPACE, Pod, free_port, resolve_env, secret_values, the_container, to_loopback

from inferentia_chat.model_names import model_resource_name
from offline.render import ROOT, kubernetes_objects, stack_config


@dataclass
class ProbeListener:
    """A TCP port that counts who connects to it (and answers nothing)."""

    connections: int = 0
    _sock: socket.socket | None = None

    @property
    def url(self) -> str:
        assert self._sock is not None
        return f"http://127.0.0.1:{self._sock.getsockname()[1]}"

    def start(self) -> ProbeListener:
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen()
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def _accept(self) -> None:
        assert self._sock is not None
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            self.connections += 1
            conn.close()

    def stop(self) -> None:
        if self._sock is not None:
            self._sock.close()


@dataclass
class TeamApp:
    """The running app and everything standing in for what surrounds it in the cluster."""

    pod: Pod
    env: dict[str, str]
    backends: dict[str, FakeOpenAI]  # by served model name, in the stack's order
    ollama: ProbeListener
    provider_url: str | None = None
    rendered: dict[str, str] = field(default_factory=dict)  # the pod's environment before the changes above

    @property
    def url(self) -> str:
        return self.pod.url


def answer_of(model: str) -> str:
    """What the fake backend of `model` answers."""
    return f"Answer from the {model} backend."


@contextmanager
def team_app(overrides: dict[str, Any], oidc_users: Sequence[Any] = ()) -> Iterator[TeamApp]:
    """Render the dev stack with `overrides`, then run its Open WebUI as described above."""
    plan = plan_for("dev", **overrides)
    models = [m.served_name for m in stack_config(plan.result).models]
    objects = kubernetes_objects(plan.result)
    deployment, container = the_container(objects)
    keys = {f"{model_resource_name('vllm', m, i)}-api-key": secrets.token_urlsafe(32) for i, m in enumerate(models)}
    env = resolve_env(container, APP_NAMESPACE, secret_values(objects, plan.resources, keys))
    rendered = dict(env)
    backends = {
        m: FakeOpenAI(api_key=key, model=m, reply=answer_of(m)).start()
        for m, key in zip(models, keys.values(), strict=True)
    }
    urls = env["OPENAI_API_BASE_URLS"].split(";")
    assert len(urls) == len(models), (urls, models)
    for i, (url, m) in enumerate(zip(urls, models, strict=True)):
        # The i-th connection is the i-th model's Service: its key is the i-th in OPENAI_API_KEYS.
        assert urllib.parse.urlsplit(url).hostname.startswith(f"{model_resource_name('vllm', m, i)}."), url
    env["OPENAI_API_BASE_URLS"] = ";".join(
        to_loopback(u, backends[m].base_url) for u, m in zip(urls, models, strict=True)
    )
    port = free_port()
    origin = f"http://127.0.0.1:{port}"
    env["WEBUI_URL"] = env["CORS_ALLOW_ORIGIN"] = origin
    ollama = ProbeListener().start()
    assert "OLLAMA_BASE_URL" not in env  # the render leaves Open WebUI's default
    env["OLLAMA_BASE_URL"] = ollama.url
    workdir = ROOT / ".webui-test" / secrets.token_hex(4)
    workdir.mkdir(parents=True)
    with _provider(env, origin, oidc_users) as provider_url:
        pod = Pod.from_render(deployment, env, workdir)
        pod.port = port
        try:
            pod.start()
            yield TeamApp(pod, env, backends, ollama, provider_url, rendered)
        finally:
            pod.stop()
            ollama.stop()
            for backend in backends.values():
                backend.stop()
            print(f"open-webui log: {pod.log}")


@contextmanager
def _provider(env: dict[str, str], origin: str, users: Sequence[Any]) -> Iterator[str | None]:
    """The local OpenID provider, when the render signs in through one."""
    if "OPENID_PROVIDER_URL" not in env:
        yield None
        return
    import oidc_provider_mock

    previous = os.environ.get("AUTHLIB_INSECURE_TRANSPORT")
    os.environ["AUTHLIB_INSECURE_TRANSPORT"] = "1"  # the provider's own check: it serves plain http on loopback
    try:
        with oidc_provider_mock.run_server_in_thread(port=0, user_claims=list(users)) as server:
            provider = f"http://localhost:{server.server_port}"
            env["OPENID_PROVIDER_URL"] = f"{provider}/.well-known/openid-configuration"
            env["OPENID_REDIRECT_URI"] = origin + urllib.parse.urlsplit(env["OPENID_REDIRECT_URI"]).path
            yield provider
    finally:
        if previous is None:
            os.environ.pop("AUTHLIB_INSECURE_TRANSPORT", None)
        else:
            os.environ["AUTHLIB_INSECURE_TRANSPORT"] = previous


def restart_with_render(app: TeamApp, overrides: dict[str, Any]) -> None:
    """Restart the app on the same data volume with the literal settings another configuration renders (as a
    `pulumi up` changing the config would roll the pod): a setting the new render gives differently takes its
    value, one it no longer gives goes. Secrets keep their values (the Secrets are the same objects), and so
    do the loopback substitutions above for settings both renders give alike."""
    _, container = the_container(kubernetes_objects(plan_for("dev", **overrides).result))
    literal = {e["name"]: str(e["value"]) for e in container["env"] if "value" in e}
    from_secrets = {e["name"] for e in container["env"] if "valueFrom" in e}
    env = app.pod.env
    for name in list(env):
        if name in app.rendered and name not in literal and name not in from_secrets:
            del env[name]
    for name, value in literal.items():
        if app.rendered.get(name) != value:
            env[name] = value
    app.pod.stop()
    app.pod.start()
