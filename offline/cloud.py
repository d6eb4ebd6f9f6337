"""Realistic, obviously fake cloud answers for the offline engine.

Every value a provider would compute (ids, ARNs, DNS names, provider-side component outputs) is made
here from the resource's type, name and inputs, deterministically, so two renders of the same
configuration are byte-identical. Account 123456789012 and hashes derived from names mark the values
as placeholders; their shapes follow the real APIs so schemas and downstream code accept them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

FAKE_ACCOUNT = "123456789012"
PARTITION = "aws"


def digest(*parts: str, length: int = 17) -> str:
    """A stable lowercase hex string derived from the parts (stands in for random ids)."""
    return hashlib.sha256("/".join(parts).encode()).hexdigest()[:length]


def fake_uuid(*parts: str) -> str:
    h = digest(*parts, length=32)
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def autoname(name: str) -> str:
    """Pulumi's auto-naming: the logical name plus a 7-character random suffix."""
    return f"{name}-{digest('autoname', name, length=7)}"


@dataclass
class Synthetic:
    """A resource a provider-side component creates (kept so resource references resolve)."""

    type: str
    urn: str
    id: str
    state: dict[str, Any]


@dataclass
class CloudContext:
    """What the fake cloud needs to know about the stack being rendered."""

    project: str
    stack: str
    region: str
    account: str = FAKE_ACCOUNT
    # Answers a StackReference: fully qualified stack name -> its outputs.
    stack_outputs: Callable[[str], dict[str, Any]] | None = None
    synthetic: list[Synthetic] = field(default_factory=list)
    # URN of the resource being registered (the parent of any synthetic children it returns).
    registering_urn: str = ""
    # Output properties the resource being registered declares secret (additionalSecretOutputs).
    secret_output_names: list[str] = field(default_factory=list)

    def child_urn(self, type_: str, name: str) -> str:
        parent_type = self.registering_urn.split("::")[2].split("$")[-1]
        return f"urn:pulumi:{self.stack}::{self.project}::{parent_type}${type_}::{name}"

    def arn(self, service: str, resource: str, region: str | None = None, account: str | None = None) -> str:
        region = self.region if region is None else region
        account = self.account if account is None else account
        return f"arn:{PARTITION}:{service}:{region}:{account}:{resource}"


def _resource_ref(urn: str, id_: str) -> dict[str, Any]:
    # The wire form of a resource reference (see pulumi.runtime.rpc): the SDK turns it back
    # into a resource object by asking the monitor for the registered state of this URN.
    return {"4dabf18193072939515e22adb298388d": "5cf8f73096256a8f31e491e813e4eb8e", "urn": urn, "id": id_}


# --------------------------------------------------------------------------------------------
# Custom resources: (id, state) from type, name and inputs.
# --------------------------------------------------------------------------------------------


def _physical_name(name: str, inputs: dict[str, Any], key: str = "name") -> str:
    return inputs.get(key) or autoname(name)


