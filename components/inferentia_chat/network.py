"""Network: a new VPC built with pulumi-awsx, or an existing one adopted as it is."""

import ipaddress
import json
from collections.abc import Mapping, Sequence
from typing import NotRequired, TypedDict

import pulumi
import pulumi_aws as aws
import pulumi_awsx as awsx

from . import iam
from .blocks import customer_key
from .common.outputs import register_declared_outputs
from .tags import component_tags

TYPE = "inferentia-chat:index:Network"


class NetworkArgs(TypedDict):
    """Inputs of `Network`. Give `vpc_id` + subnet ids to adopt a VPC; otherwise a new one is built."""

    cluster_name: str
    """EKS cluster name: subnets are tagged `karpenter.sh/discovery=<cluster_name>` for Karpenter."""
    cidr: NotRequired[str]
    """CIDR block of a new VPC (default 10.0.0.0/16)."""
    availability_zones: NotRequired[Sequence[str]]
    """Zones of a new VPC; when empty, the first `az_count` available zones of the region."""
    az_count: NotRequired[int]
    """How many zones a new VPC spans when `availability_zones` is empty (default 3)."""
    nat_gateways: NotRequired[str]
    """NAT strategy of a new VPC: `one-per-az` (default, zone-resilient) or `single` (cheaper)."""
    vpc_id: NotRequired[str]
    """Existing VPC to adopt."""
    private_subnet_ids: NotRequired[Sequence[str]]
    """Existing private subnets (nodes and FSx), at least two zones."""
    public_subnet_ids: NotRequired[Sequence[str]]
    """Existing public subnets (internet-facing load balancers), optional."""
    flow_logs: NotRequired[bool]
    """Record the VPC's traffic (all of it, accepted and rejected) in an encrypted CloudWatch Logs group
    (default true, for a new and for an adopted VPC)."""
    flow_log_retention_days: NotRequired[int]
    """Retention of the flow-log group in days (default 365; a CloudWatch Logs retention value)."""
    tags: NotRequired[Mapping[str, str]]
    """Common tags for every resource."""


def subnet_masks(cidr: str) -> tuple[int, int]:
    """Prefix lengths of the private and public subnet of each zone for a VPC block.

    Private subnets get 1/8 of the block each (pods take VPC addresses with the VPC CNI), public ones
    1/64 (only load balancer and NAT interfaces); six zones still fit.
    """
    prefix = ipaddress.IPv4Network(cidr).prefixlen
    return prefix + 3, prefix + 6


