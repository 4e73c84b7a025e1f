#!/usr/bin/env bash
# Catalog at scale, on this machine, loopback only, bounded in time. One app
# (release build) per catalog size of SIZES (default "12 1000 10000 100000"
# products on sale: the sample catalog plus `storefront seed --products
# N-12` generated ones), each on its own database of one throwaway private
# PostgreSQL cluster, all running at once, so that the sizes are measured
# interleaved: ROUNDS rounds (default 3), each running, for every size, wrk
# (--latency, CONNECTIONS connections, one browser's session cookie,
# DURATION seconds) on
#   home:       GET /                         (collections + first page, newest)
#   collection: GET /collections/kitchen      (first page, newest)
#   search:     GET /search?q=ceramic+mug     (two words, the same each time)
#   broad:      GET /search?q=mug             (one common word, the same each time)
#   spread:     GET /search?q=...             (one of 1,024 two-word searches, at
#                                              random: more products than the
#                                              product cache holds)
#   cold:       GET /search?q=...             (one of some 60,000 searches, each
#                                              the words of a generated product's
#                                              name in some order: few are kept)
#   product:    GET /products/aurora-ceramic-mug
# (searches are kept per node: each node counts its hits and misses, read
# from its metrics listener around each run)
# once quiet and once with STOCK_RATE (default 20) stock commits a second on
# that size's database: one psql session of single-row UPDATEs of products'
# stock, every other one on the mug or a product of the front page's first
# page (cached pages), the others anywhere in the catalog. Then search below
# saturation at the largest size: the same connections, pausing at random so
# that they offer PACE (default 0.5) of its median peak. Also each page's
# HTML size and each app's peak RSS (VmHWM).
# Prints Markdown tables: median requests/s and p99 over the rounds, and
# each page's rate as a ratio to its rate at the smallest size (the median
# of the rounds' ratios: the machine is shared and its speed drifts, so each
# ratio pairs runs made minutes apart at most), and the issue-18 targets.
# Needs wrk, psql and python3. Tunables: DURATION (seconds per run, default
# 8, 1 to 60), ROUNDS (1 to 9), SIZES, CONNECTIONS (64), THREADS (wrk
# threads, 2), PACE, STOCK_RATE (1 to 200), MAX_LOAD (wait for the 1-minute
# load average to fall below it, default 1.5; "off" skips).
set -euo pipefail
cd "$(dirname "$0")/../.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/storefront-target}"
duration="${DURATION:-8}"
rounds="${ROUNDS:-3}"
sizes="${SIZES:-12 1000 10000 100000}"
connections="${CONNECTIONS:-64}"
threads="${THREADS:-2}"
stock_rate="${STOCK_RATE:-20}"
[[ "$duration" =~ ^[0-9]+$ ]] && ((duration >= 1 && duration <= 60)) || { echo "DURATION must be 1 to 60 seconds" >&2; exit 2; }
[[ "$rounds" =~ ^[0-9]+$ ]] && ((rounds >= 1 && rounds <= 9)) || { echo "ROUNDS must be 1 to 9" >&2; exit 2; }
[[ "$stock_rate" =~ ^[0-9]+$ ]] && ((stock_rate >= 1 && stock_rate <= 200)) || { echo "STOCK_RATE must be 1 to 200" >&2; exit 2; }
[[ "${PACE:-0.5}" =~ ^0?\.[0-9]+$ ]] || { echo "PACE must be a fraction below 1, like 0.5" >&2; exit 2; }
for size in $sizes; do
  [[ "$size" =~ ^[0-9]+$ ]] && ((size >= 12 && size <= 1000000)) || { echo "SIZES are 12 to 1000000 products" >&2; exit 2; }
done
bin="$CARGO_TARGET_DIR/release/storefront"

. tests/support/lib.sh

cargo build --quiet --release -p storefront --bin storefront

max_load="${MAX_LOAD:-1.5}"
if [ "$max_load" != off ]; then
  for _ in $(seq 1 60); do
    awk -v max="$max_load" '{ exit !($1 < max) }' /proc/loadavg && break
    echo "load average $(cut -d' ' -f1 /proc/loadavg) >= $max_load: waiting 10 s" >&2
    sleep 10
  done
fi
load_before="$(cut -d' ' -f1-3 /proc/loadavg)"

