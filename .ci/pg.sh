# Throwaway PostgreSQL on 127.0.0.1 for the tests.
# Usage: source .ci/pg.sh && pg_start && …; pg_stop      (exports DOBAE_TEST_DATABASE_URL)
# Each pg_start gets its own data folder and free port (PGDIR overrides the folder), so several
# test runs on one machine do not collide. As root the server runs as the `postgres` user and a
# missing PostgreSQL is installed from Debian packages; as another user it runs as that user.
pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1; }
_pg_as() { if [ "$(id -u)" = 0 ]; then su postgres -c "$1"; else bash -c "$1"; fi; }
pg_start() {
  PGBIN=$(pg_bin)
  if [ -z "$PGBIN" ] || [ ! -x "$PGBIN/initdb" ]; then
    if [ "$(id -u)" != 0 ]; then echo "pg.sh: PostgreSQL is not installed; run as root or: apt-get install postgresql" >&2; return 1; fi
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; } || return 1
    PGBIN=$(pg_bin)
  fi
  PGDIR=${PGDIR:-$(mktemp -d /tmp/dobae-pg.XXXXXX)}
  PG_PORT=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
  rm -rf "$PGDIR" && mkdir -p "$PGDIR" || return 1
  if [ "$(id -u)" = 0 ]; then chown postgres: "$PGDIR" || return 1; fi
  _pg_as "$PGBIN/initdb -D $PGDIR/data -U postgres --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8" >/dev/null || return 1
  _pg_as "$PGBIN/pg_ctl -D $PGDIR/data -l $PGDIR/log -w -t 60 -o '-p $PG_PORT -k $PGDIR -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off' start" >/dev/null || { cat "$PGDIR/log" >&2; return 1; }
  for _ in $(seq 50); do "$PGBIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" && break; sleep 0.2; done
  _pg_as "$PGBIN/psql -q -h $PGDIR -p $PG_PORT -U postgres -v ON_ERROR_STOP=1 -c \"CREATE ROLE dobae LOGIN CREATEDB PASSWORD 'dobae'\" -c 'CREATE DATABASE dobae_test OWNER dobae'" || return 1
  export DOBAE_TEST_DATABASE_URL="postgresql+psycopg://dobae:dobae@127.0.0.1:$PG_PORT/dobae_test"
}
pg_stop() {
  if [ -n "${PGBIN:-}" ] && [ -n "${PGDIR:-}" ] && [ -d "$PGDIR/data" ]; then
    _pg_as "$PGBIN/pg_ctl -D $PGDIR/data -m fast -w stop" >/dev/null 2>&1
  fi
  [ -n "${PGDIR:-}" ] && rm -rf "$PGDIR"
  unset DOBAE_TEST_DATABASE_URL
  return 0
}
