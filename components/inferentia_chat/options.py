"""Resource-option helpers shared by the components."""

from __future__ import annotations

from collections.abc import Sequence

import pulumi


def outer_dependencies(opts: pulumi.ResourceOptions | None) -> list[pulumi.Resource]:
    """The explicit `depends_on` a component was given, for its children.

    Pulumi does not pass a component's depends_on down to the resources it creates, so without this a
    Helm release or Deployment inside the component would not wait for, e.g., the cluster's nodes.
    """
    deps = opts.depends_on if opts else None
    if deps is None:
        return []
    if isinstance(deps, pulumi.Resource):
        return [deps]
    if isinstance(deps, Sequence):
        return [d for d in deps if isinstance(d, pulumi.Resource)]
    raise TypeError("depends_on of a component must be a resource or a list of resources, not an Output")
