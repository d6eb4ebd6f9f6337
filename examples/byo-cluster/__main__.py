"""Bring your own cluster: the model store, vLLM and the chat UI from inferentia-chat on an EKS cluster you
already run.

Everything cluster-wide (network, EKS, Karpenter and its Inferentia2 NodePool with the Neuron device plugin,
the FSx and EBS CSI drivers, a default StorageClass) is yours; this program adds the S3 + FSx for Lustre
model store, vLLM on Neuron and Open WebUI in front of it.
"""

import pulumi
import pulumi_kubernetes as k8s

from inferentia_chat import (
    LustreModelStore,
    LustreModelStoreArgs,
    ModelLoader,
    ModelLoaderArgs,
    ModelSourceArgs,
    ModelVolume,
    OpenWebUI,
    OpenWebUIArgs,
    VllmNeuronServer,
    VllmNeuronServerArgs,
)
from inferentia_chat.model_store import model_request, model_volume_args
from inferentia_chat.open_webui import APP as WEBUI_NAMESPACE
from inferentia_chat.open_webui import SELECTOR as WEBUI_POD_LABELS
from inferentia_chat.open_webui import endpoint_args

config = pulumi.Config()
zone = config.require("availabilityZone")
provider = k8s.Provider("cluster", kubeconfig=config.require_secret("kubeconfig"))
on_cluster = pulumi.ResourceOptions(providers={"kubernetes": provider})

MODEL_ID = "mistralai/Mistral-7B-Instruct-v0.3"
MODEL_REVISION = "c170c708c41dac9275d15a8fff4eca08d52bab71"

# S3 + FSx for Lustre (AWS only), the volume pods mount (Kubernetes), the Jobs that load the model onto it.
store = LustreModelStore(
    "models",
    LustreModelStoreArgs(
        vpc_id=config.require("vpcId"),
        subnet_id=config.require("subnetId"),
        availability_zone=zone,
        node_security_group_id=config.require("nodeSecurityGroupId"),
        deployment_type="PERSISTENT_2",
        storage_capacity_gib=1200,
        throughput_per_tib=250,
        tags={"project": "byo-cluster", "stack": pulumi.get_stack()},
    ),
)
# The volume reads the file system from the store's outputs (model_volume_args).
volume = ModelVolume("models", model_volume_args(store, "mistral-7b-instruct", namespace="llm"), opts=on_cluster)
ModelLoader(
    "models",
    ModelLoaderArgs(
        namespace=volume.namespace,
        pvc_name=volume.pvc_name,
        model_path=volume.model_path,
        source=ModelSourceArgs(model_id=MODEL_ID, model_revision=MODEL_REVISION),
    ),
    opts=on_cluster,
)
server = VllmNeuronServer(
    "vllm",
    VllmNeuronServerArgs(
        namespace=volume.namespace,
        pvc_name=volume.pvc_name,
        model_subpath=volume.model_subpath,
        cache_subpath=volume.cache_subpath,
        model_id=MODEL_ID,
        model_revision=MODEL_REVISION,
        served_model_name="mistral-7b-instruct",
        tensor_parallel_size=2,
        max_model_len=8192,
        max_num_seqs=4,
        replicas=1,
        instance_types=config.require_object("inferenceInstanceTypes"),
        node_selector=config.require_object("inferenceNodeSelector"),
        tolerations=[{"key": "aws.amazon.com/neuron", "operator": "Exists", "effect": "NoSchedule"}],
        availability_zone=zone,
        client_namespace=WEBUI_NAMESPACE,  # only the chat UI may call the API
        client_pod_labels=WEBUI_POD_LABELS,
        # Pods wait in the cluster until the model is loaded (the loader's completion marker).
        model_request=model_request("huggingface", MODEL_ID, MODEL_REVISION),
    ),
    opts=on_cluster,
)
webui = OpenWebUI(
    "webui",
    OpenWebUIArgs(
        **endpoint_args(server),  # this server's URL, model name, API key and pods (NetworkPolicy)
        # Your cluster's StorageClass for the UI's data volume, and the nodes it may run on.
        storage_class=config.require("storageClass"),
        node_selector=config.require_object("systemNodeSelector"),
    ),
    opts=on_cluster,
)

pulumi.export("openaiBaseUrl", server.base_url)
pulumi.export("apiKey", server.api_key)
pulumi.export("modelBucket", store.bucket_name)
pulumi.export("fileSystemId", store.file_system_id)
pulumi.export("webuiPortForwardCommand", webui.port_forward_command)
pulumi.export("webuiAdminPassword", webui.admin_password)
