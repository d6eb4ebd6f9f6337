"""Render a mutated stack file the way a user would (`python -m offline render --stack case`), in-process.

Shared by the regression corpus (tests/config_corpus.yaml) and the property-based test: a temporary project
folder holds the real Pulumi.yaml, __main__.py and shipped stack files plus the case's own `Pulumi.<name>.yaml`;
the render's exit code and stderr are what the user sees.
"""

from __future__ import annotations

import contextlib
import io
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from offline.render import main as render_main

ROOT = Path(__file__).resolve().parent.parent

# One line per problem, as the render prints them: `<key> = <value>: <allowed>`, `<key> is required: ...`,
# or a stack file's own problem `Pulumi.<stack>.yaml[:line:column]: ...`.
PROBLEM_LINE = re.compile(
    r"  - (?:(?P<key>[^\s=][^=]*?) (?:= .+|is required): .+|Pulumi\.[^\s:]+\.yaml(?::\d+:\d+)?: .+)"
)


@dataclass
class Outcome:
    code: int
    out: str
    err: str

    @property
    def problems(self) -> list[str]:
        return [line for line in self.err.splitlines() if line.startswith("  - ")]


def project(tmp: Path, build: Path | None = None) -> Path:
    """A project folder with the real program and shipped stack files; `build` (a rendered dev) is linked
    in as its build folder so a DR case finds its primary's outputs."""
    for name in ("Pulumi.yaml", "__main__.py", "Pulumi.dev.yaml", "Pulumi.dev-dr.yaml"):
        shutil.copy(ROOT / name, tmp / name)
    if build is not None:
        (tmp / "build").mkdir(exist_ok=True)
        shutil.copytree(build / "dev", tmp / "build" / "dev", dirs_exist_ok=True)
    return tmp


def render_text(folder: Path, text: str, stack: str = "case", encoding: str = "utf-8") -> Outcome:
    """Write `Pulumi.<stack>.yaml` with `text` and render only that stack."""
    (folder / f"Pulumi.{stack}.yaml").write_bytes(text.encode(encoding, errors="surrogateescape"))
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = render_main(["render", "--stack", stack, "--out", str(folder / "build")], root=folder)
    (folder / f"Pulumi.{stack}.yaml").unlink()
    return Outcome(code, out.getvalue(), err.getvalue())


def assert_refused_well(outcome: Outcome, stack: str = "case") -> None:
    """Exit 2, no traceback, one well-formed line per problem, and the summary names the failed stack."""
    assert outcome.code == 2, (outcome.code, outcome.err[-2000:])
    assert "Traceback" not in outcome.err and "Traceback" not in outcome.out, outcome.err
    assert outcome.problems, outcome.err
    for line in outcome.problems:
        assert PROBLEM_LINE.fullmatch(line), f"not a one-line problem naming a key: {line!r}"
    assert outcome.err.rstrip().endswith(f"render failed for 1 stack(s): {stack}"), outcome.err[-500:]
