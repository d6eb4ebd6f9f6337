"""The components as a library: every public component in the schema other languages get."""

from __future__ import annotations

import importlib
import inspect
import json
import pkgutil
from pathlib import Path

import pulumi
import yaml
from pulumi.provider.experimental.component import ComponentProvider

import inferentia_chat


def public_components() -> list[type[pulumi.ComponentResource]]:
    return list(inferentia_chat.COMPONENTS)


def test_every_component_class_in_the_library_is_public():
    found = set()
    for module in pkgutil.walk_packages(inferentia_chat.__path__, "inferentia_chat."):
        mod = importlib.import_module(module.name)
        for _, cls in inspect.getmembers(mod, inspect.isclass):
            if issubclass(cls, pulumi.ComponentResource) and cls.__module__ == mod.__name__:
                found.add(cls)
    assert found == set(public_components())
    for cls in found:
        assert cls.__name__ in inferentia_chat.__all__ and f"{cls.__name__}Args" in inferentia_chat.__all__


def test_schema_exposes_every_component_input_and_output():
    schema = json.loads(
        ComponentProvider(public_components(), "inferentia-chat", version=inferentia_chat.__version__).schema
    )
    assert schema["name"] == "inferentia-chat"
    for cls in public_components():
        token = f"inferentia-chat:index:{cls.__name__}"
        resource = schema["resources"][token]
        assert resource["isComponent"] is True
        assert resource["description"]
        args = inspect.get_annotations(inspect.get_annotations(cls.__init__)["args"])
        assert set(resource["inputProperties"]) == {pulumi_name(k) for k in args}, token
        for name, prop in resource["inputProperties"].items():
            assert prop.get("description"), f"{token}.{name} has no description"
            assert "type" in prop or "$ref" in prop or "additionalProperties" in prop, f"{token}.{name} untyped"
        outputs = {pulumi_name(k) for k in inspect.get_annotations(cls) if not k.startswith("_")}
        assert outputs and set(resource["properties"]) == outputs, token
        for name, prop in resource["properties"].items():
            assert prop.get("description"), f"{token} output {name} has no description"


def test_required_inputs_are_the_non_optional_args():
    schema = json.loads(ComponentProvider(public_components(), "inferentia-chat").schema)
    network = schema["resources"]["inferentia-chat:index:Network"]
    assert network["requiredInputs"] == ["clusterName"]
    cluster = schema["resources"]["inferentia-chat:index:EksCluster"]
    assert "kubernetesVersion" in cluster["requiredInputs"] and "tags" not in cluster["requiredInputs"]


def test_the_plugin_hosts_the_public_components():
    plugin = Path(inferentia_chat.__path__[0]).parent.parent / "plugin"
    assert yaml.safe_load((plugin / "PulumiPlugin.yaml").read_text()) == {"runtime": "python"}
    source = (plugin / "__main__.py").read_text()
    assert "components=list(inferentia_chat.COMPONENTS)" in source and 'name="inferentia-chat"' in source


def pulumi_name(python_name: str) -> str:
    head, *rest = python_name.split("_")
    return head + "".join(p.capitalize() for p in rest)


def test_the_linked_bucket_of_a_dr_store_is_a_typed_object_in_the_schema():
    schema = json.loads(ComponentProvider(public_components(), "inferentia-chat").schema)
    store = schema["resources"]["inferentia-chat:index:LustreModelStore"]
    ref = store["inputProperties"]["linkedBucket"]["$ref"]
    linked = schema["types"][ref.removeprefix("#/types/")]
    assert set(linked["properties"]) == {"bucketName", "bucketArn", "kmsKeyArn"}
    assert set(linked["required"]) == {"bucketName", "bucketArn", "kmsKeyArn"}
    replica = schema["resources"]["inferentia-chat:index:ModelReplica"]
    assert set(replica["requiredInputs"]) == {"sourceBucketName", "sourceBucketArn", "sourceKmsKeyArn", "sourceRegion"}