class Network(pulumi.ComponentResource):
    """VPC with private subnets for nodes and FSx and public subnets for load balancers, in >= 2 zones.

    Private subnets carry `karpenter.sh/discovery` and `kubernetes.io/role/internal-elb`, public ones
    `kubernetes.io/role/elb`. `availability_zones[i]` is the zone of `private_subnet_ids[i]`.
    """

    vpc_id: pulumi.Output[str]
    """The VPC id."""
    private_subnet_ids: pulumi.Output[list[str]]
    """Private subnet ids, one per zone, in the order of `availability_zones`."""
    public_subnet_ids: pulumi.Output[list[str]]
    """Public subnet ids (may be empty for an adopted VPC)."""
    availability_zones: pulumi.Output[list[str]]
    """Zone of each private subnet, index for index."""
    vpc_cidr: pulumi.Output[str]
    """The VPC's (primary) CIDR block: where in-VPC traffic, e.g. from load balancers, comes from."""
    flow_log_group: pulumi.Output[str]
    """CloudWatch Logs group of the VPC's flow logs (empty with `flow_logs` false)."""

    def __init__(self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(TYPE, name, None, opts)
        tags = component_tags(args.get("tags", {}), "Network")
        cluster = args["cluster_name"]
        discovery = {"karpenter.sh/discovery": cluster}
        child = pulumi.ResourceOptions(parent=self)

        if args.get("vpc_id"):
            self._adopt(name, args, discovery, child)
        else:
            azs = list(args.get("availability_zones") or [])
            if not azs:
                available = aws.get_availability_zones(
                    state="available",
                    filters=[{"name": "opt-in-status", "values": ["opt-in-not-required"]}],
                )
                wanted = args.get("az_count", 3)
                if wanted > len(available.names):
                    # Never fewer zones than asked for: the caller's zone spread is a resilience promise.
                    raise ValueError(f"az_count {wanted}: the region offers only {len(available.names)} zones")
                azs = list(available.names)[:wanted]
            cidr = args.get("cidr", "10.0.0.0/16")
            private_mask, public_mask = subnet_masks(cidr)
            strategy = (
                awsx.ec2.NatGatewayStrategy.SINGLE
                if args.get("nat_gateways") == "single"
                else awsx.ec2.NatGatewayStrategy.ONE_PER_AZ
            )
            vpc = awsx.ec2.Vpc(
                f"{name}-vpc",
                cidr_block=cidr,
                availability_zone_names=azs,
                enable_dns_hostnames=True,
                enable_dns_support=True,
                nat_gateways=awsx.ec2.NatGatewayConfigurationArgs(strategy=strategy),
                subnet_strategy=awsx.ec2.SubnetAllocationStrategy.AUTO,
                subnet_specs=[
                    awsx.ec2.SubnetSpecArgs(
                        type=awsx.ec2.SubnetType.PRIVATE,
                        cidr_mask=private_mask,
                        tags={**tags, **discovery, "kubernetes.io/role/internal-elb": "1"},
                    ),
                    awsx.ec2.SubnetSpecArgs(
                        type=awsx.ec2.SubnetType.PUBLIC,
                        cidr_mask=public_mask,
                        tags={**tags, "kubernetes.io/role/elb": "1"},
                    ),
                ],
                tags={**tags, "Name": f"{cluster}-vpc"},
                opts=child,
            )
            self.vpc_id = vpc.vpc_id
            self.private_subnet_ids = vpc.private_subnet_ids
            self.public_subnet_ids = vpc.public_subnet_ids
            self.availability_zones = pulumi.Output.from_input(azs)
            self.vpc_cidr = pulumi.Output.from_input(cidr)

        self.flow_log_group = pulumi.Output.from_input("")
        if args.get("flow_logs", True):
            self.flow_log_group = self._flow_logs(name, cluster, args.get("flow_log_retention_days", 365), tags)

        register_declared_outputs(self)

    def _flow_logs(self, name: str, cluster: str, retention_days: int, tags: Mapping[str, str]) -> pulumi.Output[str]:
        """VPC Flow Logs of the whole VPC into a CloudWatch Logs group encrypted with its own customer key
        (Amazon VPC user guide, "Publish flow logs to CloudWatch Logs"), through a role only the flow-logs
        service of this account may assume. Returns the group's name."""
        child = pulumi.ResourceOptions(parent=self)
        partition = aws.get_partition().partition
        region = aws.get_region().region
        account = aws.get_caller_identity().account_id
        group_name = f"/aws/vpc/{cluster}/flow-logs"
        group_arn = f"arn:{partition}:logs:{region}:{account}:log-group:{group_name}"
        key = customer_key(
            f"{name}-flow-logs-key",
            description=f"{cluster}: VPC flow logs",
            alias=f"alias/{cluster}-vpc-flow-logs",
            policy=json.dumps(iam.kms_key_policy(partition, account, log_group_arn=group_arn)),
            tags=tags,
            parent=self,
        )
        group = aws.cloudwatch.LogGroup(
            f"{name}-flow-logs",
            name=group_name,
            retention_in_days=retention_days,
            kms_key_id=key.arn,
            tags=tags,
            opts=child,
        )
        # Confused deputy: the service acts for this account's flow logs only (Amazon VPC user guide, "IAM
        # role for publishing flow logs to CloudWatch Logs", trust policy with aws:SourceAccount/SourceArn).
        role = aws.iam.Role(
            f"{name}-flow-logs-role",
            description=f"{cluster}: VPC Flow Logs publish to {group_name}",
            assume_role_policy=json.dumps(
                iam.service_trust_policy(
                    "vpc-flow-logs.amazonaws.com",
                    "VpcFlowLogsPublish",
                    account,
                    source_arn=f"arn:{partition}:ec2:{region}:{account}:vpc-flow-log/*",
                    source_arn_like=True,
                )
            ),
            tags=tags,
            opts=child,
        )
        policy = aws.iam.RolePolicy(
            f"{name}-flow-logs-policy",
            role=role.id,
            policy=json.dumps(iam.flow_logs_delivery_policy(group_arn)),
            opts=child,
        )
        aws.ec2.FlowLog(
            f"{name}-flow-log",
            vpc_id=self.vpc_id,
            traffic_type="ALL",
            log_destination_type="cloud-watch-logs",
            log_destination=group.arn,
            iam_role_arn=role.arn,
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[policy]),
        )
        return group.name

    def _adopt(self, name: str, args: NetworkArgs, discovery: dict[str, str], child: pulumi.ResourceOptions) -> None:
        """Adopt an existing VPC: tag its subnets for discovery (tags are removed again on destroy)."""
        private = list(args.get("private_subnet_ids") or [])
        public = list(args.get("public_subnet_ids") or [])
        wanted = [(s, {**discovery, "kubernetes.io/role/internal-elb": "1"}) for s in private]
        wanted += [(s, {"kubernetes.io/role/elb": "1"}) for s in public]
        for subnet, subnet_tags in wanted:
            for key, value in subnet_tags.items():
                aws.ec2.Tag(
                    f"{name}-{subnet}-{key.replace('/', '-').replace('.', '-')}",
                    resource_id=subnet,
                    key=key,
                    value=value,
                    opts=child,
                )
        self.vpc_id = pulumi.Output.from_input(args["vpc_id"])
        self.private_subnet_ids = pulumi.Output.from_input(private)
        self.public_subnet_ids = pulumi.Output.from_input(public)
        zones = [aws.ec2.get_subnet(id=s).availability_zone for s in private]
        if len(set(zones)) < 2:
            raise ValueError(
                f"network.privateSubnetIds {private} are all in {zones[0] if zones else 'no zone'}: "
                "EKS needs private subnets in at least two availability zones"
            )
        self.availability_zones = pulumi.Output.from_input(zones)
        self.vpc_cidr = pulumi.Output.from_input(aws.ec2.get_vpc(id=args["vpc_id"]).cidr_block)
