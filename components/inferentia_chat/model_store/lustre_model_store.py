"""LustreModelStore: the model kept once in S3 and served through FSx for Lustre (the AWS side only).

S3 bucket (customer KMS key, versioned, private, TLS-only) <== data repository association ==> FSx for
Lustre file system (one subnet, one zone). The Kubernetes side builds on its outputs: `ModelVolume` (the
PersistentVolume and claim pods mount) and `ModelLoader` (the Jobs that put the model there).

In a DR region the store links an existing bucket (the replica, `linked_bucket`) import-only
(`auto_export` false), and before any cluster exists there it has no node security group: its file system
then talks only to itself, and no `ModelVolume` or `ModelLoader` is built on it.
"""

import json
from collections.abc import Mapping, Sequence
from typing import NotRequired, TypedDict

import pulumi
import pulumi_aws as aws

from .. import iam
from ..bucket import protected_bucket
from ..common.outputs import register_declared_outputs
from ..hardware import DEFAULT_THROUGHPUT_PER_TIB
from ..model_layout import DIRECTORY_MODE, WORKLOAD_UID, directory_keys
from ..options import outer_dependencies
from ..tags import component_tags
from .lustre_security_group import lustre_security_group

TYPE = "inferentia-chat:index:LustreModelStore"
AUTO_EVENTS = ["NEW", "CHANGED", "DELETED"]
NONCURRENT_VERSION_DAYS = 30


class LinkedBucketArgs(TypedDict):
    """An existing SSE-KMS bucket for `LustreModelStore` to link instead of creating one (a DR replica)."""

    bucket_name: pulumi.Input[str]
    """Name of the bucket (in the file system's region)."""
    bucket_arn: pulumi.Input[str]
    """ARN of the bucket."""
    kms_key_arn: pulumi.Input[str]
    """ARN of the customer key that encrypts the bucket. It also encrypts a PERSISTENT_2 file system, and the
    component takes over its key policy (the KMS default plus the FSx S3-access role of this file system)."""


class LustreModelStoreArgs(TypedDict):
    """Inputs of `LustreModelStore`."""

    vpc_id: pulumi.Input[str]
    """VPC of the file system's security group."""
    subnet_id: pulumi.Input[str]
    """The ONE private subnet of the file system (FSx for Lustre is single-AZ)."""
    availability_zone: pulumi.Input[str]
    """Zone of `subnet_id`; serving pods are pinned to it through the PersistentVolume."""
    node_security_group_id: NotRequired[pulumi.Input[str]]
    """Security group of the cluster nodes, the Lustre clients and the only ones the file system admits (the
    control plane never mounts it); leave out while no cluster mounts it."""
    deployment_type: str
    """PERSISTENT_2 (default choice: customer key, data repository association) or SCRATCH_2 (dev)."""
    storage_capacity_gib: int
    """File system size in GiB: 1200, 2400 or a multiple of 2400."""
    throughput_per_tib: NotRequired[int]
    """PERSISTENT_2 throughput per TiB (125, 250, 500, 1000 MB/s; default 500); ignored by SCRATCH_2."""
    file_system_path: NotRequired[str]
    """Directory of the file system linked to the bucket (default `/`)."""
    bucket_prefix: NotRequired[str]
    """Bucket prefix linked to `file_system_path` (default: the whole bucket)."""
    noncurrent_version_days: NotRequired[int]
    """Days before an overwritten or deleted object version expires (default 30)."""
    tags: NotRequired[Mapping[str, str]]
    """Common tags for every AWS resource."""
    linked_bucket: NotRequired[LinkedBucketArgs]
    """Link this existing bucket (e.g. a DR replica) instead of creating the model bucket."""
    auto_export: NotRequired[bool]
    """Export what is written on the file system back to the bucket (default true). False makes the link
    import-only: the bucket is never written by the file system (a DR replica stays a copy of the primary)."""


