#!/usr/bin/env bash
# N Storefront nodes behind nginx on one PostgreSQL and one Stripe simulator,
# all on loopback:  bash tests/bench/nodes.sh 3
#
# - a standalone stripe-sim (`stripe-sim` binary) on a free port;
# - node 1 runs on a throwaway DATA_DIR without DATABASE_URL, so it creates and
#   starts the private PostgreSQL cluster (migrations, sample catalog); the
#   other nodes get DATABASE_URL pointing at that cluster (port and password
#   from DATA_DIR/postgres/postmaster.pid and DATA_DIR/postgres.password);
# - every node is the release binary on its own free port, with the same
#   SESSION_KEY, APP_BASE_URL = the nginx origin, and Stripe settings for the
#   simulator, whose webhook endpoint points at the nginx origin;
# - Debian's nginx (`daemon off; master_process off;`, everything under the
#   temporary directory) balances round-robin over the nodes and logs the
#   upstream that served each request ($upstream_addr) to access.log; it
#   overwrites X-Forwarded-For, so the nodes (TRUST_PROXY_HEADERS=true) rate
#   limit writes per shopper address, not per nginx.
# Prints the URL, then runs until Ctrl-C (or STOP_AFTER seconds), and stops
# everything: nginx, nodes N..1 (node 1 last: it stops the cluster), the
# simulator. KEEP=1 keeps the temporary directory (logs, access log).
# Tunables: DATABASE_POOL_SIZE per node (default 8), RUST_LOG (default info),
# RATE_LIMIT_PER_MINUTE (0 for load through nginx from one address),
# PROFILE=dev (a debug build). Needs nginx (nginx-light), curl and python3.
set -euo pipefail
cd "$(dirname "$0")/../.."

nodes="${1:-3}"
[[ "$nodes" =~ ^[1-9][0-9]?$ ]] || { echo "usage: $0 N (1 to 99 nodes)" >&2; exit 2; }
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/storefront-target}"
profile="${PROFILE:-release}"
pool="${DATABASE_POOL_SIZE:-8}"
log="${RUST_LOG:-info}"
stop_after="${STOP_AFTER:-}"
cargo_flags=(--quiet -p storefront -p stripe-sim --bins)
bin_dir="$CARGO_TARGET_DIR/debug"
if [ "$profile" = release ]; then
  cargo_flags+=(--release)
  bin_dir="$CARGO_TARGET_DIR/release"
fi
nginx_bin=""
for candidate in /usr/sbin/nginx /usr/bin/nginx; do
  [ -x "$candidate" ] && nginx_bin="$candidate" && break
done
[ -n "$nginx_bin" ] || { echo "nginx is not installed: apt-get install nginx-light" >&2; exit 1; }
stripe_key=sk_test_nodes

. tests/support/lib.sh

cargo build "${cargo_flags[@]}"

work="$(mktemp -d "${TMPDIR:-/tmp}/storefront-nodes.XXXXXX")"
chmod 755 "$work" # the private cluster runs as the postgres user under root
sim_pid="" nginx_pid=""
node_pids=()
cleanup() {
  trap - INT TERM
  echo "stopping..." >&2
  stop "$nginx_pid"
  local i
  for ((i = ${#node_pids[@]} - 1; i >= 0; i--)); do stop "${node_pids[$i]}"; done
  stop "$sim_pid"
  stop_postmaster "$work/node1/postgres" # should node 1 have died without stopping it
  if [ -n "${KEEP:-}" ]; then echo "kept $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
unset DATABASE_URL APP_BASE_URL SESSION_KEY STRIPE_SECRET_KEY STRIPE_WEBHOOK_SECRET STRIPE_API_BASE

# The simulator, and the webhook endpoint at the load balancer's origin.
start_simulator "$bin_dir/stripe-sim" "$stripe_key" "$work/sim.log"
lb_port="$(free_port)"
lb="http://127.0.0.1:$lb_port"
secret="$(register_webhook "$sim" "$stripe_key" "$lb/webhooks/stripe")"

# What every node shares.
export APP_BASE_URL="$lb" SESSION_KEY="$(python3 -c 'import secrets; print(secrets.token_hex(32))')" \
  STRIPE_SECRET_KEY="$stripe_key" STRIPE_API_BASE="$sim" STRIPE_WEBHOOK_SECRET="$secret" \
  DATABASE_POOL_SIZE="$pool" RUST_LOG="$log" TRUST_PROXY_HEADERS=true

start_node() { # INDEX
  local port dir="$work/node$1"
  port="$(free_port)"
  mkdir -p "$dir"
  DATA_DIR="$dir" BIND="127.0.0.1:$port" METRICS_BIND=127.0.0.1:0 "$bin_dir/storefront" >"$work/node$1.log" 2>&1 &
  node_pids+=($!)
  wait_for "http://127.0.0.1:$port/healthz" "$!" "$work/node$1.log"
  upstreams+="    server 127.0.0.1:$port;"$'\n'
  echo "node $1: http://127.0.0.1:$port (pid $!, log $work/node$1.log)"
}

upstreams=""
# Node 1 creates and starts the private cluster under its DATA_DIR.
start_node 1
pg_port="$(sed -n 4p "$work/node1/postgres/postmaster.pid")"
pg_password="$(cat "$work/node1/postgres.password")"
export DATABASE_URL="postgres://storefront:$pg_password@127.0.0.1:$pg_port/storefront"
for ((i = 2; i <= nodes; i++)); do start_node "$i"; done

d="$work"
cat >"$work/nginx.conf" <<NGINX
daemon off; master_process off; worker_processes 1;
pid $d/nginx.pid; error_log $d/error.log warn;
events { worker_connections 1024; }
http {
  client_body_temp_path $d/body; proxy_temp_path $d/proxy; fastcgi_temp_path $d/fastcgi;
  uwsgi_temp_path $d/uwsgi; scgi_temp_path $d/scgi;
  log_format upstream '\$time_iso8601 \$request_method \$request_uri \$status \$upstream_addr \$upstream_response_time';
  access_log $d/access.log upstream;
  upstream storefront {
$upstreams    keepalive 32;
  }
  server {
    listen 127.0.0.1:$lb_port;
    location / {
      proxy_pass http://storefront;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host \$http_host;
      proxy_set_header X-Forwarded-For \$remote_addr;
    }
  }
}
NGINX
"$nginx_bin" -p "$work" -c "$work/nginx.conf" >"$work/nginx.log" 2>&1 &
nginx_pid=$!
wait_for "$lb/healthz" "$nginx_pid" "$work/error.log"

cat <<EOF

Storefront: $lb  ($nodes nodes behind nginx, round-robin)
  PostgreSQL:  127.0.0.1:$pg_port (cluster of node 1, $work/node1/postgres)
  simulator:   $sim  (pay with 4242 4242 4242 4242)
  access log:  $work/access.log  (which node served each request: \$upstream_addr)
Ctrl-C stops everything${stop_after:+ (or after $stop_after s)}.
EOF

# Until Ctrl-C (or STOP_AFTER), or until a process dies.
started=$SECONDS
while true; do
  for pid in "$nginx_pid" "$sim_pid" "${node_pids[@]}"; do
    kill -0 "$pid" 2>/dev/null || { echo "process $pid exited; stopping" >&2; exit 1; }
  done
  [ -n "$stop_after" ] && ((SECONDS - started >= stop_after)) && exit 0
  sleep 1
done
