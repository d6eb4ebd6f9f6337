"""The `inferencePool` section: the Karpenter-managed Inferentia2 capacity and how its nodes get the image."""

from __future__ import annotations

from inferentia_chat.hardware import INF2_TYPES
from inferentia_chat.image_pull import BOTTLEROCKET_SOCI_MIN, IMAGE_PULL_SOCI, IMAGE_PULLS, version_tuple

from .fields import _Section
from .rules import BOTTLEROCKET_VERSION, SNAPSHOT_ID, choice, duration_ok
from .schema import CAPACITY_TYPES, InferencePoolConfig


def _inference_pool(s: _Section) -> InferencePoolConfig:
    types = s.strings("instanceTypes", ("inf2.xlarge", "inf2.8xlarge"), item=choice(tuple(INF2_TYPES)), min_items=1)
    capacity = s.strings("capacityTypes", ("on-demand",), item=choice(CAPACITY_TYPES), min_items=1)
    duration = "must be a duration such as 30s, 5m or 1h30m"
    consolidate = s.string("consolidateAfter", "5m", allowed=duration)
    if consolidate is not None and not duration_ok(consolidate):
        s.problems.add(s.key("consolidateAfter"), consolidate, duration)
    expire = s.string("expireAfter", "720h", allowed=f"{duration}, or Never")
    if expire is not None and expire != "Never" and not duration_ok(expire):
        s.problems.add(s.key("expireAfter"), expire, f"{duration}, or Never")
    # Never is not allowed here: it would let a blocked drain keep an expired node forever.
    grace = s.string("terminationGracePeriod", "1h", allowed=duration)
    if grace is not None and not duration_ok(grace):
        s.problems.add(s.key("terminationGracePeriod"), grace, duration)
    max_devices = s.integer(
        "maxNeuronDevices", 4, minimum=1, maximum=480, allowed="(Inferentia2 chips the pool may run at once)"
    )
    # Optional image cache: Bottlerocket nodes whose data volume is restored from a snapshot that already
    # holds the serving image (made once with the documented step), so a new node skips the image pull.
    cache = s.section("imageCache")
    snapshot = cache.string(
        "snapshotId", None, pattern=SNAPSHOT_ID, allowed="must be an EBS snapshot id such as snap-0123456789abcdef0"
    )
    bottlerocket = cache.string(
        "bottlerocketVersion",
        None,
        pattern=BOTTLEROCKET_VERSION,
        allowed="must be the Bottlerocket release the snapshot was made with, such as v1.46.0",
    )
    if (snapshot is None) != (bottlerocket is None) and not any(p.startswith(cache.path) for p in s.problems.items):
        missing = "bottlerocketVersion" if bottlerocket is None else "snapshotId"
        s.problems.missing(cache.key(missing), "imageCache needs both snapshotId and bottlerocketVersion")
    cache.finish()
    image_pull, bottlerocket_version = _image_pull(s, bottlerocket)
    s.finish()
    return InferencePoolConfig(
        instance_types=types,
        capacity_types=capacity,
        consolidate_after=consolidate or "5m",
        expire_after=expire or "720h",
        termination_grace_period=grace if grace and duration_ok(grace) else "1h",
        max_neuron_devices=max_devices,
        image_cache_snapshot_id=snapshot if bottlerocket else None,
        image_cache_bottlerocket_version=bottlerocket if snapshot else None,
        image_pull=image_pull,
        bottlerocket_version=bottlerocket_version,
    )


def _image_pull(s: _Section, cache_version: str | None) -> tuple[str, str | None]:
    """`inferencePool.imagePull` and `inferencePool.bottlerocketVersion`: how inference nodes get the serving
    image, and the OS they run (docs/performance.md)."""
    pull = s.string("imagePull", IMAGE_PULL_SOCI, choices=IMAGE_PULLS) or IMAGE_PULL_SOCI
    version = s.string(
        "bottlerocketVersion",
        None,
        pattern=BOTTLEROCKET_VERSION,
        allowed="must be a Bottlerocket release such as v1.61.0 (the first with the aws-k8s-1.36 variant)",
    )
    if version and cache_version:
        s.problems.add(
            s.key("bottlerocketVersion"), version, "leave it out with imageCache: set imageCache.bottlerocketVersion"
        )
        version = None
    if version and pull == IMAGE_PULL_SOCI and version_tuple(version) < BOTTLEROCKET_SOCI_MIN:
        s.problems.add(
            s.key("bottlerocketVersion"),
            version,
            "SOCI parallel pull needs Bottlerocket v1.44.0 or later (or imagePull: containerd)",
        )
    return pull, version
