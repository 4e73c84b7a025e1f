#!/usr/bin/env bash
# N Storefront nodes behind nginx, writing through PgBouncer to one PostgreSQL
# primary and reading from its hot standbys, with one Stripe simulator, all on
# loopback:  bash tests/bench/nodes.sh 3        (STANDBYS=1 for a standby)
#            MEASURE=reads bash tests/bench/nodes.sh 2
#
# - a standalone stripe-sim (`stripe-sim` binary) on a free port;
# - the primary: `storefront migrate` creates the private cluster under
#   $work/db (migrated, sample catalog) and stops it; the script runs it on a
#   free port (as the postgres user under root), durable as `cargo run` has it;
# - STANDBYS hot standbys (default 0): each a `pg_basebackup -R` copy of the
#   primary, streaming its WAL, on a free port;
# - Debian's PgBouncer (`apt-get install pgbouncer`) in front of the primary,
#   in session mode (SCALING.md says why), with its ini and auth file in the
#   temporary directory; every node's DATABASE_URL points at it;
# - every node is the release binary on its own port, with the same
#   SESSION_KEY, APP_BASE_URL = the nginx origin, Stripe settings for the
#   simulator (whose webhook endpoint points at the nginx origin), and
#   DATABASE_READ_URL = standby ((i - 1) mod STANDBYS) + 1 when there are any;
# - Debian's nginx (`daemon off; master_process off;`, everything under the
#   temporary directory) balances round-robin over the nodes and logs the
#   upstream that served each request ($upstream_addr) to access.log; it
#   overwrites X-Forwarded-For, so the nodes (TRUST_PROXY_HEADERS=true) rate
#   limit writes per shopper address, not per nginx.
# Prints the URLs, then runs until Ctrl-C (or STOP_AFTER seconds), and stops
# everything. KEEP=1 keeps the temporary directory (logs, access log).
#
# MEASURE=reads measures payment history reads (GET
# /api/v1/accounts/{id}/payments?limit=20 through nginx, wrk, DURATION
# seconds, CONNECTIONS connections) with the nodes restarted for each of:
# every read on the primary, the nodes connected to it directly, then
# through PgBouncer; read-your-writes checks against the primary itself
# (DATABASE_READ_URL = the primary: the cost of the checks alone); one
# standby; two standbys. Prints a Markdown table with ratios to the first.
#
# Tunables: DATABASE_POOL_SIZE per node (default 8), RUST_LOG (default info;
# warn when measuring), RATE_LIMIT_PER_MINUTE (0 for load through nginx from
# one address), PROFILE=dev (a debug build). Needs nginx (nginx-light),
# pgbouncer, curl and python3; MEASURE needs wrk and psql.
set -euo pipefail
cd "$(dirname "$0")/../.."

nodes="${1:-3}"
[[ "$nodes" =~ ^[1-9][0-9]?$ ]] || { echo "usage: $0 N (1 to 99 nodes)" >&2; exit 2; }
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/storefront-target}"
profile="${PROFILE:-release}"
pool="${DATABASE_POOL_SIZE:-8}"
measure="${MEASURE:-}"
standbys="${STANDBYS:-0}"
[ "$measure" = reads ] && standbys=2
[[ "$standbys" =~ ^[0-9]$ ]] || { echo "STANDBYS: 0 to 9" >&2; exit 2; }
log="${RUST_LOG:-info}"
[ -n "$measure" ] && log="${RUST_LOG:-warn}"
duration="${DURATION:-10}"
connections="${CONNECTIONS:-16}"
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
pgbouncer_bin="$(PATH="$PATH:/usr/sbin" command -v pgbouncer || true)"
[ -n "$pgbouncer_bin" ] || { echo "pgbouncer is not installed: apt-get install pgbouncer" >&2; exit 1; }
pg_bin="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n1)"
stripe_key=sk_test_nodes

. tests/support/lib.sh

