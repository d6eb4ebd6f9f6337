"""ModelLoader: the Jobs that put the model on a `ModelVolume`, with the script they run (model_fetch.py).

- the load Job fetches the model once (Hugging Face at a pinned revision, or an `s3://` copy) into the
  volume's model directory; the file system exports it to the bucket;
- the preload Job restores every file from S3 onto the file system (`lfs hsm_restore`) and reads each back
  against its recorded sha256, so the first serving pod reads from Lustre, not from S3.

Leave `source` out where the model arrives by other means (a DR replica): only the preload runs.
"""

import hashlib
import json
import posixpath
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NotRequired, TypedDict

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from .. import iam, versions
from ..common.moved import formerly_under
from ..common.outputs import register_declared_outputs
from ..common.pod_identity import pod_identity_access
from ..kube import DNS_EGRESS, POD_IDENTITY_EGRESS, https_egress, network_policy_spec
from ..options import outer_dependencies
from ..tags import component_tags
from . import jobs, model_files
from .labels import labels, pod_selector
from .lustre_model_store import TYPE as STORE_TYPE

TYPE = "inferentia-chat:index:ModelLoader"
SERVICE_ACCOUNT = "model-loader"
MOUNT_PATH = "/fsx"
SCRIPT_PATH = "/opt/model-fetch"
SCRIPT_FILE = "model_fetch.py"
SCRIPT_SOURCE = Path(__file__).with_name(SCRIPT_FILE)
# What the ConfigMap carries: the script, the module it imports (side by side) and the pinned packages.
SCRIPT_FILES = (SCRIPT_FILE, "model_files.py", "loader-requirements.txt")
DEPS_PATH = "/deps"  # the load Job's packages, installed by its init container
TOKEN_DIR = "/var/run/secrets/huggingface"  # the Hugging Face token's Secret, mounted read-only
TOKEN_FILE = "token"
LOAD_DEADLINE_SECONDS = 4 * 3600  # a 15 GB model at a slow 5 MB/s still fits
PRELOAD_DEADLINE_SECONDS = 2 * 3600


class ModelSourceArgs(TypedDict):
    """Where the load Job fetches the model from."""

    model_id: str
    """Hugging Face model id, e.g. mistralai/Mistral-7B-Instruct-v0.3."""
    model_revision: str
    """Hugging Face revision (a commit SHA pins the weights)."""
    uri: NotRequired[str]
    """`huggingface` (default) or an `s3://bucket/prefix/` URI to copy the model from."""
    hf_token: NotRequired[pulumi.Input[str]]
    """Hugging Face read token (a secret), for gated or private models; the load Job reads it from its Secret
    mounted as a read-only file, never from an environment variable."""
    cluster_name: NotRequired[pulumi.Input[str]]
    """EKS cluster name; needed for an `s3://` source (Pod Identity association of the loader)."""


class ModelLoaderArgs(TypedDict):
    """Inputs of `ModelLoader` (the first three are `ModelVolume` outputs of the same names)."""

    namespace: pulumi.Input[str]
    """Namespace of the volume's claim; the Jobs run there."""
    pvc_name: pulumi.Input[str]
    """The volume's claim."""
    model_path: pulumi.Input[str]
    """Directory of the model inside the volume."""
    source: NotRequired[ModelSourceArgs]
    """What the load Job fetches. Leave out when the model arrives by other means (replication): then only
    the preload runs, and expects the model (and its completion marker) in the bucket already."""
    tags: NotRequired[dict[str, str]]
    """Common tags for the AWS resources (the Pod Identity access of an `s3://` source)."""
    instance: NotRequired[str]
    """Suffix of the Kubernetes names of a further loader in the same namespace (one per model: the Jobs,
    script, service account, token Secret and policies become `<name>-<instance>`); default none."""
    egress_excluded_cidrs: NotRequired[Sequence[pulumi.Input[str]]]
    """Ranges the load Job must never reach over HTTPS (the VPC's CIDR block: nodes, pods, endpoints); the
    Service ranges and instance metadata are always excluded."""
    loader_image: NotRequired[str]
    """Image of the Python steps (default: the pinned python image; digest-pinned in production)."""
    lustre_client_image: NotRequired[str]
    """Image with the Lustre client tools (`lfs`) of the preload (default: the pinned FSx CSI driver image)."""


