"""The model store: S3 + FSx for Lustre (`LustreModelStore`, AWS only), its Kubernetes volume
(`ModelVolume`) and the Jobs that put the model there (`ModelLoader`, with the script they run).

Each builds on the outputs of the one before: store -> volume -> loader and serving pods.
"""

from .lustre_model_store import LinkedBucketArgs, LustreModelStore, LustreModelStoreArgs
from .model_loader import ModelLoader, ModelLoaderArgs, ModelSourceArgs, model_request
from .model_volume import ModelVolume, ModelVolumeArgs, model_volume_args

__all__ = [
    "LinkedBucketArgs",
    "LustreModelStore",
    "LustreModelStoreArgs",
    "ModelLoader",
    "ModelLoaderArgs",
    "ModelSourceArgs",
    "ModelVolume",
    "ModelVolumeArgs",
    "model_request",
    "model_volume_args",
]
