"""NeuronCompileHost: the model's Neuron compilation on an EC2 inf2 instance started with the network.

Why: a first `pulumi up` otherwise waits for the cluster, the system nodes, Karpenter, an inf2 node and the
model load before a 15-minute compilation can start (docs/performance.md, "First pulumi up"). The host
needs only the VPC and the model bucket: it downloads the model itself (model_fetch.py with the load Job's
pinned wheels, in the same loader image), runs the compile Job's script in the serving image with the
same arguments and artifact key, uploads the key's directory to the bucket prefix the file system's data
repository link maps to the cache directory, and writes the completion marker last. The in-cluster compile
Job stays as the fallback: it waits while the host's lease holds, and compiles itself otherwise.

Lifecycle: an Auto Scaling group of one (min 0, max 1) from a launch template. The instance sets the group's
desired capacity to 0 when done or failed (and a watchdog after `HOST_DEADLINE_S`), so nothing in Pulumi's
state points at a dead instance; Pulumi ignores the desired capacity after creation. The group's name
carries the artifact key's hash: a new key is a new group, hence a new compilation; a marker already in the
bucket makes the instance end at once.
"""

import base64
import hashlib
import json
import shlex
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import NotRequired, TypedDict

import pulumi
import pulumi_aws as aws

from .. import iam, versions
from ..bucket import ProtectedBucket, protected_bucket
from ..common.outputs import register_declared_outputs
from ..model_layout import CACHE_DIR, artifacts_objects_prefix
from ..model_store.model_loader import SCRIPT_FILES, SCRIPT_SOURCE, split_s3_uri
from ..tags import component_tags
from .compile_job import HOST_DEADLINE_S, compile_instance_type, compile_script, compile_server_command
from .pod_spec import compiled_artifacts_key

TYPE = "inferentia-chat:index:NeuronCompileHost"
HOST_SCRIPT = Path(__file__).with_name("compile_host.sh")
# The host waits this long after the last artifact upload before it writes the marker, so the file system has
# imported every artifact before serving pods see the marker (FSx publishes no auto-import latency).
IMPORT_SETTLE_S = 60
# A host starting this long after its group was created (launch retried for capacity or quota, or a replacement
# instance) records a failure instead of compiling: the in-cluster Job may have found no lease and be compiling
# the key already (its files never reach the bucket on SCRATCH_2), or may be waiting for a dead host's lease.
# A first deploy's Job cannot look before the cluster, a node and the model exist (20 min and more).
LATE_START_S = 600
# The tag (value `true`) an operator puts on the group to have a late host compile anyway (a retry by hand).
COMPILE_AGAIN_TAG = "inferentia-chat.io/compile-again"
# Root volume: the serving image unpacked (17.5 GB packed, content and snapshot both kept), the model (~15 GB)
# and the artifacts (the pre-sharded weights, ~15 GB, and the NEFFs), with room for a larger model.
ROOT_VOLUME_GIB = 200
# The key of the tag that names the artifact key a group compiles (the render's budget reads it).
ARTIFACTS_KEY_TAG = "inferentia-chat.io/compiled-artifacts-key"
BOOTSTRAP_PREFIX = "compile-host/"
# The user data's tries to read the bootstrap files, 10 s apart, before it ends the instance.
BOOTSTRAP_ATTEMPTS = 30


def neuron_ami_parameter(kubernetes_version: str) -> str:
    """The public SSM parameter of the EKS-optimized AL2023 Neuron AMI of exactly the release the inf2 node
    class pins (versions.INFERENCE_AMI_ALIAS): the path Karpenter resolves that alias through
    (karpenter-provider-aws pkg/providers/amifamily/al2023.go, `resolvePath`)."""
    release = versions.INFERENCE_AMI_ALIAS.split("@", 1)[1]
    name = f"amazon-eks-node-al2023-x86_64-neuron-{kubernetes_version}-{release}"
    return f"/aws/service/eks/optimized-ami/{kubernetes_version}/amazon-linux-2023/x86_64/neuron/{name}/image_id"


