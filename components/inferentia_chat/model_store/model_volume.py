"""ModelVolume: the model store's file system as a Kubernetes volume (namespace, static PV, claim).

Built on the outputs of `LustreModelStore`; serving pods and `ModelLoader` mount its claim.
"""

from collections.abc import Mapping
from typing import NotRequired, TypedDict

import pulumi
import pulumi_kubernetes as k8s

from .. import model_layout
from ..common.moved import formerly_under
from ..common.outputs import register_declared_outputs
from ..kube import RESTRICTED_NAMESPACE_LABELS, default_deny
from ..system_node_group import SYSTEM_NODE_SELECTOR
from .labels import labels
from .lustre_model_store import TYPE as STORE_TYPE
from .lustre_model_store import LustreModelStore

TYPE = "inferentia-chat:index:ModelVolume"
ZONE_LABEL = "topology.kubernetes.io/zone"
FSX_CSI_DRIVER = "fsx.csi.aws.com"
DEFAULT_NAMESPACE = "inference"
# What the static volume and its claim declare. FSx for Lustre is not sized through Kubernetes: the
# capacity of a static PV is informational and a claim's request only has to fit it, but the API server
# refuses any change of a static claim's request (only a StorageClass with allowVolumeExpansion can grow a
# claim). A constant, the smallest FSx for Lustre size, keeps both valid whatever the capacity becomes: a
# capacity increase is an FSx update alone.
STATIC_VOLUME_CAPACITY = "1200Gi"


class ModelVolumeArgs(TypedDict):
    """Inputs of `ModelVolume` (the first six are `LustreModelStore` outputs of the same names, which
    `model_volume_args` fills in)."""

    file_system_id: pulumi.Input[str]
    """The FSx for Lustre file system id."""
    dns_name: pulumi.Input[str]
    """DNS name of the file system."""
    mount_name: pulumi.Input[str]
    """Lustre mount name of the file system."""
    availability_zone: pulumi.Input[str]
    """The file system's zone: inference nodes may mount the volume only there."""
    storage_capacity_gib: pulumi.Input[int]
    """Size of the file system in GiB. Informational: the volume pair declares a constant
    (STATIC_VOLUME_CAPACITY), since the API server refuses to change a static claim's request."""
    file_system_path: NotRequired[pulumi.Input[str]]
    """Directory of the file system linked to the bucket (default `/`)."""
    model_name: str
    """Directory of the model under `models/` (the served model name)."""
    namespace: NotRequired[str]
    """Namespace of the claim, created here with the `restricted` Pod Security level and a default-deny
    NetworkPolicy (default `inference`): the pods that mount the claim run there."""
    namespace_labels: NotRequired[Mapping[str, str]]
    """Further labels of the namespace (e.g. the environment label the policy pack reads)."""


