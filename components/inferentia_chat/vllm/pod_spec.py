"""What the vLLM serving pods and the compile Job share: the engine's arguments and cache key, placement,
volumes, environment, security, and the init containers that wait for the model and the artifacts."""

import re
from typing import TYPE_CHECKING, Any

import pulumi

from .. import versions
from ..common.pod_security import restricted_container, restricted_pod
from ..hardware import KV_BLOCK_SIZE, NEURON_RESOURCE, kv_cache_blocks
from ..model_layout import WORKLOAD_UID
from ..model_store import model_files

if TYPE_CHECKING:
    from .server import VllmNeuronServerArgs

PORT = 8000
SERVER_COMMAND = ("python3", "-m", "vllm.entrypoints.openai.api_server")
COMPLETE_MARKER = ".complete"  # written by the compile Job once vLLM served from the new artifacts
# A compile host (NeuronCompileHost) writes its lease into the directory when it starts, and a failure record
# if it fails: the in-cluster Job waits for the host while the lease holds (compile_job.py).
LEASE_FILE = ".compiling"
FAILED_FILE = ".failed"
# The owner of the model tree (model_layout.WORKLOAD_UID, 1000), which is also the image's `ubuntu` user
# (Ubuntu 24.04 base): a name in /etc/passwd keeps torch's getpass-based cache paths working. Every writer to
# the shared volume uses the same ids.
RUN_AS = WORKLOAD_UID
MODEL_WAIT_S = 60 * 60  # the longest a pod waits for the model to be loaded


def compiled_artifacts_key(
    model_id: str, revision: str, neuron_sdk: str, tensor_parallel_size: int, max_model_len: int, max_num_seqs: int
) -> str:
    """The cache directory (relative to the cache root) of one compiled configuration.

    Artifacts are only valid for the same weights, Neuron SDK and shapes, so all of those are in the key,
    with the KV layout they were compiled for (prefix caching, block size, number of blocks); the same
    configuration always yields the same key (in every pod and every region).
    """
    model = re.sub(r"[^A-Za-z0-9._-]+", "--", model_id)
    blocks = num_gpu_blocks(model_id, tensor_parallel_size, max_model_len, max_num_seqs)
    return (
        f"{model}/{revision[:12]}/neuron-sdk-{neuron_sdk}/"
        f"tp{tensor_parallel_size}-len{max_model_len}-seqs{max_num_seqs}-prefix-block{KV_BLOCK_SIZE}x{blocks}"
    )


def num_gpu_blocks(model_id: str, tensor_parallel_size: int, max_model_len: int, max_num_seqs: int) -> int:
    """KV-cache blocks the plugin allocates (`--num-gpu-blocks-override`, NxD Inference `pa_num_blocks`)."""
    return kv_cache_blocks(model_id, tensor_parallel_size, max_model_len, max_num_seqs)


# NxD Inference options (`--additional-config`): store pre-sharded weights with the compiled artifacts,
# so serving pods load one shard per NeuronCore instead of the whole checkpoint through host memory
# (an inf2.xlarge has 16 GiB). Ignored by a pod that loads existing artifacts (they carry it already).
NEURON_CONFIG = '{"override_neuron_config": {"save_sharded_checkpoint": true}}'


def vllm_args(
    model_dir: str,
    served_name: str,
    tensor_parallel_size: int,
    max_model_len: int,
    max_num_seqs: int,
    kv_blocks: int,
    host: str = "0.0.0.0",
) -> list[str]:
    """The OpenAI server's arguments (the API key comes from VLLM_API_KEY, never an argument)."""
    return [
        "--model",
        model_dir,
        "--served-model-name",
        served_name,
        "--tensor-parallel-size",
        str(tensor_parallel_size),
        "--max-model-len",
        str(max_model_len),
        "--max-num-seqs",
        str(max_num_seqs),
        "--enable-prefix-caching",
        "--block-size",
        str(KV_BLOCK_SIZE),
        "--num-gpu-blocks-override",
        str(kv_blocks),
        "--additional-config",
        NEURON_CONFIG,
        "--host",
        host,
        "--port",
        str(PORT),
    ]


