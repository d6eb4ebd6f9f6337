"""Every rendered alerting rule through Prometheus's own tool: `promtool check rules` (syntax, PromQL) and
`promtool test rules` with synthetic series proving that each alert fires above its threshold and stays
quiet below it, and that the autoscaler's query returns what the scaler expects.

promtool comes from the Debian package `prometheus` (.ci/run installs it; see docs/operations-monitoring.md).
Thresholds are read from the rendered rules, so a changed threshold is tested at its new value.
"""

from __future__ import annotations

import math
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import Plan

from inferentia_chat import alerts
from inferentia_chat.autoscaling import queue_query

ROOT = Path(__file__).resolve().parent.parent
NS, MODEL, JOB = "inference", "mistral-7b-instruct", "inference/vllm"
VLLM = f'namespace="{NS}",model_name="{MODEL}"'


def promtool() -> str:
    found = shutil.which("promtool")
    if not found:
        pytest.fail("promtool not found: apt-get install -y prometheus (.ci/run does it)")
    return found


def rule_spec(plan: Plan) -> dict[str, Any]:
    (rule,) = plan.k8s("PrometheusRule")
    return rule["spec"]


def rules_by_name(plan: Plan) -> dict[str, dict[str, Any]]:
    return {r["alert"]: r for g in rule_spec(plan)["groups"] for r in g["rules"]}


def threshold(rule: dict[str, Any]) -> float:
    """The number the expression compares with (`... > N`)."""
    return float(rule["expr"].rsplit(">", 1)[1])


def minutes(duration: str) -> int:
    return int(duration.rstrip("m"))


def series(name: str, labels: str, values: str) -> dict[str, str]:
    return {"series": f"{name}{{{labels}}}", "values": values}


def ready(pod: str, value: int) -> dict[str, str]:
    """kube-state-metrics' readiness of a pod (condition true)."""
    return series("kube_pod_status_ready", f'namespace="{NS}",pod="{pod}",condition="true"', f"{value}x20")


def histogram(labels: str, per_minute: dict[str, int]) -> list[dict[str, str]]:
    """TTFT buckets growing by the given counts per minute (cumulative, as Prometheus histograms are)."""
    return [
        series("vllm:time_to_first_token_seconds_bucket", f'{labels},le="{le}"', f"0+{n}x30")
        for le, n in per_minute.items()
    ]


