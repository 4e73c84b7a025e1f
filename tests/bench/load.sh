#!/usr/bin/env bash
# Shop load benchmark on this machine, loopback only, bounded in time. With wrk
# (--latency), one run of DURATION seconds each:
#   0. hello:        GET / on src/bin/hello-bench.rs, the smallest actix-web
#                    server (the "framework ceiling" on this machine);
#   1. catalog:      GET /;
#   2. product:      GET /products/aurora-ceramic-mug;
#   3. add-to-cart:  POST /cart/items (field-notes-journal, unlimited stock),
#                    alternating per shopper with POST /cart/items/{id}
#                    quantity=1 so the line stays under the 99 cap;
#   4. checkout:     POST /checkout of a one-line cart: a pending order, then a
#                    Checkout Session at the simulator, 303 to its page;
#   5. webhooks:     POST /webhooks/stripe, each a fresh signed
#                    checkout.session.completed event (verified, recorded,
#                    applied: a session that is not ours changes no order);
#   6. the baseline: pgbench, one single-row INSERT per transaction into a
#                    scratch table, on the same PostgreSQL cluster.
# Prints a Markdown table: requests/s, p50/p99, the ratio to hello and to the
# pgbench INSERT rate, answers with an unexpected status, the app's peak RSS,
# and the issue-7 targets.
#
# Browsing and form posts carry the cookie and CSRF token of shoppers set up
# with curl beforehand (one per connection), each with a one-line cart. Every
# workload counts as a success only its one expected status (200, or 303 to
# the expected place); anything else is reported.
#
# The app is the built binary ($CARGO_TARGET_DIR/release/storefront) on a
# throwaway DATA_DIR (its private PostgreSQL cluster, durable settings as
# `cargo run` uses), in live mode against a standalone stripe-sim (so the
# webhook secret is known and the events can be signed here), with
# RUST_LOG=warn (no per-request info line) and RATE_LIMIT_PER_MINUTE=0 (all
# the load comes from one address). Needs wrk, pgbench, psql, curl and
# python3.
# Tunables: DURATION (seconds per run, default 10, at most 280: the webhook
# signatures must stay within Stripe's 300 s tolerance), CONNECTIONS (default
# 64), THREADS (wrk threads, default 2), DATABASE_POOL_SIZE (the app's pool,
# default 16, the app's default), LOG (the app's RUST_LOG, default warn),
# WEBHOOK_RATE_MAX (events signed per second of DURATION, default 6000; past
# them events repeat and show up as duplicates), PROFILE=dev (a debug build),
# MAX_LOAD (see below). pgbench opens CONNECTIONS sessions next to the app's
# pool: keep CONNECTIONS + DATABASE_POOL_SIZE below 100 (max_connections).
set -euo pipefail
cd "$(dirname "$0")/../.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/storefront-target}"
profile="${PROFILE:-release}"
duration="${DURATION:-10}"
connections="${CONNECTIONS:-64}"
threads="${THREADS:-2}"
pool="${DATABASE_POOL_SIZE:-16}"
log="${LOG:-warn}"
[[ "$duration" =~ ^[0-9]+$ ]] && ((duration >= 1 && duration <= 280)) || { echo "DURATION must be 1 to 280 seconds" >&2; exit 2; }
cargo_flags=(--quiet -p storefront -p stripe-sim --bins)
bin_dir="$CARGO_TARGET_DIR/debug"
if [ "$profile" = release ]; then
  cargo_flags+=(--release)
  bin_dir="$CARGO_TARGET_DIR/release"
fi
stripe_key=sk_test_bench
product=field-notes-journal # unlimited stock: checkouts never run out

. tests/support/lib.sh

cargo build "${cargo_flags[@]}"

