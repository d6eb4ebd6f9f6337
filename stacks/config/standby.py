"""The `dr` section of a DR stack, and which other sections its standby level may set."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from inferentia_chat.model_layout import directory_keys

from .fields import _Problems, _Section
from .rules import DR_PREFIX, EMAIL, REGIONS, STACK_PART, match, matches, region_allowed
from .schema import CONFIG_NAMESPACE, REPLICA_STORAGE_CLASSES, STANDBY_LEVELS, DrConfig, ModelStoreConfig


def _dr(s: _Section, region: str, project: str, stack: str) -> DrConfig:
    """The DR stack's link to its primary: another stack of THIS project, in another region."""
    primary = s.string(
        "primaryStack",
        None,
        allowed=f"the primary stack's fully qualified name <org>/{project}/<stack>",
        required=True,
    )
    if primary is not None:
        problem = _primary_stack_problem(primary, project, stack)
        if problem:
            s.problems.add(s.key("primaryStack"), primary, problem)
            primary = None
    primary_region = s.string(
        "primaryRegion", None, choices=None, allowed="the primary stack's AWS region, e.g. us-east-1", required=True
    )
    if primary_region is not None and primary_region not in REGIONS:
        s.problems.add(s.key("primaryRegion"), primary_region, region_allowed(primary_region))
        primary_region = None
    if primary_region and primary_region == region:
        s.problems.add(
            s.key("primaryRegion"),
            primary_region,
            f"must differ from this DR stack's aws:region ({region}): a replica in the same region is not DR",
        )
    standby = s.string("standby", "none", choices=STANDBY_LEVELS)
    storage_class = s.string("replicaStorageClass", "STANDARD", choices=REPLICA_STORAGE_CLASSES)
    delete_markers = s.boolean("replicateDeleteMarkers", False)
    prefixes = s.strings(
        "prefixes",
        (),
        item=match(
            DR_PREFIX, "must be a key prefix such as models/ (letters, digits, _ . = -; no '.' or '..' segments)"
        ),
    )
    for i, prefix in enumerate(prefixes):
        wider = [p for p in prefixes[:i] if prefix.startswith(p) or p.startswith(prefix)]
        if wider:
            s.problems.add(
                f"{s.key('prefixes')}[{i}]",
                prefix,
                f"overlaps {wider[0]!r}: one replication rule per key, list it once",
            )
    email = s.string("alarmEmail", None, pattern=EMAIL, allowed="must be an email address such as oncall@example.com")
    s.finish()
    return DrConfig(
        primary_stack=primary or "",
        primary_region=primary_region or "",
        standby=standby or "none",
        replica_storage_class=storage_class or "STANDARD",
        replicate_delete_markers=delete_markers,
        prefixes=prefixes,
        alarm_email=email,
    )


# What a DR stack builds besides the replica, by `dr.standby`, and so which sections it may set: the rest of
# the configuration is the primary's business, and a section nothing reads must not pass silently.
DR_SECTIONS: dict[str, tuple[str, ...]] = {
    "none": (),
    "storage": ("network", "modelStore"),
    "serving": ("network", "cluster", "inferencePool", "modelStore", "model", "models", "webui", "monitoring"),
}
# Keys a `serving` standby must state, because a default could be wrong there without anything failing until
# the day of the failover: how `pulumi up` reaches the DR cluster's API, inf2 sizes the DR region offers, and
# the primary's model settings (the same weights and compiled artifacts, which replication brings along).
SERVING_REQUIRED: dict[str, tuple[tuple[str, ...], str]] = {
    "cluster": (
        ("publicEndpoint",),
        "serving standby: say how `pulumi up` reaches the DR cluster's API (true with publicAccessCidrs, or "
        "false to deploy from inside the DR VPC)",
    ),
    "inferencePool": (
        ("instanceTypes",),
        "serving standby: the inf2 sizes the DR region offers (check with "
        "`aws ec2 describe-instance-type-offerings --region <dr-region> --filters Name=instance-type,Values=inf2.*`)",
    ),
    "model": (
        ("id", "revision", "servedName", "tensorParallelSize", "maxModelLen", "maxNumSeqs"),
        "serving standby: the primary's value, so the DR cluster serves the same weights with the compiled "
        "artifacts replicated from the primary (checked against the primary's outputs at deploy time)",
    ),
}


def _primary_stack_problem(value: str, project: str, stack: str) -> str | None:
    parts = value.split("/")
    if len(parts) != 3 or not all(matches(STACK_PART, p) for p in parts):
        return f"must be the primary stack's fully qualified name <org>/{project}/<stack> (letters, digits, _ . -)"
    if parts[1] != project:
        return f"must be a stack of this project ({project}), not of {parts[1]!r}: <org>/{project}/<stack>"
    if parts[2] == stack:
        return f"must name the primary stack, not this DR stack ({stack}) itself"
    return None


def _dr_sections(raw: Mapping[str, Any], dr: DrConfig, store: ModelStoreConfig, problems: _Problems) -> None:
    """A DR stack: the sections its standby level uses, no others, and what a serving standby must state."""
    allowed = DR_SECTIONS[dr.standby]
    for key in DR_SECTIONS["serving"]:
        if key in raw and key not in allowed:
            users = [level for level, keys in DR_SECTIONS.items() if key in keys]
            problems.add(
                f"{CONFIG_NAMESPACE}:{key}",
                raw[key],
                f"does not apply to a DR stack with dr.standby {dr.standby} (only with {' or '.join(users)}); "
                "remove it or change dr.standby",
            )
    if "hfToken" in raw:
        problems.items.append(
            f"{CONFIG_NAMESPACE}:hfToken = [hidden]: does not apply to a DR stack (the model arrives by replication, "
            f"nothing downloads it); remove it with `pulumi config rm {CONFIG_NAMESPACE}:hfToken`"
        )
    if dr.standby == "serving":
        for section, (keys, why) in SERVING_REQUIRED.items():
            # Every entry of a models list states the model keys, as the shorthand does.
            if section == "model" and isinstance(raw.get("models"), list):
                for i, entry in enumerate(raw["models"]):
                    for key in keys:
                        if not isinstance(entry, dict) or key not in entry:
                            problems.missing(f"{CONFIG_NAMESPACE}:models[{i}].{key}", why)
                continue
            given = raw.get(section)
            for key in keys:
                if not isinstance(given, dict) or key not in given:
                    problems.missing(f"{CONFIG_NAMESPACE}:{section}.{key}", why)
    if dr.standby != "none" and dr.prefixes:
        for directory in directory_keys(store.bucket_prefix):
            if not any(directory.startswith(p) for p in dr.prefixes):
                problems.add(
                    f"{CONFIG_NAMESPACE}:dr.prefixes",
                    list(dr.prefixes),
                    f"must cover {directory} (the {dr.standby} standby's file system reads it from the replica); "
                    "add a prefix such as "
                    f"{store.bucket_prefix or directory}",
                )