class ModelVolume(pulumi.ComponentResource):
    """The FSx for Lustre file system of a `LustreModelStore` as a static PersistentVolume (ReadWriteMany,
    retained, reserved for its claim) and the claim serving pods mount, in their own namespace."""

    namespace: pulumi.Output[str]
    """Namespace of the claim (and of the pods that mount it)."""
    pvc_name: pulumi.Output[str]
    """PersistentVolumeClaim serving pods mount (ReadWriteMany)."""
    model_path: pulumi.Output[str]
    """Directory of the model inside the volume, e.g. /models/mistral-7b-instruct."""
    compiled_cache_root: pulumi.Output[str]
    """Root of the compiled Neuron artifacts inside the volume, e.g. /neuron-cache."""
    model_subpath: pulumi.Output[str]
    """`model_path` as a subPath for a pod's volume mount (no leading slash), e.g. models/mistral-7b-instruct."""
    cache_subpath: pulumi.Output[str]
    """`compiled_cache_root` as a subPath for a pod's volume mount, e.g. neuron-cache."""

    def __init__(self, name: str, args: ModelVolumeArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(TYPE, name, None, opts)
        # Until 0.2.0 these were children of the LustreModelStore of the same name.
        moved = formerly_under(name, STORE_TYPE, opts)
        namespace = args.get("namespace", DEFAULT_NAMESPACE)
        ns = k8s.core.v1.Namespace(
            f"{name}-namespace",
            metadata={
                "name": namespace,
                "labels": {
                    **labels("namespace"),
                    "app.kubernetes.io/name": namespace,
                    **RESTRICTED_NAMESPACE_LABELS,
                    **args.get("namespace_labels", {}),
                },
            },
            opts=pulumi.ResourceOptions(parent=self).merge(moved),
        )
        default_deny(
            f"{name}-default-deny", ns.metadata.name, labels("network-policy"), pulumi.ResourceOptions(parent=self)
        )
        storage = STATIC_VOLUME_CAPACITY
        # Named after the file system: a new file system (a replacement) gets a new PV and claim, created
        # before the old pair is deleted. A fixed name would make the new PV wait for the old one, which
        # `kubernetes.io/pv-protection` keeps while pods still mount it.
        volume_name = pulumi.Output.from_input(args["file_system_id"]).apply(lambda fs_id: f"{name}-{fs_id}")
        pv = k8s.core.v1.PersistentVolume(
            f"{name}-pv",
            metadata={"name": volume_name, "labels": labels("storage")},
            spec=persistent_volume_spec(args, storage, claim=(namespace, volume_name)),
            opts=pulumi.ResourceOptions(parent=self).merge(moved),
        )
        pvc = k8s.core.v1.PersistentVolumeClaim(
            f"{name}-pvc",
            metadata={"name": volume_name, "namespace": ns.metadata.name, "labels": labels("storage")},
            spec={
                "accessModes": ["ReadWriteMany"],
                "storageClassName": "",
                "volumeName": pv.metadata.name,
                "resources": {"requests": {"storage": storage}},
            },
            opts=pulumi.ResourceOptions(parent=self).merge(moved),
        )
        fs_path = pulumi.Output.from_input(args.get("file_system_path", "/"))
        self.namespace = ns.metadata.name
        self.pvc_name = pvc.metadata.name
        self.model_path = fs_path.apply(lambda p: model_layout.model_path(p, args["model_name"]))
        self.compiled_cache_root = fs_path.apply(model_layout.cache_root)
        self.model_subpath = self.model_path.apply(lambda p: p.lstrip("/"))
        self.cache_subpath = self.compiled_cache_root.apply(lambda p: p.lstrip("/"))
        register_declared_outputs(self)


def model_volume_args(
    store: LustreModelStore,
    model_name: str,
    *,
    namespace: str | None = None,
    namespace_labels: Mapping[str, str] | None = None,
) -> ModelVolumeArgs:
    """`ModelVolumeArgs` for the file system of `store` (its outputs of the same names), with the model's
    directory (`model_name`) and the claim's namespace (default `inference`) and its further labels."""
    args = ModelVolumeArgs(
        file_system_id=store.file_system_id,
        dns_name=store.dns_name,
        mount_name=store.mount_name,
        availability_zone=store.availability_zone,
        storage_capacity_gib=store.storage_capacity_gib,
        file_system_path=store.file_system_path,
        model_name=model_name,
    )
    if namespace is not None:
        args["namespace"] = namespace
    if namespace_labels is not None:
        args["namespace_labels"] = namespace_labels
    return args


def persistent_volume_spec(
    args: ModelVolumeArgs, storage: pulumi.Input[str], *, claim: tuple[str, pulumi.Input[str]]
) -> dict[str, object]:
    """The static PV of the file system, reserved for `claim` (namespace, name) so no other claim binds it."""
    return {
        "capacity": {"storage": storage},
        "volumeMode": "Filesystem",
        "accessModes": ["ReadWriteMany"],
        "persistentVolumeReclaimPolicy": "Retain",
        "storageClassName": "",
        "mountOptions": ["flock"],
        "claimRef": {"namespace": claim[0], "name": claim[1]},
        "csi": {
            "driver": FSX_CSI_DRIVER,
            "volumeHandle": args["file_system_id"],
            "volumeAttributes": {"dnsname": args["dns_name"], "mountname": args["mount_name"]},
        },
        # Terms are ORed. Inference nodes can use the volume only in the file system's zone (no cross-zone
        # reads on the serving path). System nodes may mount it from any zone, for the one-off load Jobs: the
        # system node group spreads over every zone and may have no node in this one.
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
    }
