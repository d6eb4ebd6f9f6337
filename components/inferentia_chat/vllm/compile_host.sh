#!/bin/bash
# NeuronCompileHost: compile one configuration's Neuron artifacts outside the cluster, as soon as the network
# exists, and hand them to the cluster through the model bucket (the file system imports them).
#
# Reads /etc/compile-host.env (written by the user data: names and arguments, never a secret). Steps:
#   marker in S3 -> done; a failure recorded -> done (the in-cluster compile Job compiles instead);
#   otherwise write the lease, pull the serving image while the model downloads (model_fetch.py in the
#   loader image, the load Job's pinned wheels), compile with the serving image and the compile Job's script,
#   upload the artifacts (unless the Job's marker appeared meanwhile), wait for the file system's import,
#   write the marker LAST.
# Always: set the group's desired capacity to 0 at the end (the group then terminates this instance). Any
# failure (a failed command, also inside a function or a command substitution, or any other non-zero exit)
# records `.failed` and ends the instance; a watchdog started FIRST stops every process of this script after
# DEADLINE_S, then records the failure, so nothing of this host writes to the bucket after its `.failed`.
set -Eeuo pipefail
# shellcheck source=/dev/null
. "${COMPILE_HOST_ENV:-/etc/compile-host.env}"
export AWS_REGION AWS_DEFAULT_REGION="$AWS_REGION"
# The paths are overridable only for the tests that run this script with stub commands.
work=${COMPILE_HOST_WORK:-/var/lib/compile-host}
files=${COMPILE_HOST_FILES:-/opt/compile-host}
secrets=${COMPILE_HOST_RUN:-/run/compile-host}
ns=compile-host
meta_file="file-owner=1000,file-group=1000,file-permissions=0100664"
meta_dir="file-owner=1000,file-group=1000,file-permissions=0040775"
main=$$
failing=""

