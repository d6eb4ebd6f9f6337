"""Fetch a model into a directory of the shared file system, once; list and verify it for the preload.

The model-load Job runs this file (mounted from a ConfigMap) in the pinned Python image, with the pinned
wheels of `loader-requirements.txt` beside it: `huggingface_hub` (with `hf_xet`) for the Hugging Face hub,
`boto3` for S3. `list` and `verify` (the preload) need the standard library only. The unit tests import it.

    python model_fetch.py fetch --source huggingface --model-id ORG/NAME --revision REV --dest DIR
    python model_fetch.py fetch --source s3://bucket/prefix/ --region us-east-1 --dest DIR
    python model_fetch.py list --dest DIR --out FILE       # the files to restore (for `lfs hsm_restore`)
    python model_fetch.py verify --dest DIR                # read every file back, check size and sha256

What `fetch` guarantees:
- Idempotent: a completion marker (MARKER) records the request and every file's size and sha256. A
  re-run for the same request finds it and does nothing, without touching the network.
- Resumable: a dropped transfer continues where it stopped (huggingface_hub's ranged retries; S3 from
  `<file>.partial` with a ranged GET, also across runs); a re-run keeps every file already verified, and
  Xet chunks already fetched (HF_XET_CACHE on the file system, beside the model). huggingface_hub >= 2
  restarts a plain-HTTP file that a previous run left unfinished (it keeps no partial file across processes).
- Verified: sizes always; sha256 of LFS files and the git blob id of small files on the Hugging Face
  hub; on S3, the sha256 of a manifest left there by an earlier load (the marker, exported by the
  file system's data repository association), else a full-object SHA-256/SHA-1/CRC32 checksum, else
  the MD5 ETag of single-part objects not encrypted with KMS.
- One weight set: when a repository has sharded safetensors, the duplicate `consolidated*` file and
  other weight formats (.bin, .pth, .gguf...) are skipped.
- Token: read from `--token-file` (the load Job mounts its Secret there, read-only: never an environment
  variable), else from HF_TOKEN (the compile host's container); handed to huggingface_hub as its `token`
  argument, so it never looks anywhere else (`token=False` without one). Not through huggingface_hub's own
  HF_TOKEN_PATH: 2.4.0 prefers HF_TOKEN to it, and may rewrite that file (OAuth refresh, utils/_auth.py).
- Never logs the token. Exit codes: 0 done, 1 worth retrying (network, corrupted download: the Job
  retries and resumes), 2 not worth retrying (missing model, refused token, no access, bad arguments).
"""

from __future__ import annotations

import argparse
import base64
import datetime as _dt
import importlib
import json
import os
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

# model_files.py is a sibling: inside the library package, or beside this file in the Job's ConfigMap.
model_files = importlib.import_module(f"{__package__}.model_files" if __package__ else "model_files")

HF_ENDPOINT = "https://huggingface.co"
XET_CACHE_BYTES = 200 * 10**9  # Xet chunks kept for a retry (HF_XET_CHUNK_CACHE_SIZE_BYTES): a whole model


class Source(Protocol):
    """Where a model comes from."""

    request: dict[str, str]  # what was asked for; the marker matches on it

    def listing(self) -> tuple[str, list[model_files.RemoteFile]]:
        """(resolved version, every file) of the requested model."""

    def download(self, remote: model_files.RemoteFile, dest: Path, target: Path) -> None:
        """Bring the file to `target` (inside `dest`), resuming what an earlier run left."""


