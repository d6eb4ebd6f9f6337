"""The checks that need the region's zones: asked of AWS (provider functions, not resources) before any
resource exists, so a zone that is not there is refused instead of being replaced by another one."""

from __future__ import annotations

import pulumi_aws as aws

from .fields import _Problems
from .schema import CONFIG_NAMESPACE, StackConfig


def available_zones() -> list[str]:
    """The region's zones this account can use, as the Network component lists them."""
    found = aws.get_availability_zones(
        state="available", filters=[{"name": "opt-in-status", "values": ["opt-in-not-required"]}]
    )
    return list(found.names)


def zone_problems(cfg: StackConfig) -> list[str]:
    """azCount within the region's zones, listed zones that exist, the model store's zone in the network."""
    if cfg.dr is not None and cfg.dr.standby == "none":
        return []  # a replica only: no network, no file system
    problems = _Problems()
    net, key = cfg.network, f"{CONFIG_NAMESPACE}:network"
    if net.bring_your_own:
        zones = [aws.ec2.get_subnet(id=subnet).availability_zone for subnet in net.private_subnet_ids]
    else:
        available = available_zones()
        if net.availability_zones:
            for i, zone in enumerate(net.availability_zones):
                if zone not in available:
                    problems.add(
                        f"{key}.availabilityZones[{i}]", zone, f"must be a zone of {cfg.region}: {', '.join(available)}"
                    )
            zones = list(net.availability_zones)
        else:
            if net.az_count > len(available):
                problems.add(
                    f"{key}.azCount",
                    net.az_count,
                    f"must be at most {len(available)}: {cfg.region} offers this account {', '.join(available)}",
                )
            zones = available[: net.az_count]
    wanted = cfg.model_store.availability_zone
    if wanted and wanted not in zones:
        problems.add(
            f"{CONFIG_NAMESPACE}:modelStore.availabilityZone",
            wanted,
            f"must be one of the network's zones: {', '.join(zones)}",
        )
    return problems.items
