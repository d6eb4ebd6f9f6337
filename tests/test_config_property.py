"""Property: whatever a user does to a shipped stack file (wrong types, boundaries, unicode, whitespace,
deletions, duplicated and misspelt keys), the render either succeeds with output that passes the schema and
naming checks, or exits 2 with one key-naming line per problem. Never a traceback.

Hypothesis with a fixed seed and a bounded number of examples, so it is part of the default test run.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from config_cases import ROOT, Outcome, assert_refused_well, project, render_text
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st
from test_kubernetes_schema import validate_strict

from stacks.config.rules import CLUSTER_NAME, MAX_TAGS_PER_RESOURCE, TAG_KEY_MAX, TAG_VALUE_MAX, tag_text_problem

BASES = {name: yaml.safe_load((ROOT / f"Pulumi.{name}.yaml").read_text())["config"] for name in ("dev", "dev-dr")}
DNS_1123 = re.compile(r"[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?", re.ASCII)

# Values a user might type anywhere: boundaries, wrong types, unicode, whitespace, injection strings.
ODD_VALUES = st.one_of(
    st.sampled_from([0, -1, 1, 2, 3, 6, 7, 64, 65, 2**31, 10**12, 0.5, True, False, None, "", " ", "null"]),
    st.sampled_from(["yes", "no", "1.36", "us-east-١", "ｕｓ-east-1", "\u200b", "a\nb", "../..", "$(id)", "'; --"]),
    st.sampled_from(["0.0.0.0/0", "10.0.0.0/8", "🚀", "inf2.xlarge", "m7i.large", "/..", "s3://b/../x", "x" * 300]),
    st.text(max_size=12),
    st.lists(st.sampled_from(["a", "", "inf2.xlarge", "203.0.113.0/24", 1]), max_size=3),
    st.dictionaries(st.sampled_from(["a", "id", "replicas"]), st.integers(-2, 3), max_size=2),
)


def paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    """Every place in the config tree a mutation can touch."""
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, child in value.items():
            found += paths(child, (*prefix, key))
    elif isinstance(value, list):
        for i, child in enumerate(value):
            found += paths(child, (*prefix, i))
    return found


def parent_of(config: dict, path: tuple) -> Any:
    node: Any = config
    for part in path[:-1]:
        node = node[part]
    return node


def misspell(key: Any, how: int) -> Any:
    if not isinstance(key, str) or len(key) < 2:
        return f"{key}x"
    if how == 0:
        return key[1] + key[0] + key[2:]
    if how == 1:
        return key.upper()
    if how == 2:
        return key.replace(":", "s:", 1) if ":" in key else key + "s"
    return key[:-1]


@st.composite
def mutated_stack(draw: st.DrawFn) -> tuple[str, str]:
    base = draw(st.sampled_from(sorted(BASES)))
    config = copy.deepcopy(BASES[base])
    duplicate = ""
    for _ in range(draw(st.integers(1, 3))):
        where = draw(st.sampled_from(paths(config)))
        parent, last = parent_of(config, where), where[-1]
        kind = draw(st.sampled_from(["replace", "replace", "whitespace", "delete", "misspell", "duplicate", "add"]))
        if kind == "replace":
            parent[last] = draw(ODD_VALUES)
        elif kind == "whitespace" and isinstance(parent[last], str):
            space = draw(st.sampled_from([" ", "\n", "\t", "\u00a0", "\r\n"]))
            parent[last] = draw(st.sampled_from([space + parent[last], parent[last] + space]))
        elif kind == "delete" and isinstance(parent, dict):
            del parent[last]
        elif kind == "delete" and isinstance(parent, list):
            parent.pop(last)
        elif kind == "misspell" and isinstance(parent, dict):
            parent[misspell(last, draw(st.integers(0, 3)))] = parent.pop(last)
        elif kind == "duplicate" and len(where) == 1:
            duplicate = yaml.safe_dump({last: draw(ODD_VALUES)}, allow_unicode=True)
        elif kind == "add" and isinstance(parent, dict):
            parent[draw(st.sampled_from(["extra", "replica", "id", "Region"]))] = draw(ODD_VALUES)
    text = yaml.safe_dump({"config": config}, sort_keys=False, allow_unicode=True)
    if duplicate:
        text += "".join(f"  {line}\n" for line in duplicate.splitlines())
    return base, text


def check_render(folder: Path) -> None:
    """A successful render passes the checks every shipped render passes: schemas, names, tags."""
    resources = json.loads((folder / "resources.json").read_text())
    urns = [r["urn"] for r in resources]
    assert len(urns) == len(set(urns))
    for obj in yaml.safe_load_all((folder / "kubernetes.yaml").read_text()):
        if obj:
            validate_strict(obj)
            assert DNS_1123.fullmatch(obj["metadata"]["name"]), obj["metadata"]["name"]
    for record in resources:
        if record["type"] == "aws:eks/cluster:Cluster" or record["type"] == "eks:index:Cluster":
            name = record["inputs"].get("name")
            assert name is None or CLUSTER_NAME.fullmatch(name), name
        tags = record["inputs"].get("tags")
        if isinstance(tags, dict):
            assert len(tags) <= MAX_TAGS_PER_RESOURCE, record["name"]
            for key, value in tags.items():
                assert not tag_text_problem(key, TAG_KEY_MAX, empty_ok=False), (record["name"], key)
                assert not isinstance(value, str) or not tag_text_problem(value, TAG_VALUE_MAX, empty_ok=True)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory, rendered: Path) -> Path:
    return project(tmp_path_factory.mktemp("property"), rendered)


def test_mutated_stack_files_render_or_are_refused_well(folder: Path):
    outcomes: list[int] = []

    @seed(20261202)
    @settings(
        max_examples=50,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(mutated_stack())
    def property_holds(case: tuple[str, str]) -> None:
        _, text = case
        outcome: Outcome = render_text(folder, text, "mutant")
        assert "Traceback" not in outcome.err + outcome.out, outcome.err
        assert outcome.code in (0, 2), (outcome.code, outcome.err[-3000:], text)
        if outcome.code == 0:
            check_render(folder / "build" / "mutant")
        else:
            assert_refused_well(outcome, "mutant")
        outcomes.append(outcome.code)

    property_holds()
    # The mutations exercise both sides: most are refused, some still render.
    assert 0 in outcomes and 2 in outcomes, outcomes