class PodParts:
    """What the serving pods and the compile Job share: placement, volumes, environment, security."""

    def __init__(self, args: "VllmNeuronServerArgs", key: str, node_selector: pulumi.Output):
        # The model's directory in the container is named after the served model; the volume's subPath says
        # where it is on the file system (`ModelVolume.model_subpath`).
        self.model_dir = f"/models/{args['served_model_name']}"
        # The cache ROOT is mounted (it exists, owned by uid 1000): a subPath that does not exist yet would
        # be created by the kubelet as root, and the compiler running as 1000 could not write into it.
        self.cache_mount = "/neuron-cache"
        self.artifacts_dir = f"{self.cache_mount}/{key}"
        self.node_selector = node_selector
        self.image = args.get("image", versions.VLLM_NEURON_IMAGE)
        self.env = [
            {"name": "NEURON_COMPILED_ARTIFACTS", "value": self.artifacts_dir},
            {"name": "HF_HUB_OFFLINE", "value": "1"},
            {"name": "TRANSFORMERS_OFFLINE", "value": "1"},
            {"name": "VLLM_NO_USAGE_STATS", "value": "1"},
            {"name": "DO_NOT_TRACK", "value": "1"},
            {"name": "HOME", "value": "/home/ubuntu"},
        ]
        # Weights read-only; the compiled-artifact cache read-write (a pod compiles when no Job did).
        self.fsx_mounts = [
            {
                "name": "model",
                "mountPath": self.model_dir,
                "subPath": pulumi.Output.from_input(args["model_subpath"]).apply(lambda p: p.strip("/")),
                "readOnly": True,
            },
            {
                "name": "model",
                "mountPath": self.cache_mount,
                "subPath": pulumi.Output.from_input(args["cache_subpath"]).apply(lambda p: p.strip("/")),
            },
        ]
        self.mounts = [
            *self.fsx_mounts,
            {"name": "dshm", "mountPath": "/dev/shm"},
            {"name": "tmp", "mountPath": "/tmp"},
        ]
        # Exception: the Neuron compiler and runtime write under paths of the image (caches, lock files) that
        # are not documented; the root file system stays writable, nothing else is granted.
        self.container_security = restricted_container(RUN_AS, read_only_root=False)
        self.pod_spec = {
            "nodeSelector": node_selector,
            "tolerations": args["tolerations"],
            "automountServiceAccountToken": False,
            "enableServiceLinks": False,
            "securityContext": restricted_pod(RUN_AS),
            "volumes": [
                {"name": "model", "persistentVolumeClaim": {"claimName": args["pvc_name"]}},
                {"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": "2Gi"}},
                {"name": "tmp", "emptyDir": {"sizeLimit": "10Gi"}},
            ],
        }

    def _waiter(self, name: str, code: str, args: list[Any], env: list[dict[str, Any]]) -> dict[str, Any]:
        # The serving image itself (its python3): waiting in it means the image is pulled meanwhile.
        return {
            "name": name,
            "image": self.image,
            "imagePullPolicy": "IfNotPresent",
            "command": ["python3", "-c", code, *args],
            "env": env,
            "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"memory": "128Mi"}},
            # It only reads (python3 -c over the volume): the root file system can be read-only here.
            "securityContext": {**self.container_security, "readOnlyRootFilesystem": True},
            "volumeMounts": self.fsx_mounts,
        }

    def wait_for_model(self, request: pulumi.Input[str]) -> dict[str, Any]:
        """Init container: until the load Job's completion marker records exactly this request."""
        return self._waiter(
            "wait-for-model",
            WAIT_FOR_MODEL,
            [f"{self.model_dir}/{model_files.MARKER}"],
            [{"name": "MODEL_REQUEST", "value": request}],
        )

    def wait_for_artifacts(self) -> dict[str, Any]:
        """Init container: until the compile Job has marked this configuration's artifacts complete."""
        return self._waiter(
            "wait-for-compiled-artifacts",
            WAIT_FOR_FILE,
            [f"{self.artifacts_dir}/{COMPLETE_MARKER}"],
            [],
        )


# Pollers run as `python3 -c`: standard library only, one line of output per minute while waiting.
WAIT_FOR_MODEL = """import json, os, sys, time
path, want, n = sys.argv[1], json.loads(os.environ["MODEL_REQUEST"]), 0
while True:
    try:
        if json.load(open(path)).get("request") == want:
            print("model complete:", path, flush=True); break
    except (OSError, ValueError):
        pass
    if n % 4 == 0: print("waiting for the model load to complete", path, flush=True)
    n += 1; time.sleep(15)
"""
# The compile Job's marker is empty; a compile host's lists its files and sizes (`{"files": {path: bytes}}`):
# the file system imports the host's objects in no guaranteed order, so the marker counts once each is there.
WAIT_FOR_FILE = """import json, os, sys, time
def ready(path):
    try:
        files = json.load(open(path)).get("files", {})
    except OSError:
        return False
    except ValueError:
        return True
    paths = {os.path.join(os.path.dirname(path), f): size for f, size in files.items()}
    return all(os.path.isfile(p) and os.path.getsize(p) == size for p, size in paths.items())
n = 0
while not ready(sys.argv[1]):
    if n % 4 == 0: print("waiting for", sys.argv[1], "and the files it lists", flush=True)
    n += 1; time.sleep(15)
print("present:", sys.argv[1], flush=True)
"""


def _resources(devices: int, cpu_millis: int, memory_mib: int) -> dict[str, Any]:
    """Requests, with limits equal for memory and the devices (an extended resource needs both)."""
    return {
        "requests": {NEURON_RESOURCE: str(devices), "cpu": f"{cpu_millis}m", "memory": f"{memory_mib}Mi"},
        "limits": {NEURON_RESOURCE: str(devices), "memory": f"{memory_mib}Mi"},
    }


def _probe(period: int, failures: int) -> dict[str, Any]:
    return {
        "httpGet": {"path": "/health", "port": "http"},
        "periodSeconds": period,
        "timeoutSeconds": 5,
        "failureThreshold": failures,
    }
