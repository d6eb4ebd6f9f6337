"""The model-fetch script the model-load Job runs, against local fake sources (a fake hub and a fake S3
on loopback): full fetch, a re-run that does nothing, resume after an interruption, corruption
detected, clear errors for a missing model and a refused token, and SigV4 signing checked against
botocore.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import http.server
import json
import threading
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from inferentia_chat.model_store import model_fetch as mf

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
    """What the fake hub serves and what it saw."""

    files: dict[str, bytes] = field(default_factory=repo_files)
    listed: dict[str, bytes] | None = None  # what the listing claims (defaults to `files`)
    token: str | None = None  # required token, if any
    cut_after: dict[str, int] = field(default_factory=dict)  # file -> bytes sent before dropping the line
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)

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

    def log_message(self, *args: Any) -> None:  # quiet
        pass

    def _send(self, code: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(code)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        hub = self.hub
        hub.requests.append((self.path, dict(self.headers.items())))
        auth = self.headers.get("Authorization")
        if hub.token and auth != f"Bearer {hub.token}" and not self.path.startswith("/cdn/"):
            self._send(401, b'{"error": "Invalid credentials in Authorization header"}')
            return
        path = urlsplit(self.path).path
        api = f"/api/models/{MODEL}/revision/"
        if path.startswith(api):
            if unquote(path[len(api) :]) not in ("main", COMMIT):
                self._send(404, b'{"error": "Revision Not Found"}')
                return
            self._send(200, json.dumps({"id": MODEL, "sha": COMMIT, "siblings": hub.siblings()}).encode())
        elif path.startswith("/api/models/"):
            self._send(404, b'{"error": "Repository not found"}')
        elif path.startswith(f"/{MODEL}/resolve/{COMMIT}/"):
            # Like the hub: a redirect to the storage host, which must never see the token.
            name = unquote(path.split(f"/resolve/{COMMIT}/", 1)[1])
            self._send(302, b"", {"Location": f"/cdn/{name}"})
        elif path.startswith("/cdn/"):
            assert "Authorization" not in self.headers, "the token leaked to the storage host"
            self._serve_file(unquote(path[len("/cdn/") :]))
        else:
            self._send(404, b"not found")

    def _serve_file(self, name: str) -> None:
        data = self.hub.files[name]
        start = 0
        rng = self.headers.get("Range")
        if rng:
            start = int(rng.removeprefix("bytes=").split("-")[0])
        body = data[start:]
        self.send_response(206 if rng else 200)
        self.send_header("Content-Length", str(len(body)))
        if rng:
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        self.end_headers()
        cut = self.hub.cut_after.pop(name, None)
        self.wfile.write(body[:cut] if cut is not None else body)
        if cut is not None:
            self.wfile.flush()
            self.close_connection = True


@pytest.fixture
def hub() -> Iterator[tuple[FakeHub, str]]:
    state = FakeHub()
    handler = type("Handler", (_HubHandler,), {"hub": state})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield state, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def source(endpoint: str, revision: str = COMMIT, token: str | None = None, model: str = MODEL):
    return mf.HuggingFaceSource(model, revision, token=token, endpoint=endpoint, timeout=5)


def downloads(state: FakeHub) -> list[str]:
    return [unquote(p[len("/cdn/") :]) for p, _ in state.requests if p.startswith("/cdn/")]


# ------------------------------------------------------------------------------------------------


def test_full_fetch_brings_one_weight_set_verified_with_a_marker(hub, tmp_path: Path):
    state, endpoint = hub
    lines: list[str] = []
    marker = mf.fetch(source(endpoint), tmp_path / "m", log=lines.append)
    files = {str(p.relative_to(tmp_path / "m")) for p in (tmp_path / "m").rglob("*") if p.is_file()}
    assert files == EXPECTED | {mf.MARKER}
    for name in EXPECTED:
        assert (tmp_path / "m" / name).read_bytes() == state.files[name]
    assert "consolidated.safetensors" not in downloads(state) and "pytorch_model.bin" not in downloads(state)
    on_disk = json.loads((tmp_path / "m" / mf.MARKER).read_text())
    assert on_disk == marker
    assert marker["request"] == {"source": "huggingface", "id": MODEL, "revision": COMMIT}
    assert marker["resolved"] == COMMIT
    assert {f["path"]: f["sha256"] for f in marker["files"]} == {
        n: hashlib.sha256(state.files[n]).hexdigest() for n in EXPECTED
    }
    assert not list((tmp_path / "m").rglob("*.partial"))


def test_a_branch_revision_downloads_the_resolved_commit(hub, tmp_path: Path):
    state, endpoint = hub
    marker = mf.fetch(source(endpoint, revision="main"), tmp_path / "m", log=lambda _: None)
    assert marker["resolved"] == COMMIT
    assert all(f"/resolve/{COMMIT}/" in p for p, _ in state.requests if "/resolve/" in p)


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
    assert any(p.startswith("/api/") for p, _ in state.requests)
    assert downloads(state) == []  # files present and verified: nothing downloaded again


def test_an_interrupted_fetch_resumes_where_it_stopped(hub, tmp_path: Path):
    state, endpoint = hub
    big = "model-00001-of-00002.safetensors"
    state.cut_after[big] = 50_000
    with pytest.raises(mf.FetchError) as info:
        mf.fetch(source(endpoint), tmp_path / "m", log=lambda _: None)
    assert not info.value.permanent and info.value.exit_code == mf.EXIT_RETRY
    partial = tmp_path / "m" / f"{big}.partial"
    assert partial.stat().st_size == 50_000
    assert not (tmp_path / "m" / mf.MARKER).exists()
    state.requests.clear()
    mf.fetch(source(endpoint), tmp_path / "m", log=lambda _: None)
    ranges = [h.get("Range") for p, h in state.requests if p == f"/cdn/{big}"]
    assert ranges == ["bytes=50000-"]
    assert (tmp_path / "m" / big).read_bytes() == state.files[big]
    assert (tmp_path / "m" / mf.MARKER).exists()


def test_a_corrupted_download_is_detected_and_discarded(hub, tmp_path: Path):
    state, endpoint = hub
    name = "model-00002-of-00002.safetensors"
    state.listed = dict(state.files)
    state.files = {**state.files, name: b"\xff" + state.files[name][1:]}  # same size, one byte off
    with pytest.raises(mf.FetchError, match=rf"{name}: corrupted download.*sha256 expected") as info:
        mf.fetch(source(endpoint), tmp_path / "m", log=lambda _: None)
    assert info.value.exit_code == mf.EXIT_RETRY  # a retry downloads it again
    assert not (tmp_path / "m" / name).exists() and not (tmp_path / "m" / f"{name}.partial").exists()
    assert not (tmp_path / "m" / mf.MARKER).exists()


def test_a_corrupted_small_file_fails_its_git_blob_id(hub, tmp_path: Path):
    state, endpoint = hub
    state.listed = dict(state.files)
    state.files = {**state.files, "config.json": b'{"architectures": ["LlamaForCausalLM!"]}'[:41]}
    state.files["config.json"] = state.files["config.json"].ljust(len(state.listed["config.json"]), b" ")
    with pytest.raises(mf.FetchError, match=r"config\.json: corrupted download.*git blob id"):
        mf.fetch(source(endpoint), tmp_path / "m", log=lambda _: None)


def test_a_damaged_file_on_disk_is_fetched_again(hub, tmp_path: Path):
    state, endpoint = hub
    mf.fetch(source(endpoint), tmp_path / "m", log=lambda _: None)
    (tmp_path / "m" / mf.MARKER).unlink()
    (tmp_path / "m" / "tokenizer.json").write_bytes(b"x" * len(state.files["tokenizer.json"]))
    state.requests.clear()
    mf.fetch(source(endpoint), tmp_path / "m", log=lambda _: None)
    assert downloads(state) == ["tokenizer.json"]
    assert (tmp_path / "m" / "tokenizer.json").read_bytes() == state.files["tokenizer.json"]


def test_a_missing_model_is_a_clear_permanent_error(hub, tmp_path: Path):
    _, endpoint = hub
    with pytest.raises(mf.FetchError, match=r"acme/nope at revision .* not found on Hugging Face \(HTTP 404\)") as e:
        mf.fetch(source(endpoint, model="acme/nope"), tmp_path / "m", log=lambda _: None)
    assert e.value.permanent and e.value.exit_code == mf.EXIT_PERMANENT
    with pytest.raises(mf.FetchError, match="not found"):
        mf.fetch(source(endpoint, revision="no-such-branch"), tmp_path / "m", log=lambda _: None)


def test_a_refused_token_is_a_clear_error_that_never_shows_the_token(hub, tmp_path: Path, capsys):
    state, endpoint = hub
    state.token = TOKEN
    with pytest.raises(mf.FetchError, match=r"refused the token \(HTTP 401\).*inferentia-chat:hfToken") as e:
        mf.fetch(source(endpoint, token="hf_wrong_token"), tmp_path / "m", log=print)
    assert e.value.permanent
    assert "hf_wrong_token" not in str(e.value)
    with pytest.raises(mf.FetchError, match="needs a token"):
        mf.fetch(source(endpoint), tmp_path / "m", log=print)


def test_a_gated_model_with_the_right_token_is_fetched_and_the_token_is_never_logged(
    hub, tmp_path: Path, capsys, monkeypatch
):
    state, endpoint = hub
    state.token = TOKEN
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    code = mf.main(
        [
            *("fetch", "--source", "huggingface", "--model-id", MODEL, "--revision", COMMIT),
            *("--dest", str(tmp_path / "m"), "--hf-endpoint", endpoint),
        ]
    )
    assert code == 0
    out = capsys.readouterr()
    assert TOKEN not in out.out + out.err
    assert "complete" in out.out
    api_calls = [h for p, h in state.requests if p.startswith("/api/")]
    assert api_calls and all(h.get("Authorization") == f"Bearer {TOKEN}" for h in api_calls)


def test_the_command_line_exit_codes_say_whether_a_retry_helps(hub, tmp_path: Path, capsys):
    _, endpoint = hub
    args = ["fetch", "--source", "huggingface", "--revision", COMMIT, "--dest", str(tmp_path / "m")]
    assert mf.main([*args, "--model-id", "acme/nope", "--hf-endpoint", endpoint]) == mf.EXIT_PERMANENT
    assert "not found" in capsys.readouterr().err
    assert mf.main([*args, "--model-id", MODEL, "--hf-endpoint", "http://127.0.0.1:9"]) == mf.EXIT_RETRY


def test_unsafe_names_from_a_source_are_refused(tmp_path: Path):
    for bad in ("../escape", "/etc/passwd", "a/../../b", ""):
        with pytest.raises(mf.FetchError, match="unsafe"):
            mf._safe_target(tmp_path, bad)


def test_only_one_weight_set_is_selected():
    files = [mf.RemoteFile(n, 1) for n in repo_files()]
    assert {f.path for f in mf.select_files(files)} == EXPECTED
    # A repository with only the consolidated format keeps it.
    only = [mf.RemoteFile("consolidated.safetensors", 1), mf.RemoteFile("params.json", 1)]
    assert [f.path for f in mf.select_files(only)] == ["consolidated.safetensors", "params.json"]


# ------------------------------------------------------------------------------------------------
# Preload helpers.
# ------------------------------------------------------------------------------------------------


def test_the_preload_file_list_and_read_back_verification(hub, tmp_path: Path):
    _, endpoint = hub
    dest = tmp_path / "m"
    with pytest.raises(mf.FetchError, match="not loaded"):
        mf.write_file_list(dest, tmp_path / "files.txt")
    mf.fetch(source(endpoint), dest, log=lambda _: None)
    assert mf.write_file_list(dest, tmp_path / "files.txt") == len(EXPECTED)
    listed = (tmp_path / "files.txt").read_text().splitlines()
    assert sorted(listed) == sorted(str(dest / n) for n in EXPECTED)
    lines: list[str] = []
    mf.verify(dest, log=lines.append)
    assert lines[-1] == f"all {len(EXPECTED)} files resident and verified"
    (dest / "config.json").write_bytes(b"{" + (dest / "config.json").read_bytes()[1:].replace(b"M", b"m"))
    with pytest.raises(mf.FetchError, match=r"config\.json"):
        mf.verify(dest, log=lambda _: None)


# ------------------------------------------------------------------------------------------------
# S3 source.
# ------------------------------------------------------------------------------------------------


@dataclass
class FakeS3:
    objects: dict[str, bytes]
    checksums: dict[str, dict[str, str]] = field(default_factory=dict)
    kms: bool = False
    requests: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    deny: bool = False


class _S3Handler(http.server.BaseHTTPRequestHandler):
    s3: FakeS3

    def log_message(self, *args: Any) -> None:
        pass

    def _reply(self, code: int, body: bytes = b"", headers: dict[str, str] | None = None, send: bool = True) -> None:
        self.send_response(code)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if send:
            self.wfile.write(body)

    def _key(self) -> tuple[str, str, dict[str, list[str]]]:
        parts = urlsplit(self.path)
        bucket, _, key = parts.path.lstrip("/").partition("/")
        return bucket, unquote(key), parse_qs(parts.query)

    def _check(self, method: str) -> bool:
        self.s3.requests.append((method, self.path, dict(self.headers.items())))
        assert self.headers["Authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKIDTEST/")
        if self.s3.deny:
            self._reply(403, b"<Error><Code>AccessDenied</Code></Error>", send=method != "HEAD")
            return False
        return True

    def do_GET(self) -> None:
        if not self._check("GET"):
            return
        bucket, key, query = self._key()
        if bucket != "models-src":
            self._reply(404, b"<Error><Code>NoSuchBucket</Code></Error>")
            return
        if not key and query.get("list-type") == ["2"]:
            prefix = query.get("prefix", [""])[0]
            items = "".join(
                f"<Contents><Key>{k}</Key><Size>{len(v)}</Size></Contents>"
                for k, v in sorted(self.s3.objects.items())
                if k.startswith(prefix)
            )
            body = (
                '<?xml version="1.0" encoding="UTF-8"?>'
                '<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
                f"{items}<IsTruncated>false</IsTruncated></ListBucketResult>"
            ).encode()
            self._reply(200, body)
            return
        data = self.s3.objects[key]
        rng = self.headers.get("Range")
        start = int(rng.removeprefix("bytes=").split("-")[0]) if rng else 0
        self._reply(206 if rng else 200, data[start:])

    def do_HEAD(self) -> None:
        if not self._check("HEAD"):
            return
        _, key, _ = self._key()
        data = self.s3.objects[key]
        headers = {"ETag": f'"{hashlib.md5(data, usedforsecurity=False).hexdigest()}"'}
        if self.s3.kms:
            headers = {"ETag": '"0123456789abcdef0123456789abcdef"', "x-amz-server-side-encryption": "aws:kms"}
        headers.update(self.s3.checksums.get(key, {}))
        self.send_response(200)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()


@pytest.fixture
def s3() -> Iterator[tuple[FakeS3, str]]:
    files = {k: v for k, v in repo_files().items() if k in EXPECTED}
    state = FakeS3({f"models/tiny/{k}": v for k, v in files.items()} | {"models/tiny/": b""})
    handler = type("Handler", (_S3Handler,), {"s3": state})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    try:
        yield state, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def s3_source(endpoint: str, uri: str = "s3://models-src/models/tiny/") -> mf.S3Source:
    return mf.S3Source(uri, "us-east-1", credentials=lambda: mf.Credentials("AKIDTEST", "secret"), endpoint=endpoint)


def test_s3_fetch_verifies_md5_etags_and_is_idempotent(s3, tmp_path: Path):
    state, endpoint = s3
    marker = mf.fetch(s3_source(endpoint), tmp_path / "m", log=lambda _: None)
    assert {f["path"] for f in marker["files"]} == EXPECTED
    assert marker["request"] == {"source": "s3://models-src/models/tiny/"}
    for name in EXPECTED:
        assert (tmp_path / "m" / name).read_bytes() == state.objects[f"models/tiny/{name}"]
    state.requests.clear()
    mf.fetch(s3_source(endpoint), tmp_path / "m", log=lambda _: None)
    assert state.requests == []


def test_s3_full_object_checksums_catch_corruption(s3, tmp_path: Path):
    state, endpoint = s3
    state.kms = True  # ETags are not MD5s then: the checksum headers are what remains
    name = "models/tiny/tokenizer.json"
    good = state.objects[name]
    state.checksums[name] = {
        "x-amz-checksum-sha256": base64.b64encode(hashlib.sha256(good).digest()).decode(),
        "x-amz-checksum-type": "FULL_OBJECT",
    }
    crc_name = "models/tiny/config.json"
    state.checksums[crc_name] = {
        "x-amz-checksum-crc32": base64.b64encode(zlib.crc32(state.objects[crc_name]).to_bytes(4, "big")).decode()
    }
    state.objects[name] = b"Z" + good[1:]
    with pytest.raises(mf.FetchError, match=r"tokenizer\.json: corrupted download.*sha256"):
        mf.fetch(s3_source(endpoint), tmp_path / "m", log=lambda _: None)
    state.objects[name] = good
    mf.fetch(s3_source(endpoint), tmp_path / "m", log=lambda _: None)


def test_s3_uses_the_manifest_an_earlier_load_left_there(s3, tmp_path: Path, hub):
    state, endpoint = s3
    _, hub_endpoint = hub
    loaded = mf.fetch(source(hub_endpoint), tmp_path / "first", log=lambda _: None)
    state.objects["models/tiny/" + mf.MARKER] = json.dumps(loaded).encode()
    state.kms = True
    described = s3_source(endpoint).listing()[1]
    assert {f.path: f.sha256 for f in described} == {f["path"]: f["sha256"] for f in loaded["files"]}
    name = "models/tiny/model-00002-of-00002.safetensors"
    state.objects[name] = b"\x00" + state.objects[name][1:]
    with pytest.raises(mf.FetchError, match=r"model-00002-of-00002\.safetensors: corrupted"):
        mf.fetch(s3_source(endpoint), tmp_path / "second", log=lambda _: None)


def test_s3_access_denied_and_missing_prefix_are_clear(s3, tmp_path: Path):
    state, endpoint = s3
    with pytest.raises(mf.FetchError, match="nothing under s3://models-src/models/other/") as e:
        mf.fetch(s3_source(endpoint, "s3://models-src/models/other"), tmp_path / "m", log=lambda _: None)
    assert e.value.permanent
    state.deny = True
    with pytest.raises(mf.FetchError, match=r"access denied .*HTTP 403.*s3:GetObject") as e:
        mf.fetch(s3_source(endpoint), tmp_path / "m", log=lambda _: None)
    assert e.value.permanent


def test_sigv4_signature_matches_botocore():
    botocore_auth = pytest.importorskip("botocore.auth")
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials as BotoCredentials

    url = "https://models-src.s3.eu-west-1.amazonaws.com/models/tiny/model%2B1%20x.safetensors?list-type=2&prefix=a%2Fb"
    creds = mf.Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "session-token")
    request = AWSRequest(method="GET", url=url, headers={"x-amz-checksum-mode": "ENABLED"})
    botocore_auth.S3SigV4Auth(
        BotoCredentials(creds.access_key, creds.secret_key, creds.token), "s3", "eu-west-1"
    ).add_auth(request)
    when = dt.datetime.strptime(request.headers["X-Amz-Date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC)
    ours = mf.sigv4_headers("GET", url, {"x-amz-checksum-mode": "ENABLED"}, creds, "eu-west-1", when)
    theirs = request.headers["Authorization"]
    assert ours["authorization"].split("Signature=")[1] == theirs.split("Signature=")[1]
    assert ours["authorization"].split(", ")[1] == theirs.split(", ")[1]  # same signed headers


def test_pod_identity_credentials_are_read_with_the_token_file(tmp_path: Path, monkeypatch):
    seen: dict[str, str] = {}

    class Agent(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            seen["auth"] = self.headers.get("Authorization", "")
            body = json.dumps(
                {
                    "AccessKeyId": "ASIAPOD",
                    "SecretAccessKey": "s",
                    "Token": "t",
                    "Expiration": "2026-11-27T12:00:00Z",
                }
            ).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = http.server.HTTPServer(("127.0.0.1", 0), Agent)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    try:
        (tmp_path / "token").write_text("eks-pod-identity-token\n")
        monkeypatch.setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", f"http://127.0.0.1:{server.server_address[1]}/v1")
        monkeypatch.setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", str(tmp_path / "token"))
        creds = mf.credentials_from_environment()
    finally:
        server.shutdown()
        server.server_close()
    assert seen["auth"] == "eks-pod-identity-token"
    assert (creds.access_key, creds.token) == ("ASIAPOD", "t")
    assert creds.expires == dt.datetime(2026, 11, 27, 12, tzinfo=dt.UTC).timestamp()
