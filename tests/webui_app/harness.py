"""Run the real Open WebUI (the PyPI package of the pinned version) with exactly what the render gives its pod.

From the dev stack's offline render: the container's environment (each `secretKeyRef` resolved to a test
value, but only if the rendered Secret in the pod's namespace has that key), its volume mounts, and its
security context. The in-cluster inference URL is pointed at a loopback backend by changing only its
scheme, host and port: the path, and so any stray slash, is kept. As root, the app runs the way the pod
does (sandbox.sh): the pod's uid, a read-only root filesystem, only the pod's volumes writable.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from offline.engine import Record

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
VENV = Path(os.environ.get("WEBUI_VENV", ROOT / "venv-webui"))
APP_NAMESPACE = "open-webui"
START_TIMEOUT = 300  # seconds; it starts in about 30 s on 2 cores


class RenderError(AssertionError):
    """The render does not give the pod what it needs (e.g. a secretKeyRef to a key no Secret has)."""


def the_container(objects: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The web UI's Deployment and its one container, from the rendered objects."""
    (deployment,) = [
        o for o in objects if o["kind"] == "Deployment" and o["metadata"].get("namespace") == APP_NAMESPACE
    ]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return deployment, container


def secret_values(
    objects: list[dict[str, Any]], records: list[Record], inference_key: str | Mapping[str, str]
) -> dict[tuple, str]:
    """A test value for every (namespace, Secret, key) the render creates.

    A Secret whose value is derived from an inference server's generated key (in the graph: it depends on
    that RandomPassword) gets that server's test key, the one its fake backend accepts: `inference_key` maps
    the RandomPassword's name (`vllm-api-key`, `vllm-<suffix>-api-key`) to it; a plain string is the first
    server's. Every other key gets a fresh random value. Only keys the render really creates are resolvable.
    """
    keys = {"vllm-api-key": inference_key} if isinstance(inference_key, str) else dict(inference_key)
    passwords = {r.urn: keys[r.name] for r in records if r.type.endswith("RandomPassword") and r.name in keys}
    if len(passwords) != len(keys):
        raise RenderError(f"the render has no RandomPassword for some of {sorted(keys)}")
    by_urn = {r.urn: r for r in records}

    def depends(rec: Record, on: str, seen: set[str] | None = None) -> bool:
        seen = seen if seen is not None else set()
        for d in rec.dependencies:
            if d == on or (d not in seen and d in by_urn and (seen.add(d) or depends(by_urn[d], on, seen))):
                return True
        return False

    secret_records = {
        (r.inputs["metadata"].get("namespace"), r.inputs["metadata"]["name"]): r
        for r in records
        if r.type == "kubernetes:core/v1:Secret"
    }
    values: dict[tuple, str] = {}
    for obj in objects:
        if obj["kind"] != "Secret":
            continue
        ns, name = obj["metadata"].get("namespace"), obj["metadata"]["name"]
        derived = [key for urn, key in passwords.items() if depends(secret_records[(ns, name)], urn)]
        if len(derived) > 1:
            raise RenderError(f"Secret {ns}/{name} is derived from several inference keys")
        for key in {**obj.get("data", {}), **obj.get("stringData", {})}:
            values[(ns, name, key)] = derived[0] if derived else secrets.token_urlsafe(24)
    return values


_VAR_REF = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)")


def expand(value: str, defined: Mapping[str, str]) -> str:
    """The kubelet's expansion of an env value: `$(VAR)` of a variable defined before it becomes its value,
    `$$` a literal `$`; a reference to anything else stays as written."""

    def one(m: re.Match[str]) -> str:
        if m.group(0) == "$$":
            return "$"
        return defined.get(m.group(1), m.group(0))

    return _VAR_REF.sub(one, value)


def resolve_env(container: dict[str, Any], namespace: str, values: dict[tuple, str]) -> dict[str, str]:
    """The container's environment as the kubelet would give it."""
    env: dict[str, str] = {}
    for item in container.get("env", []):
        if "value" in item:
            env[item["name"]] = expand(str(item["value"]), env)
            continue
        ref = item["valueFrom"]["secretKeyRef"]
        wanted = (namespace, ref["name"], ref["key"])
        if wanted not in values:
            raise RenderError(
                f"{item['name']} reads key {ref['key']!r} of Secret {ref['name']!r} in namespace {namespace!r}, "
                "which the render does not create: the pod would not start (CreateContainerConfigError)"
            )
        env[item["name"]] = values[wanted]
    return env


def to_loopback(url: str, backend: str) -> str:
    """An in-cluster Service URL with scheme, host and port replaced by the backend's; path kept verbatim."""
    parsed = urllib.parse.urlsplit(url)
    if not (parsed.hostname or "").endswith(".svc.cluster.local"):
        raise RenderError(f"{url!r} is not an in-cluster Service URL")
    target = urllib.parse.urlsplit(backend)
    return urllib.parse.urlunsplit((target.scheme, target.netloc, parsed.path, parsed.query, parsed.fragment))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sandbox_available() -> bool:
    """The pod-like sandbox needs root (mount namespaces) and util-linux's unshare and setpriv."""
    return os.name == "posix" and os.geteuid() == 0 and bool(shutil.which("unshare") and shutil.which("setpriv"))


