#!/usr/bin/env bash
# Throwaway PostgreSQL cluster for tests and benchmarks.
#   scripts/pg.sh start DIR   → prints a postgres:// URL; installs PostgreSQL with apt if missing
#   scripts/pg.sh stop DIR
set -euo pipefail

find_bin() {
  local dir
  for dir in /usr/lib/postgresql/*/bin; do
    if [ -x "$dir/pg_ctl" ] && [ -x "$dir/initdb" ]; then echo "$dir"; return 0; fi
  done
  return 1
}

cmd=${1:?usage: pg.sh start|stop DIR}
dir=${2:?usage: pg.sh start|stop DIR}

case "$cmd" in
  start)
    if ! bin=$(find_bin); then
      echo "PostgreSQL not found; installing it with apt" >&2
      export DEBIAN_FRONTEND=noninteractive
      apt-get update -qq >&2 && apt-get install -y -qq postgresql >&2
      bin=$(find_bin)
    fi
    mkdir -p "$dir"
    # initdb refuses to run as root: the cluster belongs to the postgres user when we are root.
    run_as=()
    if [ "$(id -u)" = 0 ]; then
      chown postgres "$dir"
      run_as=(su postgres -s /bin/sh -c)
    else
      run_as=(sh -c)
    fi
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    "${run_as[@]}" "$bin/initdb -D '$dir/data' -A trust -U postgres >'$dir/initdb.log' 2>&1"
    "${run_as[@]}" "$bin/pg_ctl -D '$dir/data' -o \"-p $port -c listen_addresses=127.0.0.1 -k '$dir' -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300\" -l '$dir/log' start -w >/dev/null"
    echo "$port" > "$dir/port"
    echo "postgres://postgres@127.0.0.1:$port"
    ;;
  stop)
    bin=$(find_bin) || exit 0
    if [ -d "$dir/data" ]; then
      if [ "$(id -u)" = 0 ]; then
        su postgres -s /bin/sh -c "$bin/pg_ctl -D '$dir/data' stop -m fast" >/dev/null 2>&1 || true
      else
        "$bin/pg_ctl" -D "$dir/data" stop -m fast >/dev/null 2>&1 || true
      fi
    fi
    ;;
  *) echo "usage: pg.sh start|stop DIR" >&2; exit 2 ;;
esac
