"""The monthly bill of a stack before it exists: build/<stack>/cost.json and a line in the render summary.

No cost tool reads Pulumi programs, so the render prices what it recorded: each billable resource of the
graph (and the sizes the validated config gives it) times a unit price from ONE versioned table per region,
offline/data/prices.yaml, where every price carries its public source and the date it was read. A price the
table does not have is never guessed: the line is listed as unpriced and left out of the totals, which say
so. Two totals: idle (the configured serving replicas) and busy (the pool at its Neuron-device ceiling).
Usage-driven charges (GB through NAT, log ingestion, requests) are listed with their unit price only: they
depend on traffic this estimate cannot know.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from inferentia_chat import hardware
from inferentia_chat.inferentia_node_pool import ROOT_VOLUME_GIB, ROOT_VOLUME_THROUGHPUT
from inferentia_chat.vllm import compile_instance_type
from inferentia_chat.vllm.compile_host import ROOT_VOLUME_GIB as HOST_ROOT_GIB
from stacks.config import StackConfig
from stacks.config.schema import ModelConfig

from .deploy_budget import COMPILE, host_phases
from .engine import RunResult

PRICES = Path(__file__).resolve().parent / "data" / "prices.yaml"
GP3_BASE_THROUGHPUT = 125  # MiB/s included in the gp3 price
# Bucket contents, GB: the weights, and the compiled artifacts beside them (NEFFs plus the pre-sharded
# checkpoint `save_sharded_checkpoint` writes, about one more copy of the weights).
ARTIFACTS_PER_WEIGHTS = 1.0


@dataclass
class Price:
    """One unit price from the table, or why there is none."""

    key: str
    value: float | None
    source: str
    date: str | None = None


@dataclass
class Line:
    """One billable item: quantity x unit price, for the idle and the busy state."""

    item: str
    unit: str
    price: Price
    idle: float
    busy: float
    note: str = ""
    per: str = "month"  # "month", or "once" for one-time charges

    def as_dict(self) -> dict[str, Any]:
        priced = self.price.value is not None
        cost = (lambda q: round(q * self.price.value, 2)) if priced else (lambda q: None)
        return {
            "item": self.item,
            "quantityIdle": self.idle,
            "quantityBusy": self.busy,
            "unit": self.unit,
            "unitPrice": self.price.value,
            "priceKey": self.price.key,
            "priceSource": self.price.source,
            "priceDate": self.price.date,
            "idleUSD": cost(self.idle),
            "busyUSD": cost(self.busy),
            "per": self.per,
            "note": self.note,
        }


@dataclass
class PriceTable:
    """prices.yaml for one region."""

    region: str
    version: str
    hours: float
    raw: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def load(cls, region: str, path: Path = PRICES) -> PriceTable:
        data = yaml.safe_load(path.read_text())
        return cls(region, str(data["version"]), float(data["hours_per_month"]), data["regions"].get(region) or {})

    def get(self, key: str, sub: str | None = None) -> Price:
        entry = self.raw.get(key)
        if sub is not None:
            entry = (entry or {}).get(sub)
            key = f"{key}.{sub}"
        if not entry:
            return Price(key, None, f"no price for {key} in {self.region} in prices.yaml {self.version}")
        if entry.get("value") is None:
            return Price(key, None, entry.get("note", "unknown"))
        return Price(key, float(entry["value"]), entry["source"], str(entry.get("date")))


def serving_shape(cfg: StackConfig) -> tuple[str, int, int, int] | None:
    """(instance type Karpenter picks, serving pods per node, nodes idle, nodes busy) for the inf2 pool:
    the cheapest allowed type the first model's serving pod fits; idle = the configured replicas of every
    model (each model's pods on nodes of their own), busy = the device ceiling."""
    best = None
    idle = 0
    for model in cfg.models:
        requests = hardware.serving_pod_requests(model.tensor_parallel_size, model.id)
        fits = [f for f in hardware.fit_report(requests, cfg.inference_pool.instance_types) if f.pods]
        if not fits:
            continue
        cheapest = min(fits, key=lambda f: hardware.INF2_TYPES[f.instance_type].on_demand_usd_per_hour / f.pods)
        best = best or cheapest
        idle += math.ceil(model.replicas / cheapest.pods)
    if best is None:
        return None
    busy = cfg.inference_pool.max_neuron_devices // hardware.INF2_TYPES[best.instance_type].neuron_devices
    return best.instance_type, best.pods, idle, max(busy, idle)


def _lines(result: RunResult, cfg: StackConfig, prices: PriceTable) -> tuple[list[Line], list[dict[str, Any]]]:
    """Every billable line of the stack, and the usage-driven charges listed with their unit price only."""
    types = Counter(r.type for r in result.resources)
    lines: list[Line] = []
    usage: list[dict[str, Any]] = []
    if types["eks:index:Cluster"]:
        lines += _cluster_lines(result, cfg, prices, types["eks:index:Cluster"])
        lines += _inference_lines(cfg, prices)
    lines += _network_lines(result, cfg, prices, usage)
    lines += _storage_lines(result, cfg, prices, types)
    lines += _account_lines(result, cfg, prices, types, usage)
    return lines, usage


def _by_region(result: RunResult, cfg: StackConfig, kind: str) -> Counter[str]:
    """Resources of one type per region: pulumi-aws v7 resources carry their own `region` (e.g. the DR stack's
    alarms and batch key live in the primary's region); without it, the stack's region."""
    return Counter((r.inputs.get("region") or cfg.region) for r in result.resources if r.type == kind)


def _table(prices: PriceTable, region: str) -> PriceTable:
    return prices if region == prices.region else PriceTable.load(region)


def _usage(usage: list[dict[str, Any]], prices: PriceTable, item: str, key: str, unit: str) -> None:
    p = prices.get(key)
    usage.append({"item": item, "unit": unit, "unitPrice": p.value, "priceSource": p.source})


def _cluster_lines(result: RunResult, cfg: StackConfig, prices: PriceTable, clusters: int) -> list[Line]:
    """The control plane, the system node group and its volumes, the web UI's volume and load balancer."""
    h, c = prices.hours, cfg.cluster
    gp3 = prices.get("ebs_gp3_gb_month")
    disk = _system_disk_gib(result)
    lines = [
        Line("EKS control plane", "cluster-hours", prices.get("eks_cluster_hour"), clusters * h, clusters * h),
        Line(
            f"system nodes ({c.system_node_type})",
            "instance-hours",
            prices.get("ec2_hour", c.system_node_type),
            c.system_node_count * h,
            c.system_node_max_count * h,
            "busy: the node group at its maximum size",
        ),
        Line(
            "system node volumes (gp3)",
            "GB-months",
            gp3,
            c.system_node_count * disk,
            c.system_node_max_count * disk,
        ),
        Line("Open WebUI volume (gp3)", "GB-months", gp3, cfg.webui.storage_gib, cfg.webui.storage_gib),
    ]
    if cfg.monitoring is not None and cfg.monitoring.enabled:
        # Prometheus's volume and Alertmanager's 2 GiB (components/monitoring_values.py).
        gib = cfg.monitoring.storage_gib + 2
        lines.append(Line("Prometheus and Alertmanager volumes (gp3)", "GB-months", gp3, gib, gib))
    if cfg.webui.exposure != "cluster":
        lines.append(Line("Application Load Balancer", "ALB-hours", prices.get("alb_hour"), h, h, "plus LCUs (usage)"))
    return lines


def _network_lines(result: RunResult, cfg: StackConfig, prices: PriceTable, usage: list[dict[str, Any]]) -> list[Line]:
    nat = _nat_gateways(result, cfg)
    if not nat:
        return []
    _usage(usage, prices, "NAT gateway data processing (image pulls, model download)", "nat_gateway_gb", "GB")
    h = prices.hours
    return [Line("NAT gateways", "gateway-hours", prices.get("nat_gateway_hour"), nat * h, nat * h)]


def _storage_lines(result: RunResult, cfg: StackConfig, prices: PriceTable, types: Counter[str]) -> list[Line]:
    """FSx by capacity and tier, the model buckets, the replication of their contents to the DR region."""
    lines: list[Line] = []
    if types["aws:fsx/lustreFileSystem:LustreFileSystem"]:
        ms = cfg.model_store
        tier = ms.deployment_type
        if tier != "SCRATCH_2":
            tier = f"{tier}-{ms.throughput_per_tib}"
        fsx = prices.get("fsx_lustre_gb_month", tier)
        gb = ms.storage_capacity_gib  # the provisioned capacity, as AWS's pricing examples count it
        lines.append(Line(f"FSx for Lustre ({tier} MB/s/TiB, {gb} GiB)", "GB-months", fsx, gb, gb))
    stored = _bucket_gb(cfg)
    buckets = Counter(
        r.inputs.get("region") or cfg.region
        for r in result.resources
        if r.type == "aws:s3/bucket:Bucket" and r.name.endswith(("store-bucket", "replica-bucket"))
    )
    for region, n in sorted(buckets.items()):
        s3 = _table(prices, region).get("s3_standard_gb_month")
        note = "the weights and the compiled artifacts (about one more copy of the weights)"
        item = f"S3 storage: model and artifacts ({region})"
        lines.append(Line(item, "GB-months", s3, n * stored, n * stored, note))
    if types["aws:s3/bucketReplicationConfig:BucketReplicationConfig"]:
        source = PriceTable.load(cfg.dr.primary_region) if cfg.dr else prices  # billed in the source region
        once = "once: replicating the model and artifacts; later only changed objects"
        transfer = source.get("inter_region_transfer_gb")
        lines.append(Line("cross-region replication transfer", "GB", transfer, stored, stored, once, per="once"))
        rtc = source.get("s3_rtc_gb")
        lines.append(Line("S3 Replication Time Control", "GB", rtc, stored, stored, once, per="once"))
    return lines


def _account_lines(
    result: RunResult, cfg: StackConfig, prices: PriceTable, types: Counter[str], usage: list[dict[str, Any]]
) -> list[Line]:
    """Keys, alarms, dashboards, each priced in its own region; logs and managed Prometheus as usage."""
    lines: list[Line] = []
    for kind, item, unit, key in (
        ("aws:kms/key:Key", "KMS customer keys", "key-months", "kms_key_month"),
        ("aws:cloudwatch/metricAlarm:MetricAlarm", "CloudWatch alarms", "alarm-months", "cloudwatch_alarm_month"),
        ("aws:cloudwatch/dashboard:Dashboard", "CloudWatch dashboards", "dashboards", "cloudwatch_dashboard_month"),
    ):
        for region, n in sorted(_by_region(result, cfg, kind).items()):
            lines.append(Line(f"{item} ({region})", unit, _table(prices, region).get(key), n, n))
    if types["aws:cloudwatch/logGroup:LogGroup"] or types["aws:ec2/flowLog:FlowLog"]:
        logs = "CloudWatch Logs ingestion (control-plane logs, flow logs)"
        _usage(usage, prices, logs, "cloudwatch_logs_ingest_gb", "GB")
    if types["aws:amp/workspace:Workspace"]:
        amp = "Amazon Managed Service for Prometheus (samples ingested)"
        _usage(usage, prices, amp, "amp_ingested_10m_samples", "10 million samples")
    return lines


def _inference_lines(cfg: StackConfig, prices: PriceTable) -> list[Line]:
    shape = serving_shape(cfg)
    if shape is None:
        return []
    itype, pods, idle, busy = shape
    h = prices.hours
    node = prices.get("ec2_hour", itype)
    spot = "spot" in cfg.inference_pool.capacity_types
    replicas = sum(m.replicas for m in cfg.models)
    note = f"{pods} serving pod(s) per node; idle: {replicas} replica(s); busy: the pool's ceiling of "
    note += f"{cfg.inference_pool.max_neuron_devices} Neuron devices"
    if spot:
        note += "; spot allowed: spot prices move with the market and are not in the table, on-demand is the ceiling"
    lines = [Line(f"inference nodes ({itype}, on-demand)", "instance-hours", node, idle * h, busy * h, note)]
    gp3, tput = prices.get("ebs_gp3_gb_month"), prices.get("ebs_gp3_throughput_mibps_month")
    extra = ROOT_VOLUME_THROUGHPUT - GP3_BASE_THROUGHPUT
    lines.append(
        Line("inference node root volumes (gp3)", "GB-months", gp3, idle * ROOT_VOLUME_GIB, busy * ROOT_VOLUME_GIB)
    )
    lines.append(
        Line(
            f"inference node volume throughput (+{extra} MiB/s each, SOCI pull)",
            "MiB/s-months",
            tput,
            idle * extra,
            busy * extra,
        )
    )
    for model in cfg.models:
        lines += _compile_lines(cfg, model, prices)
    return lines


def _compile_lines(cfg: StackConfig, model: ModelConfig, prices: PriceTable) -> list[Line]:
    """One-time: the compilation, on the compile host (its instance and root volume for its budgeted run, and
    the in-cluster Job's node while it finds the host's marker), or on the compile Job's node."""
    compile_type = compile_instance_type(model.tensor_parallel_size, cfg.inference_pool.instance_types)
    if not (model.compile_job and compile_type and (model.replicas or model.compile_host)):
        return []
    which = f"{model.served_name}, " if len(cfg.models) > 1 else ""
    note = "once per configuration (compiled-artifact key); a cache hit costs minutes"
    ec2 = prices.get("ec2_hour", compile_type)
    if not model.compile_host:
        hours = round(COMPILE.value / 3600 + 0.25, 2)  # the compilation and the node's start (budget.json)
        return [Line(f"Neuron compilation ({which}{compile_type})", "instance-hours", ec2, hours, hours, note, "once")]
    hours = round(sum(f.value for _, f in host_phases()) / 3600, 2)  # its budgeted run (budget.json)
    volume = round(HOST_ROOT_GIB * hours / prices.hours, 2)
    job = 0.25  # the Job's node: its start and the cache hit once the host's marker is there (estimate)
    lines = [
        Line(f"compile host ({which}{compile_type})", "instance-hours", ec2, hours, hours, note, "once"),
        Line(
            f"compile host root volume ({which}{HOST_ROOT_GIB} GiB gp3)",
            "GB-months",
            prices.get("ebs_gp3_gb_month"),
            volume,
            volume,
            f"{HOST_ROOT_GIB} GiB for the host's {hours} h",
            "once",
        ),
    ]
    if model.replicas:
        lines.append(
            Line(
                f"compile Job's node, waiting for the host ({which}{compile_type})",
                "instance-hours",
                ec2,
                job,
                job,
                "the in-cluster fallback finds the host's marker; its node's start and the check (estimate)",
                "once",
            )
        )
    return lines


def _system_disk_gib(result: RunResult) -> float:
    for r in result.resources:
        # The system node group's template (the compile host's is priced with the compilation).
        if (
            r.type == "aws:ec2/launchTemplate:LaunchTemplate"
            and (r.inputs.get("tags") or {}).get("component") != "NeuronCompileHost"
        ):
            for mapping in r.inputs.get("blockDeviceMappings") or []:
                size = (mapping.get("ebs") or {}).get("volumeSize")
                if size:
                    return float(size)
    return 20.0  # the EKS managed node group default disk


def _nat_gateways(result: RunResult, cfg: StackConfig) -> int:
    if not any(r.type == "awsx:ec2:Vpc" for r in result.resources):
        return 0  # bring-your-own network: its NAT is not this stack's
    net = cfg.network
    return {"single": 1, "none": 0}.get(net.nat_gateways, net.az_count)


def _bucket_gb(cfg: StackConfig) -> float:
    total = 0.0
    for model in cfg.models:  # every model's weights and compiled artifacts
        facts = hardware.KNOWN_MODELS.get(model.id)
        total += facts.weights_gb if facts else hardware.DEFAULT_WEIGHTS_GB
    return round(total * (1 + ARTIFACTS_PER_WEIGHTS), 1)


def cost(result: RunResult, cfg: StackConfig, path: Path = PRICES) -> dict[str, Any]:
    """cost.json for a stack."""
    prices = PriceTable.load(cfg.region, path)
    lines, usage = _lines(result, cfg, prices)
    rows = [line.as_dict() for line in lines]
    monthly = [r for r in rows if r["per"] == "month"]

    def total(column: str, per: list[dict[str, Any]]) -> float:
        return round(sum(r[column] for r in per if r[column] is not None), 2)

    unpriced = [f"{r['item']}: {r['priceSource']}" for r in rows if r["unitPrice"] is None]
    return {
        "stack": result.stack,
        "region": cfg.region,
        "currency": "USD",
        "priceTable": {"file": "offline/data/prices.yaml", "version": prices.version, "hoursPerMonth": prices.hours},
        "lines": rows,
        "monthly": {
            "idleUSD": total("idleUSD", monthly),
            "busyUSD": total("busyUSD", monthly),
            "complete": not any(r["unitPrice"] is None for r in monthly),
        },
        "oneTime": {"USD": total("idleUSD", [r for r in rows if r["per"] == "once"])},
        "unpriced": unpriced,
        "usageDependent": usage,
    }


def summary(c: dict[str, Any]) -> str:
    """Lines for the render's stdout."""
    m = c["monthly"]
    head = (
        f"cost (build/<stack>/cost.json; {c['region']}, prices {c['priceTable']['version']}): "
        f"${m['idleUSD']:,.2f}/month idle, ${m['busyUSD']:,.2f}/month busy, ${c['oneTime']['USD']:,.2f} once"
    )
    out = [head]
    if c["unpriced"]:
        out.append(f"  INCOMPLETE: {len(c['unpriced'])} line(s) without a known price, not in the totals:")
        out += [f"    {u}" for u in c["unpriced"]]
    if c["usageDependent"]:
        out.append("  plus usage: " + "; ".join(u["item"] for u in c["usageDependent"]))
    return "\n".join(out)