# Other work on the machine skews the figures: wait (at most 10 minutes) for
# the 1-minute load average to fall below MAX_LOAD (default 1.5; "off" skips).
max_load="${MAX_LOAD:-1.5}"
if [ "$max_load" != off ]; then
  for _ in $(seq 1 60); do
    awk -v max="$max_load" '{ exit !($1 < max) }' /proc/loadavg && break
    echo "load average $(cut -d' ' -f1 /proc/loadavg) >= $max_load: waiting 10 s" >&2
    sleep 10
  done
fi
load_before="$(cut -d' ' -f1-3 /proc/loadavg)" # before anything of ours runs

work="$(mktemp -d "${TMPDIR:-/tmp}/storefront-load.XXXXXX")"
chmod 755 "$work" # the private cluster runs as the postgres user under root
app="" sim_pid="" hello=""
cleanup() {
  stop "$app" # stops its PostgreSQL cluster too
  stop "$hello"
  stop "$sim_pid"
  stop_postmaster "$work/data/postgres"
  rm -rf "$work"
}
trap cleanup EXIT
unset DATABASE_URL APP_BASE_URL SESSION_KEY STRIPE_SECRET_KEY STRIPE_WEBHOOK_SECRET STRIPE_API_BASE TRUST_PROXY_HEADERS

# The standalone simulator, and the app's webhook endpoint registered with it.
start_simulator "$bin_dir/stripe-sim" "$stripe_key" "$work/sim.log"
port="$(free_port)"
base="http://127.0.0.1:$port"
secret="$(register_webhook "$sim" "$stripe_key" "$base/webhooks/stripe")"

# The app: the binary itself, so $app is the process whose RSS we read.
# Every request comes from 127.0.0.1: the per-client write limits are off (as
# in payments.sh); shoppers spread over many addresses never share a bucket.
DATA_DIR="$work/data" BIND="127.0.0.1:$port" RUST_LOG="$log" DATABASE_POOL_SIZE="$pool" RATE_LIMIT_PER_MINUTE=0 \
  STRIPE_SECRET_KEY="$stripe_key" STRIPE_API_BASE="$sim" STRIPE_WEBHOOK_SECRET="$secret" \
  "$bin_dir/storefront" >"$work/app.log" 2>&1 &
app=$!
hello_port="$(free_port)"
BIND="127.0.0.1:$hello_port" "$bin_dir/hello-bench" >"$work/hello.log" 2>&1 &
hello=$!
wait_for "$base/healthz" "$app" "$work/app.log"
wait_for "http://127.0.0.1:$hello_port/" "$hello" "$work/hello.log"

# Shoppers, one per connection: a session (cookie + CSRF token) with one
# unlimited-stock line in its cart.
shoppers="$work/shoppers.tsv"
: >"$shoppers"
for i in $(seq 1 "$connections"); do
  jar="$work/jar.$i"
  csrf="$(curl -fsS -c "$jar" -b "$jar" "$base/products/$product" |
    sed -n 's/.*name="csrf_token" value="\([^"]*\)".*/\1/p' | head -n1)"
  status="$(curl -sS -o /dev/null -w '%{http_code}' -c "$jar" -b "$jar" \
    -d "csrf_token=$csrf" -d "product=$product" -d quantity=1 "$base/cart/items")"
  [ "$status" = 303 ] || { echo "adding to the cart answered $status" >&2; exit 1; }
  # Viewing the cart shows (and clears) the flash and gives the line's id.
  item="$(curl -fsS -c "$jar" -b "$jar" "$base/cart" |
    sed -n 's/.*action="\/cart\/items\/\([0-9]*\)".*/\1/p' | head -n1)"
  cookie="$(awk '$6 == "storefront_session" { print $7 }' "$jar")"
  [ -n "$csrf" ] && [ -n "$item" ] && [ -n "$cookie" ] || { echo "shopper set-up failed" >&2; exit 1; }
  printf '%s\t%s\t%s\n' "$cookie" "$csrf" "$item" >>"$shoppers"
