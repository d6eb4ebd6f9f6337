"""Render a stack offline: run the real program under the offline engine and write what it would create.

    python -m offline render --stack dev [--stack dev-dr] [--out build] [--measured measured.json] [--preview]
    python -m offline phases --kubeconfig ~/.kube/config [--namespace inference] [--stack dev] [--json out.json]
                             [--bucket B [--compile-host-group G --artifacts-prefix P] [--region R]]
    python -m offline diff --stack dev --set modelStore.storageCapacityGiB=2400   (offline/diff.py)

writes, per stack, build/<stack>/resources.json, kubernetes.yaml and outputs.json (the render contract in
docs/render-contract.md) and prints a summary. Secret values never reach a file: they are written as [secret].
A stack whose configuration (or stack file) is invalid prints its problems, one line each, and stops only
its own render; the others still render, and the command exits 2 naming the stacks that failed.
"""

from __future__ import annotations

import argparse
import json
import runpy
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from stacks.config import CONFIG_NAMESPACE, ConfigError, decode_value, parse_config, read_stack_yaml
from stacks.config.rules import STACK_PART, matches

from . import budget, cloud, cost
from .engine import SECRET, RunResult, install

ROOT = Path(__file__).resolve().parent.parent
# What a `secure:` value becomes: it cannot be decrypted offline, and never appears in a render.
SECRET_PLACEHOLDER = "offline-placeholder-secret"
_K8S_EXCLUDED = ("kubernetes:helm.sh/",)  # Helm releases stay in resources.json with their values


@dataclass
class StackFile:
    """A stack's configuration as the Pulumi CLI would hand it to the program."""

    project: str
    stack: str
    config: dict[str, str]
    secret_keys: list[str]
    raw: dict[str, Any]


def read_stack_file(stack: str, root: Path = ROOT) -> StackFile:
    """Read Pulumi.yaml and Pulumi.<stack>.yaml (strictly: duplicate keys and syntax errors are ConfigErrors
    naming file:line:column). Objects become JSON text and scalars strings, as the CLI passes them;
    `secure:` values become a placeholder marked secret (they cannot be decrypted here).
    """
    project = yaml.safe_load((root / "Pulumi.yaml").read_text())["name"]
    if not matches(STACK_PART, stack):
        raise ConfigError([f"stack name {stack!r}: must be 1-100 letters, digits, _ . or - (Pulumi stack names)"])
    path = root / f"Pulumi.{stack}.yaml"
    if not path.is_file():
        raise ConfigError([f"{path.name}: no such stack file (stacks here: {', '.join(list_stacks(root))})"])
    raw = read_stack_yaml(path)
    config: dict[str, str] = {}
    secret_keys: list[str] = []
    for key, value in raw.items():
        if isinstance(value, dict) and set(value) == {"secure"}:
            config[key] = SECRET_PLACEHOLDER
            secret_keys.append(key)
        elif value is None:
            config[key] = "null"
        elif isinstance(value, dict | list):
            # A secure value nested in an object makes the whole key a secret, as the CLI does.
            opened, nested = _open_secrets(value)
            config[key] = json.dumps(opened, default=str)
            if nested:
                secret_keys.append(key)
        elif isinstance(value, bool):
            config[key] = "true" if value else "false"
        else:
            config[key] = str(value)
    return StackFile(project=project, stack=stack, config=config, secret_keys=secret_keys, raw=raw)


def _open_secrets(value: Any) -> tuple[Any, bool]:
    """`value` with each nested `secure:` value replaced by the placeholder, and whether there was one."""
    if isinstance(value, dict) and set(value) == {"secure"}:
        return SECRET_PLACEHOLDER, True
    if isinstance(value, dict):
        pairs = {k: _open_secrets(v) for k, v in value.items()}
        return {k: v for k, (v, _) in pairs.items()}, any(found for _, found in pairs.values())
    if isinstance(value, list):
        items = [_open_secrets(v) for v in value]
        return [v for v, _ in items], any(found for _, found in items)
    return value, False


