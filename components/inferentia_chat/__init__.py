"""inferentia-chat components: a private LLM chat service on AWS Inferentia2, as Pulumi components.

One package name in the repository (`components/` is its source root) and once installed with pip.
The public API is what `__all__` lists; everything else may change without notice.
"""

from .autoscaling import Autoscaling, AutoscalingArgs
from .cognito_user_pool import CognitoUserPool, CognitoUserPoolArgs
from .eks_cluster import EksCluster, EksClusterArgs
from .inferentia_node_pool import InferentiaNodePool, InferentiaNodePoolArgs
from .karpenter import Karpenter, KarpenterArgs
from .load_balancer_controller import LoadBalancerController, LoadBalancerControllerArgs
from .model_replica import ModelReplica, ModelReplicaArgs
from .model_store import (
    LinkedBucketArgs,
    LustreModelStore,
    LustreModelStoreArgs,
    ModelLoader,
    ModelLoaderArgs,
    ModelSourceArgs,
    ModelVolume,
    ModelVolumeArgs,
)
from .monitoring import Monitoring, MonitoringArgs
from .network import Network, NetworkArgs
from .open_webui import OpenWebUI, OpenWebUIArgs
from .system_node_pool import SystemNodePool, SystemNodePoolArgs
from .vllm import NeuronCompileHost, NeuronCompileHostArgs, VllmNeuronServer, VllmNeuronServerArgs
from .volume_snapshots import VolumeSnapshots, VolumeSnapshotsArgs

__version__ = "0.1.0"

COMPONENTS = (
    Network,
    EksCluster,
    Karpenter,
    InferentiaNodePool,
    LustreModelStore,
    ModelVolume,
    ModelLoader,
    VllmNeuronServer,
    NeuronCompileHost,
    OpenWebUI,
    CognitoUserPool,
    LoadBalancerController,
    ModelReplica,
    VolumeSnapshots,
    SystemNodePool,
    Monitoring,
    Autoscaling,
)
"""Every public component class (the ones the Pulumi plugin exposes to other languages)."""

__all__ = [
    "COMPONENTS",
    "Autoscaling",
    "AutoscalingArgs",
    "CognitoUserPool",
    "CognitoUserPoolArgs",
    "EksCluster",
    "EksClusterArgs",
    "InferentiaNodePool",
    "InferentiaNodePoolArgs",
    "Karpenter",
    "KarpenterArgs",
    "LinkedBucketArgs",
    "LoadBalancerController",
    "LoadBalancerControllerArgs",
    "LustreModelStore",
    "LustreModelStoreArgs",
    "ModelLoader",
    "ModelLoaderArgs",
    "ModelReplica",
    "ModelReplicaArgs",
    "ModelSourceArgs",
    "ModelVolume",
    "ModelVolumeArgs",
    "Monitoring",
    "MonitoringArgs",
    "Network",
    "NetworkArgs",
    "NeuronCompileHost",
    "NeuronCompileHostArgs",
    "OpenWebUI",
    "OpenWebUIArgs",
    "SystemNodePool",
    "SystemNodePoolArgs",
    "VllmNeuronServer",
    "VllmNeuronServerArgs",
    "VolumeSnapshots",
    "VolumeSnapshotsArgs",
    "__version__",
]
