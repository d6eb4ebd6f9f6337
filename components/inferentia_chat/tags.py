"""Tags: the one place that decides what every AWS resource carries."""

from __future__ import annotations

from collections.abc import Mapping


def component_tags(base: Mapping[str, str], component: str, **extra: str) -> dict[str, str]:
    """The stack's common tags (project, stack, user tags) plus the owning component's name."""
    return {**base, "component": component, **extra}
