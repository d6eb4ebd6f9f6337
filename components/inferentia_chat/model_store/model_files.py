"""The files of a model on the shared file system: what a complete model is and how each file is checked.

Standard library only. `model_fetch.py` (the load) writes the completion marker (MARKER) that records the
request and every file's size and sha256; the preload lists the files for `lfs hsm_restore` and reads each
back against it. Shipped beside `model_fetch.py` in the loader's ConfigMap.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MARKER = ".model-complete.json"
PARTIAL = ".partial"
CHUNK = 8 * 1024 * 1024
HF_LOCAL_CACHE = ".cache"  # huggingface_hub's download state inside `local_dir`, removed once complete

EXIT_RETRY = 1
EXIT_PERMANENT = 2

# Weight formats other than safetensors: never fetched when safetensors weights exist.
OTHER_WEIGHTS = (".bin", ".pt", ".pth", ".ckpt", ".h5", ".msgpack", ".onnx", ".gguf", ".ot", ".tflite")


def _permanent(message: str) -> FetchError:
    return FetchError(message, permanent=True)


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


def expected_request(source: str, model_id: str, revision: str) -> dict[str, str]:
    """The `request` a completed fetch records in MARKER for this source (what a waiter compares)."""
    if source == "huggingface":
        return {"source": "huggingface", "id": model_id, "revision": revision}
    bucket, _, prefix = source.removeprefix("s3://").partition("/")
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    return {"source": f"s3://{bucket}/{prefix}"}


def select_files(files: Iterable[RemoteFile]) -> list[RemoteFile]:
    """Keep one weight set: sharded/regular safetensors win over `consolidated*` and other formats."""
    files = [f for f in files if posixpath.basename(f.path) not in (".gitattributes", MARKER)]
    names = [posixpath.basename(f.path) for f in files]
    has_safetensors = any(n.endswith(".safetensors") and not n.startswith("consolidated") for n in names)
    return [
        f
        for f, name in zip(files, names, strict=True)
        if not (has_safetensors and (name.startswith("consolidated") or name.endswith(OTHER_WEIGHTS)))
    ]


def _safe_target(dest: Path, rel: str) -> Path:
    parts = rel.split("/")
    if not rel or rel.startswith("/") or any(p in ("", ".", "..") for p in parts) or parts[0] == HF_LOCAL_CACHE:
        raise FetchError(f"refusing unsafe file name from the source: {rel!r}", permanent=True)
    return dest.joinpath(*parts)


class _Hashes:
    """Every digest the remote file lets us check, fed in one pass."""

    def __init__(self, remote: RemoteFile):
        self.remote = remote
        self.sha256 = hashlib.sha256()
        self.git = hashlib.sha1(f"blob {remote.size}\0".encode(), usedforsecurity=False) if remote.git_sha1 else None
        self.md5 = hashlib.md5(usedforsecurity=False) if remote.md5 else None
        self.sha1 = hashlib.sha1(usedforsecurity=False) if remote.sha1 else None
        self.crc = 0 if remote.crc32 is not None else None

    def feed_file(self, path: Path) -> None:
        with path.open("rb") as fh:
            while data := fh.read(CHUNK):
                self.sha256.update(data)
                for h in (self.git, self.md5, self.sha1):
                    if h is not None:
                        h.update(data)
                if self.crc is not None:
                    self.crc = zlib.crc32(data, self.crc)

    def problems(self) -> list[str]:
        r = self.remote
        checks = [
            ("sha256", r.sha256, self.sha256.hexdigest()),
            ("git blob id", r.git_sha1, self.git.hexdigest() if self.git else None),
            ("md5", r.md5, self.md5.hexdigest() if self.md5 else None),
            ("sha1", r.sha1, self.sha1.hexdigest() if self.sha1 else None),
            ("crc32", r.crc32, self.crc),
        ]
        return [f"{name} expected {want}, got {got}" for name, want, got in checks if want is not None and want != got]


def _verify_file(path: Path, remote: RemoteFile) -> tuple[list[str], str]:
    """(problems, sha256 hex) of a file on disk against what the source published."""
    size = path.stat().st_size
    if size != remote.size:
        return [f"size expected {remote.size}, got {size}"], ""
    hashes = _Hashes(remote)
    hashes.feed_file(path)
    return hashes.problems(), hashes.sha256.hexdigest()


def read_marker(dest: Path) -> dict[str, Any] | None:
    try:
        return json.loads((dest / MARKER).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def _log_default(message: str) -> None:
    print(message, flush=True)


def require_marker(dest: Path) -> dict[str, Any]:
    marker = read_marker(dest)
    if not marker:
        raise FetchError(f"no {MARKER} in {dest}: the model is not loaded (run the model-load Job)", permanent=True)
    return marker


def write_file_list(dest: Path, out: Path) -> int:
    """Write the absolute paths of the model's files, one per line; returns how many."""
    paths = [str(_safe_target(dest, f["path"])) for f in require_marker(dest)["files"]]
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
