"""The model-fetch script the model-load Job runs, against local fakes: a fake hub (huggingface_hub pointed at
it through its endpoint) and moto's S3 (boto3): full fetch, a re-run that does nothing, resume after an
interruption, corruption detected, clear errors for a missing model and a refused token, the token never
logged, exit codes.
"""

from __future__ import annotations

import hashlib
import http.server
import io
import json
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import boto3
import botocore.exceptions
import botocore.response
import moto
import pytest

from inferentia_chat.model_store import model_fetch as mf
from inferentia_chat.model_store import model_files as mf_files

TOKEN = "hf_test_token_never_logged"
MODEL = "acme/tiny-chat"
COMMIT = "0123456789abcdef0123456789abcdef01234567"


def git_blob_id(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()


def repo_files() -> dict[str, bytes]:
    """A small model repository shaped like Mistral-7B-Instruct-v0.3 (two weight sets)."""
    return {
        "config.json": b'{"architectures": ["MistralForCausalLM"]}',
        "tokenizer.json": b'{"model": {"type": "BPE"}}' * 50,
        "model-00001-of-00002.safetensors": bytes(range(256)) * 600,  # LFS
        "model-00002-of-00002.safetensors": b"\x01\x02\x03" * 40_000,  # LFS
        "model.safetensors.index.json": b'{"weight_map": {}}',
        "consolidated.safetensors": b"\x09" * 150_000,  # the duplicate weight set: never fetched
        "pytorch_model.bin": b"\x07" * 1000,  # another format: never fetched
        ".gitattributes": b"*.safetensors filter=lfs\n",
        "original/params.json": b'{"dim": 4096}',
    }


LFS = {"model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors", "consolidated.safetensors"}
EXPECTED = {
    "config.json",
    "tokenizer.json",
    "model-00001-of-00002.safetensors",
    "model-00002-of-00002.safetensors",
    "model.safetensors.index.json",
    "original/params.json",
}


@dataclass
class FakeHub:
    """What the fake hub serves and what it saw. LFS files redirect to a storage host (the CDN: another port),
    which must never see the token."""

    files: dict[str, bytes] = field(default_factory=repo_files)
    listed: dict[str, bytes] | None = None  # what the listing claims (defaults to `files`)
    token: str | None = None  # required token, if any
    cut_after: dict[str, int] = field(default_factory=dict)  # file -> bytes sent before dropping the line
    fail_next: dict[str, int] = field(default_factory=dict)  # file -> downloads answered 503 (after a cut)
    requests: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)  # (method, path, headers)
    cdn: str = ""

    def siblings(self) -> list[dict[str, Any]]:
        out = []
        for name, data in (self.listed or self.files).items():
            entry: dict[str, Any] = {"rfilename": name, "size": len(data)}
            if name in LFS:
                entry["lfs"] = {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data), "pointerSize": 134}
                entry["blobId"] = "0" * 40
            else:
                entry["blobId"] = git_blob_id(data)
            out.append(entry)
        return out


