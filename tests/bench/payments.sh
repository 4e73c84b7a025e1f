#!/usr/bin/env bash
# Payments API throughput on this machine, loopback only, bounded in time:
#   1. debits/s:        POST /api/v1/payments (off-session PaymentIntent at the
#                       in-process Stripe simulator, each with a fresh
#                       Idempotency-Key), with wrk;
#   2. async debits:    the same POST with "confirm": "async" (answered 202,
#                       charged by the queue worker) for as long, then until
#                       the queue has charged them all: debits settled/s,
#                       against the synchronous debits/s of the same run;
#   3. history reads/s: GET /api/v1/accounts/{id}/payments?limit=20, with wrk;
#   4. history reads at half their peak, paced (wrk with a random delay),
#                       for their p99;
#   5. the baselines:   pgbench, one single-row INSERT per transaction into a
#                       scratch table, pgbench's select-only workload
#                       (`pgbench -S`, scale 1), and the history page's own
#                       statement (src/ledger/sql/history.sql, prepared, the
#                       same account and page size), on the same cluster.
# Prints a Markdown table with the ratio of each API figure to the pgbench ones.
#
# Starts the app with `cargo run` (PROFILE=release by default; PROFILE=dev for
# a debug build) on a throwaway DATA_DIR, which creates its own private
# PostgreSQL cluster (durable settings, as `cargo run` uses) and the Stripe
# simulator. Needs wrk, pgbench, psql, curl and python3.
# Tunables: DURATION (seconds per run, default 10), CONNECTIONS (default 16).
set -euo pipefail
cd "$(dirname "$0")/../.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/storefront-target}"
profile="${PROFILE:-release}"
duration="${DURATION:-10}"
connections="${CONNECTIONS:-16}"
cargo_flags=(--quiet --bin storefront)
[ "$profile" = release ] && cargo_flags+=(--release)

work="$(mktemp -d "${TMPDIR:-/tmp}/storefront-bench.XXXXXX")"
chmod 755 "$work" # the private cluster runs as the postgres user under root
. tests/support/lib.sh
port="$(free_port)"
base="http://127.0.0.1:$port"
# Load from one address: no rate limits while measuring throughput, and no
# budget for calls to Stripe (the simulator has no limit; with Stripe's, the
# budget would set the debits' rate, not the app).
export DATA_DIR="$work/data" BIND="127.0.0.1:$port" METRICS_BIND=127.0.0.1:0 RUST_LOG=warn DATABASE_POOL_SIZE="$connections" RATE_LIMIT_PER_MINUTE=0 STRIPE_READS_PER_SECOND=0 STRIPE_WRITES_PER_SECOND=0

cargo build "${cargo_flags[@]}"
key="$(cargo run "${cargo_flags[@]}" -- api-key create --name bench 2>/dev/null | grep '^sk_store_' | tail -n1)"
cargo run "${cargo_flags[@]}" >"$work/app.log" 2>&1 &
app=$!
cleanup() {
  stop "$app"
  rm -rf "$work"
}
trap cleanup EXIT
wait_for "$base/api/v1/openapi.json" "$app" "$work/app.log" -H "Authorization: Bearer $key"

account="$(bash tests/support/saved-card-account.sh "$base" "$DATA_DIR")"

# The same cluster, for pgbench.
pg_port="$(sed -n 4p "$DATA_DIR/postgres/postmaster.pid")"
export PGHOST=127.0.0.1 PGPORT="$pg_port" PGUSER=storefront PGDATABASE=storefront PGOPTIONS='-c client_min_messages=warning'
PGPASSWORD="$(cat "$DATA_DIR/postgres.password")"
export PGPASSWORD

