"""Network: a new VPC (awsx) with tagged subnets in every zone, or an adopted VPC."""

from __future__ import annotations

from conftest import Plan, plan_for

from inferentia_chat.network import subnet_masks

VPC = "awsx:ec2:Vpc"
NET = "inferentia-chat:network"


def subnet_spec(plan: Plan, kind: str) -> dict:
    (spec,) = [s for s in plan.one(VPC).inputs["subnetSpecs"] if s["type"] == kind]
    return spec


def test_dev_builds_a_vpc_over_three_zones_with_private_and_public_subnets(dev: Plan):
    vpc = dev.one(VPC)
    assert vpc.inputs["cidrBlock"] == "10.40.0.0/16"
    assert vpc.inputs["availabilityZoneNames"] == ["us-east-1a", "us-east-1b", "us-east-1c"]
    assert vpc.inputs["enableDnsHostnames"] is True
    assert {s["type"] for s in vpc.inputs["subnetSpecs"]} == {"Private", "Public"}
    assert dev.outputs["availabilityZones"] == vpc.inputs["availabilityZoneNames"]
    assert len(dev.outputs["privateSubnetIds"]) == 3


def test_private_subnets_are_tagged_for_karpenter_and_internal_load_balancers(dev: Plan):
    tags = subnet_spec(dev, "Private")["tags"]
    assert tags["karpenter.sh/discovery"] == "inferentia-chat-dev"
    assert tags["kubernetes.io/role/internal-elb"] == "1"
    public = subnet_spec(dev, "Public")["tags"]
    assert public["kubernetes.io/role/elb"] == "1"
    assert "karpenter.sh/discovery" not in public  # nodes never land in public subnets


def test_subnet_sizes_leave_room_for_pod_addresses(dev: Plan):
    assert subnet_spec(dev, "Private")["cidrMask"] == 19
    assert subnet_spec(dev, "Public")["cidrMask"] == 22
    assert subnet_masks("10.0.0.0/20") == (23, 26)


def test_nat_is_one_per_zone_by_default_and_single_only_when_asked(dev: Plan):
    assert dev.one(VPC).inputs["natGateways"]["strategy"] == "Single"  # dev's explicit choice
    prod = plan_for(**{NET: {"cidr": "10.40.0.0/16"}})
    assert prod.one(VPC).inputs["natGateways"]["strategy"] == "OnePerAz"


def test_zones_come_from_the_region_when_not_listed():
    plan = plan_for(**{NET: {"azCount": 2}})
    assert plan.one(VPC).inputs["availabilityZoneNames"] == ["us-east-1a", "us-east-1b"]


def test_vpc_and_subnets_carry_the_common_tags(dev: Plan):
    vpc = dev.one(VPC)
    for tags in (vpc.inputs["tags"], subnet_spec(dev, "Private")["tags"]):
        assert tags["project"] == "inferentia-chat"
        assert tags["stack"] == "dev"
        assert tags["component"] == "Network"
        assert tags["environment"] == "dev"  # the stack's own tags


def test_bring_your_own_vpc_is_adopted_and_its_subnets_tagged():
    private = ["subnet-0aaaaaaaaaaaaaaa1", "subnet-0bbbbbbbbbbbbbbb2"]
    plan = plan_for(
        **{
            NET: {
                "vpcId": "vpc-0123456789abcdef0",
                "privateSubnetIds": private,
                "publicSubnetIds": ["subnet-0ccccccccccccccc3"],
            }
        }
    )
    assert not plan.of_type(VPC)
    tags = {(t.inputs["resourceId"], t.inputs["key"]): t.inputs["value"] for t in plan.of_type("aws:ec2/tag:Tag")}
    for subnet in private:
        assert tags[(subnet, "karpenter.sh/discovery")] == "inferentia-chat-dev"
        assert tags[(subnet, "kubernetes.io/role/internal-elb")] == "1"
    assert tags[("subnet-0ccccccccccccccc3", "kubernetes.io/role/elb")] == "1"
    cluster = plan.one("eks:index:Cluster")
    assert cluster.inputs["vpcId"] == "vpc-0123456789abcdef0"
    assert cluster.inputs["privateSubnetIds"] == private
    assert len(plan.outputs["availabilityZones"]) == 2
    assert plan.one("aws:ec2/flowLog:FlowLog").inputs["vpcId"] == "vpc-0123456789abcdef0"  # flow logs too


# --- flow logs ----------------------------------------------------------------------------------------


def test_vpc_flow_logs_go_to_an_encrypted_group_kept_as_configured(dev: Plan):
    flow = dev.one("aws:ec2/flowLog:FlowLog")
    group = dev.one("aws:cloudwatch/logGroup:LogGroup", "flow-logs")
    key = dev.one("aws:kms/key:Key", "flow-logs-key")
    assert flow.inputs["vpcId"] == dev.outputs["vpcId"] and flow.inputs["trafficType"] == "ALL"
    assert flow.inputs["logDestinationType"] == "cloud-watch-logs"
    assert flow.inputs["logDestination"] == group.outputs["arn"]
    assert group.inputs["name"] == "/aws/vpc/inferentia-chat-dev/flow-logs"
    assert group.inputs["retentionInDays"] == 365
    assert group.inputs["kmsKeyId"] == key.outputs["arn"] and key.inputs["enableKeyRotation"] is True
    # CloudWatch Logs may use the key for this one group only.
    (logs,) = [s for s in dev.policy(key)["Statement"] if s["Sid"] == "CloudWatchLogsUseKey"]
    arn = "arn:aws:logs:us-east-1:123456789012:log-group:/aws/vpc/inferentia-chat-dev/flow-logs"
    assert logs["Condition"] == {"StringEquals": {"kms:EncryptionContext:aws:logs:arn": arn}}
    # The role publishes to that group only, and only VPC Flow Logs of this account may assume it.
    role = dev.one("aws:iam/role:Role", "flow-logs-role")
    assert flow.inputs["iamRoleArn"] == role.outputs["arn"]
    (trust,) = dev.policy(role, "assumeRolePolicy")["Statement"]
    assert trust["Principal"] == {"Service": "vpc-flow-logs.amazonaws.com"}
    writes = dev.policy(dev.one("aws:iam/rolePolicy:RolePolicy", "flow-logs-policy"))["Statement"][0]
    assert writes["Resource"] == [arn, f"{arn}:*"]
    assert dev.depends(flow, dev.one("aws:iam/rolePolicy:RolePolicy", "flow-logs-policy"))


def test_flow_logs_retention_is_configurable_and_they_can_be_turned_off():
    kept = plan_for(**{NET: {"cidr": "10.40.0.0/16", "natGateways": "single", "flowLogRetentionDays": 30}})
    assert kept.one("aws:cloudwatch/logGroup:LogGroup", "flow-logs").inputs["retentionInDays"] == 30
    off = plan_for(**{NET: {"cidr": "10.40.0.0/16", "natGateways": "single", "flowLogs": False}})
    assert not off.of_type("aws:ec2/flowLog:FlowLog")
    assert not [r for r in off.resources if "flow-logs" in r.name]
