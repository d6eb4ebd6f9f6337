"""Fetch a model into a directory of the shared file system, once; list and verify it for the preload.

Standard library only: the model-load Job runs this file, mounted from a ConfigMap, in a small pinned
Python image (components/versions.py). It is also the library the unit tests import.

    python model_fetch.py fetch --source huggingface --model-id ORG/NAME --revision REV --dest DIR
    python model_fetch.py fetch --source s3://bucket/prefix/ --region us-east-1 --dest DIR
    python model_fetch.py list --dest DIR --out FILE       # the files to restore (for `lfs hsm_restore`)
    python model_fetch.py verify --dest DIR                # read every file back, check size and sha256

What `fetch` guarantees:
- Idempotent: a completion marker (MARKER) records the request and every file's size and sha256. A
  re-run for the same request finds it and does nothing, without touching the network.
- Resumable: data goes to `<file>.partial` and continues from its length with an HTTP Range request;
  a file gets its final name only once verified, so a final name always means a good file.
- Verified: sizes always; sha256 of LFS files and the git blob id of small files on the Hugging Face
  hub; on S3, the sha256 of a manifest left there by an earlier load (the marker, exported by the
  file system's data repository association), else a full-object SHA-256/SHA-1/CRC32 checksum, else
  the MD5 ETag of single-part objects not encrypted with KMS.
- One weight set: when a repository has sharded safetensors, the duplicate `consolidated*` file and
  other weight formats (.bin, .pth, .gguf...) are skipped.
- Never logs the token. Exit codes: 0 done, 1 worth retrying (network, corrupted download: the Job
  retries and resumes), 2 not worth retrying (missing model, refused token, no access, bad arguments).
"""

from __future__ import annotations

import argparse
import base64
import datetime as _dt
import hashlib
import hmac
import http.client
import json
import os
import posixpath
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Protocol

MARKER = ".model-complete.json"
PARTIAL = ".partial"
CHUNK = 8 * 1024 * 1024
HF_ENDPOINT = "https://huggingface.co"

EXIT_RETRY = 1
EXIT_PERMANENT = 2

# Weight formats other than safetensors: never fetched when safetensors weights exist.
OTHER_WEIGHTS = (".bin", ".pt", ".pth", ".ckpt", ".h5", ".msgpack", ".onnx", ".gguf", ".ot", ".tflite")


class FetchError(Exception):
    """A fetch that cannot complete; `permanent` errors are not worth retrying."""

    def __init__(self, message: str, *, permanent: bool = False):
        super().__init__(message)
        self.permanent = permanent

    @property
    def exit_code(self) -> int:
        return EXIT_PERMANENT if self.permanent else EXIT_RETRY


@dataclass(frozen=True)
class RemoteFile:
    """One file of the source, with what the source lets us verify."""

    path: str
    size: int
    sha256: str | None = None  # hex
    git_sha1: str | None = None  # hex git blob id (small, non-LFS files on the hub)
    md5: str | None = None  # hex (S3 ETag of single-part, non-KMS objects)
    sha1: str | None = None  # hex (S3 full-object SHA-1 checksum)
    crc32: int | None = None  # S3 full-object CRC32 checksum
    key: str = ""  # source-specific locator (S3 object key)


class Source(Protocol):
    """Where a model comes from."""

    request: dict[str, str]  # what was asked for; the marker matches on it

    def listing(self) -> tuple[str, list[RemoteFile]]:
        """(resolved version, every file) of the requested model."""

    def open(self, remote: RemoteFile, offset: int) -> tuple[IO[bytes], int]:
        """A stream of the file from `offset` if the source honours it; returns (stream, start offset)."""


# ------------------------------------------------------------------------------------------------
# Which files to fetch.
# ------------------------------------------------------------------------------------------------


def select_files(files: Iterable[RemoteFile]) -> list[RemoteFile]:
    """Keep one weight set: sharded/regular safetensors win over `consolidated*` and other formats."""
    files = [f for f in files if posixpath.basename(f.path) not in (".gitattributes", MARKER)]
    names = [posixpath.basename(f.path) for f in files]
    has_safetensors = any(n.endswith(".safetensors") and not n.startswith("consolidated") for n in names)
    kept = []
    for f, name in zip(files, names, strict=True):
        if has_safetensors and (name.startswith("consolidated") or name.endswith(OTHER_WEIGHTS)):
            continue
        kept.append(f)
    return kept