class _HubHandler(http.server.BaseHTTPRequestHandler):
    hub: FakeHub
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:  # quiet
        pass

    def _send(self, code: int, body: bytes, headers: dict[str, str] | None = None, head: bool = False) -> None:
        self.send_response(code)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def do_HEAD(self) -> None:
        self._route(head=True)

    def do_GET(self) -> None:
        self._route(head=False)

    def _route(self, head: bool) -> None:
        hub = self.hub
        hub.requests.append(("HEAD" if head else "GET", self.path, {k.lower(): v for k, v in self.headers.items()}))
        path = urlsplit(self.path).path
        if path.startswith("/cdn/"):
            assert "Authorization" not in self.headers, "the token leaked to the storage host"
            self._serve_file(unquote(path[len("/cdn/") :]), head)
            return
        if hub.token and self.headers.get("Authorization") != f"Bearer {hub.token}":
            if self.headers.get("Authorization"):
                self._send(401, b'{"error": "Invalid credentials in Authorization header"}', head=head)
            else:  # like the hub for a gated model asked without a token
                self._send(401, b'{"error": "Access to this model is restricted"}', {"X-Error-Code": "GatedRepo"}, head)
            return
        api = f"/api/models/{MODEL}/revision/"
        resolve = f"/{MODEL}/resolve/"
        if path.startswith(api):
            if unquote(path[len(api) :]) not in ("main", COMMIT):
                self._send(404, b'{"error": "Revision Not Found"}', {"X-Error-Code": "RevisionNotFound"}, head)
                return
            self._send(200, json.dumps({"id": MODEL, "sha": COMMIT, "siblings": hub.siblings()}).encode(), head=head)
        elif path.startswith(resolve):
            _, _, name = unquote(path[len(resolve) :]).partition("/")
            data = hub.files[name]
            common = {"X-Repo-Commit": COMMIT}
            if name in LFS:  # like the hub: a redirect to the storage host, with the linked size and etag
                etag = hashlib.sha256((hub.listed or hub.files)[name]).hexdigest()
                headers = {**common, "X-Linked-Size": str(len(data)), "X-Linked-Etag": f'"{etag}"'}
                self._send(302, b"", {**headers, "Location": f"{hub.cdn}/cdn/{name}"}, head)
            else:
                self._serve_file(name, head)
        else:
            self._send(404, b'{"error": "Repository not found"}', {"X-Error-Code": "RepoNotFound"}, head)

    def _serve_file(self, name: str, head: bool) -> None:
        data = self.hub.files[name]
        if not head and name not in self.hub.cut_after and self.hub.fail_next.get(name):
            self.hub.fail_next[name] -= 1
            self._send(503, b"busy")
            return
        rng = self.headers.get("Range")
        start = int(rng.removeprefix("bytes=").split("-")[0]) if rng else 0
        body = data[start:]
        self.send_response(206 if rng else 200)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("ETag", f'"{git_blob_id(data)}"')
        self.send_header("X-Repo-Commit", COMMIT)
        if rng:
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        self.end_headers()
        if head:
            return
        cut = self.hub.cut_after.pop(name, None)
        self.wfile.write(body[:cut] if cut is not None else body)
        if cut is not None:
            self.wfile.flush()
            self.close_connection = True


def _serve(state: FakeHub) -> http.server.ThreadingHTTPServer:
    handler = type("Handler", (_HubHandler,), {"hub": state})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    return server


@pytest.fixture
def hub() -> Iterator[tuple[FakeHub, str]]:
    state = FakeHub()
    servers = [_serve(state), _serve(state)]  # the hub, and the storage host LFS files redirect to
    state.cdn = f"http://127.0.0.1:{servers[1].server_address[1]}"
    try:
        yield state, f"http://127.0.0.1:{servers[0].server_address[1]}"
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()


def source(endpoint: str, revision: str = COMMIT, token: str | None = None, model: str = MODEL):
    return mf.HuggingFaceSource(model, revision, token=token, endpoint=endpoint)


def downloads(state: FakeHub) -> list[str]:
    """Files whose content was sent (GET), by name."""
    out = []
    for method, p, _ in state.requests:
        path = unquote(urlsplit(p).path)
        if method != "GET":
            continue
        if path.startswith("/cdn/"):
            out.append(path[len("/cdn/") :])
        elif path.startswith(f"/{MODEL}/resolve/") and path.rsplit("/", 1)[-1] not in LFS:
            out.append(path.split("/resolve/", 1)[1].split("/", 1)[1])
    return out


# ------------------------------------------------------------------------------------------------