def directory_keys(bucket_prefix: str, key: str) -> list[str]:
    """S3 directory objects of the cache directories above the key's own (`neuron-cache/<model>/` ...), each
    written with the workload user's POSIX metadata so the file system imports them writable by the Job."""
    parts = key.split("/")
    return [f"{bucket_prefix}{CACHE_DIR}/{'/'.join(parts[: i + 1])}/" for i in range(len(parts))]


class NeuronCompileHostArgs(TypedDict):
    """Inputs of `NeuronCompileHost` (the model fields are `VllmNeuronServerArgs`' of the same names)."""

    vpc_id: pulumi.Input[str]
    """VPC of the host's security group."""
    subnet_ids: pulumi.Input[Sequence[str]]
    """Private subnets the group may launch in (egress through NAT; no public address)."""
    bucket_name: pulumi.Input[str]
    """The model bucket (`LustreModelStore.bucket_name`)."""
    bucket_arn: pulumi.Input[str]
    """Its ARN."""
    bucket_key_arn: pulumi.Input[str]
    """The key that encrypts the bucket (`LustreModelStore.kms_key_arn`)."""
    bucket_prefix: NotRequired[str]
    """Bucket prefix linked to the file system (default none)."""
    kubernetes_version: str
    """Kubernetes minor of the cluster: picks the Neuron AMI of the node class's release."""
    model_id: str
    """Hugging Face id of the model."""
    model_revision: str
    """Revision of the weights."""
    served_model_name: str
    """Name clients use (the model's directory name inside the serving image, as in the cluster)."""
    tensor_parallel_size: int
    """NeuronCores per replica."""
    max_model_len: int
    """Context length compiled for."""
    max_num_seqs: int
    """Concurrent sequences compiled for."""
    instance_types: Sequence[str]
    """The inference pool's inf2 types: the host is the compile Job's type."""
    source: NotRequired[str]
    """`huggingface` (default) or an `s3://bucket/prefix/` to copy the model from."""
    hf_token: NotRequired[pulumi.Input[str]]
    """Hugging Face read token (a secret): kept in Secrets Manager, readable only by the host's role."""
    image: NotRequired[str]
    """The vLLM Neuron image (default: the pinned Deep Learning Container)."""
    loader_image: NotRequired[str]
    """The image model_fetch.py runs in (default: the pinned python image)."""
    tags: NotRequired[Mapping[str, str]]
    """Common tags for every AWS resource."""


