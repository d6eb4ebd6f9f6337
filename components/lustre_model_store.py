"""LustreModelStore: the model kept once in S3 and served to every pod through FSx for Lustre.

S3 bucket (customer KMS key, versioned, private, TLS-only) <== data repository association ==> FSx for
Lustre file system (one subnet, one zone) --> static PersistentVolume + claim --> a model-load Job that
fetches the model once, and a preload Job that restores it from S3 onto the file system.

The same component serves a DR region (`ModelReplica`): linked to an existing bucket (the replica) instead of
creating one, importing only (nothing written on the file system reaches the replica), without a load Job
(the model arrives by replication), and, before any cluster exists there, without the Kubernetes side.
"""

import hashlib
import json
import posixpath
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NotRequired, TypedDict

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from . import iam, model_fetch, versions
from .blocks import pod_identity_role
from .bucket import protected_bucket
from .eks_cluster import SYSTEM_NODE_SELECTOR
from .kube import DNS_EGRESS, HTTPS_EGRESS, POD_IDENTITY_EGRESS, network_policy_spec
from .model_names import model_suffix
from .options import outer_dependencies
from .tags import component_tags

TYPE = "inferentia-chat:index:LustreModelStore"

# Lustre traffic (FSx for Lustre user guide, "File system access control with Amazon VPC"): the LNet
# acceptor port and the ports the servers and clients use between each other.
LUSTRE_PORTS: tuple[tuple[int, int], ...] = ((988, 988), (1018, 1023))
AUTO_EVENTS = ["NEW", "CHANGED", "DELETED"]
ZONE_LABEL = "topology.kubernetes.io/zone"
FSX_CSI_DRIVER = "fsx.csi.aws.com"

# The Jobs run as this user. The S3 "directory" objects below carry it as POSIX owner, so the import
# creates `models/` and `neuron-cache/` owned by it: fsGroup cannot do this here, because the FSx CSI
# driver registers fsGroupPolicy ReadWriteOnceWithFSType, which leaves ReadWriteMany volumes untouched.
WORKLOAD_UID = 1000
DIRECTORY_MODE = "0040775"  # st_mode: directory, rwxrwxr-x (POSIX metadata format of the FSx import)

MODELS_DIR = "models"
CACHE_DIR = "neuron-cache"
MOUNT_PATH = "/fsx"
SCRIPT_PATH = "/opt/model-fetch"
SCRIPT_FILE = "model_fetch.py"
SCRIPT_SOURCE = Path(__file__).with_name(SCRIPT_FILE)

LOAD_DEADLINE_SECONDS = 4 * 3600  # a 15 GB model at a slow 5 MB/s still fits
PRELOAD_DEADLINE_SECONDS = 2 * 3600
FINISHED_TTL_SECONDS = 7 * 24 * 3600  # keep the logs a week; a deleted Job re-runs as a no-op


class LinkedBucketArgs(TypedDict):
    """An existing SSE-KMS bucket for `LustreModelStore` to link instead of creating one (a DR replica)."""

    bucket_name: pulumi.Input[str]
    """Name of the bucket (in the file system's region)."""
    bucket_arn: pulumi.Input[str]
    """ARN of the bucket."""
    kms_key_arn: pulumi.Input[str]
    """ARN of the customer key that encrypts the bucket. It also encrypts a PERSISTENT_2 file system, and the
    component takes over its key policy (the KMS default plus the FSx S3-access role of this file system)."""


class ModelSourceArgs(TypedDict):
    """A further model for `LustreModelStore` to load (the first one is given by the `model_*` fields)."""

    model_id: str
    """Hugging Face model id."""
    model_revision: str
    """Hugging Face revision (a commit SHA pins the weights)."""
    model_source: NotRequired[str]
    """`huggingface` (default) or an `s3://bucket/prefix/` URI to copy the model from."""
    model_name: str
    """Directory of the model under `models/` (the served model name); unique in the store."""