def resource_outputs(ctx: CloudContext, typ: str, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The id and output state of a custom resource as its provider would return them."""
    region = inputs.get("region") or ctx.region
    state = dict(inputs)
    handler = _HANDLERS.get(typ)
    if handler is not None:
        id_, extra = handler(ctx, name, inputs, region)
        state.update(extra)
        return id_, state
    if typ.startswith("kubernetes:"):
        meta = inputs.get("metadata") or {}
        ns = meta.get("namespace")
        obj_name = meta.get("name") or autoname(name)
        state.setdefault("metadata", {})
        state["metadata"] = {**meta, "name": obj_name, "uid": fake_uuid(typ, name)}
        return (f"{ns}/{obj_name}" if ns else obj_name), state
    if typ.startswith("pulumi:providers:"):
        return fake_uuid("provider", name), state
    if typ.startswith("aws:"):
        service = typ.split(":")[1].split("/")[0]
        physical = _physical_name(name, inputs)
        state.setdefault("arn", ctx.arn(service, f"{typ.rsplit(':', 1)[1].lower()}/{physical}", region))
        state.setdefault("tagsAll", inputs.get("tags") or {})
        return f"{physical}", state
    return f"{name}-id", state


def _kms_key(ctx, name, inputs, region):
    key_id = fake_uuid("kms", name)
    return key_id, {"keyId": key_id, "arn": ctx.arn("kms", f"key/{key_id}", region)}


def _kms_alias(ctx, name, inputs, region):
    alias = inputs.get("name") or f"alias/{autoname(name)}"
    return alias, {"arn": ctx.arn("kms", alias, region), "targetKeyArn": ctx.arn("kms", "key/target", region)}


def _iam_role(ctx, name, inputs, region):
    role = _physical_name(name, inputs)
    return role, {
        "name": role,
        "arn": f"arn:{PARTITION}:iam::{ctx.account}:role/{role}",
        "uniqueId": "AROA" + digest("role", name, length=17).upper(),
    }


def _iam_policy(ctx, name, inputs, region):
    policy = _physical_name(name, inputs)
    arn = f"arn:{PARTITION}:iam::{ctx.account}:policy/{policy}"
    return arn, {"name": policy, "arn": arn, "policyId": "ANPA" + digest("policy", name).upper()}


def _iam_instance_profile(ctx, name, inputs, region):
    profile = _physical_name(name, inputs)
    return profile, {"name": profile, "arn": f"arn:{PARTITION}:iam::{ctx.account}:instance-profile/{profile}"}


def _security_group(ctx, name, inputs, region):
    sg = f"sg-{digest('sg', name)}"
    return sg, {"name": _physical_name(name, inputs), "arn": ctx.arn("ec2", f"security-group/{sg}", region)}


def _launch_template(ctx, name, inputs, region):
    lt = f"lt-{digest('lt', name)}"
    return lt, {
        "name": _physical_name(name, inputs),
        "arn": ctx.arn("ec2", f"launch-template/{lt}", region),
        "latestVersion": 1,
        "defaultVersion": 1,
    }


def _eks_node_group(ctx, name, inputs, region):
    cluster, ng = inputs.get("clusterName", "cluster"), _physical_name(name, inputs, "nodeGroupName")
    return f"{cluster}:{ng}", {
        "nodeGroupName": ng,
        "arn": ctx.arn("eks", f"nodegroup/{cluster}/{ng}/{fake_uuid('ng', name)}", region),
        "status": "ACTIVE",
        "resources": [{"autoscalingGroups": [{"name": f"eks-{ng}-{digest('asg', name, length=8)}"}]}],
    }


def _eks_addon(ctx, name, inputs, region):
    cluster, addon = inputs.get("clusterName", "cluster"), inputs.get("addonName", name)
    return f"{cluster}:{addon}", {
        "arn": ctx.arn("eks", f"addon/{cluster}/{addon}/{fake_uuid('addon', name)}", region),
        "addonVersion": inputs.get("addonVersion", "v0.0.0-eksbuild.1"),
    }


def _eks_pod_identity(ctx, name, inputs, region):
    assoc = f"a-{digest('pia', name)}"
    cluster = inputs.get("clusterName", "cluster")
    return f"{cluster},{assoc}", {
        "associationId": assoc,
        "associationArn": ctx.arn("eks", f"podidentityassociation/{cluster}/{assoc}", region),
    }


def _eks_access_entry(ctx, name, inputs, region):
    cluster, principal = inputs.get("clusterName", "cluster"), inputs.get("principalArn", "")
    return f"{cluster}:{principal}", {
        "accessEntryArn": ctx.arn("eks", f"access-entry/{cluster}/role/{ctx.account}/{fake_uuid('ae', name)}", region),
        "type": inputs.get("type", "STANDARD"),
    }


def _s3_bucket(ctx, name, inputs, region):
    bucket = inputs.get("bucket") or autoname(name)
    return bucket, {
        "bucket": bucket,
        "arn": f"arn:{PARTITION}:s3:::{bucket}",
        "bucketRegionalDomainName": f"{bucket}.s3.{region}.amazonaws.com",
        "region": region,
    }


def _sqs_queue(ctx, name, inputs, region):
    queue = _physical_name(name, inputs)
    url = f"https://sqs.{region}.amazonaws.com/{ctx.account}/{queue}"
    return url, {"name": queue, "url": url, "arn": ctx.arn("sqs", queue, region)}


def _sqs_queue_policy(ctx, name, inputs, region):
    # A queue policy has no ARN of its own: the provider's id is the queue URL.
    return inputs.get("queueUrl", autoname(name)), {}


def _event_target(ctx, name, inputs, region):
    rule, target = inputs.get("rule", "rule"), inputs.get("targetId") or autoname(name)
    return f"{inputs.get('eventBusName', 'default')}-{rule}-{target}", {"targetId": target}


def _event_rule(ctx, name, inputs, region):
    rule = _physical_name(name, inputs)
    return rule, {"name": rule, "arn": ctx.arn("events", f"rule/{rule}", region)}


def _fsx_lustre(ctx, name, inputs, region):
    fs = f"fs-{digest('fsx', name)}"
    return fs, {
        "arn": ctx.arn("fsx", f"file-system/{fs}", region),
        "dnsName": f"{fs}.fsx.{region}.amazonaws.com",
        "mountName": digest("mount", name, length=8),
        "networkInterfaceIds": [f"eni-{digest('eni', name, str(i))}" for i in range(2)],
        "ownerId": ctx.account,
        "vpcId": f"vpc-{digest('vpc', 'network')}",
    }


def _kms_key_policy(ctx, name, inputs, region):
    # The provider's id is the key id; a key policy has no ARN of its own.
    return inputs.get("keyId", "key"), {}


def _bucket_setting(ctx, name, inputs, region):
    # Bucket sub-resources (versioning, encryption, policy...) are identified by their bucket.
    return inputs.get("bucket") or autoname(name), {}


def _bucket_object(ctx, name, inputs, region):
    key = inputs.get("key", name)
    return key, {
        "key": key,
        "arn": f"arn:{PARTITION}:s3:::{inputs.get('bucket', 'bucket')}/{key}",
        "etag": digest("etag", name, key, length=32),
        "versionId": digest("version", name, key, length=32),
        "serverSideEncryption": "aws:kms",
    }


def _secret(ctx, name, inputs, region):
    # Secrets Manager appends six random characters to the name in the ARN.
    secret = f"{_physical_name(name, inputs)}-{digest('secret', name, length=6)}"
    arn = ctx.arn("secretsmanager", f"secret:{secret}", region)
    return arn, {"arn": arn, "name": _physical_name(name, inputs)}


def _autoscaling_group(ctx, name, inputs, region):
    group = _physical_name(name, inputs)
    arn = ctx.arn("autoscaling", f"autoScalingGroup:{fake_uuid('asg', name)}:autoScalingGroupName/{group}", region)
    return group, {"name": group, "arn": arn}


def _sg_rule(ctx, name, inputs, region):
    rule = f"sgr-{digest('sgr', name)}"
    return rule, {"securityGroupRuleId": rule, "arn": ctx.arn("ec2", f"security-group-rule/{rule}", region)}


def _fsx_dra(ctx, name, inputs, region):
    dra = f"dra-{digest('dra', name)}"
    return dra, {"associationId": dra, "arn": ctx.arn("fsx", f"association/{dra}", region)}


def _log_group(ctx, name, inputs, region):
    group = _physical_name(name, inputs)
    return group, {"name": group, "arn": ctx.arn("logs", f"log-group:{group}", region)}


def _sns_topic(ctx, name, inputs, region):
    topic = _physical_name(name, inputs)
    arn = ctx.arn("sns", topic, region)
    return arn, {"name": topic, "arn": arn}


def _amp_workspace(ctx, name, inputs, region):
    workspace = f"ws-{fake_uuid('amp', name)}"
    return workspace, {
        "arn": ctx.arn("aps", f"workspace/{workspace}", region),
        "prometheusEndpoint": f"https://aps-workspaces.{region}.amazonaws.com/workspaces/{workspace}/",
    }


def _alarm(ctx, name, inputs, region):
    alarm = _physical_name(name, inputs)
    return alarm, {"name": alarm, "arn": ctx.arn("cloudwatch", f"alarm:{alarm}", region)}


def _sns_topic_policy(ctx, name, inputs, region):
    # A topic policy is identified by its topic.
    return inputs.get("arn") or autoname(name), {"owner": ctx.account}


def _sns_subscription(ctx, name, inputs, region):
    topic = inputs.get("topic") or ctx.arn("sns", "topic", region)
    arn = f"{topic}:{fake_uuid('subscription', name)}"
    # Email endpoints stay unconfirmed until the recipient follows the link AWS sends.
    pending = inputs.get("protocol") in ("email", "email-json")
    return arn, {
        "arn": arn,
        "ownerId": ctx.account,
        "pendingConfirmation": pending,
        "confirmationWasAuthenticated": False,
    }


def _cognito_user_pool(ctx, name, inputs, region):
    pool_id = f"{region}_{digest('cognito', name, length=9)}"
    return pool_id, {
        "arn": ctx.arn("cognito-idp", f"userpool/{pool_id}", region),
        "endpoint": f"cognito-idp.{region}.amazonaws.com/{pool_id}",
        "name": _physical_name(name, inputs),
    }


def _cognito_client(ctx, name, inputs, region):
    # Never a usable secret: a placeholder of the real length (Cognito client secrets are 51-52 characters).
    client_id = digest("cognito-client", name, length=26)
    secret = ("offline" + digest("cognito-secret", name, length=64))[:52] if inputs.get("generateSecret") else None
    return client_id, {"clientSecret": secret}


def _random_password(ctx, name, inputs, region):
    # Never a usable secret: the value only has to have the right length and alphabet.
    length = int(inputs.get("length", 32))
    placeholder = ("offline" + digest("pw", name, length=64))[:length]
    return "none", {"result": placeholder, "bcryptHash": "$2a$10$" + digest("bcrypt", name, length=53)}


def _random_id(ctx, name, inputs, region):
    hex_ = digest("rid", name, length=2 * int(inputs.get("byteLength", 8)))
    return hex_, {"hex": hex_, "b64Url": hex_, "b64Std": hex_, "dec": str(int(hex_, 16))}


def _helm_release(ctx, name, inputs, region):
    release = inputs.get("name") or autoname(name)
    ns = inputs.get("namespace", "default")
    return f"{ns}/{release}", {
        "name": release,
        "status": {
            "name": release,
            "namespace": ns,
            "chart": inputs.get("chart"),
            "version": inputs.get("version"),
            "status": "deployed",
            "revision": 1,
        },
    }


def _stack_reference(ctx, name, inputs, region):
    stack_name = inputs.get("name", name)
    if ctx.stack_outputs is None:
        raise LookupError(f"offline engine: no outputs available for StackReference {stack_name!r}")
    outputs = ctx.stack_outputs(stack_name)
    return stack_name, {"name": stack_name, "outputs": outputs, "secretOutputNames": []}


# --------------------------------------------------------------------------------------------
# Provider-side (remote) components: they register as ONE resource under mocks, so their outputs,
# including resource references, are made here.
# --------------------------------------------------------------------------------------------


def _synthetic(ctx: CloudContext, typ: str, name: str, id_: str, state: dict[str, Any]) -> dict:
    urn = ctx.child_urn(typ, name)
    ctx.synthetic.append(Synthetic(typ, urn, id_, {"id": id_, "urn": urn, **state}))
    return _resource_ref(urn, id_)


def _eks_cluster(ctx, name, inputs, region):
    cluster_name = inputs.get("name") or autoname(name)
    endpoint = f"https://{digest('eks', name, length=32).upper()}.gr7.{region}.eks.amazonaws.com"
    ca_data = "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk9GRkxJTkUtUExBQ0VIT0xERVIKLS0tLS1FTkQgQ0VSVElGSUNBVEUtLS0tLQo="
    oidc_issuer = f"https://oidc.eks.{region}.amazonaws.com/id/{digest('oidc', name, length=32).upper()}"
    cluster_sg = f"sg-{digest('eks-cluster-sg', name)}"
    node_sg = f"sg-{digest('eks-node-sg', name)}"
    eks_managed_sg = f"sg-{digest('eks-managed-sg', name)}"
    cluster_arn = ctx.arn("eks", f"cluster/{cluster_name}", region)
    kubeconfig = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "kubernetes", "cluster": {"server": endpoint, "certificate-authority-data": ca_data}}],
        "contexts": [{"name": "aws", "context": {"cluster": "kubernetes", "user": "aws"}}],
        "current-context": "aws",
        "users": [
            {
                "name": "aws",
                "user": {
                    "exec": {
                        "apiVersion": "client.authentication.k8s.io/v1beta1",
                        "command": "aws",
                        "args": ["eks", "get-token", "--cluster-name", cluster_name, "--output", "json"],
                        "env": [{"name": "AWS_REGION", "value": region}],
                    }
                },
            }
        ],
    }
    eks_cluster_ref = _synthetic(
        ctx,
        "aws:eks/cluster:Cluster",
        f"{name}-eksCluster",
        cluster_name,
        {
            "name": cluster_name,
            "arn": cluster_arn,
            "endpoint": endpoint,
            "version": inputs.get("version"),
            "certificateAuthority": {"data": ca_data},
            "identities": [{"oidcs": [{"issuer": oidc_issuer}]}],
            "vpcConfig": {
                "clusterSecurityGroupId": eks_managed_sg,
                "securityGroupIds": [cluster_sg],
                "subnetIds": list(inputs.get("privateSubnetIds") or []),
                "vpcId": inputs.get("vpcId"),
                "endpointPrivateAccess": inputs.get("endpointPrivateAccess", False),
                "endpointPublicAccess": inputs.get("endpointPublicAccess", True),
            },
            "accessConfig": {"authenticationMode": inputs.get("authenticationMode")},
            "status": "ACTIVE",
        },
    )
    role_ref = _synthetic(
        ctx,
        "aws:iam/role:Role",
        f"{name}-eksRole",
        autoname(f"{name}-eksRole"),
        {"arn": f"arn:{PARTITION}:iam::{ctx.account}:role/{autoname(name + '-eksRole')}"},
    )
    provider_ref = _synthetic(ctx, "pulumi:providers:kubernetes", f"{name}-provider", fake_uuid("k8s", name), {})
    cluster_sg_ref = _synthetic(
        ctx, "aws:ec2/securityGroup:SecurityGroup", f"{name}-eksClusterSecurityGroup", cluster_sg, {}
    )
    node_sg_ref = _synthetic(ctx, "aws:ec2/securityGroup:SecurityGroup", f"{name}-nodeSecurityGroup", node_sg, {})
    return cluster_name, {
        "kubeconfig": kubeconfig,
        "kubeconfigJson": json.dumps(kubeconfig),
        "eksCluster": eks_cluster_ref,
        "clusterSecurityGroup": cluster_sg_ref,
        "clusterSecurityGroupId": cluster_sg,
        "nodeSecurityGroup": node_sg_ref,
        "nodeSecurityGroupId": node_sg,
        "oidcIssuer": oidc_issuer.removeprefix("https://"),
        "oidcProviderArn": f"arn:{PARTITION}:iam::{ctx.account}:oidc-provider/{oidc_issuer.removeprefix('https://')}",
        "oidcProviderUrl": oidc_issuer,
        "instanceRoles": [],
        "defaultNodeGroupAsgName": "",
        "fargateProfileId": "",
        "fargateProfileStatus": "",
        "autoModeNodeRoleName": "",
        "clusterIngressRuleId": f"sgrule-{digest('ingress', name, length=10)}",
        "core": {
            "cluster": eks_cluster_ref,
            "clusterIamRole": role_ref,
            "endpoint": endpoint,
            "instanceRoles": [],
            "nodeGroupOptions": {},
            "provider": provider_ref,
            "subnetIds": list(inputs.get("privateSubnetIds") or []),
            "privateSubnetIds": list(inputs.get("privateSubnetIds") or []),
            "publicSubnetIds": list(inputs.get("publicSubnetIds") or []),
            "vpcId": inputs.get("vpcId"),
            "clusterSecurityGroup": cluster_sg_ref,
            "kubeconfig": kubeconfig,
            "tags": inputs.get("tags") or {},
            "nodeSecurityGroupTags": inputs.get("nodeSecurityGroupTags") or {},
        },
    }


def _awsx_vpc(ctx, name, inputs, region):
    azs = list(
        inputs.get("availabilityZoneNames")
        or [f"{region}{s}" for s in "abc"][: inputs.get("numberOfAvailabilityZones", 3)]
    )
    vpc_id = f"vpc-{digest('vpc', name)}"
    ids: dict[str, list[str]] = {"Private": [], "Public": [], "Isolated": []}
    # A subnet is its zone and its CIDR: awsx lays the CIDRs out per zone index in blocks sized by the zone
    # count (rounded up to a power of two), so the id changes exactly when the real subnet would be replaced.
    layout = [inputs.get("cidrBlock", "10.0.0.0/16"), str(max(len(azs) - 1, 0).bit_length())]
    for spec in inputs.get("subnetSpecs") or [{"type": "Private"}, {"type": "Public"}]:
        ids.setdefault(spec["type"], [])
        for index, az in enumerate(azs):
            where = [*layout, str(index), str(spec.get("cidrMask", ""))]
            ids[spec["type"]].append(f"subnet-{digest('subnet', name, spec['type'], az, *where)}")
    vpc_ref = _synthetic(
        ctx,
        "aws:ec2/vpc:Vpc",
        name,
        vpc_id,
        {"cidrBlock": inputs.get("cidrBlock", "10.0.0.0/16"), "arn": ctx.arn("ec2", f"vpc/{vpc_id}", region)},
    )
    return vpc_id, {
        "vpcId": vpc_id,
        "vpc": vpc_ref,
        "privateSubnetIds": ids.get("Private", []),
        "publicSubnetIds": ids.get("Public", []),
        "isolatedSubnetIds": ids.get("Isolated", []),
        "subnets": [],
        "privateSubnets": [],
        "publicSubnets": [],
        "isolatedSubnets": [],
        "natGateways": [],
        "eips": [],
        "routeTables": [],
        "routeTableAssociations": [],
        "routes": [],
        "vpcEndpoints": [],
        "subnetLayout": [],
    }


_HANDLERS: dict[str, Callable[[CloudContext, str, dict, str], tuple[str, dict[str, Any]]]] = {
    "aws:kms/key:Key": _kms_key,
    "aws:kms/alias:Alias": _kms_alias,
    "aws:iam/role:Role": _iam_role,
    "aws:iam/policy:Policy": _iam_policy,
    "aws:iam/instanceProfile:InstanceProfile": _iam_instance_profile,
    "aws:ec2/securityGroup:SecurityGroup": _security_group,
    "aws:ec2/launchTemplate:LaunchTemplate": _launch_template,
    "aws:eks/nodeGroup:NodeGroup": _eks_node_group,
    "aws:eks/addon:Addon": _eks_addon,
    "aws:eks/podIdentityAssociation:PodIdentityAssociation": _eks_pod_identity,
    "aws:eks/accessEntry:AccessEntry": _eks_access_entry,
    "aws:s3/bucket:Bucket": _s3_bucket,
    "aws:s3/bucketV2:BucketV2": _s3_bucket,
    "aws:sqs/queue:Queue": _sqs_queue,
    "aws:sqs/queuePolicy:QueuePolicy": _sqs_queue_policy,
    "aws:cloudwatch/eventRule:EventRule": _event_rule,
    "aws:cloudwatch/eventTarget:EventTarget": _event_target,
    "aws:cloudwatch/logGroup:LogGroup": _log_group,
    "aws:cloudwatch/metricAlarm:MetricAlarm": _alarm,
    "aws:sns/topic:Topic": _sns_topic,
    "aws:amp/workspace:Workspace": _amp_workspace,
    "aws:sns/topicPolicy:TopicPolicy": _sns_topic_policy,
    "aws:sns/topicSubscription:TopicSubscription": _sns_subscription,
    "aws:fsx/lustreFileSystem:LustreFileSystem": _fsx_lustre,
    "aws:fsx/dataRepositoryAssociation:DataRepositoryAssociation": _fsx_dra,
    "aws:kms/keyPolicy:KeyPolicy": _kms_key_policy,
    "aws:s3/bucketObjectv2:BucketObjectv2": _bucket_object,
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": _sg_rule,
    "aws:secretsmanager/secret:Secret": _secret,
    "aws:autoscaling/group:Group": _autoscaling_group,
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": _sg_rule,
    **{
        f"aws:s3/{kind[0].lower()}{kind[1:]}:{kind}": _bucket_setting
        for kind in (
            "BucketVersioning",
            "BucketServerSideEncryptionConfiguration",
            "BucketPublicAccessBlock",
            "BucketOwnershipControls",
            "BucketPolicy",
            "BucketLifecycleConfiguration",
            "BucketReplicationConfig",
        )
    },
    "aws:cognito/userPool:UserPool": _cognito_user_pool,
    "aws:cognito/userPoolClient:UserPoolClient": _cognito_client,
    "random:index/randomPassword:RandomPassword": _random_password,
    "random:index/randomId:RandomId": _random_id,
    "kubernetes:helm.sh/v3:Release": _helm_release,
    "pulumi:pulumi:StackReference": _stack_reference,
    "eks:index:Cluster": _eks_cluster,
    "awsx:ec2:Vpc": _awsx_vpc,
}


# --------------------------------------------------------------------------------------------
# Function calls (invokes).
# --------------------------------------------------------------------------------------------


# The zones a region offers an account, as `describe-availability-zones` lists them (state available, no
# opt-in), so the offline render refuses what AWS would: an azCount above the region's zone count, a zone
# the region lacks. Counts are the AZ IDs per Region listed in the AWS documentation, "AWS Availability Zones"
# (docs.aws.amazon.com/global-infrastructure/latest/regions/aws-availability-zones.html); the letters are
# the zone names EC2 gives where they are not a, b, c... (ap-northeast-1 has no b, ca-central-1 no c). Every
# Region has at least three zones (same page): any other Region gets a, b, c.
REGION_ZONE_LETTERS: dict[str, str] = {
    "us-east-1": "abcdef",
    "us-east-2": "abc",
    "us-west-1": "ac",  # usw1-az1 and usw1-az3: accounts see two zones
    "us-west-2": "abcd",
    "ca-central-1": "abd",
    "ap-northeast-1": "acd",
    "ap-northeast-2": "abcd",
    "ap-south-1": "abc",
    "eu-west-1": "abc",
    "eu-central-1": "abc",
    "sa-east-1": "abc",
}


def zones_of(region: str) -> list[str]:
    """The fake's answer for a region's available zones."""
    return [f"{region}{letter}" for letter in REGION_ZONE_LETTERS.get(region, "abc")]


def call_outputs(ctx: CloudContext, token: str, args: dict[str, Any]) -> dict[str, Any]:
    """What a provider function returns; unknown tokens fail loudly so a missing answer is seen."""
    region = args.get("region") or ctx.region
    if token == "aws:index/getCallerIdentity:getCallerIdentity":
        return {
            "accountId": ctx.account,
            "arn": f"arn:{PARTITION}:iam::{ctx.account}:user/offline",
            "userId": "AIDAOFFLINE",
            "id": ctx.account,
        }
    if token == "aws:index/getPartition:getPartition":
        return {"partition": PARTITION, "dnsSuffix": "amazonaws.com", "id": PARTITION}
    if token == "aws:index/getRegion:getRegion":
        return {"name": region, "region": region, "id": region, "endpoint": f"ec2.{region}.amazonaws.com"}
    if token == "aws:index/getAvailabilityZones:getAvailabilityZones":
        names = zones_of(region)
        prefix = "".join(p[:3] if i == 0 else p[0] for i, p in enumerate(region.split("-")[:2])) + region[-1]
        return {
            "names": names,
            "zoneIds": [f"{prefix}-az{i + 1}" for i in range(len(names))],
            "id": region,
            "state": "available",
        }
    if token == "aws:ec2/getSubnet:getSubnet":
        subnet = args.get("id", "subnet-unknown")
        zones = zones_of(region)
        az = zones[int(digest("az", subnet, length=2), 16) % len(zones)]
        return {
            "id": subnet,
            "availabilityZone": az,
            "vpcId": args.get("vpcId", "vpc-0offline"),
            "cidrBlock": "10.0.0.0/19",
        }
    if token == "aws:ec2/getVpc:getVpc":
        vpc = args.get("id", "vpc-unknown")
        arn = ctx.arn("ec2", f"vpc/{vpc}", region)
        return {"id": vpc, "cidrBlock": "10.0.0.0/16", "arn": arn, "state": "available"}
    if token == "aws:ec2/getInstanceTypeOfferings:getInstanceTypeOfferings":
        wanted = []
        for f in args.get("filters") or []:
            if f.get("name") == "instance-type":
                wanted = list(f.get("values") or [])
        azs = zones_of(region)
        pairs = [(t, az) for t in wanted for az in azs]
        return {
            "instanceTypes": [t for t, _ in pairs],
            "locations": [az for _, az in pairs],
            "locationTypes": ["availability-zone"] * len(pairs),
            "id": region,
        }
    if token == "aws:ssm/getParameter:getParameter":
        # The public EKS AMI parameters hold an AMI id (e.g. the compile host's Neuron AMI of one release).
        name = args.get("name", "")
        value = f"ami-{digest('ami', region, name)}" if name.endswith("/image_id") else f"offline-{digest(name)}"
        return {
            "name": name,
            "value": value,
            "insecureValue": value,
            "type": "String",
            "version": 1,
            "arn": f"arn:{PARTITION}:ssm:{region}::parameter{name}",
            "withDecryption": True,
            "id": name,
        }
    raise LookupError(f"offline engine: no answer for function {token} (add one to offline/cloud.py)")