class NeuronCompileHost(pulumi.ComponentResource):
    """An Auto Scaling group of one inf2 instance that compiles the model's Neuron artifacts into the model
    bucket, once per artifact key, and then takes itself to zero."""

    group_name: pulumi.Output[str]
    """The Auto Scaling group (`aws autoscaling describe-scaling-activities --auto-scaling-group-name ...`)."""
    artifacts_prefix: pulumi.Output[str]
    """S3 key prefix of the artifacts it writes (the file system's `neuron-cache/<key>/`)."""

    def __init__(self, name: str, args: NeuronCompileHostArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(TYPE, name, None, opts)
        self._name, self._args = name, args
        self._tags = component_tags(args.get("tags", {}), "NeuronCompileHost")
        self._prefix = args.get("bucket_prefix", "")
        self._key = compiled_artifacts_key(
            args["model_id"],
            args["model_revision"],
            versions.NEURON_SDK_VERSION,
            args["tensor_parallel_size"],
            args["max_model_len"],
            args["max_num_seqs"],
        )
        self._artifacts = artifacts_objects_prefix(self._prefix, self._key)
        self._partition = aws.get_partition().partition
        self._region = aws.get_region().region
        self._account = aws.get_caller_identity().account_id
        # A new key, a new group (the name is replaced), hence a new compilation.
        digest = hashlib.sha256(self._key.encode()).hexdigest()[:10]
        self._group = f"{pulumi.get_project()}-{pulumi.get_stack()}-{name}-{digest}"

        own = protected_bucket(
            f"{name}-bootstrap",
            parent=self,
            key_description="inferentia-chat compile host: root volume, bootstrap files, model token",
            key_alias=f"alias/{pulumi.get_project()}-{pulumi.get_stack()}-{name}",
            key_policy=json.dumps(iam.compile_host_key_policy(self._partition, self._account)),
            noncurrent_version_days=7,
            tags=self._tags,
        )
        files = self._bootstrap_files(name, own, args, self._tags)
        secret = self._token_secret(name, args, own.key, self._tags)
        profile = self._instance_profile(own, secret)
        sg, https_out = self._security_group()
        template = self._launch_template(own, secret, profile, sg, [*files, https_out])
        asg = aws.autoscaling.Group(
            f"{name}-group",
            name=self._group,
            min_size=0,
            max_size=1,
            desired_capacity=1,
            vpc_zone_identifiers=args["subnet_ids"],
            # The version is a string in the schema (GroupLaunchTemplateArgs.version); latest_version an int.
            launch_template=aws.autoscaling.GroupLaunchTemplateArgs(
                id=template.id, version=template.latest_version.apply(str)
            ),
            # Pulumi does not wait for the instance (it works for half an hour) and never puts back the
            # capacity the instance set to 0 when it finished.
            wait_for_capacity_timeout="0",
            tags=[
                aws.autoscaling.GroupTagArgs(key=k, value=v, propagate_at_launch=False)
                for k, v in {**self._tags, ARTIFACTS_KEY_TAG: self._key}.items()
            ],
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["desiredCapacity"]),
        )
        self.group_name = asg.name
        self.artifacts_prefix = pulumi.Output.from_input(self._artifacts)
        register_declared_outputs(self)

    def _instance_profile(self, own: ProtectedBucket, secret: pulumi.Output) -> aws.iam.InstanceProfile:
        """The instance's role (compile_host_policy: one artifact directory, its own files, token and group) and
        its profile. No resource policy on the token's secret denies other readers: it would refuse Pulumi
        too, which reads a secret version back after writing it (terraform-provider-aws secret_version.go)."""
        args, child = self._args, pulumi.ResourceOptions(parent=self)
        bootstrap = own.bucket.arn.apply(lambda b: f"{b}/{BOOTSTRAP_PREFIX}*")
        policy = pulumi.Output.all(args["bucket_arn"], args["bucket_key_arn"], own.key.arn, bootstrap, secret).apply(
            lambda a: json.dumps(self._role_policy(a[0], a[1], a[2], a[3], a[4]))
        )
        role = aws.iam.Role(
            f"{self._name}-role",
            description="inferentia-chat compile host: compile the model's Neuron artifacts into the model bucket",
            assume_role_policy=json.dumps(iam.ec2_trust_policy()),
            inline_policies=[aws.iam.RoleInlinePolicyArgs(name="compile-host", policy=policy)],
            tags=self._tags,
            opts=child,
        )
        return aws.iam.InstanceProfile(f"{self._name}-profile", role=role.name, tags=self._tags, opts=child)

    def _role_policy(
        self, bucket_arn: str, bucket_key_arn: str, host_key_arn: str, bootstrap: str, secret_arn: str | None
    ) -> dict:
        access = iam.CompileHostAccess(
            partition=self._partition,
            region=self._region,
            account=self._account,
            bucket_arn=bucket_arn,
            artifacts_prefix=self._artifacts,
            directory_keys=tuple(directory_keys(self._prefix, self._key)[:-1]),
            model_key_arn=bucket_key_arn,
            bootstrap_objects_arn=bootstrap,
            host_key_arn=host_key_arn,
            group_name=self._group,
            secret_arn=secret_arn,
        )
        return _with_source_read(iam.compile_host_policy(access), self._partition, self._args.get("source"))

    def _security_group(self) -> tuple[aws.ec2.SecurityGroup, pulumi.Resource]:
        """No inbound rule at all; outbound HTTPS only (DNS, instance metadata and time go to the VPC's own
        services, which security groups do not filter)."""
        child = pulumi.ResourceOptions(parent=self)
        sg = aws.ec2.SecurityGroup(
            f"{self._name}-sg",
            description="inferentia-chat compile host: no inbound; HTTPS out only",
            vpc_id=self._args["vpc_id"],
            tags=self._tags,
            opts=child,
        )
        https_out = aws.vpc.SecurityGroupEgressRule(
            f"{self._name}-https-out",
            security_group_id=sg.id,
            ip_protocol="tcp",
            from_port=443,
            to_port=443,
            cidr_ipv4="0.0.0.0/0",
            description="HTTPS: the model source, the image registries, S3 and the AWS APIs",
            tags=self._tags,
            opts=child,
        )
        return sg, https_out

    def _launch_template(
        self,
        own: ProtectedBucket,
        secret: pulumi.Output,
        profile: aws.iam.InstanceProfile,
        sg: aws.ec2.SecurityGroup,
        waits: list[pulumi.Resource],
    ) -> aws.ec2.LaunchTemplate:
        """The compile Job's inf2 type on the node class's Neuron AMI: IMDSv2 only (hop limit 1), no key pair,
        no public address, an encrypted gp3 root, terminated on shutdown, the host script as user data."""
        args = self._args
        instance_type = compile_instance_type(args["tensor_parallel_size"], args["instance_types"])
        if instance_type is None:
            raise ValueError(f"NeuronCompileHost: no inf2 type among {list(args['instance_types'])} can compile")
        env = pulumi.Output.all(args["bucket_name"], own.bucket.bucket, secret).apply(
            lambda a: _environment(
                args, self._region, a[0], a[1], a[2] or "", self._group, self._key, self._artifacts, self._prefix
            )
        )
        return aws.ec2.LaunchTemplate(
            f"{self._name}-launch-template",
            description="inferentia-chat compile host",
            image_id=aws.ssm.get_parameter_output(name=neuron_ami_parameter(args["kubernetes_version"])).value,
            instance_type=instance_type,
            iam_instance_profile=aws.ec2.LaunchTemplateIamInstanceProfileArgs(arn=profile.arn),
            vpc_security_group_ids=[sg.id],
            instance_initiated_shutdown_behavior="terminate",
            ebs_optimized="true",
            metadata_options=aws.ec2.LaunchTemplateMetadataOptionsArgs(
                http_endpoint="enabled", http_tokens="required", http_put_response_hop_limit=1
            ),
            block_device_mappings=[
                aws.ec2.LaunchTemplateBlockDeviceMappingArgs(
                    device_name="/dev/xvda",
                    ebs=aws.ec2.LaunchTemplateBlockDeviceMappingEbsArgs(
                        volume_size=ROOT_VOLUME_GIB,
                        volume_type="gp3",
                        encrypted="true",
                        kms_key_id=own.key.arn,
                        delete_on_termination="true",
                    ),
                )
            ],
            user_data=env.apply(lambda e: base64.b64encode(user_data(e).encode()).decode()),
            tag_specifications=[
                aws.ec2.LaunchTemplateTagSpecificationArgs(resource_type=t, tags={**self._tags, "Name": self._group})
                for t in ("instance", "volume")
            ],
            update_default_version=True,
            tags=self._tags,
            # The instance starts with its files in place and its way out open.
            opts=pulumi.ResourceOptions(parent=self, depends_on=waits),
        )

    def _bootstrap_files(
        self, name: str, own: ProtectedBucket, args: NeuronCompileHostArgs, tags: Mapping[str, str]
    ) -> list[pulumi.Resource]:
        """The host's script, the compile Job's script and the model loader's files, as objects it reads at
        boot (user data holds 16 KB and no secret)."""
        server = compile_server_command(args, f"/models/{args['served_model_name']}")
        contents = {
            "compile_host.sh": HOST_SCRIPT.read_text(),
            "compile.sh": compile_script(server, lease=False),
            **{f: SCRIPT_SOURCE.with_name(f).read_text() for f in SCRIPT_FILES},
        }
        return [
            aws.s3.BucketObjectv2(
                f"{name}-{file.replace('_', '-').replace('.', '-')}",
                bucket=own.bucket.bucket,
                key=f"{BOOTSTRAP_PREFIX}{file}",
                content=text,
                server_side_encryption="aws:kms",
                kms_key_id=own.key.arn,
                tags=dict(tags),
                opts=pulumi.ResourceOptions(parent=self, depends_on=own.protections),
            )
            for file, text in contents.items()
        ]

    def _token_secret(
        self, name: str, args: NeuronCompileHostArgs, key: aws.kms.Key, tags: Mapping[str, str]
    ) -> pulumi.Output[str | None]:
        """The Hugging Face token in Secrets Manager under the host's key (its ARN), or None without one."""
        token = args.get("hf_token")
        if token is None or args.get("source", "huggingface") != "huggingface":
            return pulumi.Output.from_input(None)
        secret = aws.secretsmanager.Secret(
            f"{name}-hf-token",
            description="inferentia-chat compile host: Hugging Face read token",
            kms_key_id=key.arn,
            recovery_window_in_days=7,
            tags=dict(tags),
            opts=pulumi.ResourceOptions(parent=self),
        )
        version = aws.secretsmanager.SecretVersion(
            f"{name}-hf-token-value",
            secret_id=secret.id,
            secret_string=pulumi.Output.secret(token),
            opts=pulumi.ResourceOptions(parent=self),
        )
        return pulumi.Output.all(secret.arn, version.id).apply(lambda a: a[0])


