"""Component outputs: declared once, as the class's `pulumi.Output` annotations."""

from __future__ import annotations

import inspect

import pulumi


def declared_outputs(cls: type[pulumi.ComponentResource]) -> list[str]:
    """The outputs a component class declares (its public annotations: the schema other languages get)."""
    return [name for name in inspect.get_annotations(cls) if not name.startswith("_")]


def register_declared_outputs(component: pulumi.ComponentResource) -> None:
    """`register_outputs` with every declared output, each of which the constructor must have set."""
    component.register_outputs({name: getattr(component, name) for name in declared_outputs(type(component))})
