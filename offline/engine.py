"""The one offline engine: runs the real Pulumi program under mocks and records what it registers.

Both the test suite and the render command use it. `install()` calls `pulumi.runtime.set_mocks` once per
process (with `preview=False`, so every apply callback really runs); `run()` then executes a program for
one stack configuration and returns every registered resource in the form of the render contract
(docs/render-contract.md): type, name, urn, parent, custom, provider, inputs, dependencies.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
from google.protobuf import json_format
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import settings as pulumi_settings
from pulumi.runtime.config import set_all_config
from pulumi.runtime.stack import Stack, run_pulumi_func, wait_for_rpcs
from pulumi.runtime.sync_await import _sync_await

from . import cloud

SECRET = "[secret]"
UNKNOWN = "[unknown]"

# Wire signatures of special values (pulumi.runtime.rpc).
_SIG_KEY = "4dabf18193072939515e22adb298388d"
_SIG_SECRET = "1b47061264138c4ac30d75fd1eb44270"
_SIG_RESOURCE = "5cf8f73096256a8f31e491e813e4eb8e"
_SIG_OUTPUT = "d0e6a833031e9bbcd3f4e8bde6ca49a4"
_SIG_ASSET = "c44067f5952c0a294b673a41bacd8c17"
_SIG_ARCHIVE = "0def7320c3a5731c473e5ecbe6d01bc7"
_UNKNOWN_VALUE = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"


@dataclass
class Record:
    """One registered resource, exactly the keys of the render contract."""

    type: str
    name: str
    urn: str
    parent: str | None
    custom: bool
    provider: str | None
    inputs: dict[str, Any]
    dependencies: list[str]
    # What the (offline) provider returned: ids, ARNs... Not part of the render contract; tests use it
    # to follow a value from the resource that makes it to the resources that consume it.
    outputs: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "name": self.name,
            "urn": self.urn,
            "parent": self.parent,
            "custom": self.custom,
            "provider": self.provider,
            "inputs": self.inputs,
            "dependencies": self.dependencies,
        }


@dataclass
class RunResult:
    """What one run of a program registered and exported."""

    stack: str
    resources: list[Record]
    outputs: dict[str, Any]
    secret_outputs: set[str] = field(default_factory=set)
    config: dict[str, str] = field(default_factory=dict)  # the Pulumi config the run used
    secret_keys: list[str] = field(default_factory=list)  # which of those keys are secrets
    project: str = ""

    def outputs_for_file(self) -> dict[str, Any]:
        """Outputs with secret values replaced by the marker, ready to be written."""
        return {k: (SECRET if k in self.secret_outputs else v) for k, v in sorted(self.outputs.items())}


def plain(value: Any) -> Any:
    """Turn a wire-encoded property value into plain JSON, hiding secrets and naming references."""
    if isinstance(value, dict):
        sig = value.get(_SIG_KEY)
        if sig == _SIG_SECRET:
            return _masked(value.get("value"))
        if sig == _SIG_RESOURCE:
            return value.get("urn")
        if sig == _SIG_OUTPUT:
            if value.get("secret"):
                return _masked(value.get("value"))
            return plain(value["value"]) if "value" in value else UNKNOWN
        if sig == _SIG_ASSET:
            return {"asset": value.get("path") or value.get("uri") or "<text>"}
        if sig == _SIG_ARCHIVE:
            return {"archive": value.get("path") or value.get("uri") or "<assets>"}
        return {k: plain(value[k]) for k in sorted(value)}  # protobuf maps have no stable order
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)  # protobuf Struct numbers are doubles
    if value == _UNKNOWN_VALUE:
        return UNKNOWN
    return value


def _masked(value: Any) -> Any:
    """A secret keeps its shape (a map keeps its keys, which are names, not values) but no value."""
    if isinstance(value, dict):
        return {k: SECRET for k in sorted(value) if k != _SIG_KEY}
    return SECRET


class _Mocks(pulumi_mocks.Mocks):
    def __init__(self, engine: OfflineEngine) -> None:
        self.engine = engine

    def new_resource(self, args: pulumi_mocks.MockResourceArgs) -> tuple[str | None, dict]:
        id_, state = cloud.resource_outputs(self.engine.ctx, args.typ, args.name, args.inputs)
        # The engine, not the SDK, marks a provider's secret outputs (additionalSecretOutputs);
        # do the same so a generated password stays a secret all the way to the stack outputs.
        for key in self.engine.ctx.secret_output_names:
            if key in state:
                state[key] = {_SIG_KEY: _SIG_SECRET, "value": state[key]}
        return id_, state

    def call(self, args: pulumi_mocks.MockCallArgs) -> tuple[dict, list | None]:
        return cloud.call_outputs(self.engine.ctx, args.token, args.args), []


class _RecordingMonitor(pulumi_mocks.MockMonitor):
    """The SDK's mock monitor, plus a record of every registration in the render contract's form."""

    def __init__(self, engine: OfflineEngine) -> None:
        super().__init__(_Mocks(engine))
        self.engine = engine
        self._lock = threading.Lock()

    def make_urn(self, parent: str, type_: str, name: str) -> str:
        # As the Pulumi engine does: the root stack is not part of a child's qualified type.
        if parent and "::pulumi:pulumi:Stack::" not in parent:
            type_ = parent.split("::")[2].split("$")[-1] + "$" + type_
        return "urn:pulumi:" + "::".join([pulumi.get_stack(), pulumi.get_project(), type_, name])

    def RegisterResource(self, request):  # noqa: N802 - gRPC method name
        # The SDK calls the monitor from a thread pool; the per-registration context below (parent URN
        # of synthetic children, secret output names) is shared, so registrations take turns.
        with self._lock:
            return self._register(request)

    def _register(self, request):
        synthetic_before = len(self.engine.ctx.synthetic)
        self.engine.ctx.registering_urn = self.make_urn(request.parent, request.type, request.name)
        self.engine.ctx.secret_output_names = list(request.additionalSecretOutputs)
        response = super().RegisterResource(request)
        # Provider-side components return resource references to children they "created": make them
        # resolvable (pulumi:pulumi:getResource) and remember which component owns them.
        for syn in self.engine.ctx.synthetic[synthetic_before:]:
            self.resources[syn.urn] = pulumi_mocks.MockMonitor.ResourceRegistration(syn.urn, syn.id, syn.state)
            self.engine.owner_of[syn.urn] = response.urn
        self._record(request, response.urn, request.object, bool(request.custom))
        return response

    def ReadResource(self, request):  # noqa: N802 - gRPC method name
        # Reads (StackReference, `get` of existing resources) are part of the plan a reviewer sees.
        with self._lock:
            self.engine.ctx.secret_output_names = []
            response = super().ReadResource(request)
            self._record(request, response.urn, request.properties, True)
            return response

    def _record(self, request, urn: str, properties, custom: bool) -> None:
        inputs = plain(json_format.MessageToDict(properties, preserving_proto_field_name=True))
        registered = self.resources.get(urn)
        outputs = plain({"id": registered.id, **registered.state}) if registered else {}
        self.engine.records.append(
            Record(
                type=request.type,
                name=request.name,
                urn=urn,
                parent=request.parent or None,
                custom=custom,
                provider=request.provider or None,
                inputs=inputs,
                dependencies=list(request.dependencies),
                outputs=outputs,
            )
        )


class DuplicateUrnError(RuntimeError):
    """Two resources with the same URN: `pulumi up` would refuse the program."""


class OfflineEngine:
    """Runs programs offline. One per process; get it with `install()`."""

    def __init__(self) -> None:
        self.ctx = cloud.CloudContext(project="project", stack="stack", region="us-east-1")
        self.records: list[Record] = []
        self.owner_of: dict[str, str] = {}
        self.monitor = _RecordingMonitor(self)
        pulumi.runtime.set_mocks(
            self.monitor.mocks,
            project="project",
            stack="stack",
            preview=False,
            monitor=self.monitor,
        )
        # set_mocks registered a root stack asynchronously; let that finish before the first run.
        _sync_await(wait_for_rpcs())

    def run(
        self,
        program: Callable[[], None],
        *,
        project: str,
        stack: str,
        config: Mapping[str, str],
        secret_keys: Iterable[str] = (),
        stack_outputs: Callable[[str], dict[str, Any]] | None = None,
    ) -> RunResult:
        """Run `program` as stack `stack` with the given Pulumi config (values as the CLI passes them)."""
        region = config.get("aws:region", "us-east-1")
        self.ctx = cloud.CloudContext(project=project, stack=stack, region=region, stack_outputs=stack_outputs)
        self.records = []
        self.owner_of = {}
        self.monitor.resources.clear()
        pulumi_settings._set_project(project)
        pulumi_settings._set_stack(stack)
        pulumi_settings.set_root_resource(None)  # type: ignore[arg-type]
        pulumi_settings.SETTINGS.rpc_manager.clear()
        pulumi_settings.SETTINGS.outputs.clear()
        set_all_config(dict(config), list(secret_keys))

        exported: dict[str, Any] = {}
        secret: set[str] = set()
        # The program's own error from an output (e.g. a check in an apply), before the SDK wraps it into
        # "While processing input: ..." while serializing the stack outputs.
        output_errors: list[Exception] = []

        async def body() -> None:
            root = Stack()
            try:
                program()
                for key, value in list(root.outputs.items()):
                    out = pulumi.Output.from_input(value)
                    try:
                        exported[key] = await out.future(with_unknowns=True)
                    except Exception as e:
                        output_errors.append(e)
                        raise
                    if await out.is_secret():
                        secret.add(key)
            finally:
                root._finish()

        try:
            _sync_await(run_pulumi_func(body))
        except Exception:
            _abandon_pending_work()
            if output_errors:
                raise output_errors[0] from None
            raise
        records = self._finish_records()
        return RunResult(stack=stack, resources=records, outputs=_jsonable(exported), secret_outputs=secret)

    def _finish_records(self) -> list[Record]:
        seen: set[str] = set()
        for rec in self.records:
            if rec.urn in seen:
                raise DuplicateUrnError(f"duplicate resource URN {rec.urn}: two resources share a name")
            seen.add(rec.urn)
        for rec in self.records:
            # A dependency on a provider-side component's child is a dependency on the component.
            deps = [self.owner_of.get(d, d) for d in rec.dependencies]
            rec.dependencies = sorted(set(d for d in deps if d != rec.urn))
        return list(self.records)


def _abandon_pending_work() -> None:
    """Cancel what a failed run left in flight (registrations waiting on outputs, applies): on the process's
    one event loop it would otherwise resume during the next run and record into that run's resources."""
    loop = asyncio.get_event_loop()
    for _ in range(10):  # cancelled work may schedule more (finally clauses, callbacks): until none is left
        pending = [task for task in asyncio.all_tasks(loop) if not task.done()]
        if not pending or loop.is_running():
            return
        for task in pending:
            task.cancel()
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


_ENGINE: OfflineEngine | None = None


def install() -> OfflineEngine:
    """The process's engine, created (and `set_mocks` called) on first use only."""
    global _ENGINE
    if _ENGINE is None:
        asyncio.set_event_loop(asyncio.new_event_loop())
        _ENGINE = OfflineEngine()
    return _ENGINE
