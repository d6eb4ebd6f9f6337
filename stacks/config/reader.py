"""Reading a stack's configuration: the Pulumi runtime's config bag (`load_config`) and, for the offline
render, the `Pulumi.<stack>.yaml` file itself (`read_stack_yaml`).

Both refuse instead of guessing: a YAML syntax error is reported as `file:line:column`, a duplicate key
(which YAML would let silently win) is an error, a key of a misspelt namespace (`inferentia-chats:model`)
is an error rather than a section that quietly vanishes.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import re
from pathlib import Path
from typing import Any

import pulumi
import pulumi_aws
import yaml

from .fields import ConfigError, _Problems, _show
from .rules import MAX_TAGS_PER_RESOURCE, PROGRAM_TAGS
from .schema import CONFIG_NAMESPACE, StackConfig
from .sections import parse_config
from .security import unpinned_warning

# Config namespaces a stack of this program may hold: its own, and the providers' it uses.
PROVIDER_NAMESPACES = ("aws", "awsx", "eks", "kubernetes", "random", "pulumi")
# The AWS provider's own settings (`aws:region`, `aws:profile`...), from the pinned SDK's config module.
AWS_PROVIDER_KEYS = tuple(
    sorted(
        re.sub(r"_([a-z0-9])", lambda m: m.group(1).upper(), name)
        for name in dir(pulumi_aws.config.vars._ExportableConfig)
        if not name.startswith("_")
    )
)
# Top-level keys of a Pulumi stack file (Pulumi docs, "Project and stack settings").
STACK_FILE_KEYS = ("config", "environment", "secretsprovider", "encryptedkey", "encryptionsalt")


# ------------------------------------------------------------------------------------------------
# The Pulumi runtime's config bag.
# ------------------------------------------------------------------------------------------------


def decode_value(value: Any) -> Any:
    """Pulumi hands structured config to programs as JSON text; scalars stay strings (`null` is no value)."""
    if value == "null":
        return None
    if isinstance(value, str) and value[:1] in "[{":
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def key_problems(bag: dict[str, Any], secret: set[str]) -> list[str]:
    """Keys of a namespace this program does not read (a misspelt `inferentia-chat`), and unknown `aws:` keys."""
    problems = _Problems()
    for full in sorted(bag):
        namespace, _, key = full.partition(":")
        value = "[hidden]" if full in secret else _show(decode_value(bag[full]))
        if namespace == CONFIG_NAMESPACE or (namespace in PROVIDER_NAMESPACES and namespace != "aws"):
            continue
        if namespace == "aws":
            if key not in AWS_PROVIDER_KEYS:
                hint = difflib.get_close_matches(key, AWS_PROVIDER_KEYS, n=1)
                suggestion = f" (did you mean aws:{hint[0]}?)" if hint else ""
                problems.items.append(f"{full} = {value}: unknown AWS provider setting{suggestion}")
            continue
        close = difflib.get_close_matches(namespace, [CONFIG_NAMESPACE, *PROVIDER_NAMESPACES], n=1, cutoff=0.6)
        if namespace.replace("_", "-").lower() == CONFIG_NAMESPACE:
            close = [CONFIG_NAMESPACE]
        suggestion = f" (did you mean {close[0]}:{key}?)" if close else ""
        problems.items.append(
            f"{full} = {value}: unknown config namespace {namespace!r}{suggestion}; this program reads "
            f"{CONFIG_NAMESPACE}: and the providers' {', '.join(f'{n}:' for n in PROVIDER_NAMESPACES)}"
        )
    return problems.items


def default_tag_problems(default_tags: Any, cfg: StackConfig) -> list[str]:
    """`aws:defaultTags` land on every resource the AWS provider creates: they count against the 50 with ours."""
    tags = default_tags.get("tags") if isinstance(default_tags, dict) else None
    room = MAX_TAGS_PER_RESOURCE - PROGRAM_TAGS
    if not isinstance(tags, dict) or len(tags) + len(cfg.tags) <= room:
        return []
    return [
        f"aws:defaultTags = {len(tags)} tags: with the {len(cfg.tags)} of {CONFIG_NAMESPACE}:tags must hold at most "
        f"{room} (AWS allows {MAX_TAGS_PER_RESOURCE} tags per resource; the program adds up to {PROGRAM_TAGS})"
    ]


def load_config() -> StackConfig:
    """Read and validate this stack's configuration from the Pulumi runtime (before any resource exists)."""
    from pulumi.runtime import config as runtime_config

    from .zones import zone_problems

    # The SDK has no public "list keys"; the runtime holds the whole bag (set by the CLI through
    # PULUMI_CONFIG, or by the offline engine), which is what lets unknown keys be reported.
    bag = {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}
    secret = {k for k in bag if runtime_config.is_config_secret(k)}
    problems = key_problems(bag, secret)
    prefix = f"{CONFIG_NAMESPACE}:"
    raw = {k[len(prefix) :]: decode_value(v) for k, v in bag.items() if k.startswith(prefix)}
    try:
        cfg = parse_config(
            raw,
            region=bag.get("aws:region"),
            stack=pulumi.get_stack(),
            project=pulumi.get_project(),
            secret_keys=[k for k in raw if f"{prefix}{k}" in secret],
        )
    except ConfigError as e:
        raise ConfigError(problems + e.problems) from None
    problems += default_tag_problems(decode_value(bag.get("aws:defaultTags")), cfg)
    problems += zone_problems(cfg)
    if problems:
        raise ConfigError(problems)
    if cfg.hf_token:
        cfg = dataclasses.replace(cfg, hf_token=pulumi.Config(CONFIG_NAMESPACE).require_secret("hfToken"))
    if cfg.alert_webhook_url:
        cfg = dataclasses.replace(
            cfg, alert_webhook_url=pulumi.Config(CONFIG_NAMESPACE).require_secret("alertWebhookUrl")
        )
    if cfg.oidc_client_secret:
        secret = pulumi.Config(CONFIG_NAMESPACE).require_secret("oidcClientSecret")
        cfg = dataclasses.replace(cfg, oidc_client_secret=secret)
    for warning in cfg.warnings:
        pulumi.log.warn(warning)
    unpinned = unpinned_warning(cfg.environment, cfg.images)
    if unpinned:
        pulumi.log.warn(unpinned)
    return cfg