# wrk scripts: every debit has its own Idempotency-Key.
debit_script() { # file, extra JSON fields, the status expected
  cat >"$1" <<LUA
local counter = 0
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end
function request()
  counter = counter + 1
  local headers = {
    ["Authorization"] = "Bearer $key",
    ["Content-Type"] = "application/json",
    ["Idempotency-Key"] = "bench-$$-$3-" .. tid .. "-" .. counter,
  }
  return wrk.format("POST", "/api/v1/payments", headers,
    '{"account_id":"$account","amount":"4.20","currency":"usd"$2}')
end
local bad = 0
function response(status)
  if status ~= $3 then bad = bad + 1 end
end
function done(summary)
  io.write(string.format("requests=%d errors_socket=%d\n", summary.requests,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
LUA
}
debit_script "$work/debit.lua" "" 201
debit_script "$work/async.lua" ',"description":"bench async","confirm":"async"' 202
cat >"$work/read.lua" <<LUA
wrk.headers["Authorization"] = "Bearer $key"
LUA

rate() { sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p' "$1"; }

wrk -t2 -c"$connections" -d"${duration}s" --latency -s "$work/debit.lua" "$base" >"$work/debit.txt"
debits="$(rate "$work/debit.txt")"
failed="$(psql -Atqc "SELECT count(*) FROM payments WHERE order_id IS NULL AND status <> 'succeeded'")"
made="$(psql -Atqc "SELECT count(*) FROM payments WHERE order_id IS NULL")"
non2xx="$(sed -n 's/^ *Non-2xx or 3xx responses: *\([0-9]*\).*/\1/p' "$work/debit.txt")"

# Asynchronous debits: submitted for as long, then charged by the worker
# (no budget here either); settled/s counts from the first submission to
# the last outcome (at most ten minutes).
async_started="$(date +%s.%N)"
wrk -t2 -c"$connections" -d"${duration}s" --latency -s "$work/async.lua" "$base" >"$work/async.txt"
submitted="$(rate "$work/async.txt")"
for _ in $(seq 1 6000); do
  [ "$(psql -Atqc "SELECT count(*) FROM debit_queue")" = 0 ] && break
  sleep 0.1
done
async_took="$(python3 -c "import time; print(time.time() - $async_started)")"
async_made="$(psql -Atqc "SELECT count(*) FROM payments WHERE description = 'bench async'")"
async_failed="$(psql -Atqc "SELECT count(*) FROM payments WHERE description = 'bench async' AND status <> 'succeeded'")"
settled="$(python3 -c "print($async_made / $async_took)")"
async_non2xx="$(sed -n 's/^ *Non-2xx or 3xx responses: *\([0-9]*\).*/\1/p' "$work/async.txt")"

# The debits' webhooks (a few events each) are still arriving: let them
# finish (at most a minute) so that the reads are measured alone.
seen=-1
for _ in $(seq 1 60); do
  now="$(psql -Atqc "SELECT count(*) FROM stripe_events")"
  [ "$now" = "$seen" ] && break
  seen="$now"
  sleep 1
done

wrk -t2 -c"$connections" -d"${duration}s" --latency -s "$work/read.lua" \
  "$base/api/v1/accounts/$account/payments?limit=20" >"$work/read.txt"
reads="$(rate "$work/read.txt")"
read_non2xx="$(sed -n 's/^ *Non-2xx or 3xx responses: *\([0-9]*\).*/\1/p' "$work/read.txt")"

# The same reads offered half their peak: each connection pauses at random
# (2 * connections / offered seconds on average between its requests).
offered="$(python3 -c "print(max(1, int($reads / 2)))")"
cat "$work/read.lua" - >"$work/paced.lua" <<LUA
function delay() return math.random() * 2 * 1000 * $connections / $offered end
LUA
wrk -t2 -c"$connections" -d"${duration}s" --latency -s "$work/paced.lua" \
  "$base/api/v1/accounts/$account/payments?limit=20" >"$work/paced.txt"
paced="$(rate "$work/paced.txt")"

psql -qc "DROP TABLE IF EXISTS bench_insert; CREATE TABLE bench_insert (id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, account_id TEXT NOT NULL, amount_minor BIGINT NOT NULL, created_at TIMESTAMPTZ NOT NULL DEFAULT now())"
echo "INSERT INTO bench_insert (account_id, amount_minor) VALUES ('acct_bench', 420);" >"$work/insert.sql"
pgbench -n -c "$connections" -j 2 -T "$duration" -f "$work/insert.sql" >"$work/pgbench.txt" 2>&1
inserts="$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' "$work/pgbench.txt" | head -n1)"
psql -qc "DROP TABLE bench_insert"
# Select-only: one primary-key lookup per transaction, pgbench's own tables.
pgbench -i -q -s 1 >"$work/pgbench-init.txt" 2>&1
pgbench -n -S -M prepared -c "$connections" -j 2 -T "$duration" >"$work/pgbench-select.txt" 2>&1
selects="$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' "$work/pgbench-select.txt" | head -n1)"
psql -qc "DROP TABLE pgbench_accounts, pgbench_branches, pgbench_history, pgbench_tellers"
# The history page's statement alone: what the database does for one read.
{ sed -e 's/\$1/:account/g' -e 's/\$2/NULL::text/g' -e 's/\$3/21/g' src/ledger/sql/history.sql; echo ';'; } >"$work/history.sql"
pgbench -n -M prepared -D account="$account" -c "$connections" -j 2 -T "$duration" -f "$work/history.sql" >"$work/pgbench-history.txt" 2>&1
history_sql="$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' "$work/pgbench-history.txt" | head -n1)"

latency() { awk '/Latency Distribution/{f=1} f && $1=="50%"{p50=$2} f && $1=="99%"{p99=$2} END{print p50 " / " p99}' "$1"; }
ratio() { python3 -c "print(f'{$1 / $2:.3f}')"; }
round() { python3 -c "print(f'{$1:.0f}')"; }

echo
echo "Storefront payments API, $(nproc) cores, ${duration}s per run, $connections connections, $profile build, $(date -u +%Y-%m-%d)"
echo
echo "| Workload | per second | p50 / p99 latency | vs pgbench INSERT | vs pgbench -S | vs its statement in pgbench |"
echo "|---|---:|---|---:|---:|---:|"
echo "| Debits (POST /api/v1/payments, off-session at the simulator) | $(round "$debits") | $(latency "$work/debit.txt") | $(ratio "$debits" "$inserts") | |"
echo "| Async debits submitted (\"confirm\": \"async\", 202) | $(round "$submitted") | $(latency "$work/async.txt") | $(ratio "$submitted" "$inserts") | |"
echo "| Async debits settled (submitted to last outcome, $(round "$async_took") s) | $(round "$settled") | | $(ratio "$settled" "$inserts") | |"
echo "| History reads (GET .../payments?limit=20) | $(round "$reads") | $(latency "$work/read.txt") | $(ratio "$reads" "$inserts") | $(ratio "$reads" "$selects") | $(ratio "$reads" "$history_sql") |"
echo "| History reads offered $offered/s (half their peak) | $(round "$paced") | $(latency "$work/paced.txt") | | |"
echo "| pgbench single-row INSERT, same cluster | $(round "$inserts") | | 1.000 | |"
echo "| pgbench -S (select-only, scale 1, prepared), same cluster | $(round "$selects") | | | 1.000 | |"
echo "| pgbench running the history page's statement (prepared), same cluster | $(round "$history_sql") | | | $(ratio "$history_sql" "$selects") | 1.000 |"
echo
echo "debits recorded: $made ($failed not succeeded; wrk non-2xx: ${non2xx:-0}); read non-2xx: ${read_non2xx:-0}"
echo "async debits: $async_made ($async_failed not succeeded; wrk non-2xx: ${async_non2xx:-0}); settled/s vs synchronous debits/s: $(ratio "$settled" "$debits")"
