"""Aliases for resources that moved to a new parent, so a running stack keeps them (no replacement).

Pulumi identifies a resource by its URN, which includes the types of its parents: a child that moves to
another component would be deleted and created again unless it names its old URN as an alias.
"""

from __future__ import annotations

import pulumi


def formerly_under(name: str, old_type: str, opts: pulumi.ResourceOptions | None) -> pulumi.ResourceOptions:
    """Options for a child that used to be a child of the `old_type` component named `name` (with the same
    parent as the component creating it now, and its own name unchanged)."""
    old_parent = pulumi.create_urn(name, old_type, parent=opts.parent if opts else None)
    return pulumi.ResourceOptions(aliases=[pulumi.Alias(parent=old_parent)])
