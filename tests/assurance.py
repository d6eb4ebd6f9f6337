"""Shared helpers of the assurance checks: every policy document a plan creates, and the waivers."""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from offline.engine import Record

WAIVERS_FILE = Path(__file__).with_name("waivers.yaml")


@dataclass(frozen=True)
class PolicyDocument:
    """A policy document found in the plan, and the resource a resource policy is attached to."""

    resource: str  # logical name of the resource holding it
    kind: str  # identity | trust | resource
    document: dict[str, Any]
    attached_to: str | None  # ARN the resource policy governs ("*" in its statements means this)


# type -> (input key, kind): where policy documents live in registered inputs.
POLICY_INPUTS: dict[str, tuple[tuple[str, str], ...]] = {
    "aws:iam/role:Role": (("assumeRolePolicy", "trust"),),
    "aws:iam/rolePolicy:RolePolicy": (("policy", "identity"),),
    "aws:iam/policy:Policy": (("policy", "identity"),),
    "aws:kms/key:Key": (("policy", "resource"),),
    "aws:kms/keyPolicy:KeyPolicy": (("policy", "resource"),),
    "aws:s3/bucketPolicy:BucketPolicy": (("policy", "resource"),),
    "aws:sqs/queuePolicy:QueuePolicy": (("policy", "resource"),),
    "aws:sqs/queue:Queue": (("policy", "resource"),),
    "aws:sns/topicPolicy:TopicPolicy": (("policy", "resource"),),
}


def policy_documents(resources: list[Record]) -> list[PolicyDocument]:
    """Every policy document in the plan (inline role policies included)."""
    found: list[PolicyDocument] = []
    # A KeyPolicy governs the key it names by id.
    key_arns = {r.outputs.get("keyId"): r.outputs.get("arn") for r in resources if r.type == "aws:kms/key:Key"}
    for rec in resources:
        for key, kind in POLICY_INPUTS.get(rec.type, ()):
            text = rec.inputs.get(key)
            if isinstance(text, str) and text.strip().startswith("{"):
                governed = rec.outputs.get("arn") or key_arns.get(rec.inputs.get("keyId"))
                found.append(PolicyDocument(rec.name, kind, json.loads(text), governed))
        if rec.type == "aws:iam/role:Role":
            for inline in rec.inputs.get("inlinePolicies") or []:
                if inline.get("policy"):
                    found.append(PolicyDocument(rec.name, "identity", json.loads(inline["policy"]), None))
    return found


def as_identity_view(doc: PolicyDocument) -> dict[str, Any]:
    """What parliament can analyse. Trust and resource policies have no (or a `*`) Resource, which in
    that context means the resource they are attached to: say so explicitly, and drop Principal,
    which identity-policy checks do not know. Actions and conditions are analysed unchanged.
    """
    if doc.kind == "identity":
        return doc.document
    view = copy.deepcopy(doc.document)
    for stmt in view["Statement"] if isinstance(view["Statement"], list) else [view["Statement"]]:
        stmt.pop("Principal", None)
        stmt.pop("NotPrincipal", None)
        if stmt.get("Resource", "*") == "*" and doc.attached_to:
            stmt["Resource"] = doc.attached_to
    return view


def waivers(tool: str) -> list[dict[str, Any]]:
    """The waivers of one tool from the one waivers file; each must carry a reason and its evidence."""
    data = yaml.safe_load(WAIVERS_FILE.read_text()) or {}
    return list(data.get(tool) or [])


def unsourced_waivers(path: Path = WAIVERS_FILE) -> list[dict[str, Any]]:
    """Waivers (of any tool) without a reason or without a source of evidence."""
    data = yaml.safe_load(path.read_text()) or {}
    return [w for entries in data.values() for w in entries or [] if not (w.get("reason") and w.get("source"))]
