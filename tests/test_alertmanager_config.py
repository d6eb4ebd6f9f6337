"""The rendered Alertmanager configuration through Alertmanager's own parser (`amtool check-config`, Debian
package `prometheus-alertmanager`, which .ci/run installs).

Debian's amtool is 0.25; the chart runs Alertmanager v0.34.0 (kube-prometheus-stack 88.5.3 values). The SNS
receiver (with SigV4) and the no-receiver variant parse with 0.25; the webhook receiver's `url_file` is newer
(0.26) than that parser, so tests/test_monitoring.py checks its shape instead.
"""

from __future__ import annotations

import copy
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from conftest import Plan, plan_for


def amtool() -> str:
    found = shutil.which("amtool")
    if not found:
        pytest.fail("amtool not found: apt-get install -y prometheus-alertmanager (.ci/run does it)")
    return found


def check(config: dict, folder: Path) -> subprocess.CompletedProcess[str]:
    path = folder / "alertmanager.yaml"
    path.write_text(yaml.safe_dump(config))
    return subprocess.run([amtool(), "check-config", str(path)], capture_output=True, text=True, timeout=60)


def rendered(plan: Plan) -> dict:
    release = plan.one("kubernetes:helm.sh/v3:Release", "monitoring-stack")
    return release.inputs["values"]["alertmanager"]["config"]


def test_the_sns_routing_parses_in_alertmanager(dev: Plan, tmp_path: Path):
    config = rendered(dev)
    assert "sns_configs" in {k for r in config["receivers"] for k in r}
    proc = check(config, tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "2 receivers" in proc.stdout


def test_the_routing_without_a_receiver_parses_too(tmp_path: Path):
    config = rendered(plan_for(**{"inferentia-chat:monitoring": {"alertTarget": "none"}}))
    assert all(set(r) == {"name"} for r in config["receivers"])
    proc = check(config, tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_a_broken_route_is_refused(dev: Plan, tmp_path: Path):
    config = copy.deepcopy(rendered(dev))  # the dev plan is shared by the whole session: never edit it
    config["route"]["receiver"] = "nobody"
    assert check(config, tmp_path).returncode != 0