def model_request(source: str, model_id: str, revision: str) -> str:
    """JSON of what a completed load records in its marker for this source: a pod that must wait for the
    model compares the marker in the model directory with this (`VllmNeuronServerArgs.model_request`)."""
    return json.dumps(model_files.expected_request(source, model_id, revision), sort_keys=True)


def split_s3_uri(uri: str) -> tuple[str, str]:
    """(bucket, prefix ending in / or empty) of an s3:// URI."""
    bucket, _, prefix = uri.removeprefix("s3://").partition("/")
    return bucket, (prefix if not prefix or prefix.endswith("/") else prefix + "/")


class ModelLoader(pulumi.ComponentResource):
    """Jobs that load the model onto a `ModelVolume` once (from Hugging Face or S3) and preload it from S3
    onto the file system, verified file by file; each re-run finds the completion marker and does nothing."""

    job_names: pulumi.Output[list[str]]
    """Names of the Jobs in the order they run (`kubectl -n <namespace> logs job/<name>`)."""

    def __init__(self, name: str, args: ModelLoaderArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(TYPE, name, None, opts)
        self._name = name
        self._child = pulumi.ResourceOptions(parent=self).merge(formerly_under(name, STORE_TYPE, opts))
        self._namespace = namespace = args["namespace"]
        self._instance = args.get("instance") or None
        self._suffix = f"-{self._instance}" if self._instance else ""
        self._loader_image = args.get("loader_image", versions.MODEL_LOADER_IMAGE)
        self._lustre_client_image = args.get("lustre_client_image", versions.LUSTRE_CLIENT_IMAGE)
        files = {f: SCRIPT_SOURCE.with_name(f).read_text() for f in SCRIPT_FILES}
        script_cm = k8s.core.v1.ConfigMap(
            f"{name}-script",
            metadata={
                "name": self._k8s("model-fetch-script"),
                "namespace": namespace,
                "labels": labels("model-loader"),
            },
            data=files,
            opts=self._child,
        )
        account = k8s.core.v1.ServiceAccount(
            f"{name}-loader-sa",
            metadata={"name": self._k8s(SERVICE_ACCOUNT), "namespace": namespace, "labels": labels("model-loader")},
            automount_service_account_token=False,
            opts=self._child,
        )
        # The Jobs wait for the volume, the script, the account and what the component was told to wait for
        # (e.g. a node to run on and the FSx CSI driver).
        waits: list[pulumi.Resource] = [script_cm, account, *outer_dependencies(opts)]
        # The files' hash in the pod template: a new script or package pin replaces the Jobs, whose re-run is a
        # no-op when the model is complete.
        digest = hashlib.sha256("".join(files[f] for f in SCRIPT_FILES).encode()).hexdigest()
        annotations = {"inferentia-chat.io/script-sha256": digest}
        dest = pulumi.Output.from_input(args["model_path"]).apply(lambda p: posixpath.join(MOUNT_PATH, p.lstrip("/")))
        volumes = [
            {"name": "models", "persistentVolumeClaim": {"claimName": args["pvc_name"]}},
            {"name": "script", "configMap": {"name": self._k8s("model-fetch-script"), "defaultMode": 0o444}},
            {"name": "tmp", "emptyDir": {"sizeLimit": "512Mi"}},  # pip unpacks the wheels here
        ]
        created: list[k8s.batch.v1.Job] = []
        if "source" in args:
            created.append(self._load_job(args, args["source"], dest, annotations, volumes, waits))
            waits = created[:1]
        created.append(self._preload_job(namespace, dest, annotations, volumes, waits))
        self.job_names = pulumi.Output.all(*[job.metadata.name for job in created])
        register_declared_outputs(self)

    def _load_job(
        self,
        args: ModelLoaderArgs,
        source: ModelSourceArgs,
        dest: pulumi.Output[str],
        annotations: dict[str, str],
        volumes: list[dict[str, Any]],
        waits: list[pulumi.Resource],
    ) -> k8s.batch.v1.Job:
        """The fetch, with the token (a Secret) or the Pod Identity access its source needs, and its own
        default-deny policy: nobody calls it; it reaches its source over HTTPS (and, for an s3:// source, the
        Pod Identity agent for credentials)."""
        name, namespace = self._name, args["namespace"]
        uri = source.get("uri", "huggingface")
        command: list[Any] = ["python", f"{SCRIPT_PATH}/{SCRIPT_FILE}", "fetch", "--source", uri, "--dest", dest]
        env = loader_env()
        deps = list(waits)
        token_mounts: list[dict[str, Any]] = []
        if uri == "huggingface":
            command += ["--model-id", source["model_id"], "--revision", source["model_revision"]]
            token = source.get("hf_token")
            if token is not None:
                deps.append(
                    k8s.core.v1.Secret(
                        f"{name}-hf-token",
                        metadata={
                            "name": self._k8s("hf-token"),
                            "namespace": namespace,
                            "labels": labels("model-loader"),
                        },
                        type="Opaque",
                        string_data={"HF_TOKEN": pulumi.Output.secret(token)},
                        opts=self._child,
                    )
                )
                # A file, not an environment variable (which `kubectl describe`-style tooling, crash dumps and
                # child processes see): read-only, for the fetch container only.
                volumes = [*volumes, token_volume(self._k8s("hf-token"))]
                token_mounts.append({"name": "hf-token", "mountPath": TOKEN_DIR, "readOnly": True})
                command += ["--token-file", f"{TOKEN_DIR}/{TOKEN_FILE}"]
        else:
            deps.append(self._source_access(source, uri, namespace, args.get("tags", {})))
            command += ["--region", aws.get_region().region]
        # Default deny: nobody calls it; it reaches PyPI (its packages) and its source over HTTPS, and for an
        # s3:// source the Pod Identity agent for credentials.
        https = https_egress(list(args.get("egress_excluded_cidrs", ())))
        egress = [DNS_EGRESS, https] + ([POD_IDENTITY_EGRESS] if uri != "huggingface" else [])
        self._network_policy("model-loader", egress)
        deps_mount = {"name": "deps", "mountPath": DEPS_PATH}
        fetch = jobs.container(
            "fetch",
            self._loader_image,
            command,
            [*env, {"name": "PYTHONPATH", "value": DEPS_PATH}],
            [*script_mounts(), {**deps_mount, "readOnly": True}, *token_mounts],
            # huggingface_hub and hf_xet transfer in parallel, with buffers per stream.
            {"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"memory": "2Gi"}},
        )
        return k8s.batch.v1.Job(
            f"{name}-load",
            metadata=jobs.job_metadata(self._k8s("model-load"), namespace, LOAD_DEADLINE_SECONDS, "model-load"),
            spec=jobs.job_spec(
                "model-loader",
                LOAD_DEADLINE_SECONDS,
                annotations,
                service_account=self._k8s(SERVICE_ACCOUNT),
                init_containers=[install_packages(self._loader_image, loader_env(), [*script_mounts(), deps_mount])],
                containers=[fetch],
                volumes=[*volumes, {"name": "deps", "emptyDir": {"sizeLimit": "512Mi"}}],
                fail_fast_container="fetch",
                instance=self._instance,
            ),
            opts=pulumi.ResourceOptions(depends_on=deps).merge(self._child),
        )

    def _preload_job(
        self,
        namespace: pulumi.Input[str],
        dest: pulumi.Output[str],
        annotations: dict[str, str],
        volumes: list[dict[str, Any]],
        waits: list[pulumi.Resource],
    ) -> k8s.batch.v1.Job:
        """After the load Job (or, without one, once the volume and the linked bucket are ready). It only reads
        the volume, which the node's Lustre client serves outside the pod network: DNS is its only egress."""
        files = "/work/files.txt"
        work = {"name": "work", "mountPath": "/work"}
        script_cmd = ["python", f"{SCRIPT_PATH}/{SCRIPT_FILE}"]
        env, mounts = loader_env(), script_mounts()
        self._network_policy("model-preload", [DNS_EGRESS])
        return k8s.batch.v1.Job(
            f"{self._name}-preload",
            metadata=jobs.job_metadata(
                self._k8s("model-preload"), namespace, PRELOAD_DEADLINE_SECONDS, "model-preload"
            ),
            spec=jobs.job_spec(
                "model-preload",
                PRELOAD_DEADLINE_SECONDS,
                annotations,
                service_account=self._k8s(SERVICE_ACCOUNT),
                init_containers=[
                    jobs.container(
                        "list",
                        self._loader_image,
                        [*script_cmd, "list", "--dest", dest, "--out", files],
                        env,
                        [*mounts, work],
                    ),
                    # Queue the restore of every file from S3 at once (FSx restores them in parallel). Any user
                    # may request RESTORE (Lustre's default hsm user_request_mask).
                    jobs.container(
                        "hsm-restore",
                        self._lustre_client_image,
                        ["lfs", "hsm_restore", "--filelist", files],
                        [],
                        [{"name": "models", "mountPath": MOUNT_PATH}, work],
                    ),
                ],
                # Done when every file reads back complete and matches its recorded sha256: a read of a file
                # still being restored waits for its data.
                containers=[
                    jobs.container("verify", self._loader_image, [*script_cmd, "verify", "--dest", dest], env, mounts)
                ],
                volumes=[*volumes, {"name": "work", "emptyDir": {"sizeLimit": "16Mi"}}],
                fail_fast_container="verify",
                instance=self._instance,
            ),
            opts=pulumi.ResourceOptions(depends_on=waits).merge(self._child),
        )

    def _k8s(self, base: str) -> str:
        """The Kubernetes name of this loader's object (`base`, or `base-<instance>`)."""
        return base + self._suffix

    def _network_policy(self, component: str, egress: list[dict[str, Any]]) -> None:
        """Default deny for the component's pods, with only `egress` open."""
        k8s.networking.v1.NetworkPolicy(
            f"{self._name}-{component}-netpol",
            metadata={"name": self._k8s(component), "namespace": self._namespace, "labels": labels(component)},
            spec={
                **network_policy_spec(labels(component), egress=egress),
                "podSelector": pod_selector(component, self._instance),
            },
            opts=self._child,
        )

    def _source_access(
        self, source: ModelSourceArgs, uri: str, namespace: pulumi.Input[str], tags: dict[str, str]
    ) -> pulumi.Resource:
        """Read access to an `s3://` model source for the loader's service account, through Pod Identity."""
        if "cluster_name" not in source:
            raise ValueError("ModelLoader: source.cluster_name is required for an s3:// source")
        bucket, prefix = split_s3_uri(uri)
        partition = aws.get_partition().partition
        access = pod_identity_access(
            role_name=f"{self._name}-loader-role",
            policy_name=f"{self._name}-loader-read-source",
            association_name=f"{self._name}-loader-pod-identity",
            description="inferentia-chat model-load Job: read the model source through Pod Identity",
            policy=json.dumps(iam.model_source_read_policy(partition, bucket, prefix)),
            cluster_name=source["cluster_name"],
            namespace=namespace,
            service_account=self._k8s(SERVICE_ACCOUNT),
            tags=component_tags(tags, "ModelLoader"),
            opts=self._child,
        )
        return access.association


def install_packages(image: str, env: list[dict[str, Any]], mounts: list[dict[str, Any]]) -> dict[str, Any]:
    """The init container that installs the load's packages into DEPS_PATH: wheels only, no dependency
    resolution, every file checked against its sha256 in loader-requirements.txt (pip hash-checking mode)."""
    pip = [
        *("python", "-m", "pip", "install", "--no-cache-dir", "--disable-pip-version-check", "--no-deps"),
        *("--only-binary=:all:", "--require-hashes", "--target", DEPS_PATH),
        *("--requirement", f"{SCRIPT_PATH}/loader-requirements.txt"),
    ]
    return jobs.container("install-packages", image, pip, env, mounts)


def token_volume(secret: str) -> dict[str, Any]:
    """The token's Secret as one file, TOKEN_FILE. 0440: kubelet gives a Secret volume's files to the pod's
    fsGroup (the workload's gid) and adds group read whatever `defaultMode` says (kubernetes
    pkg/volume/volume_linux.go changeFilePermission: chgrp fsGroup, mode | 0440 for a read-only volume), so
    0440 is what the file gets: root and the workload's group read it, nobody else; nobody writes it."""
    items = [{"key": "HF_TOKEN", "path": TOKEN_FILE}]
    return {"name": "hf-token", "secret": {"secretName": secret, "items": items, "defaultMode": 0o440}}


def loader_env() -> list[dict[str, Any]]:
    """Environment of the script's containers (no bytecode on the read-only root, unbuffered logs)."""
    return [
        {"name": "PYTHONDONTWRITEBYTECODE", "value": "1"},
        {"name": "PYTHONUNBUFFERED", "value": "1"},
        {"name": "HOME", "value": "/tmp"},
    ]


def script_mounts() -> list[dict[str, Any]]:
    """The volume, the script and a small writable /tmp."""
    return [
        {"name": "models", "mountPath": MOUNT_PATH},
        {"name": "script", "mountPath": SCRIPT_PATH, "readOnly": True},
        {"name": "tmp", "mountPath": "/tmp"},
    ]
