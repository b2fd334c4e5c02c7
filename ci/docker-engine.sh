#!/usr/bin/env bash
# Makes a Docker engine answer on this machine (idempotent; run as root). When `docker info`
# already answers it does nothing. Otherwise it installs Debian's docker.io if `dockerd` is missing,
# starts `dockerd` in the background (detached, log at /tmp/protocheck-dockerd.log) unless one is
# already starting, and waits up to 60 s for `docker info`. Exit 0 when the engine answers, 1 with
# the log's tail when it does not.
set -euo pipefail

LOG=/tmp/protocheck-dockerd.log
WAIT_S=60
t0=$(date +%s%N)

elapsed() {
  local now
  now=$(date +%s%N)
  awk -v a="$t0" -v b="$now" 'BEGIN { printf "%.1f s", (b - a) / 1e9 }'
}

answers() {
  command -v docker >/dev/null 2>&1 && timeout 10 docker info >/dev/null 2>&1
}

if answers; then
  echo "docker-engine: engine already answering ($(docker info --format '{{.ServerVersion}}' 2>/dev/null || echo '?')), nothing to do"
  exit 0
fi

if ! command -v dockerd >/dev/null 2>&1; then
  echo "docker-engine: installing docker.io (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends docker.io >/dev/null
  echo "docker-engine: installed docker.io in $(elapsed)"
  # Some installs start the engine from the package's scripts.
  if answers; then
    echo "docker-engine: engine answering after install ($(elapsed))"
    exit 0
  fi
fi

dockerd_running() {
  local pid
  pid=$(cat /var/run/docker.pid 2>/dev/null || true)
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null && return 0
  command -v pgrep >/dev/null 2>&1 && pgrep -x dockerd >/dev/null 2>&1
}

if dockerd_running; then
  echo "docker-engine: a dockerd process exists; waiting for it to answer"
else
  echo "docker-engine: starting dockerd (log: $LOG)"
  setsid nohup dockerd >"$LOG" 2>&1 </dev/null &
  started=$!
  disown || true
fi

fail() {
  echo "docker-engine: $1; last lines of $LOG:" >&2
  tail -n 25 "$LOG" >&2 2>/dev/null || echo "(no log)" >&2
  exit 1
}

deadline=$(( $(date +%s) + WAIT_S ))
until answers; do
  if [[ -n "${started:-}" ]] && ! kill -0 "$started" 2>/dev/null; then
    fail "dockerd exited after $(elapsed)"
  fi
  if (( $(date +%s) >= deadline )); then
    fail "dockerd did not answer within ${WAIT_S} s"
  fi
  sleep 0.2
done
echo "docker-engine: engine answering ($(docker info --format '{{.ServerVersion}}' 2>/dev/null || echo '?')) after $(elapsed)"
