"""The operations keys: `monitoring` (its own section) and `model.autoscaling` (read per model entry), and the
cross-field rules that tie them to the rest: autoscaling needs the metrics, a webhook needs its URL, and the
monitoring stack (with KEDA) must fit the system nodes at their largest.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from inferentia_chat.system_capacity import system_fit, system_requests

from .fields import _Problems, _Section
from .rules import EMAIL, ascii_pattern
from .schema import CONFIG_NAMESPACE, ActiveSchedule, AutoscalingConfig, ClusterConfig, ModelConfig, MonitoringConfig

# A request may wait this long in a replica's queue before the service counts as overloaded; the scaler's
# threshold and the queue alert follow from it and the start-up budget (docs/operations-autoscaling.md).
DEFAULT_MAX_QUEUE_WAIT_S = 300
ALERT_TARGETS = ("sns", "webhook", "none")
# A 5-field cron expression (KEDA's cron scaler, robfig/cron standard parser) and an IANA zone name.
CRON = ascii_pattern(r"[0-9*,/-]+( [0-9*,/-]+){4}")
TIMEZONE = ascii_pattern(r"UTC|[A-Za-z]+(/[A-Za-z0-9_+-]+){1,2}")
# Prometheus `--storage.tsdb.retention.time` in whole hours, days, weeks or years.
PROM_DURATION = ascii_pattern(r"[1-9][0-9]{0,4}(h|d|w|y)")


def _autoscaling(s: _Section) -> AutoscalingConfig:
    """`autoscaling` of ONE model entry (a function of the entry alone, so a list of models reuses it)."""
    low = s.integer("minReplicas", 1, minimum=0, maximum=64, allowed="(serving pods kept when idle)")
    if not s.has("maxReplicas"):
        s.problems.missing(s.key("maxReplicas"), "the most serving pods the scaler may run, e.g. 2")
    high = s.integer("maxReplicas", max(low, 1), minimum=1, maximum=64, allowed="(serving pods at peak load)")
    if high < low:
        s.problems.add(s.key("maxReplicas"), high, f"must be at least minReplicas ({low})")
    wait = s.integer(
        "maxQueueWaitSeconds",
        DEFAULT_MAX_QUEUE_WAIT_S,
        minimum=30,
        maximum=3600,
        allowed="(seconds a request may wait in the queue before the service counts as overloaded)",
    )
    # Scale-to-zero: with no pod there is no queue metric, so nothing could wake the model; KEDA's cron trigger
    # keeps one replica during these hours (docs/operations-autoscaling.md).
    given = s.has("activeSchedule")
    if low == 0 and not given:
        s.problems.missing(
            s.key("activeSchedule"),
            "minReplicas 0 needs the hours one replica runs: {timezone, start, end} with cron start and end",
        )
    elif low > 0 and given:
        s.problems.add(s.key("activeSchedule"), s.raw["activeSchedule"], "only applies with minReplicas 0")
    sched = s.section("activeSchedule")
    cron = "must be a 5-field cron expression such as '0 8 * * 1-5'"
    tz = sched.string("timezone", "UTC", pattern=TIMEZONE, allowed="must be an IANA time zone such as Europe/Berlin")
    start = sched.string("start", None, pattern=CRON, allowed=cron, required=given)
    end = sched.string("end", None, pattern=CRON, allowed=cron, required=given)
    sched.finish()
    s.finish()
    schedule = ActiveSchedule(tz or "UTC", start, end) if low == 0 and start and end else None
    return AutoscalingConfig(min_replicas=low, max_replicas=high, max_queue_wait_seconds=wait, active_schedule=schedule)


def _monitoring(s: _Section) -> MonitoringConfig:
    """`monitoring`: on by default."""
    enabled = s.boolean("enabled", True)
    retention = s.string(
        "retention", "15d", pattern=PROM_DURATION, allowed="must be a Prometheus duration such as 15d, 36h or 2w"
    )
    storage = s.integer("storageGiB", 50, minimum=10, maximum=16384, allowed="(GiB of the Prometheus volume)")
    managed = s.boolean("managedPrometheus", False)
    target = s.string("alertTarget", "sns", choices=ALERT_TARGETS)
    email = s.string("alertEmail", None, pattern=EMAIL, allowed="must be an email address")
    if email and target != "sns":
        s.problems.add(s.key("alertEmail"), email, "only applies with alertTarget sns (it subscribes to the topic)")
    ttft = s.integer(
        "ttftP95TargetSeconds", 10, minimum=1, maximum=600, allowed="(the time-to-first-token p95 alert's target)"
    )
    if not enabled:
        for key in (
            "retention",
            "storageGiB",
            "managedPrometheus",
            "alertTarget",
            "alertEmail",
            "ttftP95TargetSeconds",
        ):
            if s.has(key):
                s.problems.add(s.key(key), s.raw[key], "does not apply with enabled false; remove it")
    s.finish()
    return MonitoringConfig(
        enabled=enabled,
        retention=retention or "15d",
        storage_gib=storage,
        managed_prometheus=managed,
        alert_target=target or "sns",
        alert_email=email,
        ttft_p95_target_seconds=ttft,
    )


def _operations_fit(
    raw: Mapping[str, Any],
    monitoring: MonitoringConfig,
    cluster: ClusterConfig,
    models: Sequence[tuple[str, ModelConfig]],
    problems: _Problems,
    *,
    runs_here: bool,
) -> list[str]:
    """Where the platform runs (`runs_here`): autoscaling needs the metrics, a webhook needs its URL, and the
    monitoring stack must fit the system nodes at their largest (systemNodeMaxCount). Returns warnings."""
    key = f"{CONFIG_NAMESPACE}:alertWebhookUrl"
    webhook = runs_here and monitoring.enabled and monitoring.alert_target == "webhook"
    if "alertWebhookUrl" in raw and not webhook:
        problems.items.append(f"{key} = [hidden]: only applies with monitoring.alertTarget webhook; remove it")
    if not runs_here:
        return []
    if webhook and "alertWebhookUrl" not in raw:
        problems.missing(key, f"alertTarget webhook needs the URL as a secret: pulumi config set --secret {key} <url>")
    scaled = [key for key, m in models if m.autoscaling is not None]
    for key in scaled if not monitoring.enabled else []:
        problems.add(
            f"{key}.autoscaling", "set", "needs monitoring.enabled true (KEDA reads the queue from Prometheus)"
        )
    if not monitoring.enabled:
        return []
    need = system_requests(autoscaling=bool(scaled))
    report = system_fit(cluster.system_node_type, cluster.system_node_max_count, need)
    if report is None:
        return [
            f"{CONFIG_NAMESPACE}:cluster.systemNodeType: capacity of {cluster.system_node_type} unknown here; check "
            f"that {cluster.system_node_max_count} node(s) hold the system workloads ({need.cpu_millis}m cpu, "
            f"{need.memory_mib}Mi memory requested)"
        ]
    if report:
        problems.add(f"{CONFIG_NAMESPACE}:cluster.systemNodeMaxCount", cluster.system_node_max_count, report)
    return []
