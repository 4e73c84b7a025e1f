#!/usr/bin/env bash
# Shop load benchmark on this machine, loopback only, bounded in time. With wrk
# (--latency), ROUNDS rounds of one run of DURATION seconds each of:
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
#                    scratch table, on the same PostgreSQL cluster;
# then one more run of each shop workload below saturation: the same
# connections, pausing between requests so that they offer PACE of its peak.
# Prints Markdown tables: requests/s, p50/p99, the ratio to hello and to the
# pgbench INSERT rate (the median of the rounds' ratios: this machine is shared
# and its speed drifts, so each ratio pairs runs made next to each other),
# answers with an unexpected status, CPU per request, the latency below
# saturation, the app's peak RSS, and the issue-7 targets.
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
# signatures must stay within Stripe's 300 s tolerance), ROUNDS (default 3),
# PACE (default 0.5), CONNECTIONS (default 64), THREADS (wrk threads, default
# 2), DATABASE_POOL_SIZE (the app's pool, default 16, the app's default), LOG
# (the app's RUST_LOG, default warn),
# WEBHOOK_RATE_MAX (events signed per second of DURATION, default 6000; past
# them events repeat and show up as duplicates), PROFILE=dev (a debug build),
# MAX_LOAD (see below). pgbench opens CONNECTIONS sessions next to the app's
# pool: keep CONNECTIONS + DATABASE_POOL_SIZE below 100 (max_connections).
set -euo pipefail
cd "$(dirname "$0")/../.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/storefront-target}"
profile="${PROFILE:-release}"
duration="${DURATION:-10}"
rounds="${ROUNDS:-3}"
connections="${CONNECTIONS:-64}"
threads="${THREADS:-2}"
pool="${DATABASE_POOL_SIZE:-16}"
log="${LOG:-warn}"
[[ "$duration" =~ ^[0-9]+$ ]] && ((duration >= 1 && duration <= 280)) || { echo "DURATION must be 1 to 280 seconds" >&2; exit 2; }
[[ "$rounds" =~ ^[0-9]+$ ]] && ((rounds >= 1 && rounds <= 9)) || { echo "ROUNDS must be 1 to 9" >&2; exit 2; }
[[ "${PACE:-0.5}" =~ ^0?\.[0-9]+$ ]] || { echo "PACE must be a fraction below 1, like 0.5" >&2; exit 2; }
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
# Every request comes from 127.0.0.1: the per-client write limits and the cap
# on one client's checkouts awaiting payment are off (as in payments.sh);
# shoppers spread over many addresses never share a bucket.
DATA_DIR="$work/data" BIND="127.0.0.1:$port" METRICS_BIND=127.0.0.1:0 RUST_LOG="$log" DATABASE_POOL_SIZE="$pool" RATE_LIMIT_PER_MINUTE=0 CHECKOUTS_PER_CLIENT=0 \
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
# sets the line back to 1, so a line holds at most a few units. The requests
# are formatted once, in init: wrk's CPU is not what is measured.
{
  lua_common 303 /cart
  cat "$work/shoppers.lua"
  cat <<'LUA'
requests, counter = {}, 0
function init(args)
  local n = #shoppers
  for round = 0, 1 do
    for k = 0, n - 1 do
      local s = shoppers[(k + (tid - 1) * math.floor(n / nthreads)) % n + 1]
      local headers = {
        ["Cookie"] = "storefront_session=" .. s.cookie,
        ["Content-Type"] = "application/x-www-form-urlencoded",
      }
      if round == 0 then
        table.insert(requests, wrk.format("POST", "/cart/items", headers,
          "csrf_token=" .. s.csrf .. "&product=field-notes-journal&quantity=1"))
      else
        table.insert(requests, wrk.format("POST", "/cart/items/" .. s.item, headers,
          "csrf_token=" .. s.csrf .. "&quantity=1"))
      end
    end
  end
end
function request()
  counter = counter % #requests + 1
  return requests[counter]
end
LUA
} >"$work/cart.lua"