class LustreModelStore(pulumi.ComponentResource):
    """The model kept once in a private, KMS-encrypted, versioned S3 bucket and read by every pod through an
    FSx for Lustre file system linked to it (auto import, and auto export unless import-only). `ModelVolume`
    and `ModelLoader` build the Kubernetes side on its outputs.
    """

    bucket_name: pulumi.Output[str]
    """The model bucket."""
    bucket_arn: pulumi.Output[str]
    """ARN of the model bucket (the DR stack replicates it)."""
    kms_key_arn: pulumi.Output[str]
    """Customer KMS key of the bucket (and of a PERSISTENT_2 file system)."""
    file_system_id: pulumi.Output[str]
    """The FSx for Lustre file system id; known once the cluster's nodes can mount it (key policy, Lustre
    rules and data repository link in place)."""
    dns_name: pulumi.Output[str]
    """DNS name of the file system."""
    mount_name: pulumi.Output[str]
    """Lustre mount name of the file system."""
    subnet_id: pulumi.Output[str]
    """The file system's subnet."""
    availability_zone: pulumi.Output[str]
    """The file system's zone: inference nodes must run there."""
    file_system_path: pulumi.Output[str]
    """Directory of the file system linked to the bucket, e.g. `/`."""
    storage_capacity_gib: pulumi.Output[int]
    """Size of the file system in GiB."""

    def __init__(self, name: str, args: LustreModelStoreArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(TYPE, name, None, opts)
        self._name = name
        self._tags = component_tags(args.get("tags", {}), "LustreModelStore")
        persistent = args["deployment_type"] == "PERSISTENT_2"
        prefix = args.get("bucket_prefix", "")
        bucket_name, bucket_arn, key_arn, key_id, bucket_ready = self._bucket(args, opts)
        directories = self._directories(bucket_name, prefix, bucket_ready)
        sg = lustre_security_group(
            name,
            vpc_id=args["vpc_id"],
            node_security_group_id=args.get("node_security_group_id"),
            tags=self._tags,
            parent=self,
        )
        data_repository = bucket_name.apply(lambda b: f"s3://{b}/{prefix}")
        fs = self._file_system(args, persistent, key_arn, sg.group, data_repository, [*directories, *sg.own_rules])
        key_policy = self._key_policy(key_id, fs, bucket_arn)
        # What mounting needs besides the file system: the key policy, the Lustre rules for the nodes and,
        # for PERSISTENT_2, the data repository association.
        mountable: list[pulumi.Resource] = [key_policy, *sg.client_rules]
        if persistent:
            mountable.append(self._association(args, fs, data_repository, key_policy))

        self.bucket_name = bucket_name
        self.bucket_arn = bucket_arn
        self.kms_key_arn = key_arn
        self.file_system_id = pulumi.Output.all(fs.id, *[r.urn for r in mountable]).apply(lambda v: v[0])
        self.dns_name = fs.dns_name
        self.mount_name = fs.mount_name
        self.subnet_id = pulumi.Output.from_input(args["subnet_id"])
        self.availability_zone = pulumi.Output.from_input(args["availability_zone"])
        self.file_system_path = pulumi.Output.from_input(args.get("file_system_path", "/"))
        self.storage_capacity_gib = pulumi.Output.from_input(args["storage_capacity_gib"])
        register_declared_outputs(self)

    def _bucket(self, args: LustreModelStoreArgs, opts: pulumi.ResourceOptions | None):
        """The model bucket and its key (made here, or the linked one), and what marks the bucket ready."""
        linked = args.get("linked_bucket")
        if linked is None:
            made = protected_bucket(
                self._name,
                parent=self,
                key_description="inferentia-chat model store: S3 bucket and FSx for Lustre",
                key_alias=f"alias/{pulumi.get_project()}-{pulumi.get_stack()}-model-store",
                noncurrent_version_days=args.get("noncurrent_version_days", NONCURRENT_VERSION_DAYS),
                tags=self._tags,
            )
            return made.bucket.bucket, made.bucket.arn, made.key.arn, made.key.key_id, made.protections
        key_arn = pulumi.Output.from_input(linked["kms_key_arn"])
        # The bucket's owner made it ready; the component's own `depends_on` says so.
        return (
            pulumi.Output.from_input(linked["bucket_name"]),
            pulumi.Output.from_input(linked["bucket_arn"]),
            key_arn,
            key_arn.apply(lambda arn: arn.rsplit("/", 1)[-1]),
            outer_dependencies(opts),
        )

    def _directories(
        self, bucket_name: pulumi.Output[str], prefix: str, bucket_ready: Sequence[pulumi.Resource]
    ) -> list[pulumi.Resource]:
        """The `models/` and `neuron-cache/` directories, as the S3 objects FSx imports directories from,
        owned by the workload user (FSx for Lustre user guide, "POSIX metadata support for data
        repositories"). They exist before the file system links the bucket, so the first import creates
        them with this owner and mode. In a linked replica they are written here too (the primary's copies,
        identical, replicate over them later): the DR file system may link the bucket before they arrive.
        """
        return [
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
                tags=self._tags,
                opts=pulumi.ResourceOptions(parent=self, depends_on=list(bucket_ready)),
            )
            for role, key in zip(("models-dir", "cache-dir"), directory_keys(prefix), strict=True)
        ]

    def _file_system(
        self,
        args: LustreModelStoreArgs,
        persistent: bool,
        key_arn: pulumi.Input[str],
        sg: aws.ec2.SecurityGroup,
        data_repository: pulumi.Output[str],
        waits: list[pulumi.Resource],
    ) -> aws.fsx.LustreFileSystem:
        """The file system. It waits only for the directories and its group's own rules: FSx checks at creation
        that its interfaces may talk to each other. The rules for the cluster's nodes wait for the cluster; the
        file system must not (it would serialize two 10-15 minute creations: see the budget in the render)."""
        return aws.fsx.LustreFileSystem(
            f"{self._name}-fs",
            deployment_type=args["deployment_type"],
            storage_capacity=args["storage_capacity_gib"],
            per_unit_storage_throughput=args.get("throughput_per_tib", DEFAULT_THROUGHPUT_PER_TIB)
            if persistent
            else None,
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
            tags=self._tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=waits),
        )

    def _key_policy(
        self, key_id: pulumi.Input[str], fs: aws.fsx.LustreFileSystem, bucket_arn: pulumi.Output[str]
    ) -> aws.kms.KeyPolicy:
        """The key policy names the file system, so it is set once the file system exists (the key had to exist
        before it: the file system is encrypted with it). For a linked bucket it replaces the bucket owner's
        (KMS default) policy with the same account statement plus this file system's role."""
        partition = aws.get_partition().partition
        region = aws.get_region().region
        account = aws.get_caller_identity().account_id
        return aws.kms.KeyPolicy(
            f"{self._name}-key-policy",
            key_id=key_id,
            policy=pulumi.Output.all(fs.id, bucket_arn).apply(
                lambda a: json.dumps(
                    iam.kms_key_policy(partition, account, fsx_s3_link=iam.FsxS3Link(a[0], a[1], region))
                )
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[fs]),
        )

    def _association(
        self,
        args: LustreModelStoreArgs,
        fs: aws.fsx.LustreFileSystem,
        data_repository: pulumi.Output[str],
        key_policy: aws.kms.KeyPolicy,
    ) -> aws.fsx.DataRepositoryAssociation:
        """The PERSISTENT_2 link of the bucket (prefix) to the file system directory: auto import, and auto
        export unless import-only. It waits for the key policy: the FSx role may use the key before the first
        import or export happens."""
        events = aws.fsx.DataRepositoryAssociationS3AutoExportPolicyArgs(events=AUTO_EVENTS)
        return aws.fsx.DataRepositoryAssociation(
            f"{self._name}-dra",
            file_system_id=fs.id,
            file_system_path=args.get("file_system_path", "/"),
            data_repository_path=data_repository,
            batch_import_meta_data_on_create=True,
            delete_data_in_filesystem=False,
            s3=aws.fsx.DataRepositoryAssociationS3Args(
                auto_import_policy=aws.fsx.DataRepositoryAssociationS3AutoImportPolicyArgs(events=AUTO_EVENTS),
                auto_export_policy=events if args.get("auto_export", True) else None,
            ),
            tags=self._tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[key_policy]),
        )
