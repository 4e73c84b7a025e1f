# Shell helpers shared by the benchmark scripts (tests/bench) and the API
# fuzzer (.ci/schemathesis.sh). Source it: `. tests/support/lib.sh`.

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# wait_for URL PID LOG [curl options...]: up to 60 s for a 2xx from URL; fails
# early, showing the end of LOG, if process PID exits.
wait_for() {
  local url="$1" pid="$2" logfile="$3"
  shift 3
  for _ in $(seq 1 120); do
    curl -fsS --max-time 2 -o /dev/null "$@" "$url" 2>/dev/null && return 0
    kill -0 "$pid" 2>/dev/null || { tail -n 30 "$logfile" >&2; return 1; }
    sleep 0.5
  done
  echo "timed out waiting for $url" >&2
  return 1
}

# stop PID: SIGTERM (the app then stops its own cluster) and wait for it.
stop() {
  if [ -n "$1" ] && kill -0 "$1" 2>/dev/null; then
    kill -TERM "$1"
    wait "$1" 2>/dev/null || true
  fi
}

# stop_postmaster CLUSTER_DIR: stops a private cluster whose app died
# without stopping it.
stop_postmaster() {
  local pm
  pm="$(sed -n 1p "$1/postmaster.pid" 2>/dev/null || true)"
  if [ -n "$pm" ] && kill -0 "$pm" 2>/dev/null; then
    kill -INT "$pm"
    for _ in $(seq 1 50); do kill -0 "$pm" 2>/dev/null || break; sleep 0.2; done
  fi
}

# start_simulator BIN KEY LOG: a standalone stripe-sim on a free port; sets
# sim_pid and sim (its base URL).
start_simulator() {
  local port
  port="$(free_port)"
  sim="http://127.0.0.1:$port"
  STRIPE_SIM_BIND="127.0.0.1:$port" RUST_LOG=warn "$1" >"$3" 2>&1 &
  sim_pid=$!
  wait_for "$sim/v1/webhook_endpoints" "$sim_pid" "$3" -H "Authorization: Bearer $2"
}

# register_webhook SIM KEY URL: registers URL for every event; prints the
# endpoint's signing secret.
register_webhook() {
  curl -fsS -H "Authorization: Bearer $2" --data-urlencode "url=$3" \
    --data-urlencode 'enabled_events[]=*' "$1/v1/webhook_endpoints" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["secret"])'
}
