"""The cluster's two EBS StorageClasses: encrypted gp3 with the customer volume key, bound where the pod lands.

`gp3-encrypted` is the default class (volumes go with their claims); `gp3-encrypted-retain` keeps its volumes
when the claim goes and tags them so a Data Lifecycle Manager policy snapshots them daily (the chat history).
"""

import pulumi
import pulumi_kubernetes as k8s

STORAGE_CLASS = "gp3-encrypted"
# Volumes that hold data worth keeping (the web UI's chat history) use this class: they outlive their claim and
# carry SNAPSHOT_TAG so a Data Lifecycle Manager policy snapshots them daily.
RETAINED_STORAGE_CLASS = "gp3-encrypted-retain"
SNAPSHOT_TAG = "inferentia-chat.io/daily-snapshot"
_LABELS = {"app.kubernetes.io/part-of": "inferentia-chat", "app.kubernetes.io/component": "storage"}


def _gp3(
    resource_name: str,
    class_name: str,
    key_arn: pulumi.Input[str],
    reclaim_policy: str,
    opts: pulumi.ResourceOptions,
    annotations: dict[str, str] | None = None,
    extra_parameters: dict[str, pulumi.Input[str]] | None = None,
) -> k8s.storage.v1.StorageClass:
    return k8s.storage.v1.StorageClass(
        resource_name,
        metadata=k8s.meta.v1.ObjectMetaArgs(name=class_name, annotations=annotations, labels=_LABELS),
        provisioner="ebs.csi.aws.com",
        parameters={"type": "gp3", "encrypted": "true", "kmsKeyId": key_arn, **(extra_parameters or {})},
        reclaim_policy=reclaim_policy,
        volume_binding_mode="WaitForFirstConsumer",
        allow_volume_expansion=True,
        opts=opts,
    )


def default_storage_class(name: str, key_arn: pulumi.Input[str], opts: pulumi.ResourceOptions) -> None:
    """The default StorageClass (`f"{name}-gp3"`): its volumes are deleted with their claims."""
    _gp3(
        f"{name}-gp3",
        STORAGE_CLASS,
        key_arn,
        "Delete",
        opts,
        annotations={"storageclass.kubernetes.io/is-default-class": "true"},
    )


def retained_storage_class(
    name: str, key_arn: pulumi.Input[str], snapshot_tag_value: str, retain: bool, opts: pulumi.ResourceOptions
) -> k8s.storage.v1.StorageClass:
    """Encrypted gp3 whose volumes outlive their claims (`reclaimPolicy: Retain`; `Delete` for a throwaway
    stack) and carry SNAPSHOT_TAG (EBS CSI driver `tagSpecification_N` parameter, docs/tagging.md)."""
    return _gp3(
        f"{name}-gp3-retain",
        RETAINED_STORAGE_CLASS,
        key_arn,
        "Retain" if retain else "Delete",
        # The API server refuses to change a StorageClass's reclaimPolicy: replace it (same name, so the old one
        # goes first). Volumes already provisioned keep the policy they were made with.
        pulumi.ResourceOptions(replace_on_changes=["reclaimPolicy"], delete_before_replace=True).merge(opts),
        extra_parameters={"tagSpecification_1": f"{SNAPSHOT_TAG}={snapshot_tag_value}"},
    )
