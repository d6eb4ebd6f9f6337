"""vLLM on AWS Neuron: the serving Deployment (`server`), its compile-once Job (`compile_job`) and the pod
parts they share (`pod_spec`)."""

from .server import (
    COMPLETE_MARKER,
    PORT,
    VllmNeuronServer,
    VllmNeuronServerArgs,
    compile_instance_type,
    compiled_artifacts_key,
)

__all__ = [
    "COMPLETE_MARKER",
    "PORT",
    "VllmNeuronServer",
    "VllmNeuronServerArgs",
    "compile_instance_type",
    "compiled_artifacts_key",
]
