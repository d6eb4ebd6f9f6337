"""`tags`: the user's tags on every AWS resource, checked against AWS's tag rules before any resource exists."""

from __future__ import annotations

from typing import Any

from .fields import _MISSING, _Problems
from .rules import MAX_TAGS_PER_RESOURCE, PROGRAM_TAG_KEYS, PROGRAM_TAGS, TAG_KEY_MAX, TAG_VALUE_MAX, tag_text_problem
from .schema import CONFIG_NAMESPACE


def _tags(value: Any, problems: _Problems) -> dict[str, str]:
    path = f"{CONFIG_NAMESPACE}:tags"
    if value is _MISSING:
        return {}
    if not isinstance(value, dict):
        problems.add(path, value, "must be a mapping of tag keys to string values")
        return {}
    tags: dict[str, str] = {}
    for k, v in value.items():
        key_problem = tag_text_problem(k, TAG_KEY_MAX, empty_ok=False) if isinstance(k, str) else "must be text"
        if key_problem or str(k).lower().startswith("aws:"):
            problems.add(f"{path}.{k}", v, f"tag key {key_problem or 'must not start with aws: (reserved by AWS)'}")
        elif not isinstance(v, str):
            problems.add(f"{path}.{k}", v, "tag values are strings (quote numbers and true/false)")
        elif tag_text_problem(v, TAG_VALUE_MAX, empty_ok=True):
            problems.add(f"{path}.{k}", v, f"tag value {tag_text_problem(v, TAG_VALUE_MAX, empty_ok=True)}")
        elif k in PROGRAM_TAG_KEYS:
            problems.add(f"{path}.{k}", v, f"{', '.join(PROGRAM_TAG_KEYS)} tags are set by the program")
        else:
            tags[k] = v
    room = MAX_TAGS_PER_RESOURCE - PROGRAM_TAGS
    if len(value) > room:
        problems.add(
            path,
            f"{len(value)} tags",
            f"must hold at most {room}: AWS allows {MAX_TAGS_PER_RESOURCE} tags per resource and the program and its "
            f"controllers add up to {PROGRAM_TAGS} of their own",
        )
    return tags