# Checkout: every request is a new order and Checkout Session, 303 to the simulator.
{
  lua_common 303 "$sim/"
  cat "$work/shoppers.lua"
  cat <<'LUA'
requests, counter = {}, 0
function init(args)
  local n = #shoppers
  for k = 0, n - 1 do
    local s = shoppers[(k + (tid - 1) * math.floor(n / nthreads)) % n + 1]
    table.insert(requests, wrk.format("POST", "/checkout", {
      ["Cookie"] = "storefront_session=" .. s.cookie,
      ["Content-Type"] = "application/x-www-form-urlencoded",
    }, "csrf_token=" .. s.csrf))
  end
end
function request()
  counter = counter % #requests + 1
  return requests[counter]
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
requests, counter = {}, 0
function init(args)
  local line_no = 0
  for line in io.lines(events_file) do
    if line_no % nthreads == tid - 1 then
      local tab = line:find("\t", 1, true)
      table.insert(requests, wrk.format("POST", "/webhooks/stripe", {
        ["Content-Type"] = "application/json",
        ["Stripe-Signature"] = line:sub(1, tab - 1),
      }, line:sub(tab + 1)))
    end
    line_no = line_no + 1
  end
end
function request()
  counter = counter % #requests + 1
  return requests[counter]
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
TIMEFORMAT='%U %S' # `time`: the load generator's own CPU seconds
measured() { # NAME COMMAND...: runs COMMAND, noting CPU and WAL flushes around it
  local name="$1"
  shift
  wal_syncs >"$work/$name.wal"
  cpu_snapshot >"$work/$name.cpu"
  { time "$@" >"$work/$name.txt" 2>&1; } 2>"$work/$name.time"
  cpu_snapshot >>"$work/$name.cpu"
  sleep 1 # exited pgbench backends reaped, WAL statistics reported
  wal_syncs >>"$work/$name.wal"
}
bench() { # NAME SCRIPT URL
  measured "$1" wrk -t"$threads" -c"$connections" -d"${duration}s" --latency -s "$2" "$3"
}
psql -qc "DROP TABLE IF EXISTS bench_insert; CREATE TABLE bench_insert (id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, account_id TEXT NOT NULL, amount_minor BIGINT NOT NULL, created_at TIMESTAMPTZ NOT NULL DEFAULT now())"
echo "INSERT INTO bench_insert (account_id, amount_minor) VALUES ('acct_bench', 420);" >"$work/insert.sql"
max_line=0

# A short warm-up (pool connections, page caches), not reported.
wrk -t"$threads" -c"$connections" -d2s -s "$work/get.lua" "$base/" >/dev/null

# Peak rates: ROUNDS rounds of every workload, each ratio's two runs next to
# each other (hello then the pages, the pgbench INSERT then add to cart).
for round in $(seq 1 "$rounds"); do
  bench "hello.$round" "$work/hello.lua" "http://127.0.0.1:$hello_port/"
  bench "catalog.$round" "$work/get.lua" "$base/"
  bench "product.$round" "$work/get.lua" "$base/products/aurora-ceramic-mug"
  measured "pgbench.$round" pgbench -n -c "$connections" -j "$threads" -T "$duration" -f "$work/insert.sql"
  bench "cart.$round" "$work/cart.lua" "$base"
  line="$(psql -Atqc "SELECT coalesce(max(quantity), 0) FROM cart_items")"
  max_line=$((line > max_line ? line : max_line))
  bench "checkout.$round" "$work/checkout.lua" "$base"
  sign_events "$((duration * ${WEBHOOK_RATE_MAX:-6000}))"
  bench "webhook.$round" "$work/webhook.lua" "$base"
done

# Latency below saturation: the same connections, each pausing a random 0 to
# 2 × CONNECTIONS / rate seconds before each request, so that together they
# offer PACE (default 0.5) of the workload's median peak rate.
median_rate() { # WORKLOAD
  for round in $(seq 1 "$rounds"); do sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p' "$work/$1.$round.txt"; done |
    sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}
for w in catalog product cart checkout webhook; do
  script="$work/$w.lua"
  [ "$w" = product ] || [ "$w" = catalog ] && script="$work/get.lua"
  path=""
  [ "$w" = catalog ] && path="/"
  [ "$w" = product ] && path="/products/aurora-ceramic-mug"
  offered="$(python3 -c "print(${PACE:-0.5} * $(median_rate "$w"))")"
  { cat "$script"; echo "function delay() return math.random() * 2 * 1000 * $connections / $offered end"; } >"$work/$w.paced.lua"
  echo "$offered" >"$work/$w.offered"
  [ "$w" = webhook ] && sign_events "$((duration * ${WEBHOOK_RATE_MAX:-6000}))"
  bench "$w.paced" "$work/$w.paced.lua" "$base$path"
done

# Peak and current RSS of the app, the hello server and the simulator.
rss() { awk -v k="$2:" '$1 == k { printf "%.1f", $2 / 1024 }' "/proc/$1/status"; }
echo "$(rss "$app" VmHWM) $(rss "$app" VmRSS) $(rss "$hello" VmHWM) $(rss "$sim_pid" VmHWM)" >"$work/rss"
psql -Atqc "SELECT count(*) FROM orders WHERE stripe_session_id IS NOT NULL" >"$work/orders"
psql -Atqc "SELECT count(*) FROM stripe_events WHERE id LIKE 'evt_bench_%'" >"$work/events"
echo "$max_line" >"$work/max_line"
psql -qc "DROP TABLE bench_insert"
load_after="$(cut -d' ' -f1-3 /proc/loadavg)"

echo
echo "Storefront load, $(nproc) cores, $rounds rounds of ${duration}s runs, $connections connections, $threads wrk threads," \
  "pool $pool, RUST_LOG=$log, $profile build, $(date -u +%Y-%m-%d); load average before: $load_before, after: $load_after"
python3 - "$work" "$rounds" "$(getconf CLK_TCK)" "$connections" "${PACE:-0.5}" <<'PY'
import re, statistics, sys
work, rounds, hz, connections, pace = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], float(sys.argv[5])
median = statistics.median_low
labels = {
    "hello": "hello (minimal actix-web, GET /)",
    "catalog": "Catalog page (GET /)",
    "product": "Product page (GET /products/aurora-ceramic-mug)",
    "cart": "Add to cart (POST /cart/items, alternating with a quantity update)",
    "checkout": "Checkout creation (POST /checkout: order + Checkout Session at the simulator)",
    "webhook": "Webhook ingestion (POST /webhooks/stripe, signed, fresh event ids)",
}
def read(name):
    return open(f"{work}/{name}.txt").read()
