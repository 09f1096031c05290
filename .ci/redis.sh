# Throwaway Redis on 127.0.0.1 for the tests (the distributed crawl, scrapy-redis).
# Usage: source .ci/redis.sh && redis_start && …; redis_stop      (exports DOBAE_TEST_REDIS_URL)
# Each redis_start gets its own folder and free port; nothing is saved to disk. As root a missing
# redis-server is installed from Debian packages.
redis_start() {
  if ! command -v redis-server >/dev/null; then
    if [ "$(id -u)" != 0 ]; then echo "redis.sh: redis-server is not installed; run as root or: apt-get install redis-server" >&2; return 1; fi
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null; } || return 1
  fi
  REDISDIR=${REDISDIR:-$(mktemp -d /tmp/dobae-redis.XXXXXX)}
  REDIS_PORT=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
  redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --dir "$REDISDIR" --save '' --appendonly no \
    --daemonize yes --pidfile "$REDISDIR/redis.pid" --logfile "$REDISDIR/log" || return 1
  for _ in $(seq 50); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
  redis-cli -p "$REDIS_PORT" ping >/dev/null || { cat "$REDISDIR/log" >&2; return 1; }
  export DOBAE_TEST_REDIS_URL="redis://127.0.0.1:$REDIS_PORT/0"
}
redis_stop() {
  if [ -n "${REDISDIR:-}" ] && [ -f "$REDISDIR/redis.pid" ]; then
    kill "$(cat "$REDISDIR/redis.pid")" 2>/dev/null
    for _ in $(seq 50); do kill -0 "$(cat "$REDISDIR/redis.pid" 2>/dev/null)" 2>/dev/null || break; sleep 0.1; done
  fi
  [ -n "${REDISDIR:-}" ] && rm -rf "$REDISDIR"
  unset DOBAE_TEST_REDIS_URL REDISDIR
  return 0
}
