#!/usr/bin/env bash
# Schemathesis against the REST API's OpenAPI document, every operation, once with a
# site-admin token and once anonymously: no 5xx, and every status code, content type and body
# as documented. Bounded (examples per operation) so that it fits in CI.
# Usage: scripts/schemathesis.sh [MAX_EXAMPLES]   (needs schemathesis in target/test-tools/venv;
#        scripts/test.sh installs it). Traffic goes to 127.0.0.1 only.
set -euo pipefail
cd "$(dirname "$0")/.."

examples="${1:-${GANTRY_SCHEMATHESIS_EXAMPLES:-15}}"
st="$PWD/target/test-tools/venv/bin/st"
bin="${GANTRY_BIN:-$PWD/target/debug/gantry}"
[ -x "$st" ] || { echo "schemathesis is missing: $st" >&2; exit 1; }
[ -x "$bin" ] || cargo build --locked -p gantry
bin="${GANTRY_BIN:-$PWD/target/debug/gantry}"

work=$(mktemp -d /tmp/gantry-schemathesis.XXXXXX)
token="gty_schemathesis_$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

# Generated requests carry bad tokens by design; the failed-authentication limit would
# otherwise answer 429 to everything after the tenth.
GANTRY_ADMIN_TOKEN="$token" GANTRY_LOG=warn "$bin" server --listen 127.0.0.1:0 \
  --data-dir "$work/data" --auth-failure-limit 1000000000 --workers 1 \
  >"$work/stdout" 2>"$work/stderr" &
server_pid=$!
url=""
for _ in $(seq 1 300); do
  url=$(sed -n 's/^gantry listening on //p' "$work/stdout" | head -n1)
  [ -n "$url" ] && break
  sleep 0.1
done
[ -n "$url" ] || { echo "the server did not start" >&2; cat "$work/stderr" >&2; exit 1; }

# Something to find, so that not every operation answers 404.
api() { curl -sS -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $token" "$@"; }
api -X POST -H 'content-type: application/json' -d '{"name":"dev","private":false}' "$url/api/v1/repos/acme" >/dev/null
api -X POST -H 'content-type: application/json' -d '{"name":"secret","private":true}' "$url/api/v1/repos/acme" >/dev/null
api -X POST --data-binary 'hello' "$url/api/v1/packages/acme/dev/upload/raw?name=hello&version=1.0&filename=hello.txt" >/dev/null

checks="not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"
run() {
  local label="$1"; shift
  echo "==> schemathesis ($label), $examples examples per operation"
  # Run from the scratch directory: Schemathesis keeps its example database in the
  # current directory.
  (cd "$work" && SCHEMATHESIS_HOOKS=hooks PYTHONPATH="$OLDPWD/scripts/schemathesis" \
    "$st" run "$url/api/v1/openapi.json" --url "$url" \
    --checks "$checks" --max-examples "$examples" --phases examples,coverage,fuzzing \
    --seed 14 --workers 2 --request-timeout 30 --no-shrink \
    --suppress-health-check all --warnings off "$@")
}
status=0
run "site-admin token" -H "Authorization: Bearer $token" || status=1
run "anonymous" || status=1
if grep -q "panicked" "$work/stderr"; then
  echo "the server panicked:" >&2
  grep -A3 "panicked" "$work/stderr" >&2
  status=1
fi
exit "$status"