def test_full_fetch_brings_one_weight_set_verified_with_a_marker(hub, tmp_path: Path):
    state, endpoint = hub
    lines: list[str] = []
    marker = mf.fetch(source(endpoint), tmp_path / "m", log=lines.append)
    files = {str(p.relative_to(tmp_path / "m")) for p in (tmp_path / "m").rglob("*") if p.is_file()}
    assert files == EXPECTED | {mf_files.MARKER}
    for name in EXPECTED:
        assert (tmp_path / "m" / name).read_bytes() == state.files[name]
    assert "consolidated.safetensors" not in downloads(state) and "pytorch_model.bin" not in downloads(state)
    on_disk = json.loads((tmp_path / "m" / mf_files.MARKER).read_text())
    assert on_disk == marker
    assert marker["request"] == {"source": "huggingface", "id": MODEL, "revision": COMMIT}
    assert marker["resolved"] == COMMIT
    assert {f["path"]: f["sha256"] for f in marker["files"]} == {
        n: hashlib.sha256(state.files[n]).hexdigest() for n in EXPECTED
    }
    assert not list((tmp_path / "m").rglob("*.partial")) and not (tmp_path / "m" / mf_files.HF_LOCAL_CACHE).exists()


def test_a_branch_revision_downloads_the_resolved_commit(hub, tmp_path: Path):
    state, endpoint = hub
    marker = mf.fetch(source(endpoint, revision="main"), tmp_path / "m", log=lambda _: None)
    assert marker["resolved"] == COMMIT
    resolved = [p for _, p, _ in state.requests if "/resolve/" in p]
    assert resolved and all(f"/resolve/{COMMIT}/" in p for p in resolved)


def test_a_rerun_with_the_marker_does_nothing(hub, tmp_path: Path):
    state, endpoint = hub
    mf.fetch(source(endpoint), tmp_path / "m", log=lambda _: None)
    before = {p: p.stat().st_mtime_ns for p in (tmp_path / "m").rglob("*")}
    state.requests.clear()
    lines: list[str] = []
    mf.fetch(source(endpoint), tmp_path / "m", log=lines.append)
    assert state.requests == []  # not even a listing
    assert {p: p.stat().st_mtime_ns for p in (tmp_path / "m").rglob("*")} == before
    assert "nothing to do" in lines[0]


def test_a_different_revision_is_not_satisfied_by_the_marker(hub, tmp_path: Path):
    state, endpoint = hub
    mf.fetch(source(endpoint), tmp_path / "m", log=lambda _: None)
    state.requests.clear()
    mf.fetch(source(endpoint, revision="main"), tmp_path / "m", log=lambda _: None)
    assert any(p.startswith("/api/") for _, p, _ in state.requests)
    assert downloads(state) == []  # files present and verified: nothing downloaded again