def _safe_target(dest: Path, rel: str) -> Path:
    parts = rel.split("/")
    if not rel or rel.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise FetchError(f"refusing unsafe file name from the source: {rel!r}", permanent=True)
    return dest.joinpath(*parts)


# ------------------------------------------------------------------------------------------------
# Hashing.
# ------------------------------------------------------------------------------------------------


class _Hashes:
    """Every digest the remote file lets us check, fed in one pass."""

    def __init__(self, remote: RemoteFile):
        self.remote = remote
        self.sha256 = hashlib.sha256()
        self.git = hashlib.sha1(f"blob {remote.size}\0".encode(), usedforsecurity=False) if remote.git_sha1 else None
        self.md5 = hashlib.md5(usedforsecurity=False) if remote.md5 else None
        self.sha1 = hashlib.sha1(usedforsecurity=False) if remote.sha1 else None
        self.crc = 0 if remote.crc32 is not None else None

    def update(self, data: bytes) -> None:
        self.sha256.update(data)
        for h in (self.git, self.md5, self.sha1):
            if h is not None:
                h.update(data)
        if self.crc is not None:
            self.crc = zlib.crc32(data, self.crc)

    def feed_file(self, path: Path, upto: int | None = None) -> None:
        remaining = upto
        with path.open("rb") as fh:
            while remaining is None or remaining > 0:
                data = fh.read(CHUNK if remaining is None else min(CHUNK, remaining))
                if not data:
                    break
                self.update(data)
                if remaining is not None:
                    remaining -= len(data)

    def problems(self) -> list[str]:
        r, found = self.remote, []
        checks = [
            ("sha256", r.sha256, self.sha256.hexdigest()),
            ("git blob id", r.git_sha1, self.git.hexdigest() if self.git else None),
            ("md5", r.md5, self.md5.hexdigest() if self.md5 else None),
            ("sha1", r.sha1, self.sha1.hexdigest() if self.sha1 else None),
            ("crc32", r.crc32, self.crc),
        ]
        for name, expected, got in checks:
            if expected is not None and expected != got:
                found.append(f"{name} expected {expected}, got {got}")
        return found


def _verify_file(path: Path, remote: RemoteFile) -> tuple[list[str], str]:
    """(problems, sha256 hex) of a file on disk against what the source published."""
    size = path.stat().st_size
    if size != remote.size:
        return [f"size expected {remote.size}, got {size}"], ""
    hashes = _Hashes(remote)
    hashes.feed_file(path)
    return hashes.problems(), hashes.sha256.hexdigest()


# ------------------------------------------------------------------------------------------------
# The fetch.
# ------------------------------------------------------------------------------------------------


