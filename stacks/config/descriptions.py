"""What each configuration key means and what changing it does to a running stack.

The generated reference (docs/configuration.md) joins these to what the sections themselves declare (type,
default, allowed values): a key a section reads without an entry here fails tests/test_config_docs.py.
Keys are written without the `inferentia-chat:` namespace, except the providers' (`aws:region`).
"""

from __future__ import annotations

# On change, in the words of a plan: "in place" updates the resources; "replaces X" creates a new X and
# deletes the old (data on it included, unless said otherwise); "new nodes" lets Karpenter replace nodes
# (drift) while the serving pods move with their disruption budget.
KEY_DOCS: dict[str, tuple[str, str]] = {
    "aws:region": ("The AWS region of the stack (required).", "replaces every regional resource: a new stack"),
    "role": ("`primary`, or `dr` for the disaster-recovery stack of a primary.", "replaces the whole stack"),
    "tags": (
        "Extra tags on every AWS resource (`project`, `stack`, `component` are set by the program).",
        "in place",
    ),
    "hfToken": (
        "Hugging Face read token, secret only (`pulumi config set --secret inferentia-chat:hfToken hf_...`); "
        "needed for gated models such as the default. A plain value is refused, and never printed.",
        "in place (the load Job's Secret)",
    ),
    "models": (
        "Several models: a list of 1 to 8 entries, each with the keys of `model` (docs/team.md); instead of "
        "`model`, not beside it. Served names must be unique; `inferencePool.maxNeuronDevices` covers them all.",
        "adding an entry at the end creates that model's server and Jobs only; the first entry keeps the "
        "one-model names (reordering it replaces servers); removing an entry deletes its server (weights stay)",
    ),
    "oidcClientSecret": (
        "The client secret of the web UI at the organisation's OpenID provider (`webui.auth: oidc`), secret only "
        "(`pulumi config set --secret inferentia-chat:oidcClientSecret ...`); never printed or rendered.",
        "in place (the web UI's Secret; restart its pod to read it)",
    ),
    "environment": (
        "`production` or `development`. Labels every namespace the stack creates; the policy pack requires every "
        "image pinned by digest in production (docs/security.md).",
        "in place (namespace labels)",
    ),
    "images": (
        "Per image (`vllm`, `modelLoader`, `lustreClient`, `openWebui`): `sha256:<64 hex>` pins the version tag by "
        "digest, or a whole `<repository>[:<tag>]@sha256:<64 hex>` from an allowed repository (docs/security.md).",
        "rolls the workloads (Jobs re-run as no-ops when the model is complete)",
    ),
    "network": ("A new VPC (cidr, zones, NAT) or an existing one (vpcId and subnet ids).", ""),
    "network.flowLogs": (
        "VPC flow logs (all traffic, new or adopted VPC) to a CloudWatch Logs group with its own customer key.",
        "in place (adds or deletes the flow log, its group, key and role)",
    ),
    "network.flowLogRetentionDays": ("Retention of the flow-log group, a CloudWatch Logs value.", "in place"),
    "network.vpcId": ("Adopt an existing VPC instead of creating one.", "replaces the cluster and the file system"),
    "network.privateSubnetIds": (
        "Private subnets of an adopted VPC, at least two zones; they get the discovery tags.",
        "replaces the cluster and the file system",
    ),
    "network.publicSubnetIds": ("Public subnets of an adopted VPC (for internet-facing load balancers).", "in place"),
    "network.cidr": ("IPv4 block of a new VPC, /16 to /20, outside the reserved ranges.", "replaces the VPC"),
    "network.azCount": (
        "Zones of a new VPC (the region's first zones by name); at most the zones the region offers, and at most "
        "4 (what awsx can lay out with these subnet sizes). List `availabilityZones` in production.",
        "replaces subnets",
    ),
    "network.availabilityZones": (
        "The zones of a new VPC, instead of azCount; zones of this region.",
        "replaces subnets",
    ),
    "network.natGateways": (
        "`one-per-az`, or `single` (cheaper: one zone's NAT carries all egress).",
        "replaces NAT gateways",
    ),
    "cluster": ("The EKS control plane and its small system node group.", ""),
    "cluster.name": (
        "EKS cluster name; the default `inferentia-chat-<stack>` must itself be a valid name.",
        "replaces the cluster",
    ),
    "cluster.kubernetesVersion": (
        "Kubernetes minor, one with pinned add-ons in components/inferentia_chat/versions.py.",
        "in place (one minor at a time)",
    ),
    "cluster.systemNodeType": (
        "General-purpose instance type of the system nodes (controllers, web UI); accelerated types refused.",
        "replaces the system node group",
    ),
    "cluster.systemNodeCount": ("System nodes.", "in place"),
    "cluster.systemNodeMaxCount": (
        "Most system nodes at once: the managed group keeps systemNodeCount, a Karpenter NodePool adds up to "
        "systemNodeMaxCount - systemNodeCount on demand (none when equal); the monitoring stack must fit it.",
        "in place (the NodePool's node limit)",
    ),
    "cluster.publicEndpoint": ("A public Kubernetes API endpoint (private access is always on).", "in place"),
    "cluster.publicAccessCidrs": (
        "Public blocks allowed to reach the public endpoint: required with it, at most 40, not the whole internet.",
        "in place",
    ),
    "cluster.adminRoleArns": ("IAM roles given cluster admin through access entries.", "in place"),
    "cluster.logTypes": ("Control-plane log types sent to CloudWatch.", "in place"),
    "cluster.logRetentionDays": ("Retention of the control-plane logs (a CloudWatch value).", "in place"),
    "inferencePool": ("The Karpenter-managed Inferentia2 capacity.", ""),
    "inferencePool.instanceTypes": (
        "inf2 sizes Karpenter may launch; one must host the serving pod at model.tensorParallelSize.",
        "new nodes",
    ),
    "inferencePool.capacityTypes": ("`on-demand` and/or `spot`.", "new nodes"),
    "inferencePool.consolidateAfter": ("How long a node stays empty before Karpenter removes it.", "in place"),
    "inferencePool.expireAfter": ("Node lifetime before replacement, or `Never`.", "in place"),
    "inferencePool.terminationGracePeriod": (
        "Longest a node drain may take before its pods are deleted (`Never` refused).",
        "in place",
    ),
    "inferencePool.maxNeuronDevices": (
        "Cost ceiling: Inferentia2 chips running at once; must cover the replicas plus a rollout pod and the "
        "compile Job.",
        "in place",
    ),
    "inferencePool.imageCache": ("Optional image cache: both keys together, or neither.", "see its keys"),
    "inferencePool.imageCache.snapshotId": (
        "EBS snapshot holding the serving image, restored as the Bottlerocket data volume.",
        "new nodes",
    ),
    "inferencePool.imageCache.bottlerocketVersion": ("Bottlerocket release the snapshot was made with.", "new nodes"),
    "inferencePool.imagePull": (
        "How nodes pull the serving image: `soci` (SOCI parallel pull: AL2023 FastImagePull, Bottlerocket "
        "settings) or `containerd` (docs/performance.md).",
        "new nodes (drifted nodes are replaced one at a time)",
    ),
    "inferencePool.bottlerocketVersion": (
        "Run the inference nodes on this Bottlerocket release (e.g. v1.61.0, the first with Kubernetes 1.36) "
        "instead of AL2023; SOCI needs v1.44.0 or later; not with imageCache.",
        "new nodes (drifted nodes are replaced one at a time)",
    ),
    "modelStore": ("The S3 bucket and the FSx for Lustre file system linked to it.", ""),
    "modelStore.deploymentType": (
        "`PERSISTENT_2`, or `SCRATCH_2` (dev: FSx-managed key, import only).",
        "replaces the file system",
    ),
    "modelStore.storageCapacityGiB": ("1200, 2400 or a multiple of 2400 GiB.", "in place (grow only)"),
    "modelStore.throughputPerTiB": (
        "MB/s per TiB of PERSISTENT_2; 500 at 1200 GiB feeds a replica within the start-up budget.",
        "replaces the file system (ForceNew in the provider source read: docs/day-2.md)",
    ),
    "modelStore.fileSystemPath": (
        "Where the bucket appears in the file system (data repository association).",
        "replaces the data repository association",
    ),
    "modelStore.bucketPrefix": (
        "Key prefix of the bucket linked to the file system, ending in `/` (empty: the whole bucket).",
        "replaces the data repository association",
    ),
    "modelStore.noncurrentVersionDays": ("Lifecycle expiry of old object versions.", "in place"),
    "modelStore.availabilityZone": (
        "Zone of the file system, hence of the inference nodes; one of the network's zones (default: its first).",
        "replaces the file system",
    ),
    "modelStore.throughputCheck": (
        "`warn` or `error` when the file system cannot feed model.replicas pods within the start-up budget.",
        "none (a check)",
    ),
    "model": ("The model and how vLLM serves it.", ""),
    "model.id": ("Hugging Face id of the model.", "new load Job, compile Job and rolling update"),
    "model.revision": ("Commit or tag of the model.", "new load Job, compile Job and rolling update"),
    "model.source": (
        "`huggingface`, or an `s3://bucket/prefix/` to copy the model from.",
        "new load Job",
    ),
    "model.servedName": ("The model name clients use.", "rolling update"),
    "model.tensorParallelSize": (
        "NeuronCores per serving pod (1, 2, 4, 8, 24); must divide the heads and fit an allowed type.",
        "compile Job and rolling update",
    ),
    "model.maxModelLen": (
        "Context length; with maxNumSeqs, the KV cache must fit the devices' memory.",
        "compile Job and rolling update",
    ),
    "model.maxNumSeqs": ("Concurrent sequences per replica.", "compile Job and rolling update"),
    "model.replicas": ("Serving pods (0 by default on a DR stack).", "in place"),
    "model.compileJob": (
        "Compile the Neuron artifacts once in a Job (needs an inf2 size with >= 64 GiB host memory).",
        "in place",
    ),
    "model.compileHost": (
        "Compile the Neuron artifacts on an inf2 EC2 instance started as soon as the network exists (default "
        "true where the compile Job runs on a primary stack; must be false on a DR stack), so the first "
        "`pulumi up` does not wait for the cluster to compile; the compile Job stays as the fallback.",
        "creates or deletes the compile host (its Auto Scaling group, launch template, role, security group and "
        "bootstrap bucket); nothing stateful",
    ),
    "model.autoscaling": (
        "KEDA scales the model on its request queue (off unless set; docs/operations-autoscaling.md). "
        "`replicas` does not apply with it.",
        "creates or deletes the ScaledObject (and KEDA); the Deployment's count passes to or from the HPA",
    ),
    "model.autoscaling.minReplicas": ("Replicas kept when idle; 0 scales to zero (needs activeSchedule).", "in place"),
    "model.autoscaling.maxReplicas": (
        "Replicas at peak load (required); with the rollout's extra pod and the compile Job it must fit "
        "inferencePool.maxNeuronDevices.",
        "in place",
    ),
    "model.autoscaling.maxQueueWaitSeconds": (
        "Longest a request may wait in the queue; the scale-out threshold and the queue alert follow from it "
        "and the start-up budget.",
        "in place",
    ),
    "model.autoscaling.activeSchedule": ("With minReplicas 0: the hours one replica runs (KEDA cron).", "in place"),
    "model.autoscaling.activeSchedule.timezone": ("IANA time zone of start and end.", "in place"),
    "model.autoscaling.activeSchedule.start": ("Cron expression of the start, e.g. `0 8 * * 1-5`.", "in place"),
    "model.autoscaling.activeSchedule.end": ("Cron expression of the end, e.g. `0 19 * * 1-5`.", "in place"),
    "monitoring": (
        "Prometheus, Grafana, alerts and neuron-monitor (docs/operations-monitoring.md); on by default.",
        "",
    ),
    "monitoring.enabled": ("Deploy the monitoring stack (autoscaling needs it).", "creates or deletes it"),
    "monitoring.retention": ("How long Prometheus keeps samples.", "in place (Prometheus restarts)"),
    "monitoring.storageGiB": (
        "Size of the Prometheus volume (also caps retention at 85 % of it).",
        "new claims only: grow the existing claim by hand",
    ),
    "monitoring.managedPrometheus": (
        "Also remote-write to an Amazon Managed Service for Prometheus workspace (created, KMS-encrypted).",
        "creates or deletes the workspace",
    ),
    "monitoring.alertTarget": (
        "`sns` (an encrypted topic), `webhook` (URL in alertWebhookUrl) or `none`.",
        "in place (leaving sns deletes the topic)",
    ),
    "monitoring.alertEmail": ("Email subscribed to the alert topic (sns only).", "in place"),
    "monitoring.ttftP95TargetSeconds": ("Time-to-first-token p95 above which an alert fires.", "in place"),
    "alertWebhookUrl": (
        "Alertmanager webhook URL, secret only (`pulumi config set --secret inferentia-chat:alertWebhookUrl ...`), "
        "with monitoring.alertTarget webhook.",
        "in place (the Secret Alertmanager reads)",
    ),
    "webui": ("Open WebUI and the way users reach it.", ""),
    "webui.exposure": (
        "`cluster` (port-forward), `internal-alb` or `public-alb` (HTTPS ALB).",
        "creates or deletes the Ingress and load balancer",
    ),
    "webui.certificateArn": (
        "ACM certificate of the HTTPS listener, in the stack's region; required for both ALB exposures.",
        "in place",
    ),
    "webui.allowedCidrs": ("Source blocks allowed to reach the ALB; required for `public-alb`.", "in place"),
    "webui.hostname": ("DNS name users open (the certificate's name); required for both ALB exposures.", "in place"),
    "webui.replicas": ("Must be 1: users and chats live in SQLite on a ReadWriteOnce volume.", "none"),
    "webui.storageGiB": ("Size of the encrypted data volume.", "in place (grow only)"),
    "webui.adminEmail": ("Login of the first admin, created at first start.", "none after the first start"),
    "webui.auth": (
        "How people sign in: `local` (accounts in Open WebUI), `oidc` (the organisation's OpenID provider: "
        "webui.oidc) or `cognito` (a user pool the stack makes: webui.cognito); oidc and cognito need an ALB "
        "exposure (docs/team.md).",
        "in place (the web UI pod restarts; users and chats stay); cognito creates or deletes the user pool",
    ),
    "webui.oidc": ("The organisation's OpenID Connect provider (with webui.auth oidc).", "see its keys"),
    "webui.oidc.issuerUrl": ("The provider's https issuer (discovery at <issuer>/.well-known/...).", "in place"),
    "webui.oidc.clientId": ("The web UI's client id at the provider.", "in place"),
    "webui.oidc.allowedDomains": ("E-mail domains whose users may sign in (an account at first sign-in).", "in place"),
    "webui.oidc.rolesClaim": ("Claim listing the user's roles or groups (dotted path for nested claims).", "in place"),
    "webui.oidc.adminRoles": ("Values of that claim that make an Open WebUI admin.", "in place"),
    "webui.oidc.providerName": ("Label of the sign-in button.", "in place"),
    "webui.cognito": ("The stack's own Cognito user pool (with webui.auth cognito).", "see its keys"),
    "webui.cognito.domainPrefix": (
        "Prefix of the hosted sign-in domain <prefix>.auth.<region>.amazoncognito.com (default chat-<random>).",
        "replaces the hosted domain",
    ),
    "webui.cognito.adminGroup": (
        "Cognito group whose members are Open WebUI admins.",
        "replaces the group (add its members again)",
    ),
    "dr": ("The DR stack's link to its primary (role: dr only).", ""),
    "dr.primaryStack": (
        "The primary's fully qualified stack name `<org>/inferentia-chat/<stack>`: this project, another stack.",
        "replaces the replication",
    ),
    "dr.primaryRegion": ("The primary's region; must differ from this stack's.", "replaces the replication"),
    "dr.standby": ("`none`, `storage` (plus a file system) or `serving` (the whole platform).", "creates or deletes"),
    "dr.replicaStorageClass": ("Storage class of the replicated objects.", "in place (new objects)"),
    "dr.replicateDeleteMarkers": ("Replicate deletes (delete markers) to the replica.", "in place"),
    "dr.prefixes": ("Key prefixes to replicate, not overlapping (default: the whole bucket).", "in place"),
    "dr.alarmEmail": ("Email subscribed to the replication alarms' encrypted SNS topic.", "in place"),
    "dataOnDestroy": (
        "`retain` (default: the model and replica buckets, their keys and the chat volume survive `pulumi "
        "destroy`) or `delete` (a throwaway stack: everything goes). docs/day-2.md.",
        "in place (the chat StorageClass is replaced; volumes keep the policy they were made with)",
    ),
    "protectData": (
        "Pulumi `protect` on the buckets, keys and chat claim, and EKS deletion protection (default: true in "
        "the `production` environment; must be false with dataOnDestroy delete).",
        "in place",
    ),
    "chatSnapshots": ("Daily snapshots of the chat volume (Data Lifecycle Manager).", ""),
    "chatSnapshots.retainDays": ("Daily snapshots kept.", "in place"),
    "chatSnapshots.startTime": ("UTC time the daily snapshot starts (HH:MM).", "in place"),
}
