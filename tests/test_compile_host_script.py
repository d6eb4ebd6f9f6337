"""The compile host's boot and host scripts run for real in bash, with stub `aws`, `ctr`, `curl` and system
commands: S3 is a directory, the Auto Scaling group a line in a log. What the instance does on success, on a
failure anywhere (also inside a function), at the watchdog's deadline, when the Job finished first, and when
its bootstrap files cannot be read."""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import time
from pathlib import Path

import pytest
from conftest import Plan
from test_compile_host import HF_TOKEN, user_data

from inferentia_chat.vllm.compile_host import BOOTSTRAP_ATTEMPTS, HOST_SCRIPT, LATE_START_S
from inferentia_chat.vllm.pod_spec import WAIT_FOR_FILE

AWS = r"""#!/bin/bash
echo "aws $*" >>"$STUB_LOG"
if [ "$1" = --region ]; then shift 2; fi
args=("$@"); key=""; body=""; src=""; dst=""
for ((i = 0; i < ${#args[@]}; i++)); do
  case "${args[$i]}" in --key) key="${args[$((i + 1))]}" ;; --body) body="${args[$((i + 1))]}" ;; esac
done
case "$1 $2" in
  "s3api head-object") [ -e "$STUB_S3/$key" ] || exit 254 ;;
  "s3api put-object")
    case "$key" in *"${STUB_FAIL_KEY:-/nothing/}") exit 1 ;; esac
    mkdir -p "$(dirname "$STUB_S3/$key")"
    if [ "${key%/}" != "$key" ]; then mkdir -p "$STUB_S3/$key"; else cp "$body" "$STUB_S3/$key"; fi
    echo "put $key" >>"$STUB_LOG" ;;
  "s3 cp")
    [ -z "${STUB_CP_FAIL:-}" ] || exit 1
    src="$3"; dst="${4#s3://*/}"
    if [ "$4" = - ]; then cat "$STUB_S3/${src#s3://*/}" 2>/dev/null || exit 1; exit 0; fi
    case "$src" in s3://*) exit 1 ;; esac  # the bootstrap copy is not stubbed as a success
    sleep "${STUB_CP_SLEEP:-0}"
    (cd "$src" && find . -type f ! -name .complete ! -name .compiling) | while read -r f; do
      mkdir -p "$(dirname "$STUB_S3/$dst/$f")"; cp "$src/$f" "$STUB_S3/$dst/$f"; echo "put $dst${f#./}" >>"$STUB_LOG"
    done ;;
  "autoscaling set-desired-capacity") echo "desired $*" >>"$STUB_LOG" ;;
  "autoscaling describe-auto-scaling-groups")
    printf '%s\t%s\n' "$(date -u -d "@$(($(date +%s) - ${STUB_GROUP_AGE:-30}))" +%FT%T.123000+00:00)" \
      "${STUB_AGAIN:-None}" ;;
  "secretsmanager get-secret-value") echo "$STUB_TOKEN" ;;
  *) exit 2 ;;
esac
"""
CTR = r"""#!/bin/bash
echo "ctr $*" >>"$STUB_LOG"
case " $* " in
  *" --help "*) echo "${STUB_CTR_HELP:-}"; exit 0 ;;
  *" image pull "*) exit 0 ;;
  *" fetch-"*) exit "${STUB_FETCH_RC:-0}" ;;
esac
cache=""; key=""
for a in "$@"; do
  case "$a" in
    type=bind,src=*,dst=/neuron-cache,*) cache="${a#type=bind,src=}"; cache="${cache%%,*}" ;;
    NEURON_COMPILED_ARTIFACTS=*) key="${a#NEURON_COMPILED_ARTIFACTS=/neuron-cache/}" ;;
  esac
done
sleep "${STUB_COMPILE_SLEEP:-0}"
mkdir -p "$cache/$key/model"; echo neff >"$cache/$key/model/graph.neff"; touch "$cache/$key/.complete"
[ -z "${STUB_JOB_COMPLETES:-}" ] || { mkdir -p "$(dirname "$STUB_JOB_COMPLETES")"; touch "$STUB_JOB_COMPLETES"; }
[ -z "${STUB_JOB_LEASE:-}" ] || echo '{"owner": "job", "startedAt": 1}' >"$STUB_JOB_LEASE"
"""
OK = '#!/bin/bash\necho "$(basename "$0") $*" >>"$STUB_LOG"\n'
CURL = '#!/bin/bash\necho "curl $*" >>"$STUB_LOG"\necho i-0123456789abcdef0\n'