class LustreModelStoreArgs(TypedDict):
    """Inputs of `LustreModelStore`."""

    vpc_id: pulumi.Input[str]
    """VPC of the file system's security group."""
    subnet_id: pulumi.Input[str]
    """The ONE private subnet of the file system (FSx for Lustre is single-AZ)."""
    availability_zone: pulumi.Input[str]
    """Zone of `subnet_id`; serving pods are pinned to it through the PersistentVolume."""
    node_security_group_id: NotRequired[pulumi.Input[str]]
    """Security group of the cluster nodes (the Lustre clients); required with `kubernetes` (the default)."""
    cluster_security_group_id: NotRequired[pulumi.Input[str]]
    """Security group of the EKS control plane; required with `kubernetes` (the default)."""
    deployment_type: str
    """PERSISTENT_2 (default choice: customer key, data repository association) or SCRATCH_2 (dev)."""
    storage_capacity_gib: int
    """File system size in GiB: 1200, 2400 or a multiple of 2400."""
    throughput_per_tib: NotRequired[int]
    """PERSISTENT_2 throughput per TiB (125, 250, 500, 1000 MB/s); ignored by SCRATCH_2."""
    file_system_path: NotRequired[str]
    """Directory of the file system linked to the bucket (default `/`)."""
    bucket_prefix: NotRequired[str]
    """Bucket prefix linked to `file_system_path` (default: the whole bucket)."""
    noncurrent_version_days: NotRequired[int]
    """Days before an overwritten or deleted object version expires (default 30)."""
    model_id: str
    """Hugging Face model id, e.g. mistralai/Mistral-7B-Instruct-v0.3."""
    model_revision: str
    """Hugging Face revision (a commit SHA pins the weights)."""
    model_source: NotRequired[str]
    """`huggingface` (default) or an `s3://bucket/prefix/` URI to copy the model from."""
    model_name: str
    """Directory of the model under `models/` (the served model name)."""
    additional_models: NotRequired[Sequence[ModelSourceArgs]]
    """Further models kept in the same store, each loaded once by a Job of its own (`model-load-<suffix>`)."""
    hf_token: NotRequired[pulumi.Input[str]]
    """Hugging Face read token (a secret), for gated or private models."""
    cluster_name: NotRequired[pulumi.Input[str]]
    """EKS cluster name; needed for an `s3://` source (Pod Identity association of the loader)."""
    namespace: NotRequired[str]
    """Namespace of the claim and the Jobs, where serving pods run (default `inference`)."""
    tags: NotRequired[Mapping[str, str]]
    """Common tags for every AWS resource."""
    linked_bucket: NotRequired[LinkedBucketArgs]
    """Link this existing bucket (e.g. a DR replica) instead of creating the model bucket."""
    auto_export: NotRequired[bool]
    """Export what is written on the file system back to the bucket (default true). False makes the link
    import-only: the bucket is never written by the file system (a DR replica stays a copy of the primary)."""
    kubernetes: NotRequired[bool]
    """Create the Kubernetes side: namespace, PersistentVolume, claim and Jobs (default true). False for a file
    system that no cluster mounts yet (a DR standby); `namespace` and `pvc_name` are then empty."""
    load_job: NotRequired[bool]
    """Run the model-load Job (default true); false when the model arrives by other means (replication)."""
    preload_job: NotRequired[bool]
    """Run the preload Job that restores the model from S3 onto the file system and verifies it (default
    true). Without a load Job it expects the model (and its completion marker) in the bucket already."""


def labels(component: str) -> dict[str, str]:
    """The common labels of every Kubernetes object of the store."""
    return {
        "app.kubernetes.io/name": "model-store",
        "app.kubernetes.io/part-of": "inferentia-chat",
        "app.kubernetes.io/component": component,
    }


def volume_path(file_system_path: str, *parts: str) -> str:
    """A path inside the volume (the PV mounts the file system root) under the linked directory."""
    return posixpath.join(file_system_path, *parts)


def directory_keys(bucket_prefix: str) -> tuple[str, str]:
    """S3 keys of the `models/` and `neuron-cache/` directory objects."""
    return f"{bucket_prefix}{MODELS_DIR}/", f"{bucket_prefix}{CACHE_DIR}/"


def store_models(args: LustreModelStoreArgs) -> list[ModelSourceArgs]:
    """Every model of the store, the first (the `model_*` fields) first; model names must be unique."""
    first = ModelSourceArgs(
        model_id=args["model_id"], model_revision=args["model_revision"], model_name=args["model_name"]
    )
    if "model_source" in args:
        first["model_source"] = args["model_source"]
    models = [first, *args.get("additional_models", [])]
    names = [m["model_name"] for m in models]
    if len(set(names)) != len(names):
        raise ValueError(f"LustreModelStore: model names must be unique, got {names}")
    return models


def split_s3_uri(uri: str) -> tuple[str, str]:
    """(bucket, prefix ending in / or empty) of an s3:// URI."""
    rest = uri.removeprefix("s3://")
    bucket, _, prefix = rest.partition("/")
    return bucket, (prefix if not prefix or prefix.endswith("/") else prefix + "/")


def restricted_container_security() -> dict[str, Any]:
    """Container securityContext of the Pod Security Standard `restricted`, read-only root."""
    return {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
    }