def list_stacks(root: Path = ROOT) -> list[str]:
    """Stack names that have a Pulumi.<stack>.yaml in the project."""
    return sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in root.glob("Pulumi.*.yaml"))


def run_stack(
    stack: str,
    *,
    root: Path = ROOT,
    overrides: dict[str, Any] | None = None,
    out: Path | None = None,
    preview: bool = False,
    replaced: Callable[[str, str, dict[str, Any], dict[str, Any]], bool] | None = None,
) -> RunResult:
    """Run the real __main__.py for `stack` under the offline engine.

    `overrides` replace whole config keys (objects as dicts), for tests of configuration variants.
    `preview` runs it as `pulumi preview` on an empty stack (values providers compute are unknown).
    `replaced` is the offline diff's test of whether a registration replaces an earlier run's resource.
    A DR stack's StackReference is answered from `<out>/<primary>/outputs.json`, rendering the primary
    first when that file does not exist.
    """
    sf = read_stack_file(stack, root)
    config, secret_keys = dict(sf.config), list(sf.secret_keys)
    for key, value in (overrides or {}).items():
        if value is None:
            config.pop(key, None)
        elif isinstance(value, dict) and set(value) == {"secure"}:  # as `pulumi config set --secret` stores it
            config[key] = str(value["secure"])
            secret_keys.append(key)
        else:
            config[key] = json.dumps(value) if isinstance(value, dict | list) else str(value)
    out = out or root / "build"

    def stack_outputs(name: str) -> dict[str, Any]:
        primary = name.rsplit("/", 1)[-1]
        file = out / primary / "outputs.json"
        if not file.exists():
            raise LookupError(
                f"StackReference {name}: no {file}; render the primary stack first (render --stack {primary})"
            )
        return json.loads(file.read_text())

    engine = install()
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    result = engine.run(
        lambda: runpy.run_path(str(root / "__main__.py"), run_name="__main__"),
        project=sf.project,
        stack=stack,
        config=config,
        secret_keys=secret_keys,
        stack_outputs=stack_outputs,
        preview=preview,
        replaced=replaced,
    )
    result.config = config
    result.secret_keys = secret_keys
    result.project = sf.project
    return result


def stack_config(result: RunResult):
    """The validated configuration a run used (as the program itself parsed it, secrets included)."""
    prefix = f"{CONFIG_NAMESPACE}:"
    raw = {k[len(prefix) :]: decode_value(v) for k, v in result.config.items() if k.startswith(prefix)}
    return parse_config(
        raw,
        region=result.config.get("aws:region"),
        stack=result.stack,
        project=result.project or CONFIG_NAMESPACE,
        secret_keys=[k[len(prefix) :] for k in result.secret_keys if k.startswith(prefix)],
    )


def primary_of(stack: str, root: Path = ROOT) -> str | None:
    """The primary stack a DR stack file points to, if it is one (None for a file that does not read: its
    own render reports why)."""
    try:
        raw = read_stack_file(stack, root).raw
    except ConfigError:
        return None
    if str(raw.get(f"{CONFIG_NAMESPACE}:role")) != "dr":
        return None
    dr = raw.get(f"{CONFIG_NAMESPACE}:dr") or {}
    name = dr.get("primaryStack") if isinstance(dr, dict) else None
    primary = name.rsplit("/", 1)[-1] if isinstance(name, str) else ""
    return primary if matches(STACK_PART, primary) else None  # else the stack's configuration check says why


def kubernetes_objects(result: RunResult) -> list[dict[str, Any]]:
    """Every Kubernetes object the stack creates, as it would be applied, secrets masked.

    In a stable order (namespaces first, then by URN): registration order varies from run to run.
    """
    objects = []
    for rec in sorted(result.resources, key=lambda r: (r.type != "kubernetes:core/v1:Namespace", r.urn)):
        if not rec.type.startswith("kubernetes:") or rec.type.startswith(_K8S_EXCLUDED):
            continue
        obj = dict(rec.inputs)
        meta = dict(obj.get("metadata") or {})
        meta.setdefault("name", cloud.autoname(rec.name))
        obj["metadata"] = meta
        if obj.get("kind") == "Secret":
            for section in ("data", "stringData"):
                if isinstance(obj.get(section), dict):
                    obj[section] = {k: SECRET for k in obj[section]}
                elif section in obj:
                    obj[section] = {}  # a wholly secret map whose keys are unknown offline
        ordered = {k: obj.pop(k) for k in ("apiVersion", "kind", "metadata") if k in obj}
        objects.append({**ordered, **obj})
    return objects


