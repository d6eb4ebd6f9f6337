"""Teardown order, read from the recorded graph: `pulumi destroy` deletes a resource before everything it
depends on. Required order: workloads -> NodePool -> EC2NodeClass -> Karpenter release -> its queue and IAM
-> cluster; everything that mounts the file system -> file system; everything -> VPC."""

from conftest import Plan

NODE_POOL = "kubernetes:karpenter.sh/v1:NodePool"
NODE_CLASS = "kubernetes:karpenter.k8s.aws/v1:EC2NodeClass"
RELEASE = "kubernetes:helm.sh/v3:Release"
FS = "aws:fsx/lustreFileSystem:LustreFileSystem"


def deleted_before(plan: Plan, first, then) -> None:
    """`first` goes before `then` on destroy: it depends on `then`, never the other way round."""
    assert plan.depends(first, then), f"{first.name} must be deleted before {then.name}"
    assert not plan.depends(then, first), f"cycle: {then.name} also waits for {first.name}"


def test_the_destroy_chain_from_workloads_to_the_vpc(dev: Plan):
    serving = dev.one("kubernetes:apps/v1:Deployment", "vllm-deployment")
    compile_job = dev.one("kubernetes:batch/v1:Job", "vllm-compile")
    pool, node_class = dev.one(NODE_POOL, "inferentia-node-pool"), dev.one(NODE_CLASS, "inferentia-node-class")
    karpenter = dev.one(RELEASE, "karpenter-chart")
    queue = dev.one("aws:sqs/queue:Queue")
    controller_role = dev.one("aws:iam/role:Role", "karpenter-controller-role")
    cluster, vpc = dev.one("eks:index:Cluster"), dev.one("awsx:ec2:Vpc")
    for workload in (serving, compile_job, dev.one(RELEASE, "inferentia-neuron")):
        deleted_before(dev, workload, pool)  # pods leave the inf2 nodes before Karpenter removes them
    deleted_before(dev, pool, node_class)
    deleted_before(dev, node_class, karpenter)  # the controller still runs to terminate the instances
    for aws_side in (queue, controller_role):
        deleted_before(dev, karpenter, aws_side)
    deleted_before(dev, karpenter, cluster)
    deleted_before(dev, cluster, vpc)


def test_everything_that_mounts_the_file_system_goes_first(dev: Plan):
    fs = dev.one(FS)
    for mounts in (
        dev.one("kubernetes:core/v1:PersistentVolume"),
        dev.one("kubernetes:core/v1:PersistentVolumeClaim", "model-store-pvc"),
        dev.one("kubernetes:batch/v1:Job", "model-store-load"),
        dev.one("kubernetes:apps/v1:Deployment", "vllm-deployment"),
    ):
        deleted_before(dev, mounts, fs)
    deleted_before(dev, fs, dev.one("awsx:ec2:Vpc"))


def test_file_system_and_cluster_are_independent(dev: Plan):
    """No `cluster -> file system` edge, on purpose: nothing in the cluster needs the file system gone first
    (its users, above, are deleted before it), and the edge would serialize two 10-15 minute creations
    (the budget's critical path flags exactly that)."""
    fs, cluster = dev.one(FS), dev.one("eks:index:Cluster")
    assert not dev.depends(fs, cluster) and not dev.depends(cluster, fs)