# Servers run as the postgres user when we are root.
as_server_user() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
own() { if [ "$(id -u)" -eq 0 ]; then chown -R postgres: "$@"; fi; }
start_pg() { # DATA_DIR PORT
  (cd / && as_server_user "$pg_bin/pg_ctl" -D "$1" -l "$1/server.log" -o "-p $2" -w -t 60 start >/dev/null)
}
stop_pg() { # DATA_DIR
  [ -f "$1/postmaster.pid" ] && (cd / && as_server_user "$pg_bin/pg_ctl" -D "$1" -m fast -w stop >/dev/null 2>&1) || true
}

cargo build "${cargo_flags[@]}"

work="$(mktemp -d "${TMPDIR:-/tmp}/storefront-nodes.XXXXXX")"
chmod 755 "$work" # the servers run as the postgres user under root
sim_pid="" nginx_pid="" bouncer_pid=""
node_pids=()
cleanup() {
  trap - INT TERM
  echo "stopping..." >&2
  stop "$nginx_pid"
  local i
  for ((i = ${#node_pids[@]} - 1; i >= 0; i--)); do stop "${node_pids[$i]}"; done
  stop "$bouncer_pid"
  stop "$sim_pid"
  for ((i = 1; i <= standbys; i++)); do stop_pg "$work/standby$i"; done
  stop_pg "$work/db/postgres"
  if [ -n "${KEEP:-}" ]; then echo "kept $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
unset DATABASE_URL DATABASE_READ_URL APP_BASE_URL SESSION_KEY STRIPE_SECRET_KEY STRIPE_WEBHOOK_SECRET STRIPE_API_BASE

# The primary, migrated and seeded by the app, then run by this script.
DATA_DIR="$work/db" RUST_LOG=warn "$bin_dir/storefront" migrate >"$work/migrate.log" 2>&1 ||
  { cat "$work/migrate.log" >&2; exit 1; }
pg_password="$(cat "$work/db/postgres.password")"
pg_port="$(free_port)"
start_pg "$work/db/postgres" "$pg_port"
db_url() { echo "postgres://storefront:$pg_password@127.0.0.1:$1/storefront"; }

# The standbys: copies that stream the primary's WAL and replay it.
standby_ports=()
for ((s = 1; s <= standbys; s++)); do
  dir="$work/standby$s"
  mkdir -m 700 "$dir" && own "$dir"
  (cd / && as_server_user env PGPASSWORD="$pg_password" "$pg_bin/pg_basebackup" -h 127.0.0.1 \
    -p "$pg_port" -U storefront -D "$dir" -R -X stream -c fast)
  standby_ports+=("$(free_port)")
  start_pg "$dir" "${standby_ports[$((s - 1))]}"
done

# PgBouncer in front of the primary, in session mode: room for every
# node's connections (request pool, background pool, two listeners).
bouncer_port="$(free_port)"
b="$work/pgbouncer"
mkdir "$b"
cat >"$b/pgbouncer.ini" <<INI
[databases]
storefront = host=127.0.0.1 port=$pg_port dbname=storefront
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $bouncer_port
unix_socket_dir =
auth_type = scram-sha-256
auth_file = $b/users.txt
pool_mode = session
default_pool_size = $((nodes * (pool + 6) + 4))
max_client_conn = $((2 * nodes * (pool + 6) + 8))
logfile = $b/pgbouncer.log
INI
printf '"storefront" "%s"\n' "$pg_password" >"$b/users.txt"
chmod 600 "$b/users.txt" && own "$b"
bouncer_user=()
[ "$(id -u)" -eq 0 ] && bouncer_user=(-u postgres)
"$pgbouncer_bin" "${bouncer_user[@]}" "$b/pgbouncer.ini" >/dev/null 2>&1 &
bouncer_pid=$!
export PGPASSWORD="$pg_password" PGUSER=storefront PGDATABASE=storefront PGHOST=127.0.0.1
for _ in $(seq 1 100); do
  psql -p "$bouncer_port" -Atqc 'SELECT 1' >/dev/null 2>&1 && break
  kill -0 "$bouncer_pid" 2>/dev/null || { tail "$b/pgbouncer.log" >&2; exit 1; }
  sleep 0.1
done

# The simulator, and the webhook endpoint at the load balancer's origin.
start_simulator "$bin_dir/stripe-sim" "$stripe_key" "$work/sim.log"
lb_port="$(free_port)"
lb="http://127.0.0.1:$lb_port"
secret="$(register_webhook "$sim" "$stripe_key" "$lb/webhooks/stripe")"

# What every node shares.
rate_limit="${RATE_LIMIT_PER_MINUTE:-120}"
[ -n "$measure" ] && rate_limit=0
export APP_BASE_URL="$lb" SESSION_KEY="$(python3 -c 'import secrets; print(secrets.token_hex(32))')" \
  STRIPE_SECRET_KEY="$stripe_key" STRIPE_API_BASE="$sim" STRIPE_WEBHOOK_SECRET="$secret" \
  DATABASE_POOL_SIZE="$pool" RUST_LOG="$log" TRUST_PROXY_HEADERS=true \
  RATE_LIMIT_PER_MINUTE="$rate_limit" DATABASE_URL="$(db_url "$bouncer_port")"

node_ports=() metrics_ports=()
for ((i = 1; i <= nodes; i++)); do
  node_ports+=("$(free_port)")
  metrics_ports+=("$(free_port)")
done
# start_nodes K: (re)starts every node, node i reading from standby
# ((i - 1) mod K) + 1; K=0: reads on the primary; K=primary: DATABASE_READ_URL
# is the primary itself; K=direct: no PgBouncer either.
start_nodes() {
  local i read_url port write_url="$DATABASE_URL"
  for ((i = ${#node_pids[@]} - 1; i >= 0; i--)); do stop "${node_pids[$i]}"; done
  node_pids=()
  for ((i = 1; i <= nodes; i++)); do
    case "$1" in
      direct) read_url="" write_url="$(db_url "$pg_port")" ;;
      0) read_url="" ;;
      primary) read_url="$(db_url "$pg_port")" ;;
      *) read_url="$(db_url "${standby_ports[$(((i - 1) % $1))]}")" ;;
    esac
    port="${node_ports[$((i - 1))]}"
    mkdir -p "$work/node$i"
    DATA_DIR="$work/node$i" BIND="127.0.0.1:$port" METRICS_BIND="127.0.0.1:${metrics_ports[$((i - 1))]}" \
      DATABASE_URL="$write_url" DATABASE_READ_URL="$read_url" "$bin_dir/storefront" >>"$work/node$i.log" 2>&1 &
    node_pids+=($!)
    wait_for "http://127.0.0.1:$port/healthz" "$!" "$work/node$i.log"
  done
}
start_nodes "$standbys"

upstreams=""
for port in "${node_ports[@]}"; do upstreams+="    server 127.0.0.1:$port;"$'\n'; done
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

if [ "$measure" = reads ]; then
  # An API key, an account with a saved card, and 40 debits to list.
  key="$(DATA_DIR="$work/cli" "$bin_dir/storefront" api-key create --name bench 2>/dev/null | grep '^sk_store_' | tail -n1)"
  account="$(bash tests/support/saved-card-account.sh "$lb" "$work/db")"
  for n in $(seq 1 40); do
    curl -fsS -o /dev/null -H "Authorization: Bearer $key" -H "Idempotency-Key: fill-$n" \
      -H 'Content-Type: application/json' -d "{\"account_id\":\"$account\",\"amount\":\"4.20\",\"currency\":\"usd\"}" \
      "$lb/api/v1/payments"
  done
  echo "wrk.headers[\"Authorization\"] = \"Bearer $key\"" >"$work/read.lua"
  url="$lb/api/v1/accounts/$account/payments?limit=20"
  metric() { # NAME{LABELS}: summed over the nodes
    local total=0 port value
    for port in "${metrics_ports[@]}"; do
      value="$(curl -fsS "http://127.0.0.1:$port/metrics" | awk -v name="$1" '$1 == name {print $2}')"
      total=$((total + ${value:-0}))
    done
    echo "$total"
  }
  primary_xacts() { psql -p "$pg_port" -Atqc "SELECT xact_commit FROM pg_stat_database WHERE datname = 'storefront'"; }
  rate() { sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p' "$1"; }
  latency() { awk '/Latency Distribution/{f=1} f && $1=="50%"{p50=$2} f && $1=="99%"{p99=$2} END{print p50 " / " p99}' "$1"; }
  declare -A label=(
    [direct]="the primary, nodes connected directly (no PgBouncer)"
    [0]="the primary through PgBouncer (no DATABASE_READ_URL)"
    [primary]="read-your-writes checks, DATABASE_READ_URL = the primary itself"
    [1]="1 standby (DATABASE_READ_URL of both nodes)"
    [2]="2 standbys (one per node)"
  )
  rows="" reference=""
  for phase in direct 0 primary 1 2; do
    start_nodes "$phase"
    # Warm up: every node opens its connections.
    wrk -t2 -c"$connections" -d2s -s "$work/read.lua" "$url" >/dev/null
    standby_before="$(metric 'storefront_db_reads_total{server="standby"}')"
    fallbacks_before="$(metric 'storefront_db_read_fallbacks_total{reason="behind"}')"
    xacts_before="$(primary_xacts)"
    wrk -t2 -c"$connections" -d"${duration}s" --latency -s "$work/read.lua" "$url" >"$work/read-$phase.txt"
    sleep 1.5 # PostgreSQL publishes a backend's counts at most once a second
    xacts=$(($(primary_xacts) - xacts_before))
    standby=$(($(metric 'storefront_db_reads_total{server="standby"}') - standby_before))
    fallbacks=$(($(metric 'storefront_db_read_fallbacks_total{reason="behind"}') - fallbacks_before))
    reads="$(rate "$work/read-$phase.txt")"
    requests="$(python3 -c "print(round($reads * $duration))")"
    reference="${reference:-$reads}"
    non2xx="$(sed -n 's/^ *Non-2xx or 3xx responses: *\([0-9]*\).*/\1/p' "$work/read-$phase.txt")"
    rows+="| ${label[$phase]} | $(python3 -c "print(f'{$reads:.0f}')") | $(latency "$work/read-$phase.txt") | $(python3 -c "print(f'{$reads / $reference:.3f}')") | $standby | $fallbacks | $(python3 -c "print(f'{$xacts / max(1, $requests):.2f}')") | ${non2xx:-0} |"$'\n'
  done
  echo
  echo "History reads (GET .../payments?limit=20) through nginx on $nodes nodes, PgBouncer (session) in front of the primary, $(nproc) cores, ${duration}s per run, $connections connections, $profile build, $(date -u +%Y-%m-%d)"
  echo
  echo "| Reads served by | per second | p50 / p99 latency | vs the primary, direct | reads on a standby | fell back (behind) | primary transactions per read | non-2xx |"
  echo "|---|---:|---|---:|---:|---:|---:|---:|"
  printf '%s' "$rows"
  exit 0
fi

cat <<EOF

Storefront: $lb  ($nodes nodes behind nginx, round-robin)
  nodes:       ${node_ports[*]/#/127.0.0.1:}  (logs $work/node*.log)
  PgBouncer:   127.0.0.1:$bouncer_port, session mode (DATABASE_URL of every node)
  PostgreSQL:  primary 127.0.0.1:$pg_port ($work/db/postgres)${standby_ports[*]:+, standbys ${standby_ports[*]/#/127.0.0.1:}}
  simulator:   $sim  (pay with 4242 4242 4242 4242)
  access log:  $work/access.log  (which node served each request: \$upstream_addr)
Ctrl-C stops everything${stop_after:+ (or after $stop_after s)}.
EOF

# Until Ctrl-C (or STOP_AFTER), or until a process dies.
started=$SECONDS
while true; do
  for pid in "$nginx_pid" "$sim_pid" "$bouncer_pid" "${node_pids[@]}"; do
    kill -0 "$pid" 2>/dev/null || { echo "process $pid exited; stopping" >&2; exit 1; }
  done
  [ -n "$stop_after" ] && ((SECONDS - started >= stop_after)) && exit 0
  sleep 1
done
