"""What a configuration change does to a running stack, offline.

    python -m offline diff --stack dev --set modelStore.storageCapacityGiB=2400 [--set KEY=VALUE ...]

renders the stack as configured and with the changes, and writes `build/<stack>/diff.json`: one entry per
resource, `{"urn", "type", "action": "same|update|replace|create|delete", "changed": [paths],
"replaceBecause": [paths], "refused": [paths], "rulesKnown": bool, "effects": [text]}`, then prints a short
table (docs/render-contract.md describes each key).

What forces a replacement comes from the providers' own source, vendored in `offline/data/replace_rules.yaml`
(docs/day-2.md). The second run knows which resources the diff replaces while it runs (`replaced` below): a
replaced resource gets a new id, ARN and generated name, so what consumes them changes too, as in a real
`pulumi preview`. The resource options the program registers count as they do in the engine:
`ignoreChanges` hides a change, `replaceOnChanges` makes one a replacement.
"""

from __future__ import annotations

import copy
import json
import sys
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from .engine import RunResult
from .render import ROOT, primary_of, read_stack_file, run_stack

RULES_FILE = Path(__file__).with_name("data") / "replace_rules.yaml"
NAMESPACE = "inferentia-chat"
ACTIONS = ("same", "update", "replace", "create", "delete")


@cache
def rules() -> dict[str, Any]:
    """The vendored replace table."""
    return yaml.safe_load(RULES_FILE.read_text())


def changed_paths(old: Any, new: Any, prefix: str = "") -> list[str]:
    """Dotted paths of the inputs that differ (maps compared key by key, lists as a whole)."""
    if isinstance(old, dict) and isinstance(new, dict):
        out: list[str] = []
        for key in sorted(set(old) | set(new)):
            path = f"{prefix}.{key}" if prefix else key
            if key not in old or key not in new:
                out.append(path)
            else:
                out.extend(changed_paths(old[key], new[key], path))
        return out
    return [] if old == new else [prefix]


def _overlaps(path: str, rule: str) -> bool:
    return path == rule or path.startswith(rule + ".") or rule.startswith(path + ".")


def _deep(value: Any, path: str) -> Any:
    """The values at `path`, mapped through lists (`schedules.copyTags` of every schedule)."""
    for i, part in enumerate(path.split(".")):
        if isinstance(value, list):
            rest = ".".join(path.split(".")[i:])
            return [_deep(v, rest) for v in value]
        value = value.get(part) if isinstance(value, dict) else None
    return value


def _hits(path: str, rule: str, old: dict[str, Any], new: dict[str, Any]) -> bool:
    """Whether a change at `path` changes what `rule` names: the same input, one inside it, or (a rule deeper
    than the change, e.g. a field of list items) a value at the rule's own path."""
    if path == rule or path.startswith(rule + "."):
        return True
    return rule.startswith(path + ".") and _deep(old, rule) != _deep(new, rule)


def _value(inputs: dict[str, Any], path: str) -> Any:
    for part in path.split("."):
        inputs = inputs.get(part) if isinstance(inputs, dict) else None
    return inputs


def _decreased(old: Any, new: Any) -> bool:
    """new < old, for numbers, Kubernetes quantities in Gi and dotted versions."""

    def number(v: Any) -> tuple[float, ...] | None:
        if isinstance(v, int | float):
            return (float(v),)
        if isinstance(v, str):
            text = v.removesuffix("Gi")
            try:
                return tuple(float(p) for p in text.split("."))
            except ValueError:
                return None
        return None

    a, b = number(old), number(new)
    return a is not None and b is not None and b < a


@dataclass
class Decision:
    """What the engine would do with one resource."""

    action: str
    changed: list[str] = field(default_factory=list)
    replace_because: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    rules_known: bool = True
    effects: list[str] = field(default_factory=list)  # what a provider-side component does inside


def _k8s_kind(type_: str) -> str:
    """`kubernetes:apps/v1:Deployment` -> `apps/v1:Deployment` (`core/v1:...` for the core group)."""
    return type_.removeprefix("kubernetes:")


# Families whose entries are per type, read from the provider's schema (`forceNew`, `custom`, `docs`).
SCHEMA_FAMILIES = ("aws", "random", "pulumi")


def rules_known(type_: str) -> bool:
    """Whether the table says what a change of this type does: an entry of its provider family, any Kubernetes
    kind (the provider's table plus the name), a provider-side component, or a component resource of this
    program (no provider, no inputs: its children carry the diff)."""
    family = type_.split(":", 1)[0]
    if type_ == "pulumi:pulumi:Stack" or family in ("kubernetes", NAMESPACE) or type_ in rules()["components"]:
        return True
    return family in SCHEMA_FAMILIES and type_ in rules().get(family, {})


def _source_kind_changed(old: dict[str, Any], new: dict[str, Any], among: list[str]) -> list[str]:
    """The inputs of `among` set on one side only: a security group rule moving to another kind of source."""
    was, now = {k for k in among if old.get(k) is not None}, {k for k in among if new.get(k) is not None}
    return sorted(was ^ now) if was != now else []