def fetch(source: Source, dest: Path, *, log: Callable[[str], None] = model_files._log_default) -> dict[str, Any]:
    """Bring the source's model into `dest` (see the module docstring); returns the marker."""
    marker = model_files.read_marker(dest)
    if marker and marker.get("request") == source.request:
        log(f"complete already ({model_files.MARKER} present for this request): nothing to do")
        return marker
    resolved, files = source.listing()
    files = model_files.select_files(files)
    if not files:
        raise model_files.FetchError(f"the source lists no files to fetch for {source.request}", permanent=True)
    dest.mkdir(parents=True, exist_ok=True)
    log(f"fetching {len(files)} files ({sum(f.size for f in files) / 1e9:.2f} GB) of {source.request} into {dest}")
    digests = {remote.path: _fetch_one(source, remote, dest, log) for remote in files}
    marker = {
        "request": source.request,
        "resolved": resolved,
        "files": [{"path": f.path, "size": f.size, "sha256": digests[f.path]} for f in files],
        "completedAt": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    shutil.rmtree(
        dest / model_files.HF_LOCAL_CACHE, ignore_errors=True
    )  # download state: nothing to export to the bucket
    tmp = dest / f"{model_files.MARKER}{model_files.PARTIAL}"
    tmp.write_text(json.dumps(marker, indent=2) + "\n")
    os.replace(tmp, dest / model_files.MARKER)
    log(f"complete: {len(files)} files verified; wrote {model_files.MARKER}")
    return marker


def _fetch_one(source: Source, remote: model_files.RemoteFile, dest: Path, log: Callable[[str], None]) -> str:
    target = model_files._safe_target(dest, remote.path)
    if target.exists():
        problems, sha = model_files._verify_file(target, remote)
        if not problems:
            log(f"  {remote.path}: present and verified")
            return sha
        log(f"  {remote.path}: present but does not match the source ({'; '.join(problems)}): fetching again")
        target.unlink()
    target.parent.mkdir(parents=True, exist_ok=True)
    source.download(remote, dest, target)
    if not target.exists():
        raise model_files.FetchError(f"{remote.path}: the download left no file; a re-run retries it")
    problems, sha = model_files._verify_file(target, remote)
    if problems:
        target.unlink()
        raise model_files.FetchError(f"{remote.path}: corrupted download, discarded ({'; '.join(problems)})")
    log(f"  {remote.path}: {remote.size} bytes, verified")
    return sha


# --- Hugging Face hub (huggingface_hub; Xet storage through hf_xet).


@dataclass
class HuggingFaceSource:
    """A model repository on the Hugging Face hub at a revision (a commit SHA pins it)."""

    model_id: str
    revision: str
    token: str | None = None
    endpoint: str = HF_ENDPOINT
    _resolved: str = ""

    @property
    def request(self) -> dict[str, str]:
        return model_files.expected_request("huggingface", self.model_id, self.revision)

    def _explain(self, e: Exception, what: str) -> model_files.FetchError:
        """A FetchError for a huggingface_hub error; never carries the token."""
        from huggingface_hub.errors import GatedRepoError, HfHubHTTPError, HFValidationError, RepositoryNotFoundError
        from huggingface_hub.errors import RevisionNotFoundError as NoRevision

        if isinstance(e, HFValidationError):
            return model_files._permanent(f"{what}: invalid model id or revision ({e})")
        where = f"{self.model_id} at revision {self.revision}"
        status = getattr(getattr(e, "response", None), "status_code", None)
        token_key = "`inferentia-chat:hfToken` (a secret)"
        if status == 401 and self.token:
            return model_files._permanent(
                f"Hugging Face refused the token (HTTP 401) for {where}: set a valid read token in {token_key}"
            )
        if (isinstance(e, GatedRepoError) or status == 403) and not self.token:
            return model_files._permanent(
                f"Hugging Face needs a token for {where} (gated model): set {token_key} to a read token"
            )
        if isinstance(e, GatedRepoError) or status == 403:
            return model_files._permanent(
                f"the token has no access to {where} (HTTP {status}): accept the model's license on its hub page "
                "with the token's account, or use a token with read access"
            )
        if isinstance(e, RepositoryNotFoundError | NoRevision) or status in (401, 404):
            return model_files._permanent(
                f"model {where} not found on Hugging Face (HTTP {status}): check model.id and model.revision "
                f"(a private model also needs {token_key})"
            )
        kind = f"HTTP {status}" if isinstance(e, HfHubHTTPError) else type(e).__name__
        return model_files.FetchError(f"{what} failed ({kind}); a re-run resumes it")

    def listing(self) -> tuple[str, list[model_files.RemoteFile]]:
        from huggingface_hub import HfApi

        try:
            info = HfApi(endpoint=self.endpoint, token=self.token or False).model_info(
                self.model_id, revision=self.revision, files_metadata=True
            )
        except Exception as e:
            raise self._explain(e, "listing the model") from None
        self._resolved = info.sha or self.revision
        files = []
        for s in info.siblings or []:
            size = s.size if s.size is not None else (s.lfs.size if s.lfs else None)
            if size is None:
                raise model_files._permanent(f"the hub listing has no size for {s.rfilename}")
            lfs = s.lfs
            sha256, git_sha1 = (lfs.sha256, None) if lfs else (None, s.blob_id)
            files.append(model_files.RemoteFile(s.rfilename, int(size), sha256=sha256, git_sha1=git_sha1))
        return self._resolved, files

    def download(self, remote: model_files.RemoteFile, dest: Path, target: Path) -> None:
        from huggingface_hub import hf_hub_download

        try:
            hf_hub_download(
                self.model_id,
                remote.path,
                revision=self._resolved or self.revision,
                local_dir=dest,
                token=self.token or False,
                endpoint=self.endpoint,
            )
        except Exception as e:
            raise self._explain(e, f"downloading {remote.path}") from None


# --- S3 (boto3: credentials from EKS Pod Identity or the environment, signing, retries).


@dataclass
class S3Source:
    """Objects under an s3://bucket/prefix/ (another bucket, or this store's own from another stack)."""

    uri: str
    region: str
    endpoint: str | None = None  # tests: a local S3 (moto)
    client: Any = None

    def __post_init__(self) -> None:
        if not self.uri.startswith("s3://") or not self.uri[5:].split("/", 1)[0]:
            raise model_files._permanent(f"not an s3:// URI: {self.uri}")
        self.bucket, _, self.prefix = self.uri[5:].partition("/")
        if self.prefix and not self.prefix.endswith("/"):
            self.prefix += "/"
        if self.client is None:
            import boto3
            from botocore.config import Config

            retries = Config(retries={"max_attempts": 10, "mode": "standard"})
            self.client = boto3.client("s3", region_name=self.region, endpoint_url=self.endpoint, config=retries)

    @property
    def request(self) -> dict[str, str]:
        return model_files.expected_request(f"s3://{self.bucket}/{self.prefix}", "", "")

    def _call(self, what: str, fn: Callable[..., Any], **kwargs: Any) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

        where = f"s3://{self.bucket}/{kwargs.get('Key', self.prefix)}"
        try:
            return fn(Bucket=self.bucket, **kwargs)
        except NoCredentialsError:
            raise model_files._permanent(
                "no AWS credentials: the loader's service account needs its Pod Identity association"
            ) from None
        except ClientError as e:
            code = str(e.response.get("Error", {}).get("Code", ""))
            status = e.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if code in ("AccessDenied", "403") or status == 403:
                raise model_files._permanent(
                    f"access denied to {where} (HTTP 403): the loader role needs s3:ListBucket and s3:GetObject "
                    "there (and kms:Decrypt if the bucket uses a customer KMS key)"
                ) from None
            if code in ("NoSuchBucket", "NoSuchKey", "404") or status == 404:
                raise model_files._permanent(f"{where} not found (HTTP 404): check model.source") from None
            raise model_files.FetchError(f"{what} {where}: {code or status}; a re-run retries it") from None
        except BotoCoreError as e:
            raise model_files.FetchError(f"{what} {where}: {type(e).__name__}; a re-run retries it") from None

    def _objects(self) -> list[tuple[str, int]]:
        pages = self._call(
            "listing",
            lambda **kw: list(self.client.get_paginator("list_objects_v2").paginate(**kw)),
            Prefix=self.prefix,
        )
        return [(o["Key"], int(o["Size"])) for p in pages for o in p.get("Contents", []) if not o["Key"].endswith("/")]

    def listing(self) -> tuple[str, list[model_files.RemoteFile]]:
        objects = self._objects()
        if not objects:
            raise model_files._permanent(f"nothing under {self.request['source']}: check model.source")
        manifest: dict[str, str] = {}
        if any(k == self.prefix + model_files.MARKER for k, _ in objects):
            # A model this loader fetched before (and the data repository association exported): its recorded
            # sha256 values are the strongest check there is.
            body = self._call("reading", self.client.get_object, Key=self.prefix + model_files.MARKER)["Body"].read()
            manifest = {f["path"]: f["sha256"] for f in json.loads(body).get("files", [])}
        files = []
        for key, size in objects:
            rel = key[len(self.prefix) :]
            if rel != model_files.MARKER and not rel.endswith(model_files.PARTIAL):
                files.append(self._describe(key, rel, size, manifest.get(rel)))
        return self.request["source"], files

    def _describe(self, key: str, rel: str, size: int, recorded_sha256: str | None) -> model_files.RemoteFile:
        head = self._call("reading", self.client.head_object, Key=key, ChecksumMode="ENABLED")
        full_object = (head.get("ChecksumType") or "FULL_OBJECT") == "FULL_OBJECT"

        def checksum(name: str) -> bytes | None:
            value = head.get(f"Checksum{name}")
            return base64.b64decode(value) if value and full_object and "-" not in value else None

        sha256, sha1, crc = checksum("SHA256"), checksum("SHA1"), checksum("CRC32")
        etag = (head.get("ETag") or "").strip('"')
        kms = (head.get("ServerSideEncryption") or "").startswith("aws:kms")
        return model_files.RemoteFile(
            path=rel,
            size=size,
            sha256=recorded_sha256 or (sha256.hex() if sha256 else None),
            sha1=sha1.hex() if sha1 else None,
            crc32=int.from_bytes(crc, "big") if crc else None,
            md5=etag if etag and "-" not in etag and not kms and len(etag) == 32 else None,
            key=key,
        )

    def download(self, remote: model_files.RemoteFile, dest: Path, target: Path) -> None:
        """Into `<target>.partial`, continuing from its length with a ranged GET; renamed once complete."""
        from botocore.exceptions import BotoCoreError

        partial = target.with_name(target.name + model_files.PARTIAL)
        offset = partial.stat().st_size if partial.exists() else 0
        if offset > remote.size:
            partial.unlink()
            offset = 0
        if offset < remote.size:
            extra = {"Range": f"bytes={offset}-"} if offset else {}
            resp = self._call("downloading", self.client.get_object, Key=remote.key, **extra)
            if offset and "ContentRange" not in resp:  # the range was ignored: start over
                offset = 0
            with partial.open("r+b" if offset else "wb") as out:
                out.seek(offset)
                out.truncate()
                try:
                    for data in resp["Body"].iter_chunks(model_files.CHUNK):
                        out.write(data)
                except (OSError, BotoCoreError) as e:
                    what = type(e).__name__
                    raise model_files.FetchError(
                        f"{remote.path}: download interrupted ({what}); a re-run resumes it"
                    ) from None
        if partial.stat().st_size != remote.size:
            raise model_files.FetchError(
                f"{remote.path}: got {partial.stat().st_size} of {remote.size} bytes; a re-run resumes it"
            )
        os.replace(partial, target)


# --- Command line.


def read_token(path: Path) -> str:
    """The Hugging Face token from `path` (the load Job's read-only mount of its Secret), stripped. A missing,
    unreadable or empty file is a permanent error: the message names the file, never its content."""
    where = f"the Hugging Face token file {path}"
    fix = "the load Job mounts it from its `hf-token` Secret: set `inferentia-chat:hfToken` (a secret)"
    try:
        token = path.read_text().strip()
    except FileNotFoundError:
        raise model_files._permanent(f"{where} does not exist: {fix}") from None
    except (OSError, UnicodeDecodeError) as e:
        raise model_files._permanent(f"{where} cannot be read ({type(e).__name__}): {fix}") from None
    if not token:
        raise model_files._permanent(f"{where} is empty: {fix}")
    return token


def source_from_args(args: argparse.Namespace) -> Source:
    if args.source == "huggingface":
        if not args.model_id or not args.revision:
            raise model_files.FetchError(
                "--model-id and --revision are required for a huggingface source", permanent=True
            )
        token = read_token(args.token_file) if args.token_file else os.environ.get("HF_TOKEN") or None
        return HuggingFaceSource(args.model_id, args.revision, token=token, endpoint=args.hf_endpoint)
    if args.source.startswith("s3://"):
        region = args.region or os.environ.get("AWS_REGION") or "us-east-1"
        return S3Source(args.source, region, endpoint=args.s3_endpoint)
    raise model_files.FetchError(f"--source must be huggingface or an s3:// URI, not {args.source!r}", permanent=True)


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
    f.add_argument(
        "--token-file", type=Path, help="file holding the Hugging Face token (default: the HF_TOKEN variable)"
    )
    f.add_argument("--s3-endpoint", help=argparse.SUPPRESS)
    ls = sub.add_parser("list", help="write the model's files, one per line (for lfs hsm_restore --filelist)")
    ls.add_argument("--dest", required=True, type=Path)
    ls.add_argument("--out", required=True, type=Path)
    v = sub.add_parser("verify", help="read every file back and check it against the marker")
    v.add_argument("--dest", required=True, type=Path)
    args = parser.parse_args(argv)
    try:
        if args.command == "fetch":
            # Xet chunks go beside the model (removed with the download state once complete), so a retry of
            # the Job in another pod finds them. Read by huggingface_hub when it is first imported.
            os.environ.setdefault("HF_XET_CACHE", str(args.dest / model_files.HF_LOCAL_CACHE / "xet"))
            os.environ.setdefault("HF_XET_CHUNK_CACHE_SIZE_BYTES", str(XET_CACHE_BYTES))
            fetch(source_from_args(args), args.dest)
        elif args.command == "list":
            print(f"{model_files.write_file_list(args.dest, args.out)} files listed in {args.out}", flush=True)
        else:
            model_files.verify(args.dest)
    except model_files.FetchError as e:
        print(f"error: {e}", file=sys.stderr, flush=True)
        return e.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
