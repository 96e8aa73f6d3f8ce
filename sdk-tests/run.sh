#!/usr/bin/env bash
# SDK compatibility suite: drives a running Herald through Novu's official SDKs, pinned
# (@novu/api 3.19.1, @novu/node 2.6.6, novu-py 3.19.0, novu 1.14.0), and prints an
# SDK x operation matrix. Exits non-zero if any test fails.
#
#   sdk-tests/run.sh                       release build (if stale), fresh SQLite database
#   sdk-tests/run.sh --postgres URL        against PostgreSQL (a database Herald may migrate;
#                                          HERALD_SECRET_KEY set, the same on every run)
#   sdk-tests/run.sh --only node|python    one half only
#   sdk-tests/run.sh --no-build            use the existing binary (HERALD_BIN or target/release/herald)
#   sdk-tests/run.sh --keep                keep the temp directory (database, logs, reports)
#
# Filters: NODE_TEST_ARGS='--test-name-pattern=topics', PYTEST_ARGS='-k topics'.
# Needs node >= 20, npm, python3 (venv) and cargo; see sdk-tests/README.md.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
PG_URL=""
BUILD=auto
ONLY=""
KEEP=0

usage() { sed -n '2,14p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
  case "$1" in
    --postgres) PG_URL="${2:?--postgres needs a URL}"; shift 2 ;;
    --postgres=*) PG_URL="${1#*=}"; shift ;;
    --no-build) BUILD=no; shift ;;
    --only) ONLY="${2:?--only needs node or python}"; shift 2 ;;
    --only=*) ONLY="${1#*=}"; shift ;;
    --keep) KEEP=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) echo "sdk-tests: unknown argument $1" >&2; usage >&2; exit 2 ;;
  esac
done
case "$ONLY" in "" | node | python) ;; *) echo "sdk-tests: --only takes node or python" >&2; exit 2 ;; esac
if [ -n "$PG_URL" ] && [ -z "${HERALD_SECRET_KEY:-}${HERALD_SECRET_KEY_FILE:-}" ]; then
  echo "sdk-tests: --postgres needs HERALD_SECRET_KEY (Herald's credential encryption key; keep the same" >&2
  echo "  one for a database reused across runs); \`herald secrets generate\` prints a new one" >&2
  exit 2
fi

log() { echo "sdk-tests: $*"; }
command -v node >/dev/null || { echo "sdk-tests: node (>= 20) is required" >&2; exit 1; }
command -v npm >/dev/null || { echo "sdk-tests: npm is required" >&2; exit 1; }
NODE_MAJOR="$(node -p 'process.versions.node.split(".")[0]')"
[ "$NODE_MAJOR" -ge 20 ] || { echo "sdk-tests: node >= 20 is required (found $(node --version))" >&2; exit 1; }

# 1. The binary: rebuilt when any source is newer than it (cargo waits for other builds' locks).
BIN="${HERALD_BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/release/herald}"
if [ "$BUILD" = auto ]; then
  if [ -x "$BIN" ] && [ -z "$(find "$ROOT/crates" "$ROOT/Cargo.toml" "$ROOT/Cargo.lock" -newer "$BIN" -print -quit)" ]; then
    log "using $BIN (up to date)"
  else
    log "cargo build --release -p herald"
    (cd "$ROOT" && cargo build --release -p herald)
  fi
fi
[ -x "$BIN" ] || { echo "sdk-tests: no Herald binary at $BIN" >&2; exit 1; }

# 2. Dependencies, installed only when missing or when the pins changed.
if [ "$ONLY" != python ]; then
  if [ ! -f "$HERE/node_modules/.package-lock.json" ] || [ "$HERE/package-lock.json" -nt "$HERE/node_modules/.package-lock.json" ]; then
    log "npm ci"
    (cd "$HERE" && npm ci --no-audit --no-fund --loglevel=error)
  fi
fi
VENV="$HERE/.venv"
if [ "$ONLY" != node ]; then
  if [ ! -x "$VENV/bin/python" ] || [ ! -f "$VENV/.installed" ] || [ "$HERE/requirements.txt" -nt "$VENV/.installed" ]; then
    log "pip install -r requirements.txt (into sdk-tests/.venv)"
    rm -rf "$VENV"
    if ! python3 -m venv "$VENV" 2>/dev/null; then
      # Debian/Ubuntu ship venv separately.
      if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
        rm -rf "$VENV"
        python3 -m venv "$VENV"
      else
        echo "sdk-tests: python3 -m venv failed (install python3-venv)" >&2
        exit 1
      fi
    fi
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$HERE/requirements.txt"
    touch "$VENV/.installed"
  fi
fi