def test_a_dropped_download_resumes_where_it_stopped(hub, tmp_path: Path):
    state, endpoint = hub
    big = "model-00001-of-00002.safetensors"
    chunk = 10 * 1024 * 1024  # huggingface_hub writes (and so resumes) in chunks of this size
    state.files[big] = bytes(range(256)) * (chunk // 256 + 4096)
    state.cut_after[big] = chunk + 1000
    mf.fetch(source(endpoint), tmp_path / "m", log=lambda _: None)
    ranges = [h.get("range") for method, p, h in state.requests if method == "GET" and p == f"/cdn/{big}"]
    assert ranges == [None, f"bytes={chunk}-"]  # the rest only, not the whole file again
    assert (tmp_path / "m" / big).read_bytes() == state.files[big]


def test_a_failed_run_keeps_every_verified_file_and_the_retry_fetches_only_the_rest(hub, tmp_path: Path):
    state, endpoint = hub
    big = "model-00001-of-00002.safetensors"
    state.cut_after[big] = 50_000  # the line drops, then the storage host is busy: the run gives up
    state.fail_next[big] = 1
    with pytest.raises(mf_files.FetchError) as info:
        mf.fetch(source(endpoint), tmp_path / "m", log=lambda _: None)
    assert not info.value.permanent and info.value.exit_code == mf_files.EXIT_RETRY
    assert not (tmp_path / "m" / big).exists() and not (tmp_path / "m" / mf_files.MARKER).exists()
    done = set(downloads(state)) - {big}
    state.requests.clear()
    mf.fetch(source(endpoint), tmp_path / "m", log=lambda _: None)  # the Job's retry
    assert big in downloads(state) and not done & set(downloads(state))
    assert (tmp_path / "m" / big).read_bytes() == state.files[big]
    assert (tmp_path / "m" / mf_files.MARKER).exists()
    assert not (tmp_path / "m" / mf_files.HF_LOCAL_CACHE).exists()  # no download state left to export to the bucket


def test_a_corrupted_download_is_detected_and_discarded(hub, tmp_path: Path):
    state, endpoint = hub
    name = "model-00002-of-00002.safetensors"
    state.listed = dict(state.files)
    state.files = {**state.files, name: b"\xff" + state.files[name][1:]}  # same size, one byte off
    with pytest.raises(mf_files.FetchError, match=rf"{name}: corrupted download.*sha256 expected") as info:
        mf.fetch(source(endpoint), tmp_path / "m", log=lambda _: None)
    assert info.value.exit_code == mf_files.EXIT_RETRY  # a retry downloads it again
    assert not (tmp_path / "m" / name).exists()
    assert not (tmp_path / "m" / mf_files.MARKER).exists()


def test_a_corrupted_small_file_fails_its_git_blob_id(hub, tmp_path: Path):
    state, endpoint = hub
    state.listed = dict(state.files)
    state.files = {**state.files, "config.json": b'{"architectures": ["LlamaForCausalLM!"]}'[:41]}
    state.files["config.json"] = state.files["config.json"].ljust(len(state.listed["config.json"]), b" ")
    with pytest.raises(mf_files.FetchError, match=r"config\.json: corrupted download.*git blob id"):
        mf.fetch(source(endpoint), tmp_path / "m", log=lambda _: None)


def test_a_damaged_file_on_disk_is_fetched_again(hub, tmp_path: Path):
    state, endpoint = hub
    mf.fetch(source(endpoint), tmp_path / "m", log=lambda _: None)
    (tmp_path / "m" / mf_files.MARKER).unlink()
    (tmp_path / "m" / "tokenizer.json").write_bytes(b"x" * len(state.files["tokenizer.json"]))
    state.requests.clear()
    mf.fetch(source(endpoint), tmp_path / "m", log=lambda _: None)
    assert downloads(state) == ["tokenizer.json"]
    assert (tmp_path / "m" / "tokenizer.json").read_bytes() == state.files["tokenizer.json"]


def test_a_missing_model_is_a_clear_permanent_error(hub, tmp_path: Path):
    _, endpoint = hub
    with pytest.raises(
        mf_files.FetchError, match=r"acme/nope at revision .* not found on Hugging Face \(HTTP 404\)"
    ) as e:
        mf.fetch(source(endpoint, model="acme/nope"), tmp_path / "m", log=lambda _: None)
    assert e.value.permanent and e.value.exit_code == mf_files.EXIT_PERMANENT
    with pytest.raises(mf_files.FetchError, match="not found"):
        mf.fetch(source(endpoint, revision="no-such-branch"), tmp_path / "m", log=lambda _: None)


def test_a_refused_token_is_a_clear_error_that_never_shows_the_token(hub, tmp_path: Path, capsys):
    state, endpoint = hub
    state.token = TOKEN
    with pytest.raises(mf_files.FetchError, match=r"refused the token \(HTTP 401\).*inferentia-chat:hfToken") as e:
        mf.fetch(source(endpoint, token="hf_wrong_token"), tmp_path / "m", log=print)
    assert e.value.permanent
    assert "hf_wrong_token" not in str(e.value)
    with pytest.raises(mf_files.FetchError, match="needs a token"):
        mf.fetch(source(endpoint), tmp_path / "m", log=print)


def fetch_args(endpoint: str, dest: Path) -> list[str]:
    return [
        *("fetch", "--source", "huggingface", "--model-id", MODEL, "--revision", COMMIT),
        *("--dest", str(dest), "--hf-endpoint", endpoint),
    ]


@pytest.mark.parametrize("given", ["file", "environment"])
def test_a_gated_model_with_the_right_token_is_fetched_and_the_token_is_never_logged(
    given: str, hub, tmp_path: Path, capsys, monkeypatch
):
    """The load Job mounts the token as a file (`--token-file`); the compile host's container passes HF_TOKEN."""
    state, endpoint = hub
    state.token = TOKEN
    args = fetch_args(endpoint, tmp_path / "m")
    if given == "file":
        token_file = tmp_path / "secret" / "token"
        token_file.parent.mkdir()
        token_file.write_text(TOKEN + "\n")  # as a Secret's value may end: the newline is not part of it
        token_file.chmod(0o440)
        args += ["--token-file", str(token_file)]
        monkeypatch.setenv("HF_TOKEN", "hf_environment_value_ignored_with_a_file")
    else:
        monkeypatch.setenv("HF_TOKEN", TOKEN)
    code = mf.main(args)
    assert code == 0
    out = capsys.readouterr()
    assert TOKEN not in out.out + out.err
    assert "complete" in out.out
    api_calls = [h for _, p, h in state.requests if p.startswith("/api/")]
    assert api_calls and all(h.get("authorization") == f"Bearer {TOKEN}" for h in api_calls)


@pytest.mark.parametrize(
    ("content", "says"),
    [(None, "does not exist"), ("", "is empty"), (" \n", "is empty"), (b"\xff" + TOKEN.encode(), "cannot be read")],
)
def test_a_missing_or_empty_token_file_is_a_clear_permanent_error(
    content: str | bytes | None, says: str, hub, tmp_path: Path, capsys, monkeypatch
):
    state, endpoint = hub
    state.token = TOKEN
    monkeypatch.setenv("HF_TOKEN", TOKEN)  # never a fallback for a broken file
    token_file = tmp_path / "token"
    if isinstance(content, bytes):
        token_file.write_bytes(content)
    elif content is not None:
        token_file.write_text(content)
    code = mf.main([*fetch_args(endpoint, tmp_path / "m"), "--token-file", str(token_file)])
    assert code == mf_files.EXIT_PERMANENT
    out = capsys.readouterr()
    assert f"error: the Hugging Face token file {token_file} {says}" in out.err
    assert "inferentia-chat:hfToken" in out.err
    assert TOKEN not in out.out + out.err
    assert not state.requests  # stopped before reaching the hub
    assert not (tmp_path / "m").exists()


def test_the_command_line_exit_codes_say_whether_a_retry_helps(hub, tmp_path: Path, capsys):
    _, endpoint = hub
    args = ["fetch", "--source", "huggingface", "--revision", COMMIT, "--dest", str(tmp_path / "m")]
    assert mf.main([*args, "--model-id", "acme/nope", "--hf-endpoint", endpoint]) == mf_files.EXIT_PERMANENT
    assert "not found" in capsys.readouterr().err
    assert mf.main([*args, "--model-id", MODEL, "--hf-endpoint", "http://127.0.0.1:9"]) == mf_files.EXIT_RETRY


def test_unsafe_names_from_a_source_are_refused(tmp_path: Path):
    for bad in ("../escape", "/etc/passwd", "a/../../b", ""):
        with pytest.raises(mf_files.FetchError, match="unsafe"):
            mf_files._safe_target(tmp_path, bad)


def test_only_one_weight_set_is_selected():
    files = [mf_files.RemoteFile(n, 1) for n in repo_files()]
    assert {f.path for f in mf_files.select_files(files)} == EXPECTED
    # A repository with only the consolidated format keeps it.
    only = [mf_files.RemoteFile("consolidated.safetensors", 1), mf_files.RemoteFile("params.json", 1)]
    assert [f.path for f in mf_files.select_files(only)] == ["consolidated.safetensors", "params.json"]


# ------------------------------------------------------------------------------------------------
# Preload helpers.
# ------------------------------------------------------------------------------------------------


def test_the_preload_file_list_and_read_back_verification(hub, tmp_path: Path):
    _, endpoint = hub
    dest = tmp_path / "m"
    with pytest.raises(mf_files.FetchError, match="not loaded"):
        mf_files.write_file_list(dest, tmp_path / "files.txt")
    mf.fetch(source(endpoint), dest, log=lambda _: None)
    assert mf_files.write_file_list(dest, tmp_path / "files.txt") == len(EXPECTED)
    listed = (tmp_path / "files.txt").read_text().splitlines()
    assert sorted(listed) == sorted(str(dest / n) for n in EXPECTED)
    lines: list[str] = []
    mf_files.verify(dest, log=lines.append)
    assert lines[-1] == f"all {len(EXPECTED)} files resident and verified"
    (dest / "config.json").write_bytes(b"{" + (dest / "config.json").read_bytes()[1:].replace(b"M", b"m"))
    with pytest.raises(mf_files.FetchError, match=r"config\.json"):
        mf_files.verify(dest, log=lambda _: None)


# ------------------------------------------------------------------------------------------------
# S3 source.
# ------------------------------------------------------------------------------------------------


# ------------------------------------------------------------------------------------------------
# S3 source: boto3 against moto's in-process S3.
# ------------------------------------------------------------------------------------------------

URI = "s3://models-src/models/tiny/"


class Tampered:
    """The moto client, with some objects' bytes altered on the way (or every call refused)."""

    def __init__(self, client: Any, corrupt: dict[str, bytes] | None = None, deny: bool = False):
        self.client, self.corrupt, self.deny, self.gets = client, corrupt or {}, deny, []

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.client, name)
        if not self.deny:
            return method

        def refused(*args: Any, **kwargs: Any) -> Any:
            error = {"Error": {"Code": "AccessDenied"}, "ResponseMetadata": {"HTTPStatusCode": 403}}
            raise botocore.exceptions.ClientError(error, name)

        return refused

    def get_object(self, **kwargs: Any) -> Any:
        self.gets.append(kwargs)
        resp = self.client.get_object(**kwargs)
        if kwargs["Key"] in self.corrupt:
            data = self.corrupt[kwargs["Key"]]
            resp["Body"] = botocore.response.StreamingBody(io.BytesIO(data), len(data))
        return resp