log() { echo "compile-host: $*"; }
imds() {
  local t
  t=$(curl -sf -X PUT http://169.254.169.254/latest/api/token -H 'X-aws-ec2-metadata-token-ttl-seconds: 60')
  curl -sf -H "X-aws-ec2-metadata-token: $t" "http://169.254.169.254/latest/meta-data/$1"
}
finish() {
  local attempt
  for attempt in 1 2 3; do
    aws autoscaling set-desired-capacity --auto-scaling-group-name "$GROUP" --desired-capacity 0 && return 0
    log "setting the group's desired capacity to 0 failed (attempt $attempt)"
    sleep 10
  done
  shutdown -h +1 # the launch template terminates the instance on shutdown
}
exists() { aws s3api head-object --bucket "$BUCKET" --key "$ARTIFACTS_PREFIX$1" >/dev/null 2>&1; }
# The in-cluster Job compiles this key (it found no lease: this host started late); auto export copied its lease.
job_compiling() {
  aws s3 cp "s3://$BUCKET/$ARTIFACTS_PREFIX.compiling" - 2>/dev/null | jq -e '.owner == "job"' >/dev/null 2>&1
}
put() { aws s3api put-object --bucket "$BUCKET" --key "$1" --metadata "$3" --body "$2" >/dev/null; }
put_dir() {
  aws s3api put-object --bucket "$BUCKET" --key "$1" --content-type application/x-directory --metadata "$meta_dir" \
    >/dev/null
}
failed() {
  trap - ERR
  failing=1
  log "FAILED: $1"
  printf '{"instanceId": "%s", "reason": "%s", "at": %s}\n' "${instance:-unknown}" "$1" "$(date +%s)" \
    >"$work/failed.json" || true
  put "$ARTIFACTS_PREFIX.failed" "$work/failed.json" "$meta_file" || true
  finish
  exit 1
}
descendants() {
  local c
  for c in $(pgrep -P "$1" || true); do
    echo "$c"
    descendants "$c"
  done
}
watchdog() {
  sleep "$DEADLINE_S"
  # Freeze the script, kill what it started (an upload in flight included), then record the failure: the
  # Job starts compiling on `.failed`, and nothing of this host may land in the directory after it.
  kill -STOP "$main" 2>/dev/null || true
  local p
  for p in $(descendants "$main"); do
    [ "$p" = "$BASHPID" ] || kill -KILL "$p" 2>/dev/null || true
  done
  kill -KILL "$main" 2>/dev/null || true
  failed "watchdog: not done within $DEADLINE_S s"
}
on_exit() {
  local rc=$?
  # shellcheck disable=SC2046 # one pid a word
  kill $(descendants "$watchdog_pid") "$watchdog_pid" 2>/dev/null || true
  if [ "$rc" -ne 0 ] && [ -z "$failing" ]; then failed "exited with status $rc"; fi
}

watchdog &
watchdog_pid=$!
trap on_exit EXIT
instance=$(imds instance-id || echo unknown)
trap 'failed "step failed at line $LINENO"' ERR
mkdir -p "$work/model" "$work/deps" "$work/cache/$ARTIFACT_KEY"
chown -R 1000:1000 "$work"

if exists .complete; then log "artifacts complete in s3://$BUCKET/$ARTIFACTS_PREFIX: nothing to do"; finish; exit 0; fi
if exists .failed; then log "an earlier attempt failed: the in-cluster compile Job compiles instead"; finish; exit 0; fi
if job_compiling; then log "the in-cluster compile Job is compiling $ARTIFACT_KEY: leaving it to it"; finish; exit 0; fi
# Late (the launch retried for capacity or quota, a replacement instance): leave the key to the Job, unless an
# operator tagged the group to compile again (docs/performance.md).
group=$(aws autoscaling describe-auto-scaling-groups --auto-scaling-group-names "$GROUP" --output text \
  --query "AutoScalingGroups[0].[CreatedTime, Tags[?Key=='$AGAIN_TAG'].Value | [0]]")
read -r created again <<<"$group"
late=$(($(date +%s) - $(date -d "$created" +%s)))
[ "$late" -le "$LATE_START_S" ] || [ "$again" = true ] ||
  failed "started $late s after the group was created (over $LATE_START_S s): the in-cluster compile Job compiles"
now=$(date +%s)
printf '{"instanceId": "%s", "startedAt": %s, "deadline": %s}\n' "$instance" "$now" "$((now + DEADLINE_S))" \
  >"$work/lease.json"
for d in "${DIRECTORY_KEYS[@]}"; do put_dir "$d"; done
put "$ARTIFACTS_PREFIX.compiling" "$work/lease.json" "$meta_file"

systemctl start containerd
log "pulling $IMAGE while the model downloads"
ctr -n "$ns" image pull "$IMAGE" >"$work/pull.log" 2>&1 &
pull=$!
ctr -n "$ns" image pull "$LOADER_IMAGE" >/dev/null
install -d -m 0700 "$secrets"
: >"$secrets/token.env"
if [ -n "$SECRET_ARN" ]; then
  umask 077
  token=$(aws secretsmanager get-secret-value --secret-id "$SECRET_ARN" --query SecretString --output text)
  printf 'HF_TOKEN=%s\n' "$token" >"$secrets/token.env"
  unset token
fi
ctr -n "$ns" run --rm --net-host --user 1000:1000 --env-file "$secrets/token.env" \
  --env HOME=/tmp --env PYTHONDONTWRITEBYTECODE=1 --env PYTHONUNBUFFERED=1 --env PYTHONPATH=/deps \
  --mount "type=bind,src=$files,dst=/opt/model-fetch,options=rbind:ro" \
  --mount "type=bind,src=$work/deps,dst=/deps,options=rbind:rw" \
  --mount "type=bind,src=$work/model,dst=/fsx/model,options=rbind:rw" \
  "$LOADER_IMAGE" "fetch-$now" sh -c 'python -m pip install --no-cache-dir --disable-pip-version-check --no-deps \
    --only-binary=:all: --require-hashes --target /deps --requirement /opt/model-fetch/loader-requirements.txt \
    && exec python /opt/model-fetch/model_fetch.py fetch --dest /fsx/model "$@"' fetch "${FETCH_ARGS[@]}"
shred -u "$secrets/token.env"
wait "$pull" || failed "pulling $IMAGE"

log "compiling into $ARTIFACT_KEY"
# The compilation shares the host's network (vLLM on loopback) but needs no AWS API: its user (1000) loses the
# instance metadata service, hence the role's credentials (the token's secret, the artifact prefix). The
# loader above kept it (an s3:// model source reads with them).
iptables -I OUTPUT -d 169.254.169.254/32 -m owner --uid-owner 1000 -j REJECT ||
  log "could not close the instance metadata service to the compilation's user"
devices=()
for d in /dev/neuron*; do devices+=(--device "$d"); done
# `ctr run` gives a container containerd's default spec, 1024 open files, where a pod (CRI drops the default
# rlimits) inherits containerd's limit; the flag to lift it exists from containerd 2.3 on.
if ctr run --help 2>/dev/null | grep -q -- --rlimit-nofile; then devices+=(--rlimit-nofile 1048576:1048576); fi
ctr -n "$ns" run --rm --net-host --user 1000:1000 "${devices[@]}" \
  --env "NEURON_COMPILED_ARTIFACTS=/neuron-cache/$ARTIFACT_KEY" --env HF_HUB_OFFLINE=1 --env TRANSFORMERS_OFFLINE=1 \
  --env VLLM_NO_USAGE_STATS=1 --env DO_NOT_TRACK=1 --env HOME=/home/ubuntu \
  --mount "type=bind,src=$work/model,dst=$MODEL_DIR,options=rbind:ro" \
  --mount "type=bind,src=$work/cache,dst=/neuron-cache,options=rbind:rw" \
  --mount "type=bind,src=/dev/shm,dst=/dev/shm,options=rbind:rw" \
  --mount "type=bind,src=$files,dst=/opt/compile-host,options=rbind:ro" \
  "$IMAGE" "compile-$now" /bin/bash /opt/compile-host/compile.sh
local_dir="$work/cache/$ARTIFACT_KEY"
[ -f "$local_dir/.complete" ] || failed "the compilation wrote no marker"
# The in-cluster Job compiles when it found no lease (this host's was not imported yet): its files are in the
# file system and auto export copies its lease and marker to the bucket. Uploading would overwrite them.
if exists .complete || job_compiling; then
  log "the compile Job compiled $ARTIFACT_KEY too (it looked before this host's lease was there): not uploading"
  finish
  exit 0
fi

log "uploading the artifacts to s3://$BUCKET/$ARTIFACTS_PREFIX"
(cd "$local_dir" && find . -mindepth 1 -type d -printf '%P\n') | while read -r d; do put_dir "$ARTIFACTS_PREFIX$d/"; done
aws s3 cp "$local_dir/" "s3://$BUCKET/$ARTIFACTS_PREFIX" --recursive --exclude .complete --exclude .compiling \
  --metadata "$meta_file" --only-show-errors
# The marker lists every artifact and its size: serving pods wait until the file system shows each one
# (pod_spec.WAIT_FOR_FILE), whatever order it imports them in. The pause only saves them a poll.
(cd "$local_dir" && find . -type f ! -name .complete ! -name .compiling ! -name .failed -printf '%P\t%s\n') |
  jq -cRn '{files: ([inputs | split("\t") | {(.[0]): (.[1] | tonumber)}] | add // {})}' >"$work/complete.json"
sleep "$IMPORT_SETTLE_S"
put "$ARTIFACTS_PREFIX.complete" "$work/complete.json" "$meta_file"
log "artifacts complete: s3://$BUCKET/$ARTIFACTS_PREFIX.complete"
trap - ERR
finish