@pytest.fixture
def host(dev: Plan, tmp_path: Path):
    """A runner of the host script with the dev stack's configuration (as its user data writes it), the
    watchdog and the import settle shortened."""
    bin_dir, s3 = tmp_path / "bin", tmp_path / "s3"
    bin_dir.mkdir()
    s3.mkdir()
    for name, text in {
        "aws": AWS,
        "ctr": CTR,
        "curl": CURL,
        **dict.fromkeys(("systemctl", "shutdown", "chown", "iptables"), OK),
    }.items():
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(stat.S_IRWXU)
    config = user_data(dev).split("<<'EOF'\n", 1)[1].split("\nEOF\n", 1)[0]
    env_file = tmp_path / "compile-host.env"
    log = tmp_path / "log"
    log.touch()

    def run(deadline: int = 60, secret: str = "", **stub: str) -> subprocess.CompletedProcess[str]:
        env_file.write_text(f"{config}\nDEADLINE_S={deadline}\nIMPORT_SETTLE_S=0\nSECRET_ARN={secret}\n")
        env = {
            **os.environ,
            "PATH": f"{bin_dir}:{os.environ['PATH']}",
            "COMPILE_HOST_ENV": str(env_file),
            "COMPILE_HOST_WORK": str(tmp_path / "work"),
            "COMPILE_HOST_FILES": str(tmp_path / "files"),
            "COMPILE_HOST_RUN": str(tmp_path / "run"),
            "STUB_LOG": str(log),
            "STUB_S3": str(s3),
            "STUB_TOKEN": HF_TOKEN,
            **stub,
        }
        return subprocess.run(["bash", str(HOST_SCRIPT)], env=env, capture_output=True, text=True, timeout=60)

    prefix = next(line.split("=", 1)[1].strip("'") for line in config.splitlines() if line.startswith("ARTIFACTS_"))
    return run, s3 / prefix, log


def puts(log: Path) -> list[str]:
    return [line.rsplit("/", 1)[-1] or line for line in log.read_text().splitlines() if line.startswith("put ")]


def ended(log: Path) -> bool:
    return any(line.startswith("desired ") and "--desired-capacity 0" in line for line in log.read_text().splitlines())


def test_success_writes_the_lease_first_the_marker_last_and_ends_the_group(host):
    run, artifacts, log = host
    result = run(secret="arn:aws:secretsmanager:us-east-1:111111111111:secret:token-abcdef")
    assert result.returncode == 0, result.stderr
    assert (artifacts / "model" / "graph.neff").read_text() == "neff\n"
    order = puts(log)
    assert order[0].endswith("/") and order.index(".compiling") < order.index("graph.neff") < order.index(".complete")
    assert order[-1] == ".complete" and not (artifacts / ".failed").exists() and ended(log)
    # The marker lists each artifact with its size (what the serving pods' wait checks in the file system).
    assert json.loads((artifacts / ".complete").read_text()) == {"files": {"model/graph.neff": 5}}
    # The token reached the loader only through the env file, which is shredded; never a log or an argument.
    assert HF_TOKEN not in result.stdout + result.stderr + log.read_text()


@pytest.mark.parametrize(
    "stub",
    [
        {"STUB_FAIL_KEY": ".compiling"},  # a failure inside a function (no ERR trap there without errtrace)
        {"STUB_FETCH_RC": "3"},  # the model download
        {"STUB_CP_FAIL": "1"},  # the artifact upload
    ],
    ids=["lease-put", "model-fetch", "upload"],
)
def test_any_failure_records_it_and_ends_the_group_at_once(host, stub: dict[str, str]):
    run, artifacts, log = host
    start = time.monotonic()
    result = run(**stub)
    assert result.returncode != 0 and time.monotonic() - start < 30  # not left to the watchdog
    assert (artifacts / ".failed").exists() and ended(log), result.stdout + result.stderr
    assert not (artifacts / ".complete").exists()


def test_the_watchdog_stops_the_upload_before_it_records_the_failure(host):
    run, artifacts, log = host
    run(deadline=2, STUB_CP_SLEEP="4")  # the upload is still running at the deadline
    time.sleep(3)  # past the moment the killed upload would have landed
    assert (artifacts / ".failed").exists() and ended(log)
    assert not (artifacts / "model" / "graph.neff").exists() and not (artifacts / ".complete").exists()
    assert puts(log)[-1] == ".failed"  # nothing of this host after its failure record


@pytest.mark.parametrize("what", ["STUB_JOB_COMPLETES", "STUB_JOB_LEASE"])
def test_the_jobs_marker_or_lease_appearing_meanwhile_stops_the_upload(host, what: str):
    run, artifacts, log = host
    result = run(**{what: str(artifacts / (".complete" if what == "STUB_JOB_COMPLETES" else ".compiling"))})
    assert result.returncode == 0 and ended(log) and not (artifacts / ".failed").exists()
    assert not (artifacts / "model").exists() and ".complete" not in puts(log)


def test_a_job_compiling_already_leaves_the_key_to_it_but_a_hosts_old_lease_does_not(host):
    run, artifacts, log = host
    artifacts.mkdir(parents=True)
    (artifacts / ".compiling").write_text('{"owner": "job", "startedAt": 1}')
    assert run().returncode == 0 and ended(log) and puts(log) == [] and "ctr" not in log.read_text()
    # A lease of an earlier instance of this host (replaced by Auto Scaling): this one starts again.
    (artifacts / ".compiling").write_text('{"instanceId": "i-0", "startedAt": 1, "deadline": 2}')
    assert run().returncode == 0 and (artifacts / "model" / "graph.neff").exists()