def sorted_records(result: RunResult) -> list[dict[str, Any]]:
    """Records in a stable order (the stack first, then by URN, which groups them by component)."""
    records = [r.as_dict() for r in result.resources]
    return sorted(records, key=lambda r: (r["type"] != "pulumi:pulumi:Stack", r["urn"]))


def write_render(result: RunResult, out: Path) -> Path:
    """Write the three files of the render contract for one stack; returns the stack's folder."""
    folder = out / result.stack
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "resources.json").write_text(json.dumps(sorted_records(result), indent=2) + "\n")
    objects = kubernetes_objects(result)
    (folder / "kubernetes.yaml").write_text(
        yaml.safe_dump_all(objects, sort_keys=False, default_flow_style=False) if objects else ""
    )
    (folder / "outputs.json").write_text(json.dumps(result.outputs_for_file(), indent=2) + "\n")
    return folder


def summary(result: RunResult, folder: Path) -> str:
    """The short human summary printed after a render."""
    counts = Counter(r.type for r in result.resources)
    lines = [f"stack {result.stack}: {len(result.resources)} resources -> {folder}"]
    lines += [f"  {n:4d}  {t}" for t, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]
    outputs = result.outputs_for_file()
    endpoint_keys = [k for k in outputs if k.lower().endswith(("url", "endpoint", "command"))]
    if endpoint_keys:
        lines.append("endpoints:")
        lines += [f"  {k}: {outputs[k]}" for k in endpoint_keys]
    lines.append("outputs: " + ", ".join(f"{k}{' (secret)' if outputs[k] == SECRET else ''}" for k in outputs))
    lines.append(
        "placeholders: every id, ARN, DNS name, endpoint and generated value is offline-made "
        f"(account {cloud.FAKE_ACCOUNT}, hashed ids); secret values are written as {SECRET}."
    )
    return "\n".join(lines)


def _primary_problem(stack: str, primary: str | None, failed: list[str], root: Path) -> str | None:
    """Why a DR stack cannot render before its program runs: its primary has no stack file or did not render."""
    if primary is None or primary == stack:
        return None  # not a DR stack, or one naming itself: its configuration check says so
    key = f"{CONFIG_NAMESPACE}:dr.primaryStack"
    if not (root / f"Pulumi.{primary}.yaml").is_file():
        return f"{key} = {primary!r}: no stack file Pulumi.{primary}.yaml here (stacks: {', '.join(list_stacks(root))})"
    if primary in failed:
        return f"{key} = {primary!r}: the primary stack failed to render; fix it first"
    return None


def render(
    stacks: list[str],
    out: Path,
    root: Path = ROOT,
    measured: dict[str, Any] | None = None,
    *,
    preview: bool = False,
) -> int:
    """Render each stack (a DR stack's primary first when needed); returns the exit code.

    A stack with invalid configuration prints its problems and stops only its own render; the exit code is
    2 when any stack failed, and the last line names them.
    """
    order: list[str] = []
    for stack in stacks:
        primary = primary_of(stack, root)
        if (
            primary
            and primary != stack
            and primary not in order
            and primary not in stacks
            and (root / f"Pulumi.{primary}.yaml").is_file()
            and not (out / primary / "outputs.json").exists()
        ):
            order.append(primary)
        if stack not in order:
            order.append(stack)
    failed: list[str] = []
    for stack in order:
        try:
            problem = _primary_problem(stack, primary_of(stack, root), failed, root)
            if problem:
                raise ConfigError([problem])
            result = run_stack(stack, root=root, out=out, preview=preview)
        except ConfigError as e:
            print(f"{stack}: {e}", file=sys.stderr)
            failed.append(stack)
            continue
        folder = write_render(result, out)
        cfg = stack_config(result)
        report = budget.budget(result, cfg, measured)
        (folder / "budget.json").write_text(json.dumps(report, indent=2) + "\n")
        bill = cost.cost(result, cfg)
        (folder / "cost.json").write_text(json.dumps(bill, indent=2) + "\n")
        print(summary(result, folder))
        for warning in cfg.warnings:
            print(f"warning: {warning}")
        print(budget.summary(report))
        print(cost.summary(bill))
    if failed:
        print(f"render failed for {len(failed)} stack(s): {', '.join(failed)}", file=sys.stderr)
        return 2
    return 0


