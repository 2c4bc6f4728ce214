#!/usr/bin/env bash
# Property-based check of the HTTP API: schemathesis generates requests from
# /api/openapi.json (valid and invalid) against a release server on the
# simulated market with a throw-away database, and fails on any 5xx or any
# response that does not match the documented schema. Bounded: a few
# examples per operation, a per-response time limit, 300 s overall.
# Needs ./target/release/pairdesk (make build) and ./tools/schemathesis
# (scripts/install.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

bin=./target/release/pairdesk
st=./tools/schemathesis/bin/schemathesis
[ -x "$bin" ] || { echo "api-fuzz: $bin missing; run make build" >&2; exit 1; }
[ -x "$st" ] || { echo "api-fuzz: $st missing; run scripts/install.sh" >&2; exit 1; }

tmp=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
base="http://127.0.0.1:$port"
"$bin" serve --source sim --db "$tmp/fuzz.db" --listen "127.0.0.1:$port" --config /dev/null \
  >"$tmp/server.log" 2>&1 &
pid=$!
cleanup() {
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

for _ in $(seq 1 100); do
  curl -fsS "$base/healthz" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -fsS "$base/healthz" >/dev/null || { cat "$tmp/server.log" >&2; exit 1; }
# Let a few seconds of simulated trades reach the store so stored-data
# routes have something to answer with.
sleep 3

status=0
config=$(realpath "${API_FUZZ_CONFIG:-scripts/schemathesis.toml}")
st=$(realpath "$st")
# Run from the temp dir: schemathesis keeps a crash cache in ./.schemathesis.
cd "$tmp"
timeout 300 "$st" --config-file "$config" run "$base/api/openapi.json" \
  --checks not_a_server_error,response_schema_conformance \
  --max-examples "${API_FUZZ_EXAMPLES:-100}" \
  --max-response-time 10 \
  --request-timeout 20 \
  --workers 2 \
  --seed "${API_FUZZ_SEED:-1}" \
  --generation-database none \
  --suppress-health-check all \
  --no-color || status=$?
if [ "$status" -ne 0 ]; then
  echo "api-fuzz: schemathesis failed (exit $status); server log tail:" >&2
  tail -n 20 "$tmp/server.log" >&2
fi
exit "$status"
