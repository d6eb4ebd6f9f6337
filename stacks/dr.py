"""The disaster-recovery stack: reads the primary stack's outputs, in its own region."""

from __future__ import annotations

from typing import Any

import pulumi

from components.config import StackConfig


def build_dr(cfg: StackConfig) -> dict[str, Any]:
    """Compose the DR stack and return its outputs."""
    assert cfg.dr is not None  # parse_config guarantees a dr section for role dr
    primary = pulumi.StackReference("primary", stack_name=cfg.dr.primary_stack)
    return {
        "role": cfg.role,
        "region": cfg.region,
        "primaryStack": cfg.dr.primary_stack,
        "primaryRegion": cfg.dr.primary_region,
        "primaryClusterName": primary.get_output("clusterName"),
        "standby": cfg.dr.standby,
    }
