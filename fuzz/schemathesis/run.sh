#!/usr/bin/env bash
# Schemathesis against Herald's own OpenAPI document: every documented operation gets a bounded
# number of generated requests (valid and invalid ones), and each answer must be no 5xx and must
# match the document (status code, content type, body schema). Reproducible: fixed seed, one
# worker, no example database carried between runs, pinned Schemathesis (requirements.txt).
#
#   bash fuzz/schemathesis/run.sh                 # what CI runs (.ci/run)
#   MAX_EXAMPLES=200 SEED=7 bash fuzz/schemathesis/run.sh   # a longer or different run
#
# Herald runs from the release binary on a fresh SQLite database in a temporary directory, on
# 127.0.0.1 with a port the OS picks (read back from its "Herald is serving" log line), with a
# Development key generated for this run. Exits non-zero when Schemathesis reports a failure.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"

MAX_EXAMPLES="${MAX_EXAMPLES:-30}"
SEED="${SEED:-20261127}"
# Hard upper bound on the Schemathesis run, in seconds. Not Schemathesis' `--max-time`, which
# keeps fuzzing until the time is spent: the run is bounded by MAX_EXAMPLES, this only stops a hang.
MAX_TIME="${MAX_TIME:-270}"
PYTHON="${PYTHON:-python3.11}"
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3

log() { echo "schemathesis: $*"; }

# The pinned Schemathesis in a venv of its own; reinstalled when requirements.txt changes.
venv="$here/.venv"
if ! cmp -s "$here/requirements.txt" "$venv/requirements.installed" 2>/dev/null; then
  log "installing $(grep '^schemathesis==' "$here/requirements.txt") into $venv"
  rm -rf "$venv"
  "$PYTHON" -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/requirements.txt"
  cp "$here/requirements.txt" "$venv/requirements.installed"
fi

log "building the release binary"
cargo build --release -p herald --quiet
target_dir="${CARGO_TARGET_DIR:-$root/target}"
bin="$target_dir/release/herald"

work="$(mktemp -d)"
herald_pid=""
cleanup() {
  if [ -n "$herald_pid" ]; then
    kill "$herald_pid" 2>/dev/null || true
    wait "$herald_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

key="schemathesis-$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')"
# Settings come from the flags only: a developer's HERALD_* environment stays out.
env -u HERALD_DATABASE_URL -u HERALD_API_KEY -u HERALD_BIND -u HERALD_LOG -u HERALD_AUTH_CACHE_TTL \
  NO_COLOR=1 "$bin" --bind 127.0.0.1:0 --database-url "sqlite://$work/herald.db" \
  --api-key "$key" --log warn,herald=info >"$work/stdout.log" 2>"$work/herald.log" &
herald_pid=$!

# Wait for the "Herald is serving address=…" line: at most 30 s, or until the process exits.
addr=""
for _ in $(seq 300); do
  addr="$(sed -n 's/.*Herald is serving.*address=\([0-9.:]*\).*/\1/p' "$work/herald.log" | head -n1)"
  [ -n "$addr" ] && break
  kill -0 "$herald_pid" 2>/dev/null || break
  sleep 0.1
done
if [ -z "$addr" ]; then
  log "Herald did not start; its log:"
  cat "$work/herald.log" >&2
  exit 1
fi
log "Herald serves on $addr (SQLite in $work)"

report="$here/report"
rm -rf "$report"
mkdir -p "$report"
status=0
# From the temporary directory: Schemathesis keeps a cache of past failures in ./.schemathesis and
# replays them first, which would make one run depend on the ones before it.
(cd "$work" && timeout --signal=INT --kill-after=30 "$MAX_TIME" \
  "$venv/bin/schemathesis" run "http://$addr/openapi.json" \
  --header "Authorization: ApiKey $key" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
  --max-examples "$MAX_EXAMPLES" \
  --seed "$SEED" \
  --workers 1 \
  --generation-database none \
  --request-timeout 10 \
  --no-color \
  --report junit --report-dir "$report") \
  || status=$?

if ! kill -0 "$herald_pid" 2>/dev/null; then
  log "Herald exited during the run; its log:"
  cat "$work/herald.log" >&2
  status=1
fi
if grep -q "panicked" "$work/herald.log"; then
  log "Herald panicked during the run:"
  grep -A5 "panicked" "$work/herald.log" >&2
  status=1
fi
if [ "$status" -ne 0 ]; then
  log "FAILED (exit $status); JUnit report in $report"
  exit "$status"
fi
log "passed"
