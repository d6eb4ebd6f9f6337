"""Composition: which component feeds which, one module per stack role."""

from __future__ import annotations

from typing import Any

from stacks.config import StackConfig


def build(cfg: StackConfig) -> dict[str, Any]:
    """Build the stack for the configured role; returns the outputs to export."""
    if cfg.role == "dr":
        from .dr import build_dr

        return build_dr(cfg)
    from .primary import build_primary

    return build_primary(cfg)
