"""`python -m offline phases --bucket ...`: the compile host's measured phases, on recorded AWS responses.

The fixtures (tests/fixtures/phases/compile-host-*.json) are the calls the command makes, in order, each with
its parameters and boto3's response (timestamps written as ISO strings, typed back into tz-aware datetimes by
the operation's output shape, the S3 bodies wrapped in a StreamingBody): a host that compiled, and one that
failed (a launch refused for capacity, then `.failed` and no marker, the instance already gone). botocore's
Stubber replays them and checks every response against the service model and every call's parameters.
"""

import io
import json
from datetime import datetime
from pathlib import Path

import boto3
import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber
from botocore.validate import validate_parameters

from offline import budget, deploy_budget, phases, phases_host
from offline.render import main as render_main

FIXTURES = Path(__file__).with_name("fixtures") / "phases"
GROUP = "inferentia-chat-dev-compile-host-553e369477"
Session = boto3.Session  # the real one, before a test replaces it


def recorded(name: str) -> dict:
    return json.loads((FIXTURES / f"compile-host-{name}.json").read_text())


def _typed(shape, value):
    """A recorded value as boto3 returns it: timestamps as datetimes with their time zone."""
    if shape.type_name == "structure":
        return {k: _typed(shape.members[k], v) for k, v in value.items()}
    if shape.type_name == "list":
        return [_typed(shape.member, v) for v in value]
    if shape.type_name == "map":
        return {k: _typed(shape.value, v) for k, v in value.items()}
    if shape.type_name == "timestamp":
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    return value


