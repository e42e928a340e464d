#!/usr/bin/env bash
# Writes the data the upgrade test opens: a release binary's data directory (SQLite) or its
# PostgreSQL dump plus blobs, holding repositories acme/dev (private), staging and production
# (public); raw app 1.0 (copied to staging, then that copy moved to production) and app 2.0
# (quarantined); npm snap-lib 1.0.0 (published with npm); a policy and a webhook.
#
# Usage: scripts/upgrade-snapshot.sh GANTRY_BINARY sqlite|postgres OUT.tar.gz
#   postgres needs scripts/pg.sh (a throwaway cluster is started and stopped here).
# Build GANTRY_BINARY from the release commit (git worktree add /tmp/rel COMMIT; cargo build).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(realpath "$1")
backend=$2
out=$(realpath -m "$3")
work=$(mktemp -d /tmp/gantry-snapshot.XXXXXX)
chmod 755 "$work"
data="$work/data"
mkdir -p "$data"
port=18765
url="http://127.0.0.1:$port"
admin=snapshot-admin-token-0123456789abcdef
export GANTRY_URL=$url GANTRY_TOKEN=$admin

db_url=""
cleanup() {
  [ -n "${server_pid:-}" ] && kill "$server_pid" 2>/dev/null || true
  if [ "$backend" = postgres ]; then scripts/pg.sh stop "$work/pg" >/dev/null 2>&1 || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
if [ "$backend" = postgres ]; then
  base=$(scripts/pg.sh start "$work/pg")
  psql "$base/postgres" -q -c "CREATE DATABASE snapshot"
  db_url="$base/snapshot"
fi

env GANTRY_ADMIN_TOKEN=$admin ${db_url:+GANTRY_DATABASE_URL=$db_url} \
  GANTRY_OUTBOUND_ALLOW_NETWORKS=127.0.0.0/8 \
  "$bin" server --listen "127.0.0.1:$port" --data-dir "$data" >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 100); do curl -sf "$url/healthz" >/dev/null && break; sleep 0.1; done

"$bin" repos create acme/dev >/dev/null
"$bin" repos create acme/staging --public >/dev/null
"$bin" repos create acme/production --public >/dev/null
printf 'release 1.0\n' >"$work/app-1.0.tar.gz"
printf 'release 2.0\n' >"$work/app-2.0.tar.gz"
slug1=$("$bin" push raw acme/dev "$work/app-1.0.tar.gz" --name app --version 1.0 -F json | jq -r .slug_perm)
slug2=$("$bin" push raw acme/dev "$work/app-2.0.tar.gz" --name app --version 2.0 -F json | jq -r .slug_perm)
copy=$("$bin" cp "acme/dev/$slug1" staging -F json | jq -r .slug_perm)
"$bin" mv "acme/staging/$copy" production >/dev/null
"$bin" quarantine add "acme/dev/$slug2" >/dev/null

mkdir -p "$work/npm"
cat >"$work/npm/package.json" <<'JSON'
{ "name": "snap-lib", "version": "1.0.0", "description": "upgrade snapshot", "main": "index.js" }
JSON
echo 'module.exports = 1;' >"$work/npm/index.js"
(cd "$work/npm" && printf '//127.0.0.1:%s/acme/dev/npm/:_authToken=%s\n' "$port" "$admin" >.npmrc &&
  npm publish --registry "$url/acme/dev/npm/" --userconfig .npmrc >/dev/null 2>&1)

cat >"$work/open.rego" <<'REGO'
package gantry

deny contains msg if {
	false
	msg := "never"
}
REGO
"$bin" policy create acme --name open --file "$work/open.rego" >/dev/null
"$bin" webhooks create acme/dev --target-url http://127.0.0.1:9/hook >/dev/null
sleep 1

kill "$server_pid"
wait "$server_pid" 2>/dev/null || true
server_pid=""
if [ "$backend" = postgres ]; then
  pg_dump --no-owner --no-privileges "$db_url" >"$data/dump.sql"
fi
tar czf "$out" -C "$data" .
echo "wrote $out"
