"""Where the model lives: the one owner of the key layout of the model bucket and its file system.

The bucket (under its prefix) and the FSx for Lustre file system (under the directory linked to the bucket)
hold the same tree, because the data repository association maps one onto the other:

    <prefix>models/<model name>/           the weights, and the load's completion marker (MARKER)
    <prefix>neuron-cache/<artifact key>/   compiled Neuron artifacts (the compile Job's)

A DR region finds the model where the primary put it because both compute these paths here.
"""

from __future__ import annotations

import posixpath

MODELS_DIR = "models"
CACHE_DIR = "neuron-cache"

# Files and directories of the tree belong to this user (the Jobs and the serving pods run as it). FSx imports
# the POSIX owner of a directory from its S3 directory object's metadata (FSx for Lustre user guide, "POSIX
# metadata support for data repositories"), so the two directories above are created with it.
WORKLOAD_UID = 1000
DIRECTORY_MODE = "0040775"  # st_mode: directory, rwxrwxr-x (POSIX metadata format of the FSx import)


def volume_path(file_system_path: str, *parts: str) -> str:
    """A path inside the volume (the PersistentVolume mounts the file system root) under the linked directory."""
    return posixpath.join(file_system_path, *parts)


def model_path(file_system_path: str, model_name: str) -> str:
    """Directory of a model inside the volume, e.g. /models/mistral-7b-instruct."""
    return volume_path(file_system_path, MODELS_DIR, model_name)


def cache_root(file_system_path: str) -> str:
    """Root of the compiled-artifact cache inside the volume, e.g. /neuron-cache."""
    return volume_path(file_system_path, CACHE_DIR)


def directory_keys(bucket_prefix: str) -> tuple[str, str]:
    """S3 keys of the `models/` and `neuron-cache/` directory objects."""
    return f"{bucket_prefix}{MODELS_DIR}/", f"{bucket_prefix}{CACHE_DIR}/"


def models_prefix(bucket_prefix: str) -> str:
    """S3 key prefix under which every model is kept."""
    return f"{bucket_prefix}{MODELS_DIR}/"


def model_objects_prefix(bucket_prefix: str, model_name: str) -> str:
    """S3 key prefix of one model's files."""
    return f"{models_prefix(bucket_prefix)}{model_name}/"


def artifacts_objects_prefix(bucket_prefix: str, artifact_key: str) -> str:
    """S3 key prefix of one set of compiled artifacts."""
    return f"{bucket_prefix}{CACHE_DIR}/{artifact_key}/"
