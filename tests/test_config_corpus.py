"""The regression corpus: every named bad stack file in tests/config_corpus.yaml is refused by the render
with exit code 2, one line per problem naming the key as the user wrote it, and no traceback."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from config_cases import ROOT, assert_refused_well, project, render_text

CASES: list[dict[str, Any]] = yaml.safe_load((Path(__file__).parent / "config_corpus.yaml").read_text("utf-8"))


def stack_text(case: dict[str, Any]) -> str:
    """The case's stack file: its own text, or a shipped stack file with keys set, merged, removed, appended."""
    if "text" in case:
        return case["text"]
    document = yaml.safe_load((ROOT / f"Pulumi.{case.get('base', 'dev')}.yaml").read_text())
    config = document["config"]
    for key in case.get("remove", []):
        config.pop(key, None)
    for key, value in (case.get("set") or {}).items():
        config[key] = value
    for key, value in (case.get("merge") or {}).items():
        merged = copy.deepcopy(config.get(key) or {})
        merged.update({k: v for k, v in value.items() if v is not None})
        for k in [k for k, v in value.items() if v is None]:
            merged.pop(k, None)
        config[key] = merged
    return yaml.safe_dump(document, sort_keys=False, allow_unicode=True) + case.get("append", "")


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory, rendered: Path) -> Path:
    return project(tmp_path_factory.mktemp("corpus"), rendered)


def test_the_corpus_is_large_and_names_unique():
    names = [c["name"] for c in CASES]
    assert len(names) >= 150 and len(set(names)) == len(names)
    assert all(c.get("expect") for c in CASES)


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_bad_stack_file_is_refused_naming_the_key(folder: Path, case: dict[str, Any]):
    stack = case.get("stack", "case")
    outcome = render_text(folder, stack_text(case), stack, encoding=case.get("encoding", "utf-8"))
    assert_refused_well(outcome, stack)
    naming = [line for line in outcome.problems if case["expect"] in line]
    assert naming, f"no problem names {case['expect']!r}:\n{outcome.err}"
    if "says" in case:
        assert any(case["says"] in line for line in naming), f"{case['says']!r} not in {naming}"
    for secret in case.get("hidden", []):
        assert secret not in outcome.err


def test_a_bad_stack_file_stops_only_its_own_render(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    from offline.render import main as render_main

    folder = project(tmp_path)
    (folder / "Pulumi.broken.yaml").write_text("config:\n  aws:region: us-east-1\n  aws:region: us-west-2\n")
    (folder / "Pulumi.typo.yaml").write_text("config:\n  aws:region: us-east-1\n  inferentia_chat:model: {}\n")
    code = render_main(["render", "--out", str(folder / "build")], root=folder)
    out, err = capsys.readouterr()
    assert code == 2
    for good in ("dev", "dev-dr"):  # the DR stack's primary rendered first, then the DR stack itself
        assert (folder / "build" / good / "resources.json").exists() and f"stack {good}:" in out
    assert not (folder / "build" / "broken").exists() and not (folder / "build" / "typo").exists()
    assert "Pulumi.broken.yaml:3:3: duplicate key aws:region" in err
    assert "inferentia_chat:model = {}: unknown config namespace" in err
    assert err.rstrip().endswith("render failed for 2 stack(s): broken, typo")
    assert "Traceback" not in err