work="$(mktemp -d "${TMPDIR:-/tmp}/storefront-catalog.XXXXXX")"
chmod 755 "$work" # the private cluster runs as the postgres user under root
declare -A app=() base=() metrics=()
stocker=""
cleanup() {
  stop_stock
  local size
  for size in "${!app[@]}"; do
    [ "$size" = "$first" ] || stop "${app[$size]}"
  done
  stop "${app[$first]:-}" # last: it stops the PostgreSQL cluster
  stop_postmaster "$work/data/postgres"
  rm -rf "$work"
}
trap cleanup EXIT
unset DATABASE_URL APP_BASE_URL SESSION_KEY STRIPE_SECRET_KEY STRIPE_WEBHOOK_SECRET STRIPE_API_BASE TRUST_PROXY_HEADERS
export DATA_DIR="$work/data" RUST_LOG=warn RATE_LIMIT_PER_MINUTE=0
first="$(echo "$sizes" | awk '{ print $1 }')"
last="$(echo "$sizes" | awk '{ print $NF }')"

# Background stock commits on database $PGDATABASE: one psql session,
# STOCK_RATE single-row UPDATEs a second (each its own transaction),
# counted in $work/stock.count.
start_stock() {
  local hot
  hot="$(psql -Atqc "SELECT string_agg(id::text, ' ') FROM (SELECT id FROM products WHERE active ORDER BY created_at DESC, id DESC LIMIT 24) AS page") $(psql -Atqc "SELECT id FROM products WHERE slug = 'aurora-ceramic-mug'")"
  local max_id
  max_id="$(psql -Atqc "SELECT max(id) FROM products")"
  python3 - "$stock_rate" "$max_id" "$work/stock.count" $hot 2>/dev/null <<'PY' | psql -q >/dev/null &
import random, sys, time
rate, max_id, count_file, hot = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], [int(i) for i in sys.argv[4:]]
random.seed(18)
n, start = 0, time.monotonic()
while True:
    product = random.choice(hot) if n % 2 == 0 else random.randint(1, max_id)
    print(f"UPDATE products SET stock = (stock + 1) % 100 WHERE id = {product} AND stock IS NOT NULL;", flush=True)
    n += 1
    if n % rate == 0:
        with open(count_file, "a") as out:
            out.write(f"{n} {time.monotonic() - start:.3f}\n")
    time.sleep(max(0, start + n / rate - time.monotonic()))
PY
  stocker=$! # psql: stopping it stops the generator too (a broken pipe)
}
stop_stock() {
  if [ -n "$stocker" ]; then
    kill "$stocker" 2>/dev/null || true
    wait "$stocker" 2>/dev/null || true
    stocker=""
  fi
}

pages=(home collection search broad spread cold product)
declare -A path=(
  [home]="/"
  [collection]="/collections/kitchen"
  [search]="/search?q=ceramic+mug"
  [broad]="/search?q=mug"
  [product]="/products/aurora-ceramic-mug"
)
# Pages whose query each request picks at random from a list (made below).
listed=(spread cold)

# A node's search cache counts: "hits misses".
cache_counts() {
  curl -fsS "${metrics[$1]}" | awk '
    /^storefront_catalog_search_cache_total\{outcome="hit"\}/ { hits = $2 }
    /^storefront_catalog_search_cache_total\{outcome="miss"\}/ { misses = $2 }
    END { print hits + 0, misses + 0 }'
}