def _active_cluster(kubeconfig: Any) -> Any:
    """The cluster entry the kubeconfig's current context names (what pulumi-kubernetes compares)."""
    cfg = yaml.safe_load(kubeconfig) if isinstance(kubeconfig, str) else kubeconfig
    if not isinstance(cfg, dict):
        return kubeconfig
    name = cfg.get("current-context")
    ctx = next((c.get("context") or {} for c in cfg.get("contexts") or [] if c.get("name") == name), {})
    return next((c.get("cluster") for c in cfg.get("clusters") or [] if c.get("name") == ctx.get("cluster")), None)


def decide(type_: str, old: dict[str, Any], new: dict[str, Any], options: dict[str, Any]) -> Decision:
    """Same, update or replace, with the inputs that changed and those that force the replacement."""
    ignored = options.get("ignoreChanges") or []
    changed = [p for p in changed_paths(old, new) if not any(_overlaps(p, i) and p.startswith(i) for i in ignored)]
    if not changed:
        return Decision("same")
    table = rules()
    because: list[str] = [p for p in changed if any(_overlaps(p, r) for r in options.get("replaceOnChanges") or [])]
    refused: list[str] = []
    effects: list[str] = []
    known = rules_known(type_)
    if type_.split(":", 1)[0] in SCHEMA_FAMILIES:
        entry = table.get(type_.split(":", 1)[0], {}).get(type_) or {}
        docs = {d["input"]: d for d in entry.get("docs", [])}
        for path in changed:
            top = path.split(".")[0]
            if top in docs:  # the pinned version's documentation wins over the ForceNew flag read
                if docs[top]["replaceWhen"] == "decrease" and _decreased(_value(old, top), _value(new, top)):
                    because.append(path)
                continue
            if any(_hits(path, r, old, new) for r in entry.get("forceNew", [])):
                because.append(path)
        for rule in entry.get("custom", []):
            if rule["replaceWhen"] == "source-kind-changes":
                because += _source_kind_changed(old, new, rule["among"])
                continue
            if rule["replaceWhen"] == "active-cluster-changes":
                if _active_cluster(old.get(rule["input"])) != _active_cluster(new.get(rule["input"])):
                    because += changed  # another cluster: every changed setting is a replacement
                continue
            top = rule["input"]
            if rule["replaceWhen"] == "decrease" and _decreased(_value(old, top), _value(new, top)):
                because.append(top)
    elif type_.startswith("kubernetes:"):
        kind = _k8s_kind(type_)
        force = ["metadata.name", "metadata.namespace", *table["kubernetes"]["forceNew"].get(kind, [])]
        because += [p for p in changed if any(_hits(p, r, old, new) for r in force)]
        for rule in table["kubernetes"]["refused"].get(kind, []):
            for path in changed:
                if not _overlaps(path, rule["path"]) or path in because:
                    continue
                if rule.get("when") == "static-or-shrink":
                    static = _value(new, "spec.storageClassName") == ""
                    if not (static or _decreased(_value(old, rule["path"]), _value(new, rule["path"]))):
                        continue
                refused.append(path)
    elif type_ in table["components"]:
        for rule in table["components"][type_]:
            hits = [p for p in changed if _overlaps(p, rule["input"])]
            if hits and rule.get("except"):
                strip = set(rule["except"])
                if _without(_value(old, rule["input"]), strip) == _without(_value(new, rule["input"]), strip):
                    hits = []
            if not hits:
                continue
            effects.append(f"{rule['input']}: {rule['what']}")
            if rule["action"] == "replace":
                because += hits
            elif rule["action"] == "refused":
                refused += hits
    because = sorted(set(because))
    return Decision(
        "replace" if because else "update",
        changed=changed,
        replace_because=because,
        refused=[] if because else sorted(set(refused)),  # a new object has nothing to refuse
        rules_known=known,
        effects=effects,
    )


def _without(value: Any, keys: set[str]) -> Any:
    """`value` with `keys` removed from every map in it (to compare lists of specs but for their tags)."""
    if isinstance(value, dict):
        return {k: _without(v, keys) for k, v in value.items() if k not in keys}
    if isinstance(value, list):
        return [_without(v, keys) for v in value]
    return value


def parse_sets(stack: str, sets: list[str], root: Path = ROOT) -> dict[str, Any]:
    """`section.key=value` (namespace optional, value as YAML; `null` removes the key) -> whole-key overrides
    for `run_stack`."""
    raw = read_stack_file(stack, root).raw
    overrides: dict[str, Any] = {}
    for item in sets:
        key, sep, text = item.partition("=")
        if not sep:
            raise ValueError(f"--set {item!r}: expected KEY=VALUE, e.g. modelStore.storageCapacityGiB=2400")
        key = key.removeprefix(f"{NAMESPACE}:")
        value = yaml.safe_load(text)
        top, _, rest = key.partition(".")
        full = f"{NAMESPACE}:{top}" if ":" not in top else top
        if not rest:
            # A top-level scalar reaches the program as the CLI's text (`true`, not Python's `True`).
            overrides[full] = ("true" if value else "false") if isinstance(value, bool) else value
            continue
        section = overrides.get(full) or copy.deepcopy(raw.get(full) or {})
        node = section
        parts = rest.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        if value is None:  # KEY=null removes the key (as `pulumi config rm --path`)
            node.pop(parts[-1], None)
        else:
            node[parts[-1]] = value
        overrides[full] = section
    return overrides


