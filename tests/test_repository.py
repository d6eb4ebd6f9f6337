"""The repository stands alone and keeps its rooms small: what a newcomer reads first stays short and true."""

from __future__ import annotations

import ast
import re
import subprocess
from pathlib import Path

import pulumi

from offline import engine

ROOT = Path(__file__).resolve().parent.parent
LIBRARY = ROOT / "components" / "inferentia_chat"


def tracked_files() -> list[Path]:
    out = subprocess.run(["git", "ls-files"], cwd=ROOT, check=True, capture_output=True, text=True).stdout
    return [ROOT / line for line in out.splitlines() if line]


def test_nothing_refers_to_files_outside_the_repository():
    # Built from parts so this test file does not match itself.
    outside = re.compile(r"\.\./" + "shared|/work/" + "shared")
    found = [
        str(f.relative_to(ROOT))
        for f in tracked_files()
        if f.is_file() and f.suffix not in (".whl", ".png") and outside.search(f.read_text(errors="ignore"))
    ]
    assert found == []


def test_the_readme_is_short_and_every_document_it_points_to_exists():
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) < 200
    links = re.findall(r"\]\(((?:docs/)?[\w./-]+\.md)(?:#[\w-]+)?\)", readme)
    assert links and all((ROOT / link).is_file() for link in links), links
    for doc in ("operations", "disaster-recovery", "library", "testing", "render-contract", "design-notes"):
        assert f"docs/{doc}.md" in links, doc


def test_library_modules_classes_and_constructors_stay_small():
    """No module over 500 lines, no component class over 300, no constructor over 80: in the library and in
    the program's composition and configuration (stacks/)."""
    problems = []
    for path in [*LIBRARY.rglob("*.py"), *(ROOT / "stacks").rglob("*.py")]:
        source = path.read_text()
        rel = path.relative_to(ROOT)
        if source.count("\n") > 500:
            problems.append(f"{rel}: {source.count(chr(10))} lines")
        for node in ast.walk(ast.parse(source)):
            if not isinstance(node, ast.ClassDef):
                continue
            if node.end_lineno - node.lineno + 1 > 300:
                problems.append(f"{rel}: class {node.name}")
            inits = [f for f in node.body if isinstance(f, ast.FunctionDef) and f.name == "__init__"]
            problems += [f"{rel}: {node.name}.__init__" for f in inits if f.end_lineno - f.lineno + 1 > 80]
    assert problems == []


def test_the_library_usage_example_runs_as_written():
    """The first Python block of docs/library.md, under the offline engine: store, volume and loader."""
    doc = (ROOT / "docs" / "library.md").read_text()
    code = re.findall(r"```python\n(.*?)```", doc, re.S)[0]
    result = engine.install().run(
        lambda: exec(compile(code, "docs/library.md", "exec"), {"pulumi": pulumi}),
        project="example",
        stack="docs",
        config={"aws:region": "us-east-1"},
    )
    types = {r.type for r in result.resources}
    assert {
        "inferentia-chat:index:LustreModelStore",
        "inferentia-chat:index:ModelVolume",
        "inferentia-chat:index:ModelLoader",
        "aws:fsx/lustreFileSystem:LustreFileSystem",
        "kubernetes:core/v1:PersistentVolumeClaim",
        "kubernetes:batch/v1:Job",
    } <= types