done
awk -F'\t' 'BEGIN { print "shoppers = {" } { printf "  {cookie = \"%s\", csrf = \"%s\", item = \"%s\"},\n", $1, $2, $3 } END { print "}" }' \
  "$shoppers" >"$work/shoppers.lua"
browse_cookie="$(head -n1 "$shoppers" | cut -f1)"

# Shared by every wrk script: counts answers other than the expected status
# (and, for redirects, the expected Location prefix) over all threads.
lua_common() { # EXPECTED_STATUS LOCATION_PREFIX
  cat <<LUA
expected, location_prefix = $1, "$2"
unexpected, duplicates = 0, 0
local threads = {}
function setup(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
  thread:set("nthreads", $threads)
end
function response(status, headers, body)
  if status ~= expected then
    unexpected = unexpected + 1
  elseif location_prefix ~= "" then
    local location = headers["location"] or headers["Location"] or ""
    if location:sub(1, #location_prefix) ~= location_prefix then unexpected = unexpected + 1 end
  end
  if body and body:find('"duplicate"', 1, true) then duplicates = duplicates + 1 end
end
function done(summary, latency, requests)
  local bad, dup = 0, 0
  for _, thread in ipairs(threads) do
    bad = bad + thread:get("unexpected")
    dup = dup + thread:get("duplicates")
  end
  local e = summary.errors
  io.write(string.format("requests=%d unexpected=%d duplicates=%d socket_errors=%d\n",
    summary.requests, bad, dup, e.connect + e.read + e.write + e.timeout))
end
LUA
}

{ lua_common 200 ""; echo 'wrk.headers["Cookie"] = "storefront_session=" .. "'"$browse_cookie"'"'; } >"$work/get.lua"
lua_common 200 "" >"$work/hello.lua"

# Add-to-cart: shopper n of this thread adds one unit, and on the next round
# sets the line back to 1, so a line holds at most a few units.
{
  lua_common 303 /cart
  cat "$work/shoppers.lua"
  cat <<'LUA'
counter = 0
function request()
  local n = #shoppers
  local i = (counter + (tid - 1) * math.floor(n / nthreads)) % n + 1
  local add = math.floor(counter / n) % 2 == 0
  counter = counter + 1
  local s = shoppers[i]
  local headers = {
    ["Cookie"] = "storefront_session=" .. s.cookie,
    ["Content-Type"] = "application/x-www-form-urlencoded",
  }
  if add then
    return wrk.format("POST", "/cart/items", headers,
      "csrf_token=" .. s.csrf .. "&product=field-notes-journal&quantity=1")
  end
  return wrk.format("POST", "/cart/items/" .. s.item, headers, "csrf_token=" .. s.csrf .. "&quantity=1")
end
LUA
} >"$work/cart.lua"

# Checkout: every request is a new order and Checkout Session, 303 to the simulator.
{
  lua_common 303 "$sim/"
  cat "$work/shoppers.lua"
  cat <<'LUA'
counter = 0
function request()
  local n = #shoppers
  local s = shoppers[(counter + (tid - 1) * math.floor(n / nthreads)) % n + 1]
  counter = counter + 1
  return wrk.format("POST", "/checkout", {
    ["Cookie"] = "storefront_session=" .. s.cookie,
    ["Content-Type"] = "application/x-www-form-urlencoded",
  }, "csrf_token=" .. s.csrf)
end
LUA
} >"$work/checkout.lua"

# Webhooks: thread t sends events t, t + THREADS, ... of a pre-signed file
# (one "signature<TAB>body" per line); past its end it starts over, and the
# repeats show up as duplicates.
{
  lua_common 200 ""
  cat <<LUA
events_file = "$work/events.tsv"
LUA
  cat <<'LUA'
events, next_event = {}, 1
function init(args)
  local line_no = 0
  for line in io.lines(events_file) do
    if line_no % nthreads == tid - 1 then
      local tab = line:find("\t", 1, true)
      table.insert(events, {sig = line:sub(1, tab - 1), body = line:sub(tab + 1)})
    end
    line_no = line_no + 1
  end
end
function request()
  local e = events[next_event]
  next_event = next_event % #events + 1
  return wrk.format("POST", "/webhooks/stripe", {
    ["Content-Type"] = "application/json",
    ["Stripe-Signature"] = e.sig,
  }, e.body)
end
LUA
} >"$work/webhook.lua"

# Signed like Stripe: t={unix},v1=hex(HMAC-SHA256(whole whsec string, "{t}.{body}")).
sign_events() { # COUNT
  python3 - "$secret" "$1" "$work/events.tsv" <<'PY'
import hashlib, hmac, json, os, sys, time
secret, count, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
t, run = int(time.time()), os.getpid()
with open(path, "w") as out:
    for i in range(count):
        body = json.dumps({
            "id": f"evt_bench_{run}_{i}", "object": "event", "type": "checkout.session.completed",
            "created": t, "livemode": False, "api_version": "2024-06-20",
            "data": {"object": {
                "id": f"cs_test_bench_{run}_{i}", "object": "checkout.session", "status": "complete",
                "payment_status": "paid", "amount_total": 1400, "currency": "usd",
                "client_reference_id": None, "metadata": {}, "payment_intent": f"pi_bench_{run}_{i}",
                "customer": None, "customer_email": "bench@example.com", "customer_details": None,
            }},
        }, separators=(",", ":"))
        mac = hmac.new(secret.encode(), f"{t}.{body}".encode(), hashlib.sha256).hexdigest()
        out.write(f"t={t},v1={mac}\t{body}\n")
PY
}

# CPU time (clock ticks) so far of the app, its PostgreSQL cluster (the
# postmaster, its reaped children and its live backends), the simulator, the
# hello server, and the whole machine (busy, not idle or iowait).
ticks() { awk '{ print $14 + $15 + ($2 == "(postgres)" ? $16 + $17 : 0) }' "/proc/$1/stat" 2>/dev/null || echo 0; }
cpu_snapshot() {
  local pm pg=0 child
  pm="$(sed -n 1p "$work/data/postgres/postmaster.pid")"
  pg="$(ticks "$pm")"
  for child in $(pgrep -P "$pm"); do pg=$((pg + $(ticks "$child"))); done
  echo "$(ticks "$app") $pg $(ticks "$sim_pid") $(ticks "$hello") $(awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat)"
}
# The same cluster, for the checks, WAL statistics and pgbench.
pg_port="$(sed -n 4p "$work/data/postgres/postmaster.pid")"
export PGHOST=127.0.0.1 PGPORT="$pg_port" PGUSER=storefront PGDATABASE=storefront PGOPTIONS='-c client_min_messages=warning'
PGPASSWORD="$(cat "$work/data/postgres.password")"
export PGPASSWORD
# WAL flushes (fsyncs) so far; backends report them within a second.
wal_syncs() { psql -Atqc "SELECT wal_sync FROM pg_stat_wal"; }
TIMEFORMAT='%U %S' # `time`: wrk's own CPU seconds
bench() { # NAME SCRIPT URL
  wal_syncs >"$work/$1.wal"
  cpu_snapshot >"$work/$1.cpu"
  { time wrk -t"$threads" -c"$connections" -d"${duration}s" --latency -s "$2" "$3" >"$work/$1.txt"; } 2>"$work/$1.time"
  cpu_snapshot >>"$work/$1.cpu"
  sleep 1
  wal_syncs >>"$work/$1.wal"
}

# A short warm-up (pool connections, page caches), not reported.
wrk -t"$threads" -c"$connections" -d2s -s "$work/get.lua" "$base/" >/dev/null
bench hello "$work/hello.lua" "http://127.0.0.1:$hello_port/"
bench catalog "$work/get.lua" "$base/"
bench product "$work/get.lua" "$base/products/aurora-ceramic-mug"
bench cart "$work/cart.lua" "$base"
bench checkout "$work/checkout.lua" "$base"
sign_events "$((duration * ${WEBHOOK_RATE_MAX:-6000}))"
bench webhook "$work/webhook.lua" "$base"

# Peak and current RSS of the app, the hello server and the simulator.
rss() { awk -v k="$2:" '$1 == k { printf "%.1f", $2 / 1024 }' "/proc/$1/status"; }
app_hwm="$(rss "$app" VmHWM)" app_rss="$(rss "$app" VmRSS)"
hello_hwm="$(rss "$hello" VmHWM)" sim_hwm="$(rss "$sim_pid" VmHWM)"

orders_made="$(psql -Atqc "SELECT count(*) FROM orders WHERE stripe_session_id IS NOT NULL")"
events_recorded="$(psql -Atqc "SELECT count(*) FROM stripe_events WHERE id LIKE 'evt_bench_%'")"
max_line="$(psql -Atqc "SELECT coalesce(max(quantity), 0) FROM cart_items")"
psql -qc "DROP TABLE IF EXISTS bench_insert; CREATE TABLE bench_insert (id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, account_id TEXT NOT NULL, amount_minor BIGINT NOT NULL, created_at TIMESTAMPTZ NOT NULL DEFAULT now())"
echo "INSERT INTO bench_insert (account_id, amount_minor) VALUES ('acct_bench', 420);" >"$work/insert.sql"
wal_syncs >"$work/pgbench.wal"
cpu_snapshot >"$work/pgbench.cpu"
{ time pgbench -n -c "$connections" -j "$threads" -T "$duration" -f "$work/insert.sql" >"$work/pgbench.txt" 2>&1; } 2>"$work/pgbench.time"
cpu_snapshot >>"$work/pgbench.cpu"
sleep 1
wal_syncs >>"$work/pgbench.wal"
inserts="$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' "$work/pgbench.txt" | head -n1)"
pg_latency="$(sed -n 's/^latency average = \([0-9.]*\) ms.*/\1 ms avg/p' "$work/pgbench.txt" | head -n1)"
psql -qc "DROP TABLE bench_insert"

load_after="$(cut -d' ' -f1-3 /proc/loadavg)"

# Figures out of the wrk reports.
rate() { sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p' "$work/$1.txt"; }
pct() { awk -v p="$2" '/Latency Distribution/ { f = 1 } f && $1 == p { print $2; exit }' "$work/$1.txt"; }
ms() { # wrk's "850.00us", "1.23ms", "1.02s" to milliseconds
  python3 -c "import re, sys; v, u = re.fullmatch(r'([0-9.]+)(us|ms|s|m)', sys.argv[1]).groups(); print(float(v) * {'us': 0.001, 'ms': 1, 's': 1000, 'm': 60000}[u])" "$1"
}
field() { sed -n "s/.*$2=\([0-9]*\).*/\1/p" "$work/$1.txt"; }
non2xx3xx() { local n; n="$(sed -n 's/^ *Non-2xx or 3xx responses: *\([0-9]*\).*/\1/p' "$work/$1.txt")"; echo "${n:-0}"; }
div() { python3 -c "print(f'{$1 / $2:.3f}')"; }
round() { python3 -c "print(f'{$1:.0f}')"; }

hello_rate="$(rate hello)"
row() { # NAME LABEL
  local r
  r="$(rate "$1")"
  echo "| $2 | $(round "$r") | $(pct "$1" 50%) / $(pct "$1" 99%) | $(div "$r" "$hello_rate") | $(div "$r" "$inserts") | $(field "$1" unexpected) of $(field "$1" requests) |"
}

echo
echo "Storefront load, $(nproc) cores, ${duration}s per run, $connections connections, $threads wrk threads," \
  "pool $pool, RUST_LOG=$log, $profile build, $(date -u +%Y-%m-%d); load average before: $load_before, after: $load_after"
echo
echo "| Workload | requests/s | p50 / p99 latency | vs hello | vs pgbench INSERT | unexpected answers |"
echo "|---|---:|---|---:|---:|---:|"
row hello "hello (minimal actix-web, GET /)"
row catalog "Catalog page (GET /)"
row product "Product page (GET /products/aurora-ceramic-mug)"
row cart "Add to cart (POST /cart/items, alternating with a quantity update)"
row checkout "Checkout creation (POST /checkout: order + Checkout Session at the simulator)"
row webhook "Webhook ingestion (POST /webhooks/stripe, signed, fresh event ids)"
echo "| pgbench single-row INSERT, same cluster ($pg_latency) | $(round "$inserts") | | $(div "$inserts" "$hello_rate") | 1.000 | |"
echo
echo "Peak RSS (VmHWM): app $app_hwm MB (current $app_rss MB); hello $hello_hwm MB; standalone simulator $sim_hwm MB."
for w in hello catalog product cart checkout webhook; do
  printf '%s: wrk non-2xx/3xx %s, socket errors %s. ' "$w" "$(non2xx3xx "$w")" "$(field "$w" socket_errors)"
done
echo
echo "Orders with a Checkout Session: $orders_made; bench events recorded: $events_recorded" \
  "(duplicates answered: $(field webhook duplicates)); largest cart line: $max_line."

# Where the CPU went during each run (2 cores = 2 CPU seconds per second).
echo
echo "CPU seconds during each ${duration}s run ($(nproc) cores: $((duration * $(nproc))) s available), and per request:"
echo
python3 - "$work" "$(getconf CLK_TCK)" <<'PY'
import re, sys
work, hz = sys.argv[1], int(sys.argv[2])
print("| Run | server (app or hello) | PostgreSQL | simulator | wrk (or pgbench) | anything else | server / request | PostgreSQL / request | WAL flushes / request |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
for name in ["hello", "catalog", "product", "cart", "checkout", "webhook", "pgbench"]:
    before, after = (list(map(int, line.split())) for line in open(f"{work}/{name}.cpu"))
    app, pg, sim, hello, total = ((a - b) / hz for a, b in zip(after, before))
    wrk = sum(map(float, open(f"{work}/{name}.time").read().split()[-2:]))
    report = open(f"{work}/{name}.txt").read()
    if name == "pgbench":  # its transactions; its own CPU in the wrk column
        requests = int(re.search(r"transactions actually processed: (\d+)", report).group(1))
    else:
        requests = int(re.search(r"requests=(\d+)", report).group(1))
    server = hello if name == "hello" else app
    other = total - app - pg - sim - hello - wrk
    us = lambda seconds: f"{seconds / requests * 1e6:.0f} µs"
    wal_before, wal_after = (int(line) for line in open(f"{work}/{name}.wal"))
    flushes = (wal_after - wal_before) / requests
    print(f"| {name} | {server:.1f} | {pg:.1f} | {sim:.1f} | {wrk:.1f} | {max(other, 0):.1f} | {us(server)} | {us(pg)} | {flushes:.2f} |")
PY

# Issue 7's targets.
verdict() { if python3 -c "import sys; sys.exit(0 if $1 else 1)"; then echo met; else echo "NOT met"; fi; }
echo
echo "Targets:"
echo "- catalog >= 25% of hello: $(div "$(rate catalog)" "$hello_rate") -> $(verdict "$(rate catalog) >= 0.25 * $hello_rate")"
echo "- add-to-cart >= 60% of pgbench INSERT: $(div "$(rate cart)" "$inserts") -> $(verdict "$(rate cart) >= 0.6 * $inserts")"
for w in catalog product cart checkout webhook; do
  p99="$(ms "$(pct "$w" 99%)")"
  echo "- p99 < 20 ms at $connections connections, $w: $p99 ms -> $(verdict "$p99 < 20")"
done
echo "- RSS < 60 MB: $app_hwm MB -> $(verdict "$app_hwm < 60")"