def diff_runs(before: RunResult, after: RunResult) -> list[dict[str, Any]]:
    """One entry per resource of either run, in URN order."""
    old = {r.urn: r for r in before.resources}
    new = {r.urn: r for r in after.resources}
    entries = []
    for urn in sorted(set(old) | set(new)):
        if urn not in new:
            d, type_ = Decision("delete"), old[urn].type
        elif urn not in old:
            d, type_ = Decision("create"), new[urn].type
        else:
            type_ = new[urn].type
            d = decide(type_, old[urn].inputs, new[urn].inputs, new[urn].options)
        entries.append(
            {
                "urn": urn,
                "type": type_,
                "action": d.action,
                "changed": d.changed,
                "replaceBecause": d.replace_because,
                "refused": d.refused,
                "rulesKnown": d.rules_known,
                "effects": d.effects,
            }
        )
    return _with_replaced_providers(entries, new)


def _with_replaced_providers(entries: list[dict[str, Any]], new: dict[str, Any]) -> list[dict[str, Any]]:
    """The engine replaces every resource whose provider is replaced (pulumi/pulumi
    pkg/resource/deploy/step_generator.go providerChanged: the new provider's DiffConfig reports a replacement,
    so the resource's diff is a replacement blaming `provider`): a new cluster recreates every Kubernetes object."""
    gone = {e["urn"] for e in entries if e["type"].startswith("pulumi:providers:") and e["action"] == "replace"}
    for e in entries:
        rec = new.get(e["urn"])
        ref = (rec.provider or "").rsplit("::", 1)[0] if rec is not None else ""
        if ref in gone and e["action"] in ("same", "update"):
            e.update(action="replace", replaceBecause=[*e["replaceBecause"], "provider"], refused=[])
    return entries


def diff_stack(
    stack: str,
    sets: list[str],
    out: Path,
    root: Path = ROOT,
    *,
    base: list[str] | None = None,
    before: RunResult | None = None,
) -> list[dict[str, Any]]:
    """Render `stack` as configured (plus the `base` changes: a running stack configured otherwise; or take
    that render as `before`) and with `sets` on top; the per-resource diff."""
    base = list(base or [])
    overrides = parse_sets(stack, [*base, *sets], root)
    before = before or run_stack(stack, root=root, out=out, overrides=parse_sets(stack, base, root))
    old = {r.urn: r for r in before.resources}

    def replaced(urn: str, type_: str, inputs: dict[str, Any], options: dict[str, Any]) -> bool:
        rec = old.get(urn)
        return rec is not None and decide(type_, rec.inputs, inputs, options).action == "replace"

    after = run_stack(stack, root=root, out=out, overrides=overrides, replaced=replaced)
    return diff_runs(before, after)


def table(entries: list[dict[str, Any]]) -> str:
    """The short human summary: counts, then every resource that is not the same."""
    counts = {a: sum(e["action"] == a for e in entries) for a in ACTIONS}
    lines = ["  ".join(f"{a} {n}" for a, n in counts.items())]
    for e in entries:
        if e["action"] == "same":
            continue
        why = e["replaceBecause"] or e["changed"]
        flags = (" REFUSED: " + ", ".join(e["refused"])) if e["refused"] else ""
        flags += "" if e["rulesKnown"] else " (replace rules not vendored)"
        name = e["urn"].rsplit("::", 1)[-1]
        lines.append(f"  {e['action']:8} {e['type']:60} {name}  {', '.join(why)}{flags}")
    return "\n".join(lines)


def diff_command(stack: str, sets: list[str], out: Path, root: Path = ROOT) -> int:
    """`python -m offline diff`: writes build/<stack>/diff.json and prints the table."""
    from stacks.config import ConfigError

    primary = primary_of(stack, root)
    if primary and not (out / primary / "outputs.json").exists():
        print(f"{stack}: render the primary stack first (python -m offline render --stack {primary})", file=sys.stderr)
        return 2
    try:
        entries = diff_stack(stack, sets, out, root)
    except (ConfigError, ValueError) as e:
        print(f"{stack}: {e}", file=sys.stderr)
        return 2
    folder = out / stack
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "diff.json").write_text(json.dumps(entries, indent=2) + "\n")
    print(f"stack {stack}: {', '.join(sets) or 'no change'} -> {folder / 'diff.json'}")
    print(table(entries))
    return 0