def read_marker(dest: Path) -> dict[str, Any] | None:
    try:
        return json.loads((dest / MARKER).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def _log_default(message: str) -> None:
    print(message, flush=True)


def fetch(source: Source, dest: Path, *, log: Callable[[str], None] = _log_default) -> dict[str, Any]:
    """Bring the source's model into `dest` (see the module docstring); returns the marker."""
    marker = read_marker(dest)
    if marker and marker.get("request") == source.request:
        log(f"complete already ({MARKER} present for this request): nothing to do")
        return marker
    resolved, files = source.listing()
    files = select_files(files)
    if not files:
        raise FetchError(f"the source lists no files to fetch for {source.request}", permanent=True)
    dest.mkdir(parents=True, exist_ok=True)
    total = sum(f.size for f in files)
    log(f"fetching {len(files)} files ({total / 1e9:.2f} GB) of {source.request} (resolved {resolved}) into {dest}")
    digests = {}
    for remote in files:
        digests[remote.path] = _fetch_one(source, remote, dest, log)
    marker = {
        "request": source.request,
        "resolved": resolved,
        "files": [{"path": f.path, "size": f.size, "sha256": digests[f.path]} for f in files],
        "completedAt": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    tmp = dest / f"{MARKER}{PARTIAL}"
    tmp.write_text(json.dumps(marker, indent=2) + "\n")
    os.replace(tmp, dest / MARKER)
    log(f"complete: {len(files)} files verified; wrote {MARKER}")
    return marker


def _fetch_one(source: Source, remote: RemoteFile, dest: Path, log: Callable[[str], None]) -> str:
    target = _safe_target(dest, remote.path)
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():
        problems, sha = _verify_file(target, remote)
        if not problems:
            log(f"  {remote.path}: present and verified")
            return sha
        log(f"  {remote.path}: present but does not match the source ({'; '.join(problems)}): fetching again")
        target.unlink()
    partial = target.with_name(target.name + PARTIAL)
    offset = partial.stat().st_size if partial.exists() else 0
    if offset > remote.size:
        partial.unlink()
        offset = 0
    hashes = _Hashes(remote)
    if offset:
        hashes.feed_file(partial, offset)
    if offset < remote.size:
        stream, start = source.open(remote, offset)
        if start != offset:  # the source ignored the Range request: start over
            hashes, offset = _Hashes(remote), 0
        if offset:
            log(f"  {remote.path}: resuming at {offset} of {remote.size} bytes")
        with stream, partial.open("r+b" if offset else "wb") as out:
            out.seek(offset)
            out.truncate()
            try:
                while data := stream.read(CHUNK):
                    out.write(data)
                    hashes.update(data)
            except (OSError, http.client.HTTPException) as e:
                raise FetchError(f"{remote.path}: download interrupted ({e}); a re-run resumes it") from e
    got = partial.stat().st_size
    if got != remote.size:
        raise FetchError(f"{remote.path}: got {got} of {remote.size} bytes; a re-run resumes it")
    problems = hashes.problems()
    if problems:
        partial.unlink()
        raise FetchError(f"{remote.path}: corrupted download, discarded ({'; '.join(problems)})")
    os.replace(partial, target)
    log(f"  {remote.path}: {remote.size} bytes, verified")
    return hashes.sha256.hexdigest()


# ------------------------------------------------------------------------------------------------
# HTTP helpers.
# ------------------------------------------------------------------------------------------------


def default_opener() -> urllib.request.OpenerDirector:
    return urllib.request.build_opener()


def _http_error_text(e: urllib.error.HTTPError) -> str:
    try:
        body = e.read(2000).decode("utf-8", "replace")
    except OSError:
        body = ""
    return body.strip().replace("\n", " ")[:300]


def expected_request(source: str, model_id: str, revision: str) -> dict[str, str]:
    """The `request` a completed fetch records in MARKER for this source (what a waiter compares)."""
    if source == "huggingface":
        return {"source": "huggingface", "id": model_id, "revision": revision}
    bucket, _, prefix = source.removeprefix("s3://").partition("/")
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    return {"source": f"s3://{bucket}/{prefix}"}


# ------------------------------------------------------------------------------------------------
# Hugging Face hub.
# ------------------------------------------------------------------------------------------------


@dataclass
class HuggingFaceSource:
    """A model repository on the Hugging Face hub at a revision (a commit SHA pins it)."""

    model_id: str
    revision: str
    token: str | None = None
    endpoint: str = HF_ENDPOINT
    opener: urllib.request.OpenerDirector = field(default_factory=default_opener)
    timeout: float = 60.0
    _resolved: str = ""

    @property
    def request(self) -> dict[str, str]:
        return expected_request("huggingface", self.model_id, self.revision)

    def _open(self, url: str, headers: dict[str, str] | None = None) -> Any:
        req = urllib.request.Request(url, headers=headers or {})
        if self.token:
            # Unredirected: the token goes to the hub only, never to the storage host a download
            # redirects to (which would also refuse a request carrying two kinds of credentials).
            req.add_unredirected_header("Authorization", f"Bearer {self.token}")
        return self.opener.open(req, timeout=self.timeout)

    def _explain(self, e: urllib.error.HTTPError, what: str) -> FetchError:
        where = f"{self.model_id} at revision {self.revision}"
        if e.code == 401:
            if self.token:
                return FetchError(
                    f"Hugging Face refused the token (HTTP 401) for {where}: set a valid read token with "
                    "`pulumi config set --secret inferentia-chat:hfToken <token>`",
                    permanent=True,
                )
            return FetchError(
                f"Hugging Face needs a token for {where} (HTTP 401): the model is gated or private, or does not "
                "exist; check model.id, or set `inferentia-chat:hfToken` (secret)",
                permanent=True,
            )
        if e.code == 403:
            return FetchError(
                f"the token has no access to {where} (HTTP 403): accept the model's license on its hub page "
                "with the token's account, or use a token with read access",
                permanent=True,
            )
        if e.code == 404:
            return FetchError(
                f"model {where} not found on Hugging Face (HTTP 404): check model.id and model.revision",
                permanent=True,
            )
        return FetchError(f"{what} failed with HTTP {e.code}: {_http_error_text(e)}")

    def listing(self) -> tuple[str, list[RemoteFile]]:
        quoted = urllib.parse.quote(self.revision, safe="")
        url = f"{self.endpoint}/api/models/{self.model_id}/revision/{quoted}?blobs=true"
        try:
            with self._open(url, {"Accept": "application/json"}) as resp:
                info = json.load(resp)
        except urllib.error.HTTPError as e:
            raise self._explain(e, "listing the model") from None
        except (urllib.error.URLError, OSError) as e:
            raise FetchError(f"cannot reach {self.endpoint} ({e})") from None
        self._resolved = info.get("sha") or self.revision
        files = []
        for s in info.get("siblings") or []:
            lfs = s.get("lfs") or None
            size = s.get("size", lfs.get("size") if lfs else None)
            if size is None:
                raise FetchError(f"the hub listing has no size for {s.get('rfilename')}", permanent=True)
            files.append(
                RemoteFile(
                    path=s["rfilename"],
                    size=int(size),
                    sha256=lfs.get("sha256") if lfs else None,
                    git_sha1=None if lfs else s.get("blobId"),
                )
            )
        return self._resolved, files

    def open(self, remote: RemoteFile, offset: int) -> tuple[IO[bytes], int]:
        revision = urllib.parse.quote(self._resolved or self.revision, safe="")
        url = f"{self.endpoint}/{self.model_id}/resolve/{revision}/{urllib.parse.quote(remote.path)}"
        headers = {"Range": f"bytes={offset}-"} if offset else {}
        try:
            resp = self._open(url, headers)
        except urllib.error.HTTPError as e:
            raise self._explain(e, f"downloading {remote.path}") from None
        except (urllib.error.URLError, OSError) as e:
            raise FetchError(f"downloading {remote.path}: {e}") from None
        return resp, offset if resp.status == 206 else 0


# ------------------------------------------------------------------------------------------------
# S3 (Signature Version 4, credentials from EKS Pod Identity or the environment).
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Credentials:
    access_key: str
    secret_key: str
    token: str | None = None
    expires: float | None = None  # epoch seconds


def credentials_from_environment(opener: urllib.request.OpenerDirector | None = None) -> Credentials:
    """EKS Pod Identity (container credentials endpoint + token file), else the AWS_* variables."""
    uri = os.environ.get("AWS_CONTAINER_CREDENTIALS_FULL_URI")
    if uri:
        req = urllib.request.Request(uri)
        token_file = os.environ.get("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE")
        if token_file:
            req.add_header("Authorization", Path(token_file).read_text().strip())
        try:
            with (opener or default_opener()).open(req, timeout=10) as resp:
                data = json.load(resp)
        except (urllib.error.URLError, OSError) as e:
            raise FetchError(f"cannot get AWS credentials from the Pod Identity agent ({e})") from None
        expires = data.get("Expiration")
        return Credentials(
            data["AccessKeyId"],
            data["SecretAccessKey"],
            data.get("Token"),
            _dt.datetime.fromisoformat(expires.replace("Z", "+00:00")).timestamp() if expires else None,
        )
    if os.environ.get("AWS_ACCESS_KEY_ID") and os.environ.get("AWS_SECRET_ACCESS_KEY"):
        return Credentials(
            os.environ["AWS_ACCESS_KEY_ID"], os.environ["AWS_SECRET_ACCESS_KEY"], os.environ.get("AWS_SESSION_TOKEN")
        )
    raise FetchError(
        "no AWS credentials: the loader's service account needs its Pod Identity association", permanent=True
    )


EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


def _uri_encode(value: str, *, keep_slash: bool) -> str:
    return urllib.parse.quote(value, safe="/-_.~" if keep_slash else "-_.~")


def sigv4_headers(
    method: str,
    url: str,
    headers: dict[str, str],
    creds: Credentials,
    region: str,
    now: _dt.datetime,
    service: str = "s3",
) -> dict[str, str]:
    """The request's headers plus the AWS Signature Version 4 ones (header-based, unsigned-empty body).

    Every header passed in is signed, so pass only host-independent headers that must be protected.
    """
    parsed = urllib.parse.urlsplit(url)
    amz_date = now.strftime("%Y%m%dT%H%M%SZ")
    signed = {k.lower(): v.strip() for k, v in headers.items()}
    signed["host"] = parsed.netloc
    signed["x-amz-date"] = amz_date
    signed.setdefault("x-amz-content-sha256", EMPTY_SHA256)
    if creds.token:
        signed["x-amz-security-token"] = creds.token
    query = urllib.parse.parse_qsl(parsed.query, keep_blank_values=True)
    canonical_query = "&".join(
        f"{_uri_encode(k, keep_slash=False)}={_uri_encode(v, keep_slash=False)}" for k, v in sorted(query)
    )
    names = sorted(signed)
    canonical = "\n".join(
        [
            method,
            _uri_encode(urllib.parse.unquote(parsed.path) or "/", keep_slash=True),
            canonical_query,
            "".join(f"{n}:{signed[n]}\n" for n in names),
            ";".join(names),
            signed["x-amz-content-sha256"],
        ]
    )
    scope = f"{amz_date[:8]}/{region}/{service}/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    key = f"AWS4{creds.secret_key}".encode()
    for part in (amz_date[:8], region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    out = {k: v for k, v in signed.items() if k != "host"}
    out["authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={creds.access_key}/{scope}, SignedHeaders={';'.join(names)}, "
        f"Signature={signature}"
    )
    return out


_S3_NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"


@dataclass
class S3Source:
    """Objects under an s3://bucket/prefix/ (another bucket, or this store's own from another stack)."""

    uri: str
    region: str
    credentials: Callable[[], Credentials] = credentials_from_environment
    endpoint: str | None = None  # tests: a loopback server, path-style addressing
    opener: urllib.request.OpenerDirector = field(default_factory=default_opener)
    timeout: float = 60.0
    _creds: Credentials | None = None

    def __post_init__(self) -> None:
        parsed = urllib.parse.urlsplit(self.uri)
        if parsed.scheme != "s3" or not parsed.netloc:
            raise FetchError(f"not an s3:// URI: {self.uri}", permanent=True)
        self.bucket = parsed.netloc
        self.prefix = parsed.path.lstrip("/")
        if self.prefix and not self.prefix.endswith("/"):
            self.prefix += "/"

    @property
    def request(self) -> dict[str, str]:
        return expected_request(f"s3://{self.bucket}/{self.prefix}", "", "")

    def _url(self, key: str = "", query: dict[str, str] | None = None) -> str:
        path = "/" + _uri_encode(key, keep_slash=True)
        if self.endpoint:
            base = f"{self.endpoint}/{self.bucket}"
        else:
            base = f"https://{self.bucket}.s3.{self.region}.amazonaws.com"
        qs = f"?{urllib.parse.urlencode(sorted((query or {}).items()))}" if query else ""
        return f"{base}{path}{qs}"

    def _signed(self, method: str, key: str = "", query: dict[str, str] | None = None, extra=None) -> Any:
        for attempt in range(2):
            if self._creds is None or (self._creds.expires and self._creds.expires - time.time() < 300):
                self._creds = self.credentials()
            url = self._url(key, query)
            headers = sigv4_headers(
                method, url, {"x-amz-checksum-mode": "ENABLED"}, self._creds, self.region, _dt.datetime.now(_dt.UTC)
            )
            req = urllib.request.Request(url, method=method, headers={**headers, **(extra or {})})
            try:
                return self.opener.open(req, timeout=self.timeout)
            except urllib.error.HTTPError as e:
                moved = e.headers.get("x-amz-bucket-region") if e.headers else None
                if e.code in (301, 400) and moved and moved != self.region and attempt == 0:
                    self.region = moved  # the bucket lives elsewhere: sign for its region
                    continue
                raise self._explain(e, key) from None
            except (urllib.error.URLError, OSError) as e:
                raise FetchError(f"cannot reach S3 for s3://{self.bucket}/{key} ({e})") from None
        raise FetchError(f"s3://{self.bucket}: redirected more than once")

    def _explain(self, e: urllib.error.HTTPError, key: str) -> FetchError:
        where = f"s3://{self.bucket}/{key or self.prefix}"
        if e.code == 403:
            return FetchError(
                f"access denied to {where} (HTTP 403): the loader role needs s3:ListBucket and s3:GetObject there "
                "(and kms:Decrypt if the bucket uses a customer KMS key)",
                permanent=True,
            )
        if e.code == 404:
            return FetchError(f"{where} not found (HTTP 404): check model.source", permanent=True)
        return FetchError(f"{where}: HTTP {e.code}: {_http_error_text(e)}")

    def _list(self) -> list[tuple[str, int]]:
        objects, token = [], None
        while True:
            query = {"list-type": "2", "prefix": self.prefix}
            if token:
                query["continuation-token"] = token
            with self._signed("GET", "", query) as resp:
                root = ET.fromstring(resp.read())
            for item in root.iter(f"{_S3_NS}Contents"):
                objects.append((item.findtext(f"{_S3_NS}Key") or "", int(item.findtext(f"{_S3_NS}Size") or 0)))
            if (root.findtext(f"{_S3_NS}IsTruncated") or "false") != "true":
                return objects
            token = root.findtext(f"{_S3_NS}NextContinuationToken")

    def listing(self) -> tuple[str, list[RemoteFile]]:
        objects = [(k, s) for k, s in self._list() if not k.endswith("/")]
        if not objects:
            raise FetchError(f"nothing under {self.request['source']}: check model.source", permanent=True)
        manifest: dict[str, str] = {}
        if any(k == self.prefix + MARKER for k, _ in objects):
            # A model this loader fetched before (and the data repository association exported): its
            # recorded sha256 values are the strongest check there is.
            with self._signed("GET", self.prefix + MARKER) as resp:
                recorded = json.loads(resp.read())
            manifest = {f["path"]: f["sha256"] for f in recorded.get("files", [])}
        files = []
        for key, size in objects:
            rel = key[len(self.prefix) :]
            if rel == MARKER or rel.endswith(PARTIAL):
                continue
            files.append(self._describe(key, rel, size, manifest.get(rel)))
        return self.request["source"], files

    def _describe(self, key: str, rel: str, size: int, recorded_sha256: str | None) -> RemoteFile:
        with self._signed("HEAD", key) as resp:
            h = resp.headers
        full_object = (h.get("x-amz-checksum-type") or "FULL_OBJECT") == "FULL_OBJECT"

        def checksum(name: str) -> bytes | None:
            value = h.get(f"x-amz-checksum-{name}")
            return base64.b64decode(value) if value and full_object and "-" not in value else None

        sha256, sha1, crc = checksum("sha256"), checksum("sha1"), checksum("crc32")
        etag = (h.get("ETag") or "").strip('"')
        kms = (h.get("x-amz-server-side-encryption") or "").startswith("aws:kms")
        md5 = etag if etag and "-" not in etag and not kms and len(etag) == 32 else None
        return RemoteFile(
            path=rel,
            size=size,
            sha256=recorded_sha256 or (sha256.hex() if sha256 else None),
            sha1=sha1.hex() if sha1 else None,
            crc32=int.from_bytes(crc, "big") if crc else None,
            md5=md5,
            key=key,
        )

    def open(self, remote: RemoteFile, offset: int) -> tuple[IO[bytes], int]:
        extra = {"Range": f"bytes={offset}-"} if offset else None
        resp = self._signed("GET", remote.key, extra=extra)
        return resp, offset if resp.status == 206 else 0


# ------------------------------------------------------------------------------------------------
# Preload helpers: the file list for `lfs hsm_restore --filelist`, and a read-back verification.
# ------------------------------------------------------------------------------------------------


def require_marker(dest: Path) -> dict[str, Any]:
    marker = read_marker(dest)
    if not marker:
        raise FetchError(f"no {MARKER} in {dest}: the model is not loaded (run the model-load Job)", permanent=True)
    return marker


def write_file_list(dest: Path, out: Path) -> int:
    """Write the absolute paths of the model's files, one per line; returns how many."""
    marker = require_marker(dest)
    paths = [str(_safe_target(dest, f["path"])) for f in marker["files"]]
    out.write_text("".join(f"{p}\n" for p in paths))
    return len(paths)


def verify(dest: Path, *, log: Callable[[str], None] = _log_default) -> None:
    """Read every file of the model to the end and check size and sha256 against the marker.

    On a file system linked to S3 a read of a file still being restored waits for its data, so when
    this returns every byte is resident on the file system (and proven intact).
    """
    marker = require_marker(dest)
    bad = []
    for f in marker["files"]:
        problems, _ = _verify_file(_safe_target(dest, f["path"]), RemoteFile(f["path"], f["size"], sha256=f["sha256"]))
        log(f"  {f['path']}: {'; '.join(problems) if problems else 'resident and verified'}")
        if problems:
            bad.append(f["path"])
    if bad:
        raise FetchError(f"{len(bad)} file(s) do not match the recorded manifest: {', '.join(bad)}", permanent=True)
    log(f"all {len(marker['files'])} files resident and verified")


# ------------------------------------------------------------------------------------------------
# Command line.
# ------------------------------------------------------------------------------------------------


def source_from_args(args: argparse.Namespace) -> Source:
    if args.source == "huggingface":
        if not args.model_id or not args.revision:
            raise FetchError("--model-id and --revision are required for a huggingface source", permanent=True)
        token = os.environ.get("HF_TOKEN") or None
        return HuggingFaceSource(args.model_id, args.revision, token=token, endpoint=args.hf_endpoint)
    if args.source.startswith("s3://"):
        region = args.region or os.environ.get("AWS_REGION") or "us-east-1"
        return S3Source(args.source, region, endpoint=args.s3_endpoint)
    raise FetchError(f"--source must be huggingface or an s3:// URI, not {args.source!r}", permanent=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="model_fetch", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    f = sub.add_parser("fetch", help="fetch the model into --dest once (idempotent, resumable, verified)")
    f.add_argument("--source", required=True, help="huggingface or s3://bucket/prefix/")
    f.add_argument("--model-id")
    f.add_argument("--revision")
    f.add_argument("--region", help="region of an s3:// source (default AWS_REGION)")
    f.add_argument("--dest", required=True, type=Path)
    f.add_argument("--hf-endpoint", default=os.environ.get("HF_ENDPOINT", HF_ENDPOINT))
    f.add_argument("--s3-endpoint", help=argparse.SUPPRESS)
    ls = sub.add_parser("list", help="write the model's files, one per line (for lfs hsm_restore --filelist)")
    ls.add_argument("--dest", required=True, type=Path)
    ls.add_argument("--out", required=True, type=Path)
    v = sub.add_parser("verify", help="read every file back and check it against the marker")
    v.add_argument("--dest", required=True, type=Path)
    args = parser.parse_args(argv)
    try:
        if args.command == "fetch":
            fetch(source_from_args(args), args.dest)
        elif args.command == "list":
            print(f"{write_file_list(args.dest, args.out)} files listed in {args.out}", flush=True)
        else:
            verify(args.dest)
    except FetchError as e:
        print(f"error: {e}", file=sys.stderr, flush=True)
        return e.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