@pytest.fixture
def s3(monkeypatch) -> Iterator[Any]:
    for var, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        monkeypatch.setenv(var, value)
    with moto.mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket="models-src")
        client.put_object(Bucket="models-src", Key="models/tiny/", Body=b"")
        for name, data in repo_files().items():
            if name in EXPECTED:
                client.put_object(Bucket="models-src", Key=f"models/tiny/{name}", Body=data)
        yield client


def s3_source(client: Any, uri: str = URI) -> mf.S3Source:
    return mf.S3Source(uri, "us-east-1", client=client)


def test_s3_fetch_verifies_md5_etags_and_is_idempotent(s3, tmp_path: Path):
    marker = mf.fetch(s3_source(s3), tmp_path / "m", log=lambda _: None)
    assert {f["path"] for f in marker["files"]} == EXPECTED
    assert marker["request"] == {"source": URI}
    for name in EXPECTED:
        assert (tmp_path / "m" / name).read_bytes() == repo_files()[name]
    mf.fetch(s3_source(Tampered(s3, deny=True)), tmp_path / "m", log=lambda _: None)  # no call at all


def test_s3_md5_etag_catches_corruption(s3, tmp_path: Path):
    key = "models/tiny/tokenizer.json"
    bad = b"x" * len(repo_files()["tokenizer.json"])
    with pytest.raises(mf_files.FetchError, match=r"tokenizer\.json: corrupted download.*md5 expected") as e:
        mf.fetch(s3_source(Tampered(s3, {key: bad})), tmp_path / "m", log=lambda _: None)
    assert e.value.exit_code == mf_files.EXIT_RETRY