def ms(text):  # wrk's "850.00us", "1.23ms", "1.02s"
    value, unit = re.fullmatch(r"([0-9.]+)(us|ms|s|m)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1, "s": 1000, "m": 60000}[unit]
def wrk(name):
    t = read(name)
    pct = lambda p: ms(re.search(rf"^\s+{p}%\s+(\S+)", t, re.M).group(1))
    field = lambda f: int(re.search(rf"{f}=(\d+)", t).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", t)
    return {"rate": float(re.search(r"Requests/sec:\s+([0-9.]+)", t).group(1)), "p50": pct(50), "p99": pct(99),
            "requests": field("requests"), "unexpected": field("unexpected"), "duplicates": field("duplicates"),
            "socket_errors": field("socket_errors"), "non2xx": int(non2xx.group(1)) if non2xx else 0}
def pgbench(name):
    t = read(name)
    return {"rate": float(re.search(r"^tps = ([0-9.]+)", t, re.M).group(1)),
            "requests": int(re.search(r"transactions actually processed: (\d+)", t).group(1)),
            "latency": float(re.search(r"latency average = ([0-9.]+) ms", t).group(1))}
runs = {w: [wrk(f"{w}.{r}") for r in range(1, rounds + 1)] for w in labels}
runs["pgbench"] = [pgbench(f"pgbench.{r}") for r in range(1, rounds + 1)]
ratio = lambda w, base: [a["rate"] / b["rate"] for a, b in zip(runs[w], runs[base])]
fmt = lambda v: f"{v:.1f} ms" if v >= 1 else f"{v * 1000:.0f} µs"

print()
print("| Workload | requests/s | p50 / p99 latency | vs hello | vs pgbench INSERT | unexpected answers |")
print("|---|---:|---|---:|---:|---:|")
for w, label in labels.items():
    rs = runs[w]
    print(f"| {label} | {median([r['rate'] for r in rs]):.0f} | {fmt(median([r['p50'] for r in rs]))} / "
          f"{fmt(median([r['p99'] for r in rs]))} | {median(ratio(w, 'hello')):.3f} | {median(ratio(w, 'pgbench')):.3f} | "
          f"{sum(r['unexpected'] for r in rs)} of {sum(r['requests'] for r in rs)} |")
pg = runs["pgbench"]
print(f"| pgbench single-row INSERT, same cluster ({median([r['latency'] for r in pg]):.3f} ms avg) | "
      f"{median([r['rate'] for r in pg]):.0f} | | {median(ratio('pgbench', 'hello')):.3f} | 1.000 | |")
print()
print("Medians over the rounds; each ratio is the median of the rounds' ratios. Per round:")
for w, base in [("catalog", "hello"), ("product", "hello"), ("cart", "pgbench")]:
    print(f"- {w} / {base}: " + ", ".join(f"{v:.3f}" for v in ratio(w, base)))
app_hwm, app_rss, hello_hwm, sim_hwm = open(f"{work}/rss").read().split()
print()
print(f"Peak RSS (VmHWM): app {app_hwm} MB (current {app_rss} MB); hello {hello_hwm} MB; standalone simulator {sim_hwm} MB.")
all_runs = [r for w in labels for r in runs[w]]
print(f"wrk non-2xx/3xx: {sum(r['non2xx'] for r in all_runs)}; socket errors: {sum(r['socket_errors'] for r in all_runs)}. "
      f"Orders with a Checkout Session: {open(f'{work}/orders').read().strip()}; bench events recorded: "
      f"{open(f'{work}/events').read().strip()} (duplicates answered: {sum(r['duplicates'] for r in runs['webhook'])}); "
      f"largest cart line: {open(f'{work}/max_line').read().strip()}.")

print()
print("CPU seconds used during the runs of each workload (all rounds), and per request:")
print()
print("| Workload | server (app or hello) | PostgreSQL | simulator | wrk (or pgbench) | anything else | server / request | PostgreSQL / request | WAL flushes / request |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
for w in [*labels, "pgbench"]:
    cpu, flushes, load_gen = [0.0] * 5, 0, 0.0
    for r in range(1, rounds + 1):
        before, after = (list(map(int, line.split())) for line in open(f"{work}/{w}.{r}.cpu"))
        cpu = [c + (a - b) / hz for c, a, b in zip(cpu, after, before)]
        wal_before, wal_after = (int(line) for line in open(f"{work}/{w}.{r}.wal"))
        flushes += wal_after - wal_before
        load_gen += sum(map(float, open(f"{work}/{w}.{r}.time").read().split()[-2:]))
    app, pgc, sim, hello, total = cpu
    requests = sum(r["requests"] for r in runs[w])
    server = hello if w == "hello" else app
    other = max(total - app - pgc - sim - hello - load_gen, 0)
    us = lambda seconds: f"{seconds / requests * 1e6:.0f} µs"
    print(f"| {w} | {server:.1f} | {pgc:.1f} | {sim:.1f} | {load_gen:.1f} | {other:.1f} | {us(server)} | {us(pgc)} | {flushes / requests:.2f} |")

print()
print(f"Below saturation: {connections} connections each pausing at random between requests, offering {pace:g} of the median peak rate:")
print()
print("| Workload | offered requests/s | served requests/s | p50 / p99 latency | unexpected answers |")
print("|---|---:|---:|---|---:|")
paced = {}
for w in ["catalog", "product", "cart", "checkout", "webhook"]:
    r = paced[w] = wrk(f"{w}.paced")
    print(f"| {labels[w]} | {float(open(f'{work}/{w}.offered').read()):.0f} | {r['rate']:.0f} | {fmt(r['p50'])} / {fmt(r['p99'])} | "
          f"{r['unexpected']} of {r['requests']} |")

verdict = lambda ok: "met" if ok else "NOT met"
catalog, cart = median(ratio("catalog", "hello")), median(ratio("cart", "pgbench"))
print()
print("Targets:")
print(f"- catalog >= 25% of hello: {catalog:.3f} -> {verdict(catalog >= 0.25)}")
print(f"- add-to-cart >= 60% of pgbench INSERT: {cart:.3f} -> {verdict(cart >= 0.6)}")
for w in ["catalog", "product", "cart", "checkout", "webhook"]:
    peak, below = median([r["p99"] for r in runs[w]]), paced[w]["p99"]
    print(f"- p99 < 20 ms at {connections} connections, {w}: at peak {peak:.1f} ms -> {verdict(peak < 20)}; "
          f"at {pace:g} of peak {below:.1f} ms -> {verdict(below < 20)}")
print(f"- RSS < 60 MB: {app_hwm} MB -> {verdict(float(app_hwm) < 60)}")
PY
