"""IAM policy documents as small pure functions (unit-tested and linted without any Pulumi runtime).

Each returns a policy document as a dict; callers `json.dumps` it. ARNs are built from partition,
region and account so the same code serves aws, aws-cn and aws-us-gov.

One module per concern (trust, keys, storage, karpenter, replication, load_balancer_controller, compile_host); this
package re-exports every document, so `iam.<name>` reads the same everywhere.
"""

from .compile_host import (
    CompileHostAccess,
    autoscaling_role_arn,
    compile_host_key_policy,
    compile_host_policy,
)
from .karpenter import karpenter_controller_policy, karpenter_interruption_queue_policy
from .keys import FSX_S3_ACCESS_ROLE_PATH, FsxS3Link, fsx_s3_access_role_arn, kms_key_policy
from .load_balancer_controller import aws_load_balancer_controller_policy
from .policy import Policy
from .replication import (
    BatchReportLocation,
    ReplicationEnds,
    alarm_topic_policy,
    batch_replication_policy,
    cloudwatch_alarm_source,
    object_arns,
    replication_role_policy,
    s3_encryption_context,
)
from .storage import (
    deny_insecure_transport_policy,
    ebs_csi_kms_policy,
    flow_logs_delivery_policy,
    fsx_csi_static_policy,
    model_source_read_policy,
)
from .trust import (
    PodIdentitySubject,
    ec2_trust_policy,
    eks_cluster_arn,
    managed_policy_arn,
    pod_identity_trust_policy,
    service_trust_policy,
)

__all__ = [
    "FSX_S3_ACCESS_ROLE_PATH",
    "BatchReportLocation",
    "CompileHostAccess",
    "FsxS3Link",
    "PodIdentitySubject",
    "Policy",
    "ReplicationEnds",
    "alarm_topic_policy",
    "autoscaling_role_arn",
    "aws_load_balancer_controller_policy",
    "batch_replication_policy",
    "cloudwatch_alarm_source",
    "compile_host_key_policy",
    "compile_host_policy",
    "deny_insecure_transport_policy",
    "ebs_csi_kms_policy",
    "ec2_trust_policy",
    "eks_cluster_arn",
    "flow_logs_delivery_policy",
    "fsx_csi_static_policy",
    "fsx_s3_access_role_arn",
    "karpenter_controller_policy",
    "karpenter_interruption_queue_policy",
    "kms_key_policy",
    "managed_policy_arn",
    "model_source_read_policy",
    "object_arns",
    "pod_identity_trust_policy",
    "replication_role_policy",
    "s3_encryption_context",
    "service_trust_policy",
]