def test_a_marker_already_there_ends_the_instance_without_a_lease(host):
    run, artifacts, log = host
    artifacts.mkdir(parents=True)
    (artifacts / ".complete").touch()
    assert run().returncode == 0 and ended(log) and puts(log) == []
    assert "ctr" not in log.read_text()


def test_the_boot_script_ends_the_group_when_its_files_stay_unreadable(dev: Plan, host, tmp_path: Path):
    _, _, log = host
    bin_dir = tmp_path / "bin"
    (bin_dir / "sleep").write_text(OK)  # the retries' pauses, instantly
    (bin_dir / "sleep").chmod(stat.S_IRWXU)
    script = (
        user_data(dev)
        .replace("/etc/compile-host.env", str(tmp_path / "env"))
        .replace("/opt/compile-host", str(tmp_path / "opt"))
    )
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "STUB_LOG": str(log), "STUB_S3": str(tmp_path)}
    result = subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    copies = [line for line in log.read_text().splitlines() if line.startswith("aws ") and " s3 cp " in line]
    assert len(copies) == BOOTSTRAP_ATTEMPTS and ended(log)


def wait_for_artifacts(marker: Path, monkeypatch, on_poll) -> int:
    """The serving pods' wait (the poller of their init container), run in this process; `on_poll(n)` changes
    the file system at each 15 s pause. Returns the number of pauses."""
    polls: list[float] = []

    def pause(seconds: float) -> None:
        polls.append(seconds)
        assert len(polls) < 10, "still waiting"
        on_poll(len(polls))

    monkeypatch.setattr(time, "sleep", pause)
    monkeypatch.setattr("sys.argv", ["-c", str(marker)])
    exec(compile(WAIT_FOR_FILE, "wait-for-compiled-artifacts", "exec"), {"__name__": "__main__"})
    return len(polls)


def test_serving_pods_wait_for_every_file_the_hosts_marker_lists(tmp_path: Path, monkeypatch):
    marker = tmp_path / ".complete"
    marker.write_text(json.dumps({"files": {"model/graph.neff": 5}}))  # imported before the artifact
    neff = tmp_path / "model" / "graph.neff"

    def imports(n: int) -> None:
        neff.parent.mkdir(exist_ok=True)
        neff.write_text("neff\n"[: 2 + n])  # its size grows to the listed 5 bytes at the third pause

    assert wait_for_artifacts(marker, monkeypatch, imports) == 3


def test_the_compile_jobs_empty_marker_is_enough(tmp_path: Path, monkeypatch):
    marker = tmp_path / ".complete"
    assert wait_for_artifacts(marker, monkeypatch, lambda n: marker.touch()) == 1


@pytest.mark.parametrize("help_text", ["", "   --rlimit-nofile value  Set RLIMIT_NOFILE (soft:hard)"])
def test_the_compilation_gets_a_pods_open_file_limit_where_ctr_can_set_it(host, help_text: str):
    run, _, log = host
    assert run(STUB_CTR_HELP=help_text).returncode == 0
    (compile_run,) = [line for line in log.read_text().splitlines() if re.search(r"^ctr .* compile-\d+ ", line)]
    assert ("--rlimit-nofile 1048576:1048576" in compile_run) == bool(help_text)


def test_the_compilation_runs_without_the_instance_metadata_the_loader_had(host):
    run, _, log = host
    assert run().returncode == 0
    lines = log.read_text().splitlines()
    fetch = next(i for i, line in enumerate(lines) if re.search(r"^ctr .* fetch-\d+ ", line))
    compile_ = next(i for i, line in enumerate(lines) if re.search(r"^ctr .* compile-\d+ ", line))
    closed = lines.index("iptables -I OUTPUT -d 169.254.169.254/32 -m owner --uid-owner 1000 -j REJECT")
    assert fetch < closed < compile_ and " --user 1000:1000 " in lines[compile_]


def test_a_host_launched_late_leaves_the_key_to_the_job(host):
    run, artifacts, log = host
    result = run(STUB_GROUP_AGE=str(LATE_START_S + 60))  # e.g. its launch retried for capacity 11 minutes
    assert result.returncode == 1 and "over 600 s" in result.stdout
    assert (artifacts / ".failed").exists() and ended(log)  # the Job compiles at once, waits for no lease
    assert not (artifacts / ".compiling").exists() and "ctr" not in log.read_text()
    # An operator's retry by hand: the group tagged to compile again.
    (artifacts / ".failed").unlink()
    assert run(STUB_GROUP_AGE="86400", STUB_AGAIN="true").returncode == 0
    assert (artifacts / "model" / "graph.neff").exists() and (artifacts / ".complete").exists()