def test_s3_full_object_checksums_catch_corruption_of_kms_objects(s3, tmp_path: Path):
    key = "models/tiny/tokenizer.json"
    good = repo_files()["tokenizer.json"]
    # SSE-KMS: the ETag is not an MD5 then; the SHA-256 checksum stored with the object is what remains.
    s3.put_object(Bucket="models-src", Key=key, Body=good, ServerSideEncryption="aws:kms", ChecksumAlgorithm="SHA256")
    remote = {f.path: f for f in s3_source(s3).listing()[1]}["tokenizer.json"]
    assert remote.md5 is None and remote.sha256 == hashlib.sha256(good).hexdigest()
    with pytest.raises(mf_files.FetchError, match=r"tokenizer\.json: corrupted download.*sha256 expected"):
        mf.fetch(s3_source(Tampered(s3, {key: b"y" * len(good)})), tmp_path / "m", log=lambda _: None)


def test_s3_uses_the_manifest_an_earlier_load_left_there(s3, tmp_path: Path):
    files = repo_files()
    manifest = {
        "files": [{"path": n, "size": len(files[n]), "sha256": hashlib.sha256(files[n]).hexdigest()} for n in EXPECTED]
    }
    s3.put_object(Bucket="models-src", Key=f"models/tiny/{mf_files.MARKER}", Body=json.dumps(manifest).encode())
    listed = {f.path: f for f in s3_source(s3).listing()[1]}
    assert mf_files.MARKER not in listed
    assert all(listed[n].sha256 == hashlib.sha256(files[n]).hexdigest() for n in EXPECTED)