# The first size's app makes the private cluster (and seeds its database);
# the other sizes get databases of their own in it.
start_app() { # SIZE [DATABASE_URL]
  local port metrics_port
  port="$(free_port)"
  metrics_port="$(free_port)"
  base[$1]="http://127.0.0.1:$port"
  metrics[$1]="http://127.0.0.1:$metrics_port/metrics"
  if [ -n "${2:-}" ]; then
    DATABASE_URL="$2" BIND="127.0.0.1:$port" METRICS_BIND="127.0.0.1:$metrics_port" "$bin" >"$work/app.$1.log" 2>&1 &
  else
    BIND="127.0.0.1:$port" METRICS_BIND="127.0.0.1:$metrics_port" "$bin" >"$work/app.$1.log" 2>&1 &
  fi
  app[$1]=$!
  wait_for "${base[$1]}/healthz" "${app[$1]}" "$work/app.$1.log"
}
database() { [ "$1" = "$first" ] && echo storefront || echo "catalog_$1"; }
script() { # SIZE PAGE: wrk's script for that page
  case "$2" in
    spread | cold) echo "$work/$2.$1.lua" ;;
    *) echo "$work/get.$1.lua" ;;
  esac
}
for size in $sizes; do
  if [ "$size" = "$first" ]; then
    "$bin" seed --products "$((size - 12))" >"$work/seed.$size.log" 2>&1 ||
      { tail -n 20 "$work/seed.$size.log" >&2; exit 1; }
    start_app "$size"
    pg_port="$(sed -n 4p "$work/data/postgres/postmaster.pid")"
    export PGHOST=127.0.0.1 PGPORT="$pg_port" PGUSER=storefront PGOPTIONS='-c client_min_messages=warning'
    PGPASSWORD="$(cat "$work/data/postgres.password")"
    export PGPASSWORD
    url() { echo "postgres://storefront:$PGPASSWORD@127.0.0.1:$pg_port/$1"; }
  else
    psql -d storefront -qc "CREATE DATABASE catalog_$size"
    DATABASE_URL="$(url "catalog_$size")" "$bin" seed --products "$((size - 12))" >"$work/seed.$size.log" 2>&1 ||
      { tail -n 20 "$work/seed.$size.log" >&2; exit 1; }
    start_app "$size" "$(url "catalog_$size")"
  fi
  psql -d "$(database "$size")" -Atqc "SELECT count(*) FROM products WHERE active" >"$work/on_sale.$size"
done

# The listed searches, from the names of the largest catalog's products:
# "spread" an adjective or a material with the kind (1,024), "cold" a
# whole name's words in every order (some 60,000).
psql -d "$(database "$last")" -Atqc "SELECT DISTINCT lower(name) FROM products WHERE active" >"$work/names"
python3 - "$work" <<'PY'
import itertools, sys, urllib.parse
work = sys.argv[1]
names = [line.split() for line in open(f"{work}/names") if line.strip()]
spread = sorted({f"{words[i]} {words[-1]}" for words in names if len(words) >= 3 for i in (0, 1)})
cold = sorted({" ".join(order) for words in names for order in itertools.permutations(words)})
for name, queries in [("spread", spread), ("cold", cold)]:
    with open(f"{work}/{name}.queries", "w") as out:
        out.writelines(urllib.parse.quote_plus(q) + "\n" for q in queries)
PY
for page in "${listed[@]}"; do
  path[$page]="/search?q=$(head -n1 "$work/$page.queries")"
done

# One returning browser's session for every app (they share no key: each
# its own cookie), so that no request makes a new session.
for size in $sizes; do
  curl -fsS -c "$work/jar.$size" -o /dev/null "${base[$size]}/"
  cookie="$(awk '$6 == "storefront_session" { print $7 }' "$work/jar.$size")"
  cat >"$work/get.$size.lua" <<LUA