def cases(rules: dict[str, dict[str, Any]]) -> dict[str, tuple[list, list, int, dict[str, str]]]:
    """alert -> (series that make it fire, series that keep it quiet, evaluation minute, the alert's labels
    from the series)."""
    startup = minutes(rules["VllmNoReadyReplica"]["for"])
    queue = threshold(rules["VllmQueueBacklog"])
    kv = threshold(rules["VllmKvCacheFull"])
    ttft = threshold(rules["VllmTimeToFirstTokenHigh"])
    dep = f'namespace="{NS}",deployment="vllm"'
    http = f'job="{JOB}",handler="/v1/chat/completions",method="POST"'
    # TTFT buckets around the target: observations land above it (fire) or well below it (quiet).
    above = {str(ttft * 2): 0, str(ttft * 4): 10, "+Inf": 10}
    below = {str(ttft / 4): 10, str(ttft * 2): 10, "+Inf": 10}
    return {
        "VllmNoReadyReplica": (
            [
                series("kube_deployment_spec_replicas", dep, "1x40"),
                series("kube_deployment_status_replicas_available", dep, "0x40"),
            ],
            # A replica that is available, and a fleet scaled to zero, are both fine.
            [
                series("kube_deployment_spec_replicas", dep, "1x40"),
                series("kube_deployment_status_replicas_available", dep, "1x40"),
            ],
            startup + 2,
            {"namespace": NS, "deployment": "vllm"},
        ),
        "VllmMetricsDown": (
            [series("up", f'job="{JOB}",namespace="{NS}",pod="vllm-a"', "0x20"), ready("vllm-a", 1)],
            # A starting pod (not ready yet) has no metrics for minutes: no alert.
            [series("up", f'job="{JOB}",namespace="{NS}",pod="vllm-a"', "0x20"), ready("vllm-a", 0)],
            10,
            {"job": JOB, "namespace": NS, "pod": "vllm-a"},
        ),
        "VllmQueueBacklog": (
            [
                series("vllm:num_requests_waiting", f'{VLLM},pod="a"', f"{queue + 2}x20"),
                series("vllm:num_requests_waiting", f'{VLLM},pod="b"', f"{queue}x20"),
            ],
            [
                series("vllm:num_requests_waiting", f'{VLLM},pod="a"', f"{queue}x20"),
                series("vllm:num_requests_waiting", f'{VLLM},pod="b"', f"{queue}x20"),
            ],
            10,
            {},
        ),
        "VllmKvCacheFull": (
            [series("vllm:kv_cache_usage_perc", f'{VLLM},pod="a"', f"{kv + 0.05}x30")],
            [series("vllm:kv_cache_usage_perc", f'{VLLM},pod="a"', f"{kv - 0.05}x30")],
            20,
            {},
        ),
        "VllmTimeToFirstTokenHigh": (histogram(VLLM, above), histogram(VLLM, below), 20, {}),
        "VllmServerErrors": (
            [
                series("http_requests_total", f'{http},status="5xx"', "0+6x30"),
                series("http_requests_total", f'{http},status="2xx"', "0+60x30"),
            ],
            [
                series("http_requests_total", f'{http},status="5xx"', "0+1x30"),
                series("http_requests_total", f'{http},status="2xx"', "0+60x30"),
            ],
            20,
            {},
        ),
        "NeuronExecutionErrors": (
            [series("execution_errors_total", 'error_type="hardware",instance_id="i-0abc"', "0+1x20")],
            # Transient errors (corrected ECC) are recoverable and do not page.
            [
                series("execution_errors_total", 'error_type="transient",instance_id="i-0abc"', "0+1x20"),
                series("execution_errors_total", 'error_type="hardware",instance_id="i-0abc"', "3x20"),
            ],
            10,
            {"instance_id": "i-0abc", "error_type": "hardware"},
        ),
        "NeuronUncorrectableEcc": (
            [
                series(
                    "hardware_ecc_events_total",
                    'event_type="mem_ecc_uncorrected",instance_id="i-0abc",neuron_device_index="0"',
                    "0+1x20",
                )
            ],
            [
                series(
                    "hardware_ecc_events_total",
                    'event_type="mem_ecc_corrected",instance_id="i-0abc",neuron_device_index="0"',
                    "0+1x20",
                )
            ],
            10,
            {"instance_id": "i-0abc"},
        ),
        "InferencePodUnschedulable": (
            [series("kube_pod_status_scheduled", f'namespace="{NS}",pod="vllm-x",condition="false"', "1x40")],
            # Placed after a few minutes (a node launched): quiet.
            [series("kube_pod_status_scheduled", f'namespace="{NS}",pod="vllm-x",condition="false"', "1x3 0x37")],
            startup + 2,
            {"namespace": NS, "pod": "vllm-x"},
        ),
    }


def expand(text: str, labels: dict[str, str]) -> str:
    """The annotation as Alertmanager receives it ({{ $labels.x }} filled in)."""
    return re.sub(r"\{\{ \$labels\.(\w+) \}\}", lambda m: labels[m.group(1)], text)