class LustreModelStore(pulumi.ComponentResource):
    """The model kept once in a private, KMS-encrypted, versioned S3 bucket and read by every pod
    through an FSx for Lustre file system linked to it (auto import and export), with the static
    PersistentVolume and claim the serving pods mount, a Job that loads the model once and a Job that
    preloads it from S3 onto the file system.
    """

    bucket_name: pulumi.Output[str]
    """The model bucket."""
    bucket_arn: pulumi.Output[str]
    """ARN of the model bucket (the DR stack replicates it)."""
    kms_key_arn: pulumi.Output[str]
    """Customer KMS key of the bucket (and of a PERSISTENT_2 file system)."""
    file_system_id: pulumi.Output[str]
    """The FSx for Lustre file system id."""
    dns_name: pulumi.Output[str]
    """DNS name of the file system."""
    mount_name: pulumi.Output[str]
    """Lustre mount name of the file system."""
    subnet_id: pulumi.Output[str]
    """The file system's subnet."""
    availability_zone: pulumi.Output[str]
    """The file system's zone: inference nodes must run there."""
    namespace: pulumi.Output[str]
    """Namespace of the claim (and of the pods that mount it); empty without `kubernetes`."""
    pvc_name: pulumi.Output[str]
    """PersistentVolumeClaim serving pods mount (ReadWriteMany); empty without `kubernetes`."""
    model_path: pulumi.Output[str]
    """Directory of the model inside the volume, e.g. /models/mistral-7b-instruct."""
    compiled_cache_root: pulumi.Output[str]
    """Root of the compiled Neuron artifacts inside the volume, e.g. /neuron-cache."""
    model_request: pulumi.Output[str]
    """JSON of what the load Job fetches, as its completion marker records it: a pod that must wait for the
    model compares the marker in the model directory with this."""
    model_requests: dict[str, pulumi.Output[str]]
    """`model_request` of every model (the first and `additional_models`), by model name (Python only)."""

    def __init__(
        self,
        name: str,
        args: LustreModelStoreArgs,
        opts: pulumi.ResourceOptions | None = None,
        *,
        job_dependencies: Sequence[pulumi.Resource] = (),
    ):
        """`job_dependencies` (Python only; other languages use the component's `dependsOn`, which the Jobs
        also wait for): what the Jobs need before they can run, e.g. a node group and the FSx CSI add-on."""
        super().__init__(TYPE, name, None, opts)
        self._name = name
        tags = component_tags(args.get("tags", {}), "LustreModelStore")
        deployment = args["deployment_type"]
        persistent = deployment == "PERSISTENT_2"
        fs_path = args.get("file_system_path", "/")
        prefix = args.get("bucket_prefix", "")
        namespace = args.get("namespace", "inference")
        partition = aws.get_partition().partition
        region = aws.get_region().region
        account = aws.get_caller_identity().account_id

        with_kubernetes = args.get("kubernetes", True)
        if with_kubernetes and not ("node_security_group_id" in args and "cluster_security_group_id" in args):
            raise ValueError(
                "LustreModelStore: node_security_group_id and cluster_security_group_id are required unless "
                "kubernetes is false (the cluster's nodes are the Lustre clients)"
            )

        linked_bucket = args.get("linked_bucket")
        if linked_bucket is None:
            made = protected_bucket(
                name,
                parent=self,
                key_description="inferentia-chat model store: S3 bucket and FSx for Lustre",
                key_alias=f"alias/{pulumi.get_project()}-{pulumi.get_stack()}-model-store",
                noncurrent_version_days=args.get("noncurrent_version_days", 30),
                tags=tags,
            )
            bucket_name, bucket_arn, key_arn = made.bucket.bucket, made.bucket.arn, made.key.arn
            key_id: pulumi.Input[str] = made.key.key_id
            bucket_ready = made.protections
        else:
            bucket_name = pulumi.Output.from_input(linked_bucket["bucket_name"])
            bucket_arn = pulumi.Output.from_input(linked_bucket["bucket_arn"])
            key_arn = pulumi.Output.from_input(linked_bucket["kms_key_arn"])
            key_id = key_arn.apply(lambda arn: arn.rsplit("/", 1)[-1])
            # The bucket's owner made it ready; the component's own `depends_on` says so.
            bucket_ready = outer_dependencies(opts)
        directories = self._directories(bucket_name, prefix, bucket_ready, tags)
        sg, self_rules, client_rules = self._security_group(args, tags)

        export = args.get("auto_export", True)
        data_repository = bucket_name.apply(lambda b: f"s3://{b}/{prefix}")
        fs = aws.fsx.LustreFileSystem(
            f"{name}-fs",
            deployment_type=deployment,
            storage_capacity=args["storage_capacity_gib"],
            per_unit_storage_throughput=args.get("throughput_per_tib", 250) if persistent else None,
            file_system_type_version="2.15",
            data_compression_type="LZ4",
            # PERSISTENT_2 takes the customer key. SCRATCH_2 cannot: FSx always encrypts scratch file
            # systems with a key it manages (one per file system, destroyed with it).
            kms_key_id=key_arn if persistent else None,
            subnet_ids=args["subnet_id"],
            security_group_ids=[sg.id],
            # No backups: FSx does not support backups of file systems linked to S3. The versioned
            # bucket (and its replica in the DR region) is the durable copy.
            automatic_backup_retention_days=0 if persistent else None,
            # Client root is squashed to nobody: Jobs and servers run as WORKLOAD_UID.
            root_squash_configuration=aws.fsx.LustreFileSystemRootSquashConfigurationArgs(root_squash="65534:65534"),
            # Data repository warnings and errors (failed imports/exports) go to CloudWatch Logs.
            log_configuration=aws.fsx.LustreFileSystemLogConfigurationArgs(level="WARN_ERROR"),
            weekly_maintenance_start_time="7:03:00",  # Sunday 03:00 UTC
            # SCRATCH_2 has no data repository associations: it links to the bucket at creation (import
            # and auto import only; no auto export, so what is written there is not copied to S3).
            import_path=None if persistent else data_repository,
            export_path=None if persistent else data_repository,
            auto_import_policy=None if persistent else "NEW_CHANGED_DELETED",
            tags=tags,
            # Only the group's own rules: FSx checks at creation that its interfaces may talk to each
            # other. The rules for the cluster's nodes wait for the cluster; the file system must not
            # (it would serialize two 10-15 minute creations: see the budget in the render).
            opts=pulumi.ResourceOptions(parent=self, depends_on=[*directories, *self_rules]),
        )

        # The key policy names the file system, so it is set once the file system exists (the key had to
        # exist before it: the file system is encrypted with it). For a linked bucket it replaces the
        # bucket owner's (KMS default) policy with the same account statement plus this file system's role.
        key_policy = aws.kms.KeyPolicy(
            f"{name}-key-policy",
            key_id=key_id,
            policy=pulumi.Output.all(fs.id, bucket_arn).apply(
                lambda a: json.dumps(
                    iam.kms_key_policy(partition, account, fsx_s3_link=iam.FsxS3Link(a[0], a[1], region))
                )
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[fs]),
        )
        # What mounting needs besides the file system: the key policy and the Lustre rules for the nodes.
        linked: list[pulumi.Resource] = [key_policy, *client_rules]
        if persistent:
            linked.append(
                aws.fsx.DataRepositoryAssociation(
                    f"{name}-dra",
                    file_system_id=fs.id,
                    file_system_path=fs_path,
                    data_repository_path=data_repository,
                    batch_import_meta_data_on_create=True,
                    delete_data_in_filesystem=False,
                    s3=aws.fsx.DataRepositoryAssociationS3Args(
                        auto_import_policy=aws.fsx.DataRepositoryAssociationS3AutoImportPolicyArgs(events=AUTO_EVENTS),
                        auto_export_policy=aws.fsx.DataRepositoryAssociationS3AutoExportPolicyArgs(events=AUTO_EVENTS)
                        if export
                        else None,
                    ),
                    tags=tags,
                    # The FSx role may use the key before the first import or export happens.
                    opts=pulumi.ResourceOptions(parent=self, depends_on=[key_policy]),
                )
            )

        model_path = volume_path(fs_path, MODELS_DIR, args["model_name"])
        cache_root = volume_path(fs_path, CACHE_DIR)
        self.namespace = pulumi.Output.from_input("")
        self.pvc_name = pulumi.Output.from_input("")
        if with_kubernetes:
            ns, pvc = self._volume(args, fs, namespace, linked)
            self._jobs(args, ns, pvc, [*linked, *job_dependencies, *outer_dependencies(opts)], partition, tags)
            self.namespace = ns.metadata.name
            self.pvc_name = pvc.metadata.name

        self.bucket_name = bucket_name
        self.bucket_arn = bucket_arn
        self.kms_key_arn = key_arn
        self.file_system_id = fs.id
        self.dns_name = fs.dns_name
        self.mount_name = fs.mount_name
        self.subnet_id = pulumi.Output.from_input(args["subnet_id"])
        self.availability_zone = pulumi.Output.from_input(args["availability_zone"])
        self.model_path = pulumi.Output.from_input(model_path)
        self.compiled_cache_root = pulumi.Output.from_input(cache_root)
        self.model_requests = {
            m["model_name"]: pulumi.Output.from_input(
                json.dumps(
                    model_fetch.expected_request(
                        m.get("model_source", "huggingface"), m["model_id"], m["model_revision"]
                    ),
                    sort_keys=True,
                )
            )
            for m in store_models(args)
        }
        self.model_request = self.model_requests[args["model_name"]]
        self.register_outputs(
            {
                "bucket_name": self.bucket_name,
                "bucket_arn": self.bucket_arn,
                "kms_key_arn": self.kms_key_arn,
                "file_system_id": self.file_system_id,
                "dns_name": self.dns_name,
                "mount_name": self.mount_name,
                "subnet_id": self.subnet_id,
                "availability_zone": self.availability_zone,
                "namespace": self.namespace,
                "pvc_name": self.pvc_name,
                "model_path": self.model_path,
                "compiled_cache_root": self.compiled_cache_root,
                "model_request": self.model_request,
            }
        )

    # --- the bucket's directory objects ----------------------------------------------------------

    def _directories(
        self,
        bucket_name: pulumi.Output[str],
        prefix: str,
        bucket_ready: Sequence[pulumi.Resource],
        tags: Mapping[str, str],
    ) -> list[pulumi.Resource]:
        """The `models/` and `neuron-cache/` directories, as the S3 objects FSx imports directories from,
        owned by the workload user (FSx for Lustre user guide, "POSIX metadata support for data
        repositories"). They exist before the file system links the bucket, so the first import creates
        them with this owner and mode. In a linked replica they are written here too (the primary's copies,
        identical, replicate over them later): the DR file system may link the bucket before they arrive.
        """
        out: list[pulumi.Resource] = []
        for role, key in zip(("models-dir", "cache-dir"), directory_keys(prefix), strict=True):
            out.append(
                aws.s3.BucketObjectv2(
                    f"{self._name}-{role}",
                    bucket=bucket_name,
                    key=key,
                    content="",
                    content_type="application/x-directory",
                    metadata={
                        "file-owner": str(WORKLOAD_UID),
                        "file-group": str(WORKLOAD_UID),
                        "file-permissions": DIRECTORY_MODE,
                    },
                    tags=tags,
                    opts=pulumi.ResourceOptions(parent=self, depends_on=list(bucket_ready)),
                )
            )
        return out

    # --- network ---------------------------------------------------------------------------------

    def _security_group(
        self, args: LustreModelStoreArgs, tags: Mapping[str, str]
    ) -> tuple[aws.ec2.SecurityGroup, list[pulumi.Resource], list[pulumi.Resource]]:
        """Lustre ports only, only between the file system, the nodes and the control plane (the file system
        itself only, until a cluster is given).

        Returns the group, its rules among the file system's own interfaces, and the rules for its clients.
        """
        name = self._name
        child = pulumi.ResourceOptions(parent=self)
        sg = aws.ec2.SecurityGroup(
            f"{name}-fs-sg",
            vpc_id=args["vpc_id"],
            description="FSx for Lustre model store: Lustre traffic from the cluster only",
            tags={**tags, "Name": f"{name}-fs"},
            opts=child,
        )
        peers: dict[str, pulumi.Input[str]] = {"self": sg.id}
        if "node_security_group_id" in args:
            peers["nodes"] = args["node_security_group_id"]
        if "cluster_security_group_id" in args:
            peers["cluster"] = args["cluster_security_group_id"]
        own: list[pulumi.Resource] = []
        clients: list[pulumi.Resource] = []
        for low, high in LUSTRE_PORTS:
            ports = f"{low}" if low == high else f"{low}-{high}"
            for peer, peer_sg in peers.items():
                rules = own if peer == "self" else clients
                rules.append(
                    aws.vpc.SecurityGroupIngressRule(
                        f"{name}-fs-in-{ports}-{peer}",
                        security_group_id=sg.id,
                        referenced_security_group_id=peer_sg,
                        ip_protocol="tcp",
                        from_port=low,
                        to_port=high,
                        description=f"Lustre {ports} from {peer}",
                        tags=tags,
                        opts=child,
                    )
                )
                rules.append(
                    aws.vpc.SecurityGroupEgressRule(
                        f"{name}-fs-out-{ports}-{peer}",
                        security_group_id=sg.id,
                        referenced_security_group_id=peer_sg,
                        ip_protocol="tcp",
                        from_port=low,
                        to_port=high,
                        description=f"Lustre {ports} to {peer}",
                        tags=tags,
                        opts=child,
                    )
                )
            if "nodes" not in peers:
                continue
            # Lustre servers also connect back to their clients: the nodes accept the same ports from
            # the file system (and only from it).
            clients.append(
                aws.vpc.SecurityGroupIngressRule(
                    f"{name}-nodes-in-{ports}-fs",
                    security_group_id=peers["nodes"],
                    referenced_security_group_id=sg.id,
                    ip_protocol="tcp",
                    from_port=low,
                    to_port=high,
                    description=f"Lustre {ports} from the model store file system",
                    tags=tags,
                    opts=child,
                )
            )
        return sg, own, clients

    # --- Kubernetes: namespace, volume, claim ----------------------------------------------------

    def _volume(
        self,
        args: LustreModelStoreArgs,
        fs: aws.fsx.LustreFileSystem,
        namespace: str,
        linked: list[pulumi.Resource],
    ) -> tuple[k8s.core.v1.Namespace, k8s.core.v1.PersistentVolumeClaim]:
        name = self._name
        ns = k8s.core.v1.Namespace(
            f"{name}-namespace",
            metadata={
                "name": namespace,
                "labels": {
                    **labels("namespace"),
                    "app.kubernetes.io/name": namespace,
                    "pod-security.kubernetes.io/enforce": "restricted",
                    "pod-security.kubernetes.io/audit": "restricted",
                    "pod-security.kubernetes.io/warn": "restricted",
                },
            },
            opts=pulumi.ResourceOptions(parent=self),
        )
        storage = f"{args['storage_capacity_gib']}Gi"
        pv_name = name
        pvc_name = name
        pv = k8s.core.v1.PersistentVolume(
            f"{name}-pv",
            metadata={"name": pv_name, "labels": labels("storage")},
            spec={
                "capacity": {"storage": storage},
                "volumeMode": "Filesystem",
                "accessModes": ["ReadWriteMany"],
                "persistentVolumeReclaimPolicy": "Retain",
                "storageClassName": "",
                "mountOptions": ["flock"],
                # Reserved for the one claim below, so no other claim can bind it.
                "claimRef": {"namespace": namespace, "name": pvc_name},
                "csi": {
                    "driver": FSX_CSI_DRIVER,
                    "volumeHandle": fs.id,
                    "volumeAttributes": {"dnsname": fs.dns_name, "mountname": fs.mount_name},
                },
                # Terms are ORed. Inference nodes can use the volume only in the file system's zone (no
                # cross-zone reads on the serving path). System nodes may mount it from any zone, for the
                # one-off load Jobs: the system node group spreads over every zone and may have no node
                # in this one.
                "nodeAffinity": {
                    "required": {
                        "nodeSelectorTerms": [
                            {
                                "matchExpressions": [
                                    {"key": ZONE_LABEL, "operator": "In", "values": [args["availability_zone"]]}
                                ]
                            },
                            {
                                "matchExpressions": [
                                    {"key": k, "operator": "In", "values": [v]} for k, v in SYSTEM_NODE_SELECTOR.items()
                                ]
                            },
                        ]
                    }
                },
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=linked),
        )
        pvc = k8s.core.v1.PersistentVolumeClaim(
            f"{name}-pvc",
            metadata={"name": pvc_name, "namespace": ns.metadata.name, "labels": labels("storage")},
            spec={
                "accessModes": ["ReadWriteMany"],
                "storageClassName": "",
                "volumeName": pv.metadata.name,
                "resources": {"requests": {"storage": storage}},
            },
            opts=pulumi.ResourceOptions(parent=self),
        )
        return ns, pvc

    # --- Kubernetes: the Jobs --------------------------------------------------------------------

    def _jobs(
        self,
        args: LustreModelStoreArgs,
        ns: k8s.core.v1.Namespace,
        pvc: k8s.core.v1.PersistentVolumeClaim,
        linked: list[pulumi.Resource],
        partition: str,
        tags: Mapping[str, str],
    ) -> None:
        """A load Job and a preload Job per model; the script, service account, token and network policies
        are shared. The first model's objects keep their one-model names."""
        name = self._name
        load_wanted, preload_wanted = args.get("load_job", True), args.get("preload_job", True)
        if not (load_wanted or preload_wanted):
            return
        namespace = ns.metadata.name
        child = pulumi.ResourceOptions(parent=self)
        script = SCRIPT_SOURCE.read_text()
        script_cm = k8s.core.v1.ConfigMap(
            f"{name}-script",
            metadata={"name": "model-fetch-script", "namespace": namespace, "labels": labels("model-loader")},
            data={SCRIPT_FILE: script},
            opts=child,
        )
        account = k8s.core.v1.ServiceAccount(
            f"{name}-loader-sa",
            metadata={"name": "model-loader", "namespace": namespace, "labels": labels("model-loader")},
            automount_service_account_token=False,
            opts=child,
        )
        common: list[pulumi.Resource] = [pvc, script_cm, account, *linked]
        env: list[dict[str, Any]] = [
            {"name": "PYTHONDONTWRITEBYTECODE", "value": "1"},
            {"name": "PYTHONUNBUFFERED", "value": "1"},
            {"name": "HOME", "value": "/tmp"},
        ]
        models = store_models(args)
        sources = [m.get("model_source", "huggingface") for m in models]
        # Only the load Jobs fetch: the token and the source access exist only with them, each given only to
        # the Jobs of its kind of source.
        hf_deps, hf_env = list(common), list(env)
        token = args.get("hf_token")
        if load_wanted and token is not None and "huggingface" in sources:
            secret = k8s.core.v1.Secret(
                f"{name}-hf-token",
                metadata={"name": "hf-token", "namespace": namespace, "labels": labels("model-loader")},
                type="Opaque",
                string_data={"HF_TOKEN": pulumi.Output.secret(token)},
                opts=child,
            )
            hf_deps.append(secret)
            hf_env.append({"name": "HF_TOKEN", "valueFrom": {"secretKeyRef": {"name": "hf-token", "key": "HF_TOKEN"}}})
        s3_deps = list(common)
        s3_sources = [(i, m) for i, m in enumerate(models) if sources[i] != "huggingface"]
        if load_wanted and s3_sources:
            s3_deps.append(self._source_access(args, s3_sources, namespace, partition, tags))

        volumes = [
            {"name": "models", "persistentVolumeClaim": {"claimName": pvc.metadata.name}},
            {"name": "script", "configMap": {"name": "model-fetch-script", "defaultMode": 0o444}},
            {"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}},
        ]
        mounts = [
            {"name": "models", "mountPath": MOUNT_PATH},
            {"name": "script", "mountPath": SCRIPT_PATH, "readOnly": True},
            {"name": "tmp", "mountPath": "/tmp"},
        ]
        # The script's hash in the pod template: a new script replaces the Job, whose re-run is a no-op
        # when the model is complete.
        template_annotations = {"inferentia-chat.io/script-sha256": hashlib.sha256(script.encode()).hexdigest()}
        fs_path = args.get("file_system_path", "/")
        for i, model in enumerate(models):
            source = sources[i]
            dest = posixpath.join(MOUNT_PATH, volume_path(fs_path, MODELS_DIR, model["model_name"]).lstrip("/"))
            command = ["python", f"{SCRIPT_PATH}/{SCRIPT_FILE}", "fetch", "--source", source, "--dest", dest]
            if source == "huggingface":
                command += ["--model-id", model["model_id"], "--revision", model["model_revision"]]
                load_env, load_deps = hf_env, hf_deps
            else:
                command += ["--region", aws.get_region().region]
                load_env, load_deps = env, s3_deps
            suffix = "" if i == 0 else f"-{model_suffix(model['model_name'])}"
            preload_after = common
            if load_wanted:
                job = self._load_job(
                    name, suffix, namespace, template_annotations, command, load_env, mounts, volumes, load_deps
                )
                preload_after = [job]
            if preload_wanted:
                self._preload_job(
                    name, suffix, namespace, template_annotations, dest, env, mounts, volumes, preload_after
                )
        network_policies: list[tuple[str, list[dict[str, Any]]]] = []
        if load_wanted:
            # Default deny: nobody calls it; it reaches its source over HTTPS (and, for an s3:// source, the
            # Pod Identity agent for credentials).
            network_policies.append(
                ("model-loader", [DNS_EGRESS, HTTPS_EGRESS] + ([POD_IDENTITY_EGRESS] if s3_sources else []))
            )
        if preload_wanted:
            # The preload only reads the volume, which the node's Lustre client serves outside the pod network.
            network_policies.append(("model-preload", [DNS_EGRESS]))
        for component, egress in network_policies:
            k8s.networking.v1.NetworkPolicy(
                f"{name}-{component}-netpol",
                metadata={"name": component, "namespace": namespace, "labels": labels(component)},
                spec=network_policy_spec(labels(component), egress=egress),
                opts=child,
            )

    def _load_job(
        self,
        name: str,
        suffix: str,
        namespace: pulumi.Input[str],
        template_annotations: Mapping[str, str],
        command: list[str],
        env: list[dict[str, Any]],
        mounts: list[dict[str, Any]],
        volumes: list[dict[str, Any]],
        deps: list[pulumi.Resource],
    ) -> k8s.batch.v1.Job:
        return k8s.batch.v1.Job(
            f"{name}-load{suffix}",
            metadata=self._job_metadata(f"model-load{suffix}", namespace, LOAD_DEADLINE_SECONDS, "model-load"),
            spec=self._job_spec(
                "model-loader",
                LOAD_DEADLINE_SECONDS,
                template_annotations,
                service_account="model-loader",
                containers=[self._container("fetch", versions.MODEL_LOADER_IMAGE, command, env, mounts)],
                volumes=volumes,
                fail_fast_container="fetch",
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=deps),
        )

    def _preload_job(
        self,
        name: str,
        suffix: str,
        namespace: pulumi.Input[str],
        template_annotations: Mapping[str, str],
        dest: str,
        env: list[dict[str, Any]],
        mounts: list[dict[str, Any]],
        volumes: list[dict[str, Any]],
        deps: list[pulumi.Resource],
    ) -> k8s.batch.v1.Job:
        """After the load Job (or, without one, once the volume and the linked bucket are ready)."""
        files = "/work/files.txt"
        work = {"name": "work", "mountPath": "/work"}
        script_cmd = ["python", f"{SCRIPT_PATH}/{SCRIPT_FILE}"]
        return k8s.batch.v1.Job(
            f"{name}-preload{suffix}",
            metadata=self._job_metadata(f"model-preload{suffix}", namespace, PRELOAD_DEADLINE_SECONDS, "model-preload"),
            spec=self._job_spec(
                "model-preload",
                PRELOAD_DEADLINE_SECONDS,
                template_annotations,
                service_account="model-loader",
                init_containers=[
                    self._container(
                        "list",
                        versions.MODEL_LOADER_IMAGE,
                        [*script_cmd, "list", "--dest", dest, "--out", files],
                        env,
                        [*mounts, work],
                    ),
                    # Queue the restore of every file from S3 at once (FSx restores them in parallel).
                    # Any user may request RESTORE (Lustre's default hsm user_request_mask).
                    self._container(
                        "hsm-restore",
                        versions.LUSTRE_CLIENT_IMAGE,
                        ["lfs", "hsm_restore", "--filelist", files],
                        [],
                        [{"name": "models", "mountPath": MOUNT_PATH}, work],
                    ),
                ],
                # Done when every file reads back complete and matches its recorded sha256: a read of a
                # file still being restored waits for its data.
                containers=[
                    self._container(
                        "verify", versions.MODEL_LOADER_IMAGE, [*script_cmd, "verify", "--dest", dest], env, mounts
                    )
                ],
                volumes=[*volumes, {"name": "work", "emptyDir": {"sizeLimit": "16Mi"}}],
                fail_fast_container="verify",
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=deps),
        )

    def _source_access(
        self,
        args: LustreModelStoreArgs,
        sources: list[tuple[int, ModelSourceArgs]],
        namespace: pulumi.Input[str],
        partition: str,
        tags: Mapping[str, str],
    ) -> pulumi.Resource:
        """Read access to the `s3://` model sources for the loader's service account, through Pod Identity:
        one role (a service account has one association), one read policy per source, named by its model
        (the first model's keeps its one-model name)."""
        if "cluster_name" not in args:
            raise ValueError("LustreModelStore: cluster_name is required for an s3:// model_source")
        child = pulumi.ResourceOptions(parent=self)
        role = pod_identity_role(
            f"{self._name}-loader-role",
            description="inferentia-chat model-load Job: read the model source through Pod Identity",
            tags=tags,
            parent=self,
        )
        policies = []
        for i, model in sources:
            source_bucket, source_prefix = split_s3_uri(model["model_source"])
            suffix = "" if i == 0 else f"-{model_suffix(model['model_name'])}"
            policies.append(
                aws.iam.RolePolicy(
                    f"{self._name}-loader-read-source{suffix}",
                    role=role.id,
                    policy=json.dumps(iam.model_source_read_policy(partition, source_bucket, source_prefix)),
                    opts=child,
                )
            )
        return aws.eks.PodIdentityAssociation(
            f"{self._name}-loader-pod-identity",
            cluster_name=args["cluster_name"],
            namespace=namespace,
            service_account="model-loader",
            role_arn=role.arn,
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=policies),
        )

    @staticmethod
    def _job_metadata(job: str, namespace: pulumi.Input[str], deadline: int, component: str) -> dict[str, Any]:
        return {
            "name": job,
            "namespace": namespace,
            "labels": labels(component),
            # `pulumi up` waits for the Job to complete: give it the Job's own deadline plus scheduling time.
            "annotations": {"pulumi.com/timeoutSeconds": str(deadline + 900)},
        }

    @staticmethod
    def _job_spec(
        component: str,
        deadline: int,
        template_annotations: Mapping[str, str],
        *,
        service_account: str,
        containers: list[dict[str, Any]],
        volumes: list[dict[str, Any]],
        fail_fast_container: str,
        init_containers: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        pod: dict[str, Any] = {
            "restartPolicy": "Never",
            "serviceAccountName": service_account,
            "automountServiceAccountToken": False,
            # System nodes only: never an Inferentia node (those are tainted and not selected here).
            "nodeSelector": dict(SYSTEM_NODE_SELECTOR),
            "securityContext": {
                "runAsNonRoot": True,
                "runAsUser": WORKLOAD_UID,
                "runAsGroup": WORKLOAD_UID,
                "fsGroup": WORKLOAD_UID,
                "seccompProfile": {"type": "RuntimeDefault"},
            },
            "containers": containers,
            "volumes": volumes,
        }
        if init_containers:
            pod["initContainers"] = init_containers
        return {
            "backoffLimit": 4,
            "activeDeadlineSeconds": deadline,
            "ttlSecondsAfterFinished": FINISHED_TTL_SECONDS,
            # Exit code 2 of the script means retrying cannot help (missing model, refused token, no
            # access): fail the Job at once. Pods evicted by a node drain do not count as failures.
            "podFailurePolicy": {
                "rules": [
                    {
                        "action": "FailJob",
                        "onExitCodes": {"containerName": fail_fast_container, "operator": "In", "values": [2]},
                    },
                    {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]},
                ]
            },
            "template": {
                "metadata": {"labels": labels(component), "annotations": dict(template_annotations)},
                "spec": pod,
            },
        }

    @staticmethod
    def _container(
        name: str, image: str, command: list[str], env: list[dict[str, Any]], mounts: list[dict[str, Any]]
    ) -> dict[str, Any]:
        container: dict[str, Any] = {
            "name": name,
            "image": image,
            "imagePullPolicy": "IfNotPresent",
            "command": command,
            "resources": {"requests": {"cpu": "250m", "memory": "256Mi"}, "limits": {"memory": "512Mi"}},
            "securityContext": restricted_container_security(),
            "volumeMounts": mounts,
        }
        if env:
            container["env"] = env
        return container