# 3. The receiver standing in for the providers, then Herald on a free port, fresh database,
# known key.
WORK="$(mktemp -d "${TMPDIR:-/tmp}/herald-sdk-tests.XXXXXX")"
HERALD_PID=""
RECEIVER_PID=""
stop() { # stop PID: ends a process this script started, and reaps it
  if [ -n "$1" ] && kill -0 "$1" 2>/dev/null; then
    kill "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
  fi
}
cleanup() {
  stop "$HERALD_PID"
  stop "$RECEIVER_PID"
  if [ "$KEEP" = 1 ]; then log "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

KEY="sdk-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
DB_URL="${PG_URL:-sqlite://$WORK/herald.db}"
free_port() {
  node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}
probe() {
  node -e 'fetch(process.argv[1]).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))' "$1"
}
# The receiver (receiver.mjs) listens on 127.0.0.1 on a port of its choosing and writes it to a
# file; tests read what it got through its /_rx/ routes.
node "$HERE/receiver.mjs" "$WORK/receiver.port" >"$WORK/receiver.log" 2>&1 &
RECEIVER_PID=$!
for _ in $(seq 1 50); do # up to 10 s
  [ -s "$WORK/receiver.port" ] && break
  kill -0 "$RECEIVER_PID" 2>/dev/null || break
  sleep 0.2
done
[ -s "$WORK/receiver.port" ] || { echo "sdk-tests: the receiver did not start" >&2; cat "$WORK/receiver.log" >&2; exit 1; }
RECEIVER_URL="http://127.0.0.1:$(cat "$WORK/receiver.port")"
probe "$RECEIVER_URL/_rx/health" || { echo "sdk-tests: the receiver does not answer" >&2; exit 1; }

# Deliveries go to the receiver (127.0.0.1, allowed explicitly: loopback is refused by default),
# promptly: the worker polls every 50 ms and a failed attempt is retried at once unless the
# receiver answers with a Retry-After.
READY=0
for attempt in 1 2 3; do
  PORT="$(free_port)"
  URL="http://127.0.0.1:$PORT"
  "$BIN" --database-url "$DB_URL" --bind "127.0.0.1:$PORT" --api-key "$KEY" \
    --outbound-allow 127.0.0.1 --retry-initial-delay-ms 0 --worker-poll-ms 50 \
    >"$WORK/herald.log" 2>&1 &
  HERALD_PID=$!
  for _ in $(seq 1 150); do # up to 30 s (migrations on a cold PostgreSQL)
    if probe "$URL/v1/health-check"; then READY=1; break; fi
    kill -0 "$HERALD_PID" 2>/dev/null || break
    sleep 0.2
  done
  [ "$READY" = 1 ] && break
  kill "$HERALD_PID" 2>/dev/null || true
  wait "$HERALD_PID" 2>/dev/null || true
  HERALD_PID=""
  log "Herald did not become ready (attempt $attempt); log:"
  tail -n 20 "$WORK/herald.log" | sed 's/^/  | /'
done
[ "$READY" = 1 ] || { echo "sdk-tests: Herald did not start" >&2; exit 1; }
if [ -n "$PG_URL" ]; then BACKEND=PostgreSQL; else BACKEND=SQLite; fi
log "Herald ($BIN) serving $URL on $BACKEND; providers' receiver at $RECEIVER_URL"

# A key of another environment, for tests whose data would disturb the rest (see FINDINGS.md).
ISOLATED_KEY="$("$BIN" keys create --environment Production --database-url "$DB_URL" 2>/dev/null | tail -n 1 | tr -d '[:space:]')" || ISOLATED_KEY=""
[ -n "$ISOLATED_KEY" ] || log "could not create a Production key; isolated tests will skip"

export HERALD_URL="$URL" HERALD_API_KEY="$KEY" HERALD_ISOLATED_API_KEY="$ISOLATED_KEY"
export HERALD_RECEIVER_URL="$RECEIVER_URL"
export SDK_RESULTS_DIR="$WORK"

# 4. The suites. Each test makes its own uniquely named subscribers, integrations and topics.
STATUS=0
if [ "$ONLY" != python ]; then
  log "Node suite (@novu/api, @novu/node)"
  # shellcheck disable=SC2086
  (cd "$HERE" && node --test --test-concurrency=4 --test-timeout=60000 ${NODE_TEST_ARGS:-} \
    --test-reporter=spec --test-reporter-destination=stdout \
    --test-reporter=junit --test-reporter-destination="$WORK/node.xml" \
    node/*.test.mjs) || STATUS=1
fi
if [ "$ONLY" != node ]; then
  log "Python suite (novu-py, novu)"
  # shellcheck disable=SC2086
  (cd "$HERE" && "$VENV/bin/python" -m pytest -p no:cacheprovider -q -rfEs ${PYTEST_ARGS:-} python) || STATUS=1
fi

# 5. Matrix, then Herald stops (trap).
"$VENV/bin/python" "$HERE/matrix.py" "$WORK" 2>/dev/null || python3 "$HERE/matrix.py" "$WORK" || true
if [ "$STATUS" != 0 ]; then
  log "FAILED (Herald log: last lines below)"
  tail -n 20 "$WORK/herald.log" | sed 's/^/  | /'
fi
exit "$STATUS"