def test_s3_an_interrupted_file_resumes_from_its_partial(s3, tmp_path: Path):
    name = "model-00001-of-00002.safetensors"
    data = repo_files()[name]
    dest = tmp_path / "m"
    dest.mkdir()
    (dest / f"{name}{mf_files.PARTIAL}").write_bytes(data[:1000])
    client = Tampered(s3)
    mf.fetch(s3_source(client), dest, log=lambda _: None)
    (get,) = [g for g in client.gets if g["Key"].endswith(name)]
    assert get["Range"] == "bytes=1000-"
    assert (dest / name).read_bytes() == data and not (dest / f"{name}{mf_files.PARTIAL}").exists()


def test_s3_access_denied_and_missing_sources_are_clear_permanent_errors(s3, tmp_path: Path):
    with pytest.raises(mf_files.FetchError, match=r"access denied to s3://models-src/.*s3:GetObject") as e:
        mf.fetch(s3_source(Tampered(s3, deny=True)), tmp_path / "m", log=lambda _: None)
    assert e.value.permanent
    with pytest.raises(mf_files.FetchError, match=r"nothing under s3://models-src/models/none/") as e:
        mf.fetch(s3_source(s3, "s3://models-src/models/none/"), tmp_path / "m", log=lambda _: None)
    assert e.value.permanent
    with pytest.raises(mf_files.FetchError, match=r"not found \(HTTP 404\)") as e:
        mf.fetch(s3_source(s3, "s3://no-such-bucket/x/"), tmp_path / "m", log=lambda _: None)
    assert e.value.permanent


def test_the_loader_needs_no_hand_written_http_or_signing():
    source = Path(mf.__file__).read_text()
    for gone in ("urllib", "http.client", "hmac", "AWS4-HMAC-SHA256", "x-amz-date"):
        assert gone not in source, gone


def test_the_job_runs_the_script_beside_its_module_without_the_library(tmp_path: Path):
    """In the Job the two files sit side by side in the ConfigMap's directory; nothing else is importable."""
    job_dir = tmp_path / "opt"
    job_dir.mkdir()
    for module in (mf, mf_files):
        shutil.copy(module.__file__, job_dir)
    run = subprocess.run(
        [sys.executable, "-E", "-s", str(job_dir / "model_fetch.py"), "verify", "--dest", str(tmp_path / "none")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == mf_files.EXIT_PERMANENT and "not loaded" in run.stderr
