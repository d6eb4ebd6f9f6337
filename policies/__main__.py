"""The policy pack users run: `pulumi preview --policy-pack policies` (from the project root)."""

from pulumi_policy import PolicyPack

try:
    from rules import policies  # run by Pulumi from this folder
except ImportError:  # imported as the package `policies`
    from .rules import policies

PolicyPack(name="inferentia-chat-house-rules", policies=policies())
