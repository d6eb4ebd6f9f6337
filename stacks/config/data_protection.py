"""`dataOnDestroy`, `protectData` and `chatSnapshots`: what `pulumi destroy` keeps and what guards it
(docs/day-2.md, "Destroying a stack: what survives"). Top-level keys, parsed in their own function."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from .fields import _MISSING, _Problems, _Section
from .schema import CONFIG_NAMESPACE, DataProtectionConfig, DrConfig

DATA_ON_DESTROY = ("retain", "delete")
_HH_MM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$", re.ASCII)


def _data_protection(
    raw: Mapping[str, Any], problems: _Problems, dr: DrConfig | None, environment: str = "production"
) -> DataProtectionConfig:
    """`dataOnDestroy`, `protectData` and `chatSnapshots`: what survives a destroy (top-level keys).
    `protectData` defaults to true for a production `environment` that retains its data."""
    on_destroy = raw.get("dataOnDestroy", "retain")
    if on_destroy not in DATA_ON_DESTROY:
        problems.add(f"{CONFIG_NAMESPACE}:dataOnDestroy", on_destroy, f"must be one of {', '.join(DATA_ON_DESTROY)}")
        on_destroy = "retain"
    protect = raw.get("protectData", on_destroy == "retain" and environment == "production")
    # A top-level scalar reaches the program as the CLI's text.
    protect = {"true": True, "false": False}.get(protect, protect) if isinstance(protect, str) else protect
    if not isinstance(protect, bool):
        problems.add(f"{CONFIG_NAMESPACE}:protectData", protect, "must be true or false")
        protect = True
    if protect and on_destroy == "delete":
        problems.add(
            f"{CONFIG_NAMESPACE}:protectData",
            protect,
            "must be false with dataOnDestroy delete (protected resources cannot be deleted)",
        )
    snapshots = _Section(f"{CONFIG_NAMESPACE}:chatSnapshots", raw.get("chatSnapshots", _MISSING), problems)
    days = snapshots.integer("retainDays", 14, minimum=1, maximum=1000, allowed="(daily snapshots kept)")
    start = snapshots.string("startTime", "03:00", pattern=_HH_MM, allowed="must be a UTC time HH:MM such as 03:00")
    snapshots.finish()
    if dr is not None and dr.standby != "serving" and "chatSnapshots" in raw:
        problems.add(
            f"{CONFIG_NAMESPACE}:chatSnapshots",
            raw["chatSnapshots"],
            f"does not apply to a DR stack with dr.standby {dr.standby} (no web UI there); remove it",
        )
    return DataProtectionConfig(
        on_destroy=on_destroy, protect=protect, chat_snapshot_days=days, chat_snapshot_time=start or "03:00"
    )