def unit_tests(rules: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    tests = []
    for name, (firing, quiet, at, labels) in cases(rules).items():
        rule = rules[name]
        expected = {**labels, **rule["labels"]}
        annotations = {k: expand(v, expected) for k, v in rule["annotations"].items()}
        for series_set, alerts_ in ((firing, [{"exp_labels": expected, "exp_annotations": annotations}]), (quiet, [])):
            tests.append(
                {
                    "interval": "1m",
                    "input_series": series_set,
                    "alert_rule_test": [{"eval_time": f"{at}m", "alertname": name, "exp_alerts": alerts_}],
                }
            )
    return tests


def run(args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([promtool(), *args], capture_output=True, text=True, timeout=120)


def write_rules(plan: Plan, folder: Path) -> Path:
    path = folder / "rules.yaml"
    path.write_text(yaml.safe_dump(rule_spec(plan), sort_keys=False))
    return path


def test_promtool_accepts_every_rendered_rule(dev: Plan, tmp_path: Path):
    proc = run(["check", "rules", str(write_rules(dev, tmp_path))])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"SUCCESS: {len(rules_by_name(dev))} rules found" in proc.stdout


def test_each_alert_fires_above_its_threshold_and_stays_quiet_below(dev: Plan, tmp_path: Path):
    rules = rules_by_name(dev)
    assert set(cases(rules)) == set(rules), "every rendered alert has a firing and a quiet case"
    write_rules(dev, tmp_path)
    (tmp_path / "tests.yaml").write_text(
        yaml.safe_dump({"rule_files": ["rules.yaml"], "evaluation_interval": "1m", "tests": unit_tests(rules)})
    )
    proc = run(["test", "rules", str(tmp_path / "tests.yaml")])
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_a_wrong_expectation_is_caught_by_promtool(dev: Plan, tmp_path: Path):
    """The harness can fail: the quiet series of the queue alert do not make it fire."""
    rules = rules_by_name(dev)
    _, quiet, at, labels = cases(rules)["VllmQueueBacklog"]
    write_rules(dev, tmp_path)
    wrong = {
        "interval": "1m",
        "input_series": quiet,
        "alert_rule_test": [
            {
                "eval_time": f"{at}m",
                "alertname": "VllmQueueBacklog",
                "exp_alerts": [{"exp_labels": {**labels, **rules["VllmQueueBacklog"]["labels"]}}],
            }
        ],
    }
    (tmp_path / "tests.yaml").write_text(yaml.safe_dump({"rule_files": ["rules.yaml"], "tests": [wrong]}))
    assert run(["test", "rules", str(tmp_path / "tests.yaml")]).returncode != 0


def test_the_scaler_query_sums_the_waiting_requests_of_its_model_only(dev: Plan, tmp_path: Path):
    (scaled,) = dev.k8s("ScaledObject")
    (trigger,) = [t for t in scaled["spec"]["triggers"] if t["type"] == "prometheus"]
    query = trigger["metadata"]["query"]
    assert query == queue_query(NS, MODEL)
    write_rules(dev, tmp_path)
    test = {
        "interval": "1m",
        "input_series": [
            series("vllm:num_requests_waiting", f'{VLLM},pod="vllm-a",engine="0"', "10x10"),
            series("vllm:num_requests_waiting", f'{VLLM},pod="vllm-b",engine="0"', "20x10"),
            # Another model, and another namespace's copy, are not this scaler's business.
            series("vllm:num_requests_waiting", f'namespace="{NS}",model_name="other",pod="o"', "99x10"),
            series("vllm:num_requests_waiting", f'namespace="staging",model_name="{MODEL}",pod="s"', "77x10"),
        ],
        "promql_expr_test": [{"expr": query, "eval_time": "5m", "exp_samples": [{"labels": "{}", "value": 30}]}],
    }
    (tmp_path / "tests.yaml").write_text(yaml.safe_dump({"rule_files": ["rules.yaml"], "tests": [test]}))
    proc = run(["test", "rules", str(tmp_path / "tests.yaml")])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # KEDA hands the sum to the HPA as an AverageValue: 30 waiting over 2 replicas is 15 per replica,
    # compared with the threshold per replica.
    assert trigger["metricType"] == "AverageValue"
    assert math.ceil(30 / float(trigger["metadata"]["threshold"])) >= 1


def test_every_alert_has_a_runbook_section_in_the_docs(dev: Plan):
    doc = (ROOT / alerts.RUNBOOK).read_text()
    anchors = {
        re.sub(r"[^a-z0-9]", "", line.lstrip("#").strip().lower())
        for line in doc.splitlines()
        if line.startswith("### ")
    }
    for name, rule in rules_by_name(dev).items():
        assert rule["annotations"]["runbook"] == f"{alerts.RUNBOOK}#{name.lower()}"
        assert name.lower() in anchors, (
            f"{name}: no '### {name}' section (meaning and first action) in {alerts.RUNBOOK}"
        )