def python_home() -> Path:
    """Where the web UI venv's base Python lives (from pyvenv.cfg)."""
    for line in (VENV / "pyvenv.cfg").read_text().splitlines():
        key, _, value = line.partition("=")
        if key.strip() == "home":
            return Path(value.strip()).resolve().parent
    raise RuntimeError(f"{VENV}/pyvenv.cfg has no home")


def closed_ancestor(path: Path) -> Path | None:
    """The topmost directory above `path` that others may not enter (no o+x), or None."""
    for parent in reversed(path.parents):
        if parent != Path("/") and not parent.stat().st_mode & 0o001:
            return parent
    return None


@dataclass
class Pod:
    """The pod's view turned into a local process: environment, volumes, user."""

    env: dict[str, str]
    mounts: dict[str, Path]  # mountPath -> host directory standing in for the volume
    uid: int
    gid: int
    fs_group: int
    sandboxed: bool
    workdir: Path
    log: Path = field(init=False)
    port: int = field(init=False, default=0)
    process: subprocess.Popen | None = field(init=False, default=None)
    _stashes: list[str] = field(init=False, default_factory=list)

    def __post_init__(self) -> None:
        self.log = self.workdir / "open-webui.log"

    @classmethod
    def from_render(cls, deployment: dict[str, Any], env: dict[str, str], workdir: Path) -> Pod:
        spec = deployment["spec"]["template"]["spec"]
        (container,) = spec["containers"]
        ctx = {**spec.get("securityContext", {}), **container.get("securityContext", {})}
        sandboxed = sandbox_available()
        mounts: dict[str, Path] = {}
        for m in container.get("volumeMounts", []):
            host = workdir / "volumes" / m["name"]
            host.mkdir(parents=True)
            mounts[m["mountPath"]] = host
        # Paths inside the pod's volumes move to the stand-in directories (the only writable places in
        # the sandbox). Mounting them at the pod's paths instead would hide this checkout when it lives
        # under /tmp, as a CI clone may. What uses /tmp implicitly follows TMPDIR.
        for name, value in list(env.items()):
            for mount_path, host in mounts.items():
                if value == mount_path or value.startswith(mount_path.rstrip("/") + "/"):
                    env[name] = str(host) + value[len(mount_path) :]
        if "/tmp" in mounts:
            env.setdefault("TMPDIR", str(mounts["/tmp"]))
        return cls(
            env=env,
            mounts=mounts,
            uid=int(ctx.get("runAsUser", os.getuid())),
            gid=int(ctx.get("runAsGroup", os.getgid())),
            fs_group=int(spec.get("securityContext", {}).get("fsGroup", ctx.get("runAsGroup", os.getgid()))),
            sandboxed=sandboxed,
            workdir=workdir,
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        serve = [str(VENV / "bin" / "open-webui"), "serve", "--host", "127.0.0.1", "--port", str(self.port)]
        if not self.sandboxed:
            return serve
        wrapper = ["unshare", "--mount", "--propagation", "private", str(HERE / "sandbox.sh")]
        wrapper += [str(self.uid), str(self.gid), str(self.fs_group)]
        # What the app needs (a pyenv Python, this checkout) may sit below a directory the uid cannot enter
        # (/root is 0700; so is a `mktemp -d` folder holding a CI clone): it is carried over.
        for needed in {python_home(), ROOT}:
            cover = closed_ancestor(Path(needed))
            if cover is not None:
                stash = tempfile.mkdtemp(prefix="webui-sandbox-")
                self._stashes.append(stash)
                wrapper += ["--expose", str(needed), stash, str(cover)]
        for mount_path, host in self.mounts.items():
            # As the kubelet prepares them: an emptyDir is world-writable, a volume belongs to the fsGroup.
            if mount_path == "/tmp":
                host.chmod(0o1777)
            else:
                os.chown(host, 0, self.fs_group)
                host.chmod(0o2775)
            wrapper += ["--bind", str(host)]  # stays writable when / turns read-only
        return [*wrapper, "--", *serve]

    def start(self) -> None:
        self.port = self.port or free_port()  # a test that must know the address first sets it
        base = {"PATH": f"{VENV / 'bin'}:/usr/bin:/bin", "LANG": "C.UTF-8"}
        with self.log.open("ab") as log:
            log.write(f"\n===== start {time.strftime('%H:%M:%S')} sandboxed={self.sandboxed}\n".encode())
            self.process = subprocess.Popen(
                self.command(),
                env={**base, **self.env},
                cwd=VENV,  # read-only for the app, like the image's working directory
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"open-webui exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                status, _ = self.request("GET", "/health", timeout=5)
                if status == 200:
                    return
            except OSError:
                pass
            time.sleep(1)
        self.stop()
        raise RuntimeError(f"open-webui did not answer /health within {START_TIMEOUT} s:\n{self.log_tail()}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        for stash in self._stashes:  # empty again once the sandbox's mount namespace is gone
            os.rmdir(stash)
        self._stashes.clear()

    def request(
        self, method: str, path: str, body: Any = None, token: str | None = None, timeout: float = 120
    ) -> tuple[int, Any]:
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                status, raw = resp.status, resp.read()
        except urllib.error.HTTPError as e:
            status, raw = e.code, e.read()
        try:
            return status, json.loads(raw or b"null")
        except json.JSONDecodeError:
            return status, raw.decode(errors="replace")

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def log_tail(self, lines: int = 60) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])