def _with_source_read(policy: dict, partition: str, source: str | None) -> dict:
    """An `s3://` model source: the load Job's read access to it, for the host too."""
    if source is None or source == "huggingface":
        return policy
    bucket, prefix = split_s3_uri(source)
    policy["Statement"] += iam.model_source_read_policy(partition, bucket, prefix)["Statement"]
    return policy


def _environment(
    args: NeuronCompileHostArgs,
    region: str,
    bucket: str,
    bootstrap_bucket: str,
    secret_arn: str,
    group: str,
    key: str,
    artifacts: str,
    prefix: str,
) -> dict[str, str | list[str]]:
    """What the host script reads from /etc/compile-host.env: names and arguments, never a secret."""
    source = args.get("source", "huggingface")
    fetch = ["--source", source]
    fetch += (
        ["--model-id", args["model_id"], "--revision", args["model_revision"]]
        if source == "huggingface"
        else ["--region", region]
    )
    return {
        "AWS_REGION": region,
        "BUCKET": bucket,
        "BOOTSTRAP": f"s3://{bootstrap_bucket}/{BOOTSTRAP_PREFIX}",
        "ARTIFACTS_PREFIX": artifacts,
        "ARTIFACT_KEY": key,
        "DIRECTORY_KEYS": directory_keys(prefix, key),
        "GROUP": group,
        "SECRET_ARN": secret_arn,
        "IMAGE": args.get("image", versions.VLLM_NEURON_IMAGE),
        "LOADER_IMAGE": args.get("loader_image", versions.MODEL_LOADER_IMAGE),
        "MODEL_DIR": f"/models/{args['served_model_name']}",
        "FETCH_ARGS": fetch,
        "DEADLINE_S": str(HOST_DEADLINE_S),
        "IMPORT_SETTLE_S": str(IMPORT_SETTLE_S),
        "LATE_START_S": str(LATE_START_S),
        "AGAIN_TAG": COMPILE_AGAIN_TAG,
    }


