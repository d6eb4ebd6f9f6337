"""Every CloudWatch alarm of every stack variant notifies someone: an action on an encrypted SNS topic."""

from __future__ import annotations

import pytest
from conftest import STACK_VARIANTS, Plan

ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
TOPIC = "aws:sns/topic:Topic"


@pytest.mark.parametrize("stack_fixture", STACK_VARIANTS)
def test_every_alarm_has_an_action_on_an_encrypted_topic(stack_fixture: str, request: pytest.FixtureRequest):
    plan: Plan = request.getfixturevalue(stack_fixture)
    topics = {t.outputs["arn"]: t for t in plan.of_type(TOPIC)}
    for alarm in plan.of_type(ALARM):
        actions = alarm.inputs.get("alarmActions") or []
        assert actions, f"alarm {alarm.name} has no action"
        for arn in actions:
            assert arn in topics, f"alarm {alarm.name} notifies {arn}, not a topic of this stack"
            assert topics[arn].inputs.get("kmsMasterKeyId"), f"topic of {alarm.name} is not encrypted"


def test_the_check_sees_alarms(all_plans: list[Plan]):
    assert sum(len(plan.of_type(ALARM)) for plan in all_plans) >= 3
