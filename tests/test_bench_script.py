"""scripts/bench_render.py runs the render and the diff it times (not their speed: that is the script's job)."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_benchmark_times_render_and_diff_of_a_stack_once(tmp_path: Path):
    # dev-dr: the quickest shipped stack (~10 s here), and the one whose primary the script must render first.
    done = subprocess.run(
        [sys.executable, "scripts/bench_render.py", "--stack", "dev-dr", "--repeat", "1", "--out", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    rows = [
        line.split(" | ")
        for line in done.stdout.splitlines()
        if line.startswith("| render") or line.startswith("| diff")
    ]
    assert [(r[0], r[1]) for r in rows] == [("| render", "dev-dr"), ("| diff", "dev-dr")]
    assert rows[1][2] == "`dr.alarmEmail=oncall@example.com`" and rows[0][-1] == "1 |"
    assert all(float(r[3].removesuffix(" s")) > 0 for r in rows)
    # The diff ran for real: its report is where the command writes it, and the primary was rendered first.
    assert (tmp_path / "dev-dr" / "diff.json").is_file() and (tmp_path / "dev" / "outputs.json").is_file()
