"""Bring your own cluster: the model store and vLLM from inferentia-chat on an EKS cluster you already run.

Everything cluster-wide (network, EKS, Karpenter and its Inferentia2 NodePool with the Neuron device plugin,
the FSx CSI driver) is yours; this program adds the S3 + FSx for Lustre model store and vLLM on Neuron.
"""

import pulumi
import pulumi_kubernetes as k8s
from inferentia_chat import LustreModelStore, LustreModelStoreArgs, VllmNeuronServer, VllmNeuronServerArgs

config = pulumi.Config()
zone = config.require("availabilityZone")
provider = k8s.Provider("cluster", kubeconfig=config.require_secret("kubeconfig"))
on_cluster = pulumi.ResourceOptions(providers={"kubernetes": provider})

store = LustreModelStore(
    "models",
    LustreModelStoreArgs(
        vpc_id=config.require("vpcId"),
        subnet_id=config.require("subnetId"),
        availability_zone=zone,
        node_security_group_id=config.require("nodeSecurityGroupId"),
        cluster_security_group_id=config.require("clusterSecurityGroupId"),
        cluster_name=config.require("clusterName"),
        deployment_type="PERSISTENT_2",
        storage_capacity_gib=1200,
        throughput_per_tib=250,
        model_id="mistralai/Mistral-7B-Instruct-v0.3",
        model_revision="c170c708c41dac9275d15a8fff4eca08d52bab71",
        model_name="mistral-7b-instruct",
        namespace="llm",
        tags={"project": "byo-cluster", "stack": pulumi.get_stack()},
    ),
    opts=on_cluster,
)
server = VllmNeuronServer(
    "vllm",
    VllmNeuronServerArgs(
        namespace=store.namespace,
        pvc_name=store.pvc_name,
        model_subpath="models/mistral-7b-instruct",
        cache_subpath="neuron-cache",
        model_id="mistralai/Mistral-7B-Instruct-v0.3",
        model_revision="c170c708c41dac9275d15a8fff4eca08d52bab71",
        served_model_name="mistral-7b-instruct",
        tensor_parallel_size=2,
        max_model_len=8192,
        max_num_seqs=4,
        replicas=1,
        instance_types=config.require_object("inferenceInstanceTypes"),
        node_selector=config.require_object("inferenceNodeSelector"),
        tolerations=[{"key": "aws.amazon.com/neuron", "operator": "Exists", "effect": "NoSchedule"}],
        availability_zone=zone,
        client_namespace="chat",
        client_pod_labels={"app.kubernetes.io/name": "open-webui"},
    ),
    opts=pulumi.ResourceOptions(providers={"kubernetes": provider}, depends_on=[store]),
)

pulumi.export("openaiBaseUrl", server.base_url)
pulumi.export("apiKey", server.api_key)
pulumi.export("modelBucket", store.bucket_name)
pulumi.export("fileSystemId", store.file_system_id)
