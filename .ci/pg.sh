# Throwaway PostgreSQL on 127.0.0.1 for the tests. Usage: . .ci/pg.sh && pg_start; …; pg_stop
PGDIR=${PGDIR:-/tmp/dobae-pgtest}
pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1; }
pg_start() {
  PGBIN=$(pg_bin)
  if [ -z "$PGBIN" ] || [ ! -x "$PGBIN/initdb" ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null || return 1
    PGBIN=$(pg_bin)
  fi
  PG_PORT=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
  rm -rf "$PGDIR" && mkdir -p "$PGDIR" && chown postgres: "$PGDIR"
  su postgres -c "$PGBIN/initdb -D $PGDIR/data -U postgres --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8" >/dev/null || return 1
  su postgres -c "$PGBIN/pg_ctl -D $PGDIR/data -l $PGDIR/log -w -t 60 -o '-p $PG_PORT -k $PGDIR -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off' start" >/dev/null || { cat "$PGDIR/log"; return 1; }
  for _ in $(seq 50); do "$PGBIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" && break; sleep 0.2; done
  su postgres -c "$PGBIN/psql -q -h $PGDIR -p $PG_PORT -U postgres -v ON_ERROR_STOP=1 -c \"CREATE ROLE dobae LOGIN PASSWORD 'dobae'\" -c 'CREATE DATABASE dobae_test OWNER dobae'" || return 1
  export DOBAE_TEST_DATABASE_URL="postgresql+psycopg://dobae:dobae@127.0.0.1:$PG_PORT/dobae_test"
}
pg_stop() { [ -n "${PGBIN:-}" ] && su postgres -c "$PGBIN/pg_ctl -D $PGDIR/data -m fast -w stop" >/dev/null 2>&1; rm -rf "$PGDIR"; }
