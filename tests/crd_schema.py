"""Validate custom resources offline the way the API server would: the CRD's openAPIV3Schema (strict:
unknown fields are errors, as `kubectl apply --validate=strict` reports them) after schema defaulting,
plus its CEL rules (`x-kubernetes-validations`).

CRDs come from tests/schemas/ (vendored at the pinned Karpenter version). CEL rules are evaluated with
cel-python, with the two Kubernetes CEL library functions these CRDs use (`split`, `find`) added.
Not evaluated: transition rules (those reading `oldSelf`), which the API server too runs only on
updates; `metadata` is checked against a small ObjectMeta subset, not the full type.
"""

from __future__ import annotations

import copy
import re
from functools import cache
from pathlib import Path
from typing import Any

import celpy
import jsonschema
import yaml
from celpy import celtypes

SCHEMAS = Path(__file__).with_name("schemas")

_DNS_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
_OBJECT_META = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "maxLength": 253, "pattern": _DNS_SUBDOMAIN},
        "generateName": {"type": "string"},
        "namespace": {"type": "string"},
        "labels": {"type": "object", "additionalProperties": {"type": "string", "maxLength": 63}},
        "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
    },
    "additionalProperties": False,
}


class CrdValidationError(ValueError):
    """The object breaks its CRD's schema or one of its CEL rules; the message lists every problem."""


@cache
def crd_schemas() -> dict[tuple[str, str], dict[str, Any]]:
    """(apiVersion, kind) -> openAPIV3Schema of every served version of every vendored CRD."""
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for path in sorted(SCHEMAS.glob("*.yaml")):
        for crd in yaml.safe_load_all(path.read_text()):
            if not crd or crd.get("kind") != "CustomResourceDefinition":
                continue
            group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
            for version in crd["spec"]["versions"]:
                if version.get("served"):
                    found[(f"{group}/{version['name']}", kind)] = version["schema"]["openAPIV3Schema"]
    return found


def has_schema(obj: dict[str, Any]) -> bool:
    """True when a vendored CRD describes this object's apiVersion and kind."""
    return (obj.get("apiVersion"), obj.get("kind")) in crd_schemas()


def _strict(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema with unknown fields refused wherever the CRD does not preserve them."""
    schema = copy.deepcopy(schema)

    def walk(node: Any) -> None:
        if not isinstance(node, dict):
            return
        if (
            "properties" in node
            and "additionalProperties" not in node
            and not node.get("x-kubernetes-preserve-unknown-fields")
        ):
            node["additionalProperties"] = False
        for key in ("properties",):
            for sub in (node.get(key) or {}).values():
                walk(sub)
        for key in ("items", "additionalProperties"):
            walk(node.get(key))
        for key in ("anyOf", "allOf", "oneOf"):
            for sub in node.get(key) or []:
                walk(sub)

    walk(schema)
    schema.setdefault("properties", {})["metadata"] = _OBJECT_META
    return schema


@cache
def _validator(key: tuple[str, str]) -> jsonschema.Draft7Validator:
    return jsonschema.Draft7Validator(_strict(crd_schemas()[key]))


def apply_defaults(schema: dict[str, Any], value: Any) -> Any:
    """Structural defaulting, as the API server does before validating: absent fields with a default get it."""
    if isinstance(value, dict) and schema.get("type") == "object":
        for key, sub in (schema.get("properties") or {}).items():
            if key not in value and "default" in sub:
                value[key] = copy.deepcopy(sub["default"])
            if key in value:
                value[key] = apply_defaults(sub, value[key])
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict):
            for key in value:
                if key not in (schema.get("properties") or {}):
                    value[key] = apply_defaults(extra, value[key])
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        return [apply_defaults(schema["items"], v) for v in value]
    return value


# Kubernetes CEL library functions used by the Karpenter CRDs (k8s.io/apiserver/pkg/cel/library).
def _split(text: celtypes.StringType, separator: celtypes.StringType) -> celtypes.ListType:
    return celtypes.ListType([celtypes.StringType(p) for p in str(text).split(str(separator))])


def _find(text: celtypes.StringType, pattern: celtypes.StringType) -> celtypes.StringType:
    match = re.search(str(pattern), str(text))
    return celtypes.StringType(match.group(0) if match else "")


_CEL = celpy.Environment()


@cache
def _program(rule: str) -> celpy.Runner:
    return _CEL.program(_CEL.compile(rule), functions={"split": _split, "find": _find})


def is_transition_rule(rule: str) -> bool:
    """Rules that compare with the stored object; evaluated on update only."""
    return re.search(r"\boldSelf\b", rule) is not None


def cel_problems(schema: dict[str, Any], value: Any, path: str = "") -> list[str]:
    """Every CEL rule of the schema that the value breaks, as `path: message`."""
    problems = []
    for check in schema.get("x-kubernetes-validations") or []:
        if is_transition_rule(check["rule"]):
            continue
        try:
            ok = _program(check["rule"]).evaluate({"self": celpy.json_to_cel(value)})
        except celpy.CELEvalError as error:
            problems.append(f"{path or '<root>'}: rule {check['rule']!r} could not be evaluated: {error.args[0]}")
            continue
        if not (isinstance(ok, bool | celtypes.BoolType) and bool(ok)):
            problems.append(f"{path or '<root>'}: {check.get('message', check['rule'])}")
    if isinstance(value, dict):
        props = schema.get("properties") or {}
        extra = schema.get("additionalProperties")
        for key, sub in value.items():
            sub_schema = props.get(key) or (extra if isinstance(extra, dict) else None)
            if sub_schema:
                problems += cel_problems(sub_schema, sub, f"{path}.{key}")
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for i, item in enumerate(value):
            problems += cel_problems(schema["items"], item, f"{path}[{i}]")
    return problems


def rule_count(kind_key: tuple[str, str]) -> tuple[int, int]:
    """(rules evaluated on create, transition rules skipped) in one CRD version's schema."""
    evaluated = skipped = 0

    def walk(node: Any) -> None:
        nonlocal evaluated, skipped
        if isinstance(node, dict):
            for check in node.get("x-kubernetes-validations") or []:
                if is_transition_rule(check["rule"]):
                    skipped += 1
                else:
                    evaluated += 1
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(crd_schemas()[kind_key])
    return evaluated, skipped


def validate(obj: dict[str, Any]) -> None:
    """Raise CrdValidationError listing every schema and CEL problem of a custom resource."""
    key = (obj.get("apiVersion"), obj.get("kind"))
    if key not in crd_schemas():
        raise LookupError(f"no vendored CRD schema for {key[0]}/{key[1]} (add it to tests/schemas/)")
    schema = crd_schemas()[key]
    defaulted = apply_defaults(schema, copy.deepcopy(obj))
    validator = _validator(key)
    problems = [
        f"{'.'.join(str(p) for p in e.absolute_path) or '<root>'}: {e.message}"
        for e in validator.iter_errors(defaulted)
    ]
    if not problems:  # CEL rules assume a structurally valid object, as in the API server
        problems = cel_problems(schema, defaulted)
    if problems:
        raise CrdValidationError(f"{key[1]} {obj.get('metadata', {}).get('name')}: " + "; ".join(problems))