# ------------------------------------------------------------------------------------------------
# The stack file, for the offline render (the Pulumi CLI reads it itself for `pulumi up`).
# ------------------------------------------------------------------------------------------------


class _StrictLoader(yaml.SafeLoader):
    """Safe YAML that refuses duplicate keys and aliases, and reads scalars as the Pulumi CLI does (YAML 1.2
    core: only true/false are booleans, dates stay strings)."""


_StrictLoader.yaml_implicit_resolvers = {
    first: [
        (tag, regexp)
        for tag, regexp in resolvers
        if tag not in ("tag:yaml.org,2002:bool", "tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:int")
    ]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_StrictLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
# YAML 1.2 core integers: decimal, 0o octal, 0x hex (no YAML 1.1 `1:30` sexagesimal, `010` octal or `1_000`).
_StrictLoader.add_implicit_resolver(
    "tag:yaml.org,2002:int", re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$"), list("-+0123456789")
)


def _int(loader: _StrictLoader, node: yaml.ScalarNode) -> int:
    text = loader.construct_scalar(node)
    if text.startswith(("0x", "0o")):
        return int(text[2:], 16 if text[1] == "x" else 8)
    return int(text, 10)


_StrictLoader.add_constructor("tag:yaml.org,2002:int", _int)


def _mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    seen: dict[Any, yaml.Node] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if not isinstance(key, str | int | float | bool) and key is not None:
            raise yaml.constructor.ConstructorError(None, None, "a key must be text", key_node.start_mark)
        if key in seen:
            first = seen[key].start_mark.line + 1
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key} (first at line {first}): list each key once", key_node.start_mark
            )
        seen[key] = key_node
    return yaml.SafeLoader.construct_mapping(loader, node, deep=deep)


def _no_alias(loader: _StrictLoader, *args: Any, **kwargs: Any) -> Any:
    if loader.check_event(yaml.AliasEvent):
        event = loader.peek_event()
        raise yaml.composer.ComposerError(
            None, None, "anchors and aliases (*name) are not supported in stack files", event.start_mark
        )
    return yaml.SafeLoader.compose_node(loader, *args, **kwargs)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)
_StrictLoader.compose_node = _no_alias  # type: ignore[method-assign]


def _where(path: Path, error: yaml.YAMLError) -> str:
    mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
    problem = getattr(error, "problem", None) or str(error)
    if mark is None:
        position = getattr(error, "position", None)
        reason = getattr(error, "reason", None) or problem
        character = getattr(error, "character", None)
        if isinstance(character, int):  # a code point (ReaderError)
            reason = f"character U+{character:04X}: {reason}"
        where = f" (character {position + 1})" if isinstance(position, int) else ""
        return f"{path.name}: {' '.join(str(reason).split())}{where}"
    return f"{path.name}:{mark.line + 1}:{mark.column + 1}: {' '.join(str(problem).split())}"


def read_stack_yaml(path: Path) -> dict[str, Any]:
    """The `config:` mapping of a stack file, read strictly; raises ConfigError naming file:line:column."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise ConfigError([f"{path.name}: must be UTF-8 text ({e.reason} at byte {e.start})"]) from None
    try:
        document = yaml.load(text, Loader=_StrictLoader)
    except yaml.YAMLError as e:
        raise ConfigError([_where(path, e)]) from None
    except RecursionError:
        raise ConfigError([f"{path.name}: nested too deeply"]) from None
    if document is None:
        return {}
    if not isinstance(document, dict):
        raise ConfigError([f"{path.name} = {_show(document)}: must be a mapping with a config: section"])
    problems = [
        f"{path.name}: {key} = {_show(document[key])}: unknown stack file key; allowed: {', '.join(STACK_FILE_KEYS)}"
        for key in document
        if key not in STACK_FILE_KEYS
    ]
    config = document.get("config")
    if config is None:
        config = {}
    if not isinstance(config, dict):
        problems.append(f"{path.name}: config = {_show(config)}: must be a mapping of <namespace>:<key> to values")
        config = {}
    for key in config:
        if not isinstance(key, str) or not re.fullmatch(r"[A-Za-z0-9_.-]+:[A-Za-z0-9_.-]+", key, re.ASCII):
            problems.append(f"{path.name}: config key {_show(key)}: must be <namespace>:<key>, e.g. aws:region")
    if problems:
        raise ConfigError(problems)
    return config