def user_data(env: Mapping[str, str | list[str]]) -> str:
    """The boot script: write the configuration, fetch the files, run the host script (cloud-init)."""
    lines = [
        f"{k}=({' '.join(shlex.quote(x) for x in v)})" if isinstance(v, list) else f"{k}={shlex.quote(v)}"
        for k, v in env.items()
    ]
    config = "\n".join(lines)
    region, group = shlex.quote(str(env["AWS_REGION"])), shlex.quote(str(env["GROUP"]))
    return f"""#!/bin/bash
# inferentia-chat compile host (NeuronCompileHost): configuration, then the script from the bootstrap bucket.
set -euo pipefail
umask 022
cat >/etc/compile-host.env <<'EOF'
{config}
EOF
install -d -m 0755 /opt/compile-host
# Retried: the instance profile's credentials and the role's policy can take a while to reach a new instance.
for attempt in $(seq 1 {BOOTSTRAP_ATTEMPTS}); do
  aws --region {region} s3 cp {shlex.quote(str(env["BOOTSTRAP"]))} /opt/compile-host/ --recursive --only-show-errors \\
    && exec /bin/bash /opt/compile-host/compile_host.sh
  echo "compile-host: the bootstrap files are not readable yet (attempt $attempt)" >&2
  sleep 10
done
# Never left running without its script: end the group's capacity (or the instance itself).
aws --region {region} autoscaling set-desired-capacity --auto-scaling-group-name {group} --desired-capacity 0 \\
  || shutdown -h now
exit 1
"""
