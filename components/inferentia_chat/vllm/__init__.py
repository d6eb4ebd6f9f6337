"""vLLM on AWS Neuron: the serving Deployment (`server`), its compile-once Job (`compile_job`), the compile
host that compiles outside the cluster (`compile_host`) and the pod parts they share, with the engine's
arguments and artifact key (`pod_spec`)."""

from .compile_host import NeuronCompileHost, NeuronCompileHostArgs
from .compile_job import compile_instance_type
from .pod_spec import COMPLETE_MARKER, PORT, compiled_artifacts_key, num_gpu_blocks
from .server import STARTUP_BUDGET_COMPILE_S, STARTUP_BUDGET_LOAD_S, VllmNeuronServer, VllmNeuronServerArgs

__all__ = [
    "COMPLETE_MARKER",
    "PORT",
    "STARTUP_BUDGET_COMPILE_S",
    "STARTUP_BUDGET_LOAD_S",
    "NeuronCompileHost",
    "NeuronCompileHostArgs",
    "VllmNeuronServer",
    "VllmNeuronServerArgs",
    "compile_instance_type",
    "compiled_artifacts_key",
    "num_gpu_blocks",
]
