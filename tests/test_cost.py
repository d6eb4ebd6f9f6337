"""cost.json: the monthly estimate of every shipped stack, its arithmetic and its price table."""

import json
from pathlib import Path

import pytest
import yaml
from conftest import plan_for

from inferentia_chat import hardware
from offline import cost, stacks_table
from offline.render import list_stacks, stack_config
from offline.render import main as render_main

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def rendered_stacks(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every shipped stack rendered as `make render` does."""
    out = tmp_path_factory.mktemp("build")
    assert render_main(["render", "--out", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def bills(rendered_stacks: Path) -> dict[str, dict]:
    return {s: json.loads((rendered_stacks / s / "cost.json").read_text()) for s in list_stacks()}


def test_the_readme_table_is_what_the_program_renders(rendered_stacks: Path):
    """The README's stacks table (budget and cost of every shipped stack) is the current render's: a change
    that moves a figure must come with `make render` (which rewrites it)."""
    readme = (ROOT / "README.md").read_text()
    expected = stacks_table.table(rendered_stacks, list_stacks())
    assert stacks_table.current_table(readme) == expected, "README stacks table is stale: run make render"
    assert [line.split("|")[1].strip() for line in expected.splitlines()[2:]] == list_stacks()


def test_the_stacks_table_marks_a_missed_target(rendered_stacks: Path):
    budget = json.loads((rendered_stacks / "dev" / "budget.json").read_text())
    bill = json.loads((rendered_stacks / "dev" / "cost.json").read_text())
    budget["replica"]["newNode"].update(totalSeconds=400.0, meetsTarget=False)
    budget["deploy"].update(criticalPathSeconds=3000.0, meetsTarget=False)
    row = stacks_table.row("dev", budget, bill)
    assert "/ 400 s (misses)" in row and "| 50 min (misses)" in row
    with pytest.raises(ValueError, match="markers"):
        stacks_table.replace_table("no table here", "x")


def test_every_shipped_stack_has_a_cost_json_whose_arithmetic_adds_up(bills: dict[str, dict]):
    assert set(bills) == {"dev", "dev-dr", "team"}
    for stack, bill in bills.items():
        assert bill["lines"], stack
        for line in bill["lines"]:
            if line["unitPrice"] is None:
                assert line["idleUSD"] is None and line["busyUSD"] is None
                assert any(u.startswith(line["item"]) for u in bill["unpriced"])
            else:
                assert line["idleUSD"] == round(line["quantityIdle"] * line["unitPrice"], 2)
                assert line["busyUSD"] == round(line["quantityBusy"] * line["unitPrice"], 2)
                assert line["priceSource"] and line["priceDate"]
        monthly = [x for x in bill["lines"] if x["per"] == "month"]
        assert bill["monthly"]["idleUSD"] == pytest.approx(sum(x["idleUSD"] or 0 for x in monthly), abs=0.01)
        assert bill["monthly"]["busyUSD"] == pytest.approx(sum(x["busyUSD"] or 0 for x in monthly), abs=0.01)
        once = [x for x in bill["lines"] if x["per"] == "once"]
        assert bill["oneTime"]["USD"] == pytest.approx(sum(x["idleUSD"] or 0 for x in once), abs=0.01)
        assert bill["monthly"]["complete"] == all(x["unitPrice"] is not None for x in monthly)


def test_dev_prices_every_billable_part_from_its_config(bills: dict[str, dict]):
    bill = bills["dev"]
    lines = {x["item"]: x for x in bill["lines"]}
    assert lines["EKS control plane"]["idleUSD"] == 73.0  # 730 h x $0.10
    inf = lines["inference nodes (inf2.xlarge, on-demand)"]
    # One replica on the cheapest type it fits (inf2.xlarge); busy = the 4-device ceiling = 4 nodes.
    assert inf["quantityIdle"] == 730 and inf["quantityBusy"] == 4 * 730
    assert inf["unitPrice"] == hardware.INF2_TYPES["inf2.xlarge"].on_demand_usd_per_hour
    assert "spot" in inf["note"]  # dev allows spot: its price is not in the table, on-demand is the ceiling
    fsx = next(x for k, x in lines.items() if k.startswith("FSx for Lustre"))
    assert fsx["quantityIdle"] == 1200 and fsx["unitPrice"] == 0.34 and fsx["idleUSD"] == 408.0
    assert lines["NAT gateways"]["quantityIdle"] == 730  # natGateways: single
    assert lines["system nodes (m7i.large)"]["quantityIdle"] == 2 * 730
    # cluster secrets, cluster volumes, model store, flow logs, alert topic, compile host
    assert lines["KMS customer keys (us-east-1)"]["quantityIdle"] == 6
    volumes = lines["Prometheus and Alertmanager volumes (gp3)"]
    assert volumes["quantityIdle"] == 20 + 2  # dev: monitoring.storageGiB 20, Alertmanager 2
    # The SOCI root volumes' extra throughput is billed per node.
    tput = next(x for k, x in lines.items() if k.startswith("inference node volume throughput"))
    assert tput["quantityIdle"] == 600 - 125 and tput["unitPrice"] == 0.04
    assert bill["monthly"]["complete"] is True
    assert bill["monthly"]["busyUSD"] > bill["monthly"]["idleUSD"]
    assert {u["item"].split(" (")[0] for u in bill["usageDependent"]} >= {"NAT gateway data processing"}


def test_the_dr_stack_prices_each_resource_in_its_own_region_and_lists_what_has_no_price(bills: dict[str, dict]):
    bill = bills["dev-dr"]
    assert bill["region"] == "us-west-2"
    lines = {x["item"]: x for x in bill["lines"]}
    # The replication alarms and the batch key live in the primary's region (their `region` input).
    assert lines["CloudWatch alarms (us-east-1)"]["quantityIdle"] == 3
    assert lines["CloudWatch alarms (us-east-1)"]["unitPrice"] == 0.10
    # the batch reports key and the alarm topic key (the topic is always created)
    assert lines["KMS customer keys (us-east-1)"]["quantityIdle"] == 2
    assert lines["KMS customer keys (us-west-2)"]["quantityIdle"] == 1
    assert lines["S3 storage: model and artifacts (us-west-2)"]["quantityIdle"] == 29.0  # the replica
    transfer = lines["cross-region replication transfer"]
    assert transfer["per"] == "once" and transfer["unitPrice"] == 0.02  # billed in the source region
    # The RTC fee (billed in the source region too) is part of the one-time total.
    rtc = lines["S3 Replication Time Control"]
    assert rtc["per"] == "once" and rtc["unitPrice"] == 0.015 and rtc["quantityIdle"] == transfer["quantityIdle"]
    assert bill["unpriced"] == []
    assert bill["oneTime"]["USD"] == pytest.approx(transfer["idleUSD"] + rtc["idleUSD"], abs=0.01)


def test_idle_and_busy_follow_replicas_and_the_device_ceiling():
    plan = plan_for(
        **{
            "inferentia-chat:model": {"replicas": 2},
            "inferentia-chat:inferencePool": {"instanceTypes": ["inf2.xlarge", "inf2.8xlarge"], "maxNeuronDevices": 6},
        }
    )
    bill = cost.cost(plan.result, stack_config(plan.result))
    inf = next(x for x in bill["lines"] if x["item"].startswith("inference nodes"))
    assert inf["quantityIdle"] == 2 * 730 and inf["quantityBusy"] == 6 * 730
    assert "spot" not in inf["note"]  # production default: on-demand only


def test_an_unknown_price_is_unpriced_and_left_out_of_the_totals(tmp_path: Path, dev):
    table = yaml.safe_load((ROOT / "offline/data/prices.yaml").read_text())
    table["regions"]["us-east-1"]["eks_cluster_hour"] = {"value": None, "note": "not known"}
    path = tmp_path / "prices.yaml"
    path.write_text(yaml.safe_dump(table))
    with_price = cost.cost(dev.result, stack_config(dev.result))
    without = cost.cost(dev.result, stack_config(dev.result), path)
    assert without["unpriced"] == ["EKS control plane: not known"]
    assert without["monthly"]["complete"] is False
    assert without["monthly"]["idleUSD"] == pytest.approx(with_price["monthly"]["idleUSD"] - 73.0)


def test_every_price_has_a_source_and_date_or_says_why_not():
    table = yaml.safe_load((ROOT / "offline/data/prices.yaml").read_text())
    assert table["version"] and table["hours_per_month"] == 730

    def entries(node: dict):
        for value in node.values():
            if isinstance(value, dict) and ("value" in value):
                yield value
            elif isinstance(value, dict):
                yield from entries(value)

    for region, prices in table["regions"].items():
        for entry in entries(prices):
            if entry["value"] is None:
                assert entry["note"], region
            else:
                assert entry["source"] and entry["date"], (region, entry)
    # The inf2 prices agree with the hardware table the compile-type choice ranks by.
    ec2 = table["regions"]["us-east-1"]["ec2_hour"]
    for name, t in hardware.INF2_TYPES.items():
        assert ec2[name]["value"] == t.on_demand_usd_per_hour


def test_the_render_summary_prints_the_monthly_estimate(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    assert render_main(["render", "--stack", "dev", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "cost (build/<stack>/cost.json; us-east-1" in out and "/month idle" in out and "/month busy" in out


def test_a_serving_standby_costs_its_platform_but_no_inference_node_while_idle(dev_dr_serving):
    bill = cost.cost(dev_dr_serving.result, stack_config(dev_dr_serving.result))
    items = {x["item"]: x for x in bill["lines"]}
    assert "EKS control plane" in items and any(k.startswith("FSx for Lustre") for k in items)
    inf = next(x for k, x in items.items() if k.startswith("inference nodes"))
    assert inf["quantityIdle"] == 0 and inf["quantityBusy"] > 0  # zero replicas until the failover
    assert not any(k.startswith("Neuron compilation") for k in items)  # no compile Job without serving pods
    # us-west-2 has few confirmed prices: the estimate says what it could not price instead of guessing.
    assert bill["monthly"]["complete"] is False and "EKS control plane: no price" in " ".join(bill["unpriced"])


def test_a_managed_prometheus_workspace_lists_its_ingestion_price_as_usage(dev):
    monitoring = {"retention": "7d", "storageGiB": 20, "managedPrometheus": True}  # dev's, plus the workspace
    plan = plan_for(**{"inferentia-chat:monitoring": monitoring})
    usage = {u["item"]: u for u in cost.cost(plan.result, stack_config(plan.result))["usageDependent"]}
    amp = usage["Amazon Managed Service for Prometheus (samples ingested)"]
    assert (
        amp["unit"] == "10 million samples" and amp["unitPrice"] == 0.90 and "prometheus/pricing" in amp["priceSource"]
    )
    without = {u["item"] for u in cost.cost(dev.result, stack_config(dev.result))["usageDependent"]}
    assert "Amazon Managed Service for Prometheus (samples ingested)" not in without


def test_an_exposed_web_ui_prices_its_load_balancer_hours(dev_alb, dev):
    bill = cost.cost(dev_alb.result, stack_config(dev_alb.result))
    alb = next(x for x in bill["lines"] if x["item"] == "Application Load Balancer")
    assert alb["unitPrice"] == 0.0225 and alb["idleUSD"] == round(730 * 0.0225, 2) and bill["monthly"]["complete"]
    assert not any(
        x["item"] == "Application Load Balancer" for x in cost.cost(dev.result, stack_config(dev.result))["lines"]
    )


def test_the_compile_host_is_priced_once_for_its_budgeted_run(bills: dict[str, dict]):
    from offline.deploy_budget import host_phases

    lines = {x["item"]: x for x in bills["dev"]["lines"] if x["per"] == "once"}
    run_h = round(sum(f.value for _, f in host_phases()) / 3600, 2)  # launch, pull || download, compile, upload
    host = lines["compile host (inf2.8xlarge)"]
    assert (
        host["quantityIdle"] == run_h
        and host["unitPrice"] == hardware.INF2_TYPES["inf2.8xlarge"].on_demand_usd_per_hour
    )
    disk = lines["compile host root volume (200 GiB gp3)"]
    assert disk["quantityIdle"] == round(200 * run_h / 730, 2) and disk["unitPrice"] == 0.08
    # The in-cluster Job only finds the host's marker: its node's start and the check, not a compilation.
    assert lines["compile Job's node, waiting for the host (inf2.8xlarge)"]["quantityIdle"] == 0.25
    assert not any(k.startswith("Neuron compilation") for k in lines)
    # Without the host the Job's node compiles: 15 published minutes plus its start.
    from conftest import NO_COMPILE_HOST

    plain = plan_for(**NO_COMPILE_HOST)
    bill = cost.cost(plain.result, stack_config(plain.result))
    (job,) = [x for x in bill["lines"] if x["item"] == "Neuron compilation (inf2.8xlarge)"]
    assert job["quantityIdle"] == round(900 / 3600 + 0.25, 2)
    assert not any(x["item"].startswith("compile host") for x in bill["lines"])