def main(argv: list[str] | None = None, root: Path = ROOT) -> int:
    parser = argparse.ArgumentParser(prog="python -m offline", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    r = sub.add_parser("render", help="render stacks offline into build/<stack>/")
    r.add_argument("--stack", action="append", help="stack name (repeatable); default: every Pulumi.<stack>.yaml")
    r.add_argument("--out", default=str(root / "build"), help="output folder (default: build)")
    r.add_argument("--measured", help="a `phases --json` file: its measured phases replace the budget's estimates")
    r.add_argument(
        "--preview",
        action="store_true",
        help="as `pulumi preview` on an empty stack: values providers compute are [unknown]",
    )
    p = sub.add_parser("phases", help="measured start-up phases of a deployed stack, beside the budget")
    p.add_argument("--kubeconfig", help="kubeconfig file (default: $KUBECONFIG or ~/.kube/config)")
    p.add_argument("--context", help="kubeconfig context (default: the current one)")
    p.add_argument("--namespace", default="inference", help="namespace of the serving pods (default: inference)")
    p.add_argument("--stack", help="compare with build/<stack>/budget.json (render it first)")
    p.add_argument("--json", help="write the measured phases here (input of render --measured)")
    p.add_argument("--out", default=str(root / "build"), help="render output folder (default: build)")
    p.add_argument(
        "--from",
        dest="from_dir",
        help="read events.json, pods.json, jobs.json, nodeclaims.json saved with `kubectl get ... -o json` instead",
    )
    p.add_argument("--bucket", help="the model bucket (modelBucketName): also measure the compile hosts, with boto3")
    p.add_argument("--compile-host-group", help="a compile host's Auto Scaling group (default: those of --stack)")
    p.add_argument(
        "--artifacts-prefix", help="its artifact prefix in the bucket (modelObjects.<name>.compiledArtifacts)"
    )
    p.add_argument("--region", help="AWS region of the compile hosts (default: the stack's)")
    d = sub.add_parser("diff", help="what a config change does to a running stack: build/<stack>/diff.json")
    d.add_argument("--stack", required=True, help="stack name")
    d.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="e.g. modelStore.storageCapacityGiB=2400"
    )
    d.add_argument("--out", default=str(root / "build"), help="output folder (default: build)")
    t = sub.add_parser("stacks-table", help="the README's table of every stack's budget and cost (render first)")
    t.add_argument("--out", default=str(root / "build"), help="render output folder (default: build)")
    t.add_argument("--write", action="store_true", help="replace the table in README.md instead of printing it")
    args = parser.parse_args(argv)
    if args.command == "stacks-table":
        from . import stacks_table

        text = stacks_table.table(Path(args.out), list_stacks(root))
        if not args.write:
            print(text)
            return 0
        readme = root / "README.md"
        readme.write_text(stacks_table.replace_table(readme.read_text(), text))
        return 0
    if args.command == "phases":
        from .phases import main_phases

        return main_phases(args, Path(args.out))
    if args.command == "diff":
        from .diff import diff_command

        return diff_command(args.stack, args.set, Path(args.out), root)
    measured = json.loads(Path(args.measured).read_text()) if args.measured else None
    stacks = args.stack or list_stacks(root)
    # Primaries first, so their outputs are fresh when their DR stacks read them.
    stacks.sort(key=lambda s: primary_of(s, root) is not None)
    return render(stacks, Path(args.out), root, measured, preview=args.preview)
