"""`environment` and `images`: whether the stack is production, and the image pins (docs/security.md)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from inferentia_chat import images as image_pins

from .fields import _MISSING, _Problems
from .schema import CONFIG_NAMESPACE

# `production` (the default) requires every image pinned by digest (policy pack); `development` does not.
ENVIRONMENTS = ("production", "development")


def _environment(raw: Mapping[str, Any], problems: _Problems) -> str:
    value = raw.get("environment", "production")
    if value not in ENVIRONMENTS:
        problems.add(f"{CONFIG_NAMESPACE}:environment", value, f"must be one of {', '.join(ENVIRONMENTS)}")
        return "production"
    return value


def _images(value: Any, problems: _Problems) -> image_pins.Images:
    """Per image role, a digest or a whole reference with a digest."""
    path = f"{CONFIG_NAMESPACE}:images"
    if value is _MISSING or value is None:
        return image_pins.Images()
    if not isinstance(value, dict):
        problems.add(path, value, f"must be a mapping of {', '.join(image_pins.DEFAULT_IMAGES)} to digests")
        return image_pins.Images()
    pins: dict[str, str] = {}
    for role, pin in value.items():
        problem = image_pins.pin_problem(role, pin)
        if problem:
            problems.add(f"{path}.{role}", pin, problem)
        else:
            pins[role] = pin
    return image_pins.Images(pins)


def unpinned_warning(environment: str, images: image_pins.Images) -> str | None:
    """The warning `pulumi up` prints for a production stack that still runs images by tag."""
    if environment != "production" or not images.unpinned:
        return None
    return (
        f"{CONFIG_NAMESPACE}:environment is production but images {', '.join(images.unpinned)} are not pinned by "
        f"digest ({CONFIG_NAMESPACE}:images): the policy pack refuses this stack (docs/security.md)"
    )