wrk.headers["Cookie"] = "storefront_session=$cookie"
unexpected = 0
local threads = {}
function setup(thread) table.insert(threads, thread); thread:set("id", #threads) end
function response(status, headers, body) if status ~= 200 then unexpected = unexpected + 1 end end
function done(summary, latency, requests)
  local bad = 0
  for _, thread in ipairs(threads) do bad = bad + thread:get("unexpected") end
  io.write(string.format("requests=%d unexpected=%d\n", summary.requests, bad))
end
LUA
  for page in "${listed[@]}"; do
    cat "$work/get.$size.lua" - >"$work/$page.$size.lua" <<LUA
local queries = {}
for line in io.lines("$work/$page.queries") do queries[#queries + 1] = line end
function init(args) math.randomseed(18 + id) end
function request() return wrk.format(nil, "/search?q=" .. queries[math.random(#queries)]) end
LUA
  done
  for page in "${pages[@]}"; do
    curl -fsS -b "$work/jar.$size" "${base[$size]}${path[$page]}" | wc -c >"$work/bytes.$size.$page"
    # Warm-up (pools, PostgreSQL's buffers, searches kept), not reported.
    wrk -t"$threads" -c"$connections" -d2s -s "$(script "$size" "$page")" "${base[$size]}${path[$page]}" >/dev/null
  done
done

for round in $(seq 1 "$rounds"); do
  for stock in quiet stock; do
    for size in $sizes; do
      export PGDATABASE
      PGDATABASE="$(database "$size")"
      if [ "$stock" = stock ]; then start_stock; fi
      for page in "${pages[@]}"; do
        counts_before="$(cache_counts "$size")"
        wrk -t"$threads" -c"$connections" -d"${duration}s" --latency -s "$(script "$size" "$page")" \
          "${base[$size]}${path[$page]}" >"$work/$size.$page.$stock.$round.txt" 2>&1
        echo "$counts_before $(cache_counts "$size")" >"$work/$size.$page.$stock.$round.cache"
      done
      if [ "$stock" = stock ]; then
        stop_stock
        tail -n1 "$work/stock.count" >>"$work/stock.$size" 2>/dev/null || echo "0 1" >>"$work/stock.$size"
        rm -f "$work/stock.count"
      fi
    done
  done
done

# Search below saturation at the largest size: PACE of its median peak.
offered="$(for round in $(seq 1 "$rounds"); do sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p' "$work/$last.search.quiet.$round.txt"; done |
  sort -g | awk -v pace="${PACE:-0.5}" '{ v[NR] = $1 } END { print pace * v[int((NR + 1) / 2)] }')"
echo "$offered" >"$work/search.offered"
{ cat "$work/get.$last.lua"; echo "function delay() return math.random() * 2 * 1000 * $connections / $offered end"; } >"$work/paced.lua"
wrk -t"$threads" -c"$connections" -d"${duration}s" --latency -s "$work/paced.lua" "${base[$last]}${path[search]}" \
  >"$work/search.paced.txt" 2>&1
for size in $sizes; do
  awk '$1 == "VmHWM:" { printf "%.1f", $2 / 1024 }' "/proc/${app[$size]}/status" >"$work/rss.$size"
done
load_after="$(cut -d' ' -f1-3 /proc/loadavg)"

echo
echo "Storefront catalog at scale, $(nproc) cores, $rounds rounds of ${duration}s runs, $connections connections, $threads wrk threads," \
  "$stock_rate stock commits/s in the background runs, release build, $(date -u +%Y-%m-%d); load average before: $load_before, after: $load_after"
python3 - "$work" "$sizes" "$rounds" "$stock_rate" "${PACE:-0.5}" <<'PY'
import re, statistics, sys
work, sizes, rounds, stock_rate, pace = sys.argv[1], sys.argv[2].split(), int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
last = sizes[-1]
median = statistics.median_low
first = sizes[0]
pages = ["home", "collection", "search", "broad", "spread", "cold", "product"]
searches = ["search", "broad", "spread", "cold"]
labels = {"home": "Home (GET /)", "collection": "Collection (GET /collections/kitchen)",
          "search": "Search \"ceramic mug\"", "broad": "Search \"mug\"",
          "spread": "Search, 1,024 two-word queries", "cold": "Search, ~60,000 queries",
          "product": "Product page"}
def ms(text):
    value, unit = re.fullmatch(r"([0-9.]+)(us|ms|s|m)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1, "s": 1000, "m": 60000}[unit]
def wrk(name):
    t = open(f"{work}/{name}.txt").read()
    pct = lambda p: ms(re.search(rf"^\s+{p}%\s+(\S+)", t, re.M).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", t)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", t)
    return {"rate": float(re.search(r"Requests/sec:\s+([0-9.]+)", t).group(1)), "p50": pct(50), "p99": pct(99),
            "requests": int(re.search(r"requests=(\d+)", t).group(1)),
            "unexpected": int(re.search(r"unexpected=(\d+)", t).group(1)),
            "errors": sum(map(int, errors.groups())) if errors else 0}
first = sizes[0]
runs = {(s, p, k): [wrk(f"{s}.{p}.{k}.{r}") for r in range(1, rounds + 1)]
        for s in sizes for p in pages for k in ["quiet", "stock"]}
rate = lambda s, p, k: median([r["rate"] for r in runs[(s, p, k)]])
p99 = lambda s, p, k: median([r["p99"] for r in runs[(s, p, k)]])
# Each round's ratio pairs runs made minutes apart; the median of those.
ratio = lambda s, p, k, s0, p0, k0: median(
    [a["rate"] / b["rate"] for a, b in zip(runs[(s, p, k)], runs[(s0, p0, k0)])])
fmt = lambda v: f"{v:.1f} ms" if v >= 1 else f"{v * 1000:.0f} µs"
on_sale = {s: int(open(f"{work}/on_sale.{s}").read()) for s in sizes}
n0 = f"{on_sale[first]:,}"
print()
print(f"| Page | products | requests/s | p99 | vs {n0} | with stock changing: requests/s | p99 | vs {n0} | HTML |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
for p in pages:
    for s in sizes:
        size_kb = int(open(f"{work}/bytes.{s}.{p}").read()) / 1024
        print(f"| {labels[p]} | {on_sale[s]:,} | {rate(s, p, 'quiet'):.0f} | {fmt(p99(s, p, 'quiet'))} | "
              f"{ratio(s, p, 'quiet', first, p, 'quiet'):.2f} | {rate(s, p, 'stock'):.0f} | {fmt(p99(s, p, 'stock'))} | "
              f"{ratio(s, p, 'stock', first, p, 'stock'):.2f} | {size_kb:.1f} KB |")
print()
print("Medians over the rounds. The rounds' ratios, at the largest size against the smallest:")
for p in pages:
    for k in ["quiet", "stock"]:
        values = [a["rate"] / b["rate"] for a, b in zip(runs[(last, p, k)], runs[(first, p, k)])]
        print(f"- {p}, {k}: " + ", ".join(f"{v:.2f}" for v in values))
print()
rss = {s: float(open(f"{work}/rss.{s}").read()) for s in sizes}
print("Each app's peak RSS (VmHWM): " + ", ".join(f"{on_sale[s]:,} products {rss[s]:.1f} MB" for s in sizes) + ".")
commits = []
for s in sizes:
    for line in open(f"{work}/stock.{s}").read().split("\n"):
        if line.strip():
            n, t = line.split()
            commits.append(int(n) / float(t))
print(f"Stock commits in the background runs: {min(commits):.1f} to {max(commits):.1f} a second.")
every = [r for rs in runs.values() for r in rs]
print(f"Answers other than 200: {sum(r['unexpected'] for r in every)} of {sum(r['requests'] for r in every)}; "
      f"socket errors: {sum(r['errors'] for r in every)}.")
print()
print("Searches answered from the node's cache (hits / all, over every run of the page; warm-ups excluded):")
for p in searches:
    parts = []
    for s in sizes:
        hits = misses = 0
        for k in ["quiet", "stock"]:
            for r in range(1, rounds + 1):
                h0, m0, h1, m1 = map(float, open(f"{work}/{s}.{p}.{k}.{r}.cache").read().split())
                hits, misses = hits + h1 - h0, misses + m1 - m0
        parts.append(f"{on_sale[s]:,}: {hits / max(hits + misses, 1):.3f} of {hits + misses:,.0f}")
    print(f"- {labels[p]}: " + "; ".join(parts))
paced = wrk("search.paced")
offered = float(open(f"{work}/search.offered").read())
print()
print(f"Search \"ceramic mug\" below saturation at {on_sale[last]:,} products: offered {offered:.0f}/s "
      f"({pace:g} of its median peak), served {paced['rate']:.0f}/s, p50 {fmt(paced['p50'])}, p99 {fmt(paced['p99'])}; "
      f"{paced['unexpected']} of {paced['requests']} answers not 200.")

verdict = lambda ok: "met" if ok else "NOT met"
print()
print(f"Targets (issue 18), {on_sale[last]:,} against {n0} products:")
for k, what in [("quiet", "quiet"), ("stock", f"with {stock_rate} stock commits/s")]:
    for p in pages:
        r = ratio(last, p, k, first, p, k)
        print(f"- {labels[p]} throughput {what} >= 0.8 of its own at {n0}: {r:.2f} -> {verdict(r >= 0.8)}")
largest = max(int(open(f"{work}/bytes.{s}.{p}").read()) for s in sizes for p in pages)
print(f"- no page over 200 KB of HTML: largest {largest / 1024:.1f} KB -> {verdict(largest <= 200 * 1024)}")
print(f"- app RSS <= 100 MB at {on_sale[last]:,} products: {rss[last]:.1f} MB -> {verdict(rss[last] <= 100)}")
print(f"- search p99 < 20 ms at {pace:g} of its peak: {fmt(paced['p99'])} -> {verdict(paced['p99'] < 20)}")
for p in searches:
    for k in ["quiet", "stock"]:
        r = ratio(last, p, k, last, "product", k)
        print(f"- {labels[p]} ({k}) >= 0.25 of the product page's rate: {r:.3f} -> {verdict(r >= 0.25)}")
PY