class StubSession:
    """A boto3 session whose clients replay a fixture's calls through botocore's Stubber."""

    def __init__(self, name: str):
        real = Session(region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test")
        self.clients, self.stubbers = {}, []
        for call in recorded(name)["calls"]:
            if call["service"] not in self.clients:
                client = real.client(call["service"])
                self.clients[call["service"]] = client
                self.stubbers.append(Stubber(client))
            client = self.clients[call["service"]]
            stub = self.stubbers[list(self.clients).index(call["service"])]
            method = call["operation"]
            if "error" in call:
                e = call["error"]
                stub.add_client_error(method, e["code"], e["message"], e["status"], expected_params=call["params"])
                continue
            shape = client.meta.service_model.operation_model(client.meta.method_to_api_mapping[method]).output_shape
            body = call["response"].pop("Body", None)
            response = _typed(shape, call["response"])
            if body is not None:
                response["Body"] = StreamingBody(io.BytesIO(body.encode()), len(body.encode()))
            stub.add_response(method, response, call["params"])  # validated against the output shape
        for stub in self.stubbers:
            stub.activate()

    def client(self, service: str):
        return self.clients[service]

    def done(self) -> None:
        for stub in self.stubbers:
            stub.assert_no_pending_responses()


def collected(name: str) -> phases_host.HostRecord:
    fixture, session = recorded(name), StubSession(name)
    rec = phases_host.collect_host(session, fixture["group"], fixture["bucket"], fixture["prefix"])
    session.done()
    return rec


@pytest.fixture(scope="module")
def snap() -> phases.Snapshot:
    return phases.load_files(FIXTURES)


@pytest.mark.parametrize("name", ["success", "failed"])
def test_recorded_responses_are_what_the_service_models_allow(name: str):
    # The output shapes refuse an unknown or misspelt field and a missing required one.
    real = Session(region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test")
    for call in recorded(name)["calls"]:
        if "response" not in call:
            continue
        client = real.client(call["service"])
        op = client.meta.service_model.operation_model(client.meta.method_to_api_mapping[call["operation"]])
        response = {k: v for k, v in call["response"].items() if k != "Body"}
        validate_parameters(_typed(op.output_shape, response), op.output_shape)
        validate_parameters(call["params"], op.input_shape)


def test_collect_reads_the_group_the_instance_and_the_prefix():
    rec = collected("success")
    assert rec.groups[0]["AutoScalingGroupName"] == GROUP and len(rec.activities) == 2
    assert rec.instances[0]["InstanceId"] == "i-0a1b2c3d4e5f60718"
    assert set(rec.bodies) == {".compiling"}  # the marker's body is not read; no `.failed` was listed
    assert rec.bodies[".compiling"]["deadline"] - rec.bodies[".compiling"]["startedAt"] == 7200


def test_a_compiled_run_is_measured_phase_by_phase(snap: phases.Snapshot):
    host = phases_host.measure_host(collected("success"), phases.serving_waits(snap))
    assert host["succeeded"] is True and host["instanceId"] == "i-0a1b2c3d4e5f60718"
    ph = host["phases"]
    assert ph["instance launch"] == 88.6  # launch activity 10:09:22.411 -> lease startedAt 10:10:51
    assert ph["instance launch: instance running"] == 1.6 and host["failedLaunchAttempts"] == 0
    assert ph[phases_host.SPAN] == 1303.0  # lease -> the first artifact (weights/ at 10:32:34)
    assert ph["upload"] == 138.0  # 10:32:34 -> .complete 10:35:52 less the host's 60 s settle
    # The first serving pod's wait for the marker ended 10:36:25: 93 s after the upload (settle included).
    assert ph["import lag"] == 93.0
    assert ph["lease to marker"] == 1501.0 and ph["marker to termination"] == 66.9
    assert host["instanceSeconds"] == 1654.9  # running 10:09:24 -> terminated 10:36:58.905


def test_a_failed_run_measures_its_launch_and_the_failure():
    host = phases_host.measure_host(collected("failed"))
    assert host["succeeded"] is False and host["failure"].startswith("pulling ")
    assert host["outcome"] == f"FAILED: {host['failure']}"
    ph = host["phases"]
    # The first attempt (10:09:22.411, no inf2 capacity) -> lease 10:11:02; the instance is gone from EC2.
    assert ph["instance launch"] == 99.6 and host["failedLaunchAttempts"] == 1
    assert ph["instance launch: instance running"] is None and host["instanceSeconds"] is None
    assert ph["lease to failure"] == 218.0 and ph["failure to termination"] == 69.3
    assert phases_host.SPAN not in ph and "upload" not in ph
    assert phases_host.budget_input([host]) == {"instance launch": 99.6, "fromGroup": GROUP}


def test_a_compiling_host_replaces_the_jobs_wait_as_the_compilation(snap: phases.Snapshot):
    with_host = phases.measure(snap, [collected("success")])["budgetInput"]
    assert "compile" not in with_host  # the Job's container only waited for the host's marker
    assert with_host["compileHost"] == {
        "instance launch": 88.6,
        phases_host.SPAN: 1303.0,
        "upload": 138.0,
        "import lag": 93.0,
        "fromGroup": GROUP,
    }
    # A failed host: the Job compiled, and its compilation is measured as before.
    assert phases.measure(snap, [collected("failed")])["budgetInput"]["compile"] == 1403.0


def test_the_measured_host_is_on_the_deploy_critical_path(snap: phases.Snapshot, dev):
    from offline.render import stack_config

    cfg = stack_config(dev.result)
    measured = phases.measure(snap, [collected("success")])
    report = budget.budget(dev.result, cfg, measured)
    host = report["deploy"]["compileHosts"][0]
    estimated = budget.budget(dev.result, cfg)["deploy"]["compileHosts"][0]
    names = [p["phase"] for p in host["phases"]]
    assert names == ["instance launch", deploy_budget.HOST_SPAN, "upload", "import lag"]
    assert all(p["kind"] == "measured" for p in host["phases"])
    assert host["startsAt"] == estimated["startsAt"]
    assert host["markerAt"] == pytest.approx(host["startsAt"] + 88.6 + 1303 + 138 + 93, abs=0.1)
    assert host["compilationStartsAt"] == pytest.approx(host["startsAt"] + 88.6, abs=0.1)
    assert host["markerAt"] != estimated["markerAt"]
    assert "pulls, downloads and compiles (measured as one) from 5 min" in budget.summary(report)


def test_render_measured_puts_the_host_in_budget_json(snap: phases.Snapshot, tmp_path: Path):
    measured = tmp_path / "measured.json"
    measured.write_text(json.dumps(phases.measure(snap, [collected("success")])))
    assert render_main(["render", "--stack", "dev", "--out", str(tmp_path), "--measured", str(measured)]) == 0
    report = json.loads((tmp_path / "dev" / "budget.json").read_text())
    times = report["deploy"]["creationTimes"]
    assert times[f"compile host: {deploy_budget.HOST_SPAN}"]["value"] == 1303.0
    assert times["compile host: instance launch"]["kind"] == "measured"
    step = next(s for s in report["deploy"]["criticalPath"] if s["type"] == deploy_budget.HOST_GROUP)
    assert step["seconds"] == pytest.approx(88.6 + 1303 + 138 + 93, abs=0.1)
    # The cached-artifacts deploy launches the same host, which finds the marker: the measured launch.
    cached = report["deployWithCachedArtifacts"]["compileHosts"][0]["phases"]
    assert [(p["phase"], p["seconds"]) for p in cached] == [("instance launch", 88.6), ("marker found", 30)]


def test_the_phases_command_discovers_the_hosts_from_the_render(monkeypatch, tmp_path: Path, capsys):
    assert render_main(["render", "--stack", "dev", "--out", str(tmp_path)]) == 0
    assert phases_host.discover(tmp_path, "dev") == [(GROUP, recorded("success")["prefix"])]
    sessions = []

    def session(region_name):
        sessions.append(region_name)
        return StubSession("success")  # its Stubber checks the group, bucket and prefix asked for

    monkeypatch.setattr(boto3, "Session", session)
    out = tmp_path / "m.json"
    args = ["phases", "--from", str(FIXTURES), "--stack", "dev", "--out", str(tmp_path), "--json", str(out)]
    assert render_main([*args, "--bucket", recorded("success")["bucket"]]) == 0
    assert sessions == ["us-east-1"]  # the stack's region (outputs.json)
    assert json.loads(out.read_text())["budgetInput"]["compileHost"]["upload"] == 138.0
    text = capsys.readouterr().out
    assert f"compile host {GROUP} (instance i-0a1b2c3d4e5f60718, compiled)" in text
    launch = next(line for line in text.splitlines() if line.strip().startswith("instance launch "))
    assert launch.split()[-2:] == ["88.6", "60"]  # measured beside HOST_LAUNCH
    span = next(line for line in text.splitlines() if line.strip().startswith(deploy_budget.HOST_SPAN))
    assert span.split()[-2:] == ["1303.0", "1200"]  # beside the pull-and-download and the compilation


def test_a_group_without_its_prefix_is_refused(tmp_path: Path):
    args = ["phases", "--from", str(FIXTURES), "--out", str(tmp_path), "--bucket", "b", "--compile-host-group", "g"]
    with pytest.raises(SystemExit, match="--compile-host-group needs --artifacts-prefix"):
        render_main(args)
