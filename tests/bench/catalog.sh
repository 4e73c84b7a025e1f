#!/usr/bin/env bash
# Catalog at scale, on this machine, loopback only, bounded in time. For each
# catalog size of SIZES (default "11 1000 10000 100000" products on sale: the
# sample catalog plus `storefront seed --products N-11` generated ones), the
# release app is started on the same throwaway DATA_DIR (its private
# PostgreSQL cluster) and wrk runs, DURATION seconds each (--latency,
# CONNECTIONS connections, one browser's session cookie):
#   home:       GET /                         (collections + first page, newest)
#   collection: GET /collections/kitchen      (first page, newest)
#   search:     GET /search?q=ceramic+mug     (two words, never cached)
#   broad:      GET /search?q=mug             (one common word, never cached)
#   product:    GET /products/aurora-ceramic-mug
# each once quiet and once with STOCK_RATE (default 20) stock commits a
# second in the background: one psql session running single-row UPDATEs of
# products' stock, every other one on the mug or a product of the front
# page's first page (cached pages), the others anywhere in the catalog. Then,
# at the largest size, search again below saturation: the same connections,
# pausing at random so that they offer PACE (default 0.5) of its peak.
# Also: each page's HTML size, and the app's peak RSS (VmHWM) at each size
# (the app restarts for each size, so each peak is that size's).
# Prints Markdown tables: requests/s, p99, the ratio of each page's rate to
# its rate at the smallest size (same run), and the issue-18 targets.
# Needs wrk, psql and python3. Tunables: DURATION (seconds per run, default
# 10, 1 to 120), SIZES, CONNECTIONS (64), THREADS (wrk threads, 2), PACE,
# STOCK_RATE (1 to 200), MAX_LOAD (wait for the 1-minute load average to
# fall below it, default 1.5; "off" skips).
set -euo pipefail
cd "$(dirname "$0")/../.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/storefront-target}"
duration="${DURATION:-10}"
sizes="${SIZES:-11 1000 10000 100000}"
connections="${CONNECTIONS:-64}"
threads="${THREADS:-2}"
stock_rate="${STOCK_RATE:-20}"
[[ "$duration" =~ ^[0-9]+$ ]] && ((duration >= 1 && duration <= 120)) || { echo "DURATION must be 1 to 120 seconds" >&2; exit 2; }
[[ "$stock_rate" =~ ^[0-9]+$ ]] && ((stock_rate >= 1 && stock_rate <= 200)) || { echo "STOCK_RATE must be 1 to 200" >&2; exit 2; }
[[ "${PACE:-0.5}" =~ ^0?\.[0-9]+$ ]] || { echo "PACE must be a fraction below 1, like 0.5" >&2; exit 2; }
for size in $sizes; do
  [[ "$size" =~ ^[0-9]+$ ]] && ((size >= 11 && size <= 1000000)) || { echo "SIZES are 11 to 1000000 products" >&2; exit 2; }
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
app="" stocker=""
cleanup() {
  stop_stock
  stop "$app" # stops its PostgreSQL cluster too
  stop_postmaster "$work/data/postgres"
  rm -rf "$work"
}
trap cleanup EXIT
unset DATABASE_URL APP_BASE_URL SESSION_KEY STRIPE_SECRET_KEY STRIPE_WEBHOOK_SECRET STRIPE_API_BASE TRUST_PROXY_HEADERS
export DATA_DIR="$work/data" RUST_LOG=warn RATE_LIMIT_PER_MINUTE=0

# Background stock commits: one psql session, STOCK_RATE single-row UPDATEs a
# second (each its own transaction), counted in $work/stock.count.
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
        open(count_file, "w").write(f"{n} {time.monotonic() - start:.3f}\n")
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

pages=(home collection search broad product)
declare -A path=(
  [home]="/"
  [collection]="/collections/kitchen"
  [search]="/search?q=ceramic+mug"
  [broad]="/search?q=mug"
  [product]="/products/aurora-ceramic-mug"
)

for size in $sizes; do
  # The catalog: the sample, then generated products up to SIZE on sale.
  "$bin" seed --products "$((size - 11))" >"$work/seed.$size.log" 2>&1 ||
    { tail -n 20 "$work/seed.$size.log" >&2; exit 1; }
  port="$(free_port)"
  base="http://127.0.0.1:$port"
  BIND="127.0.0.1:$port" "$bin" >"$work/app.$size.log" 2>&1 &
  app=$!
  wait_for "$base/healthz" "$app" "$work/app.$size.log"
  pg_port="$(sed -n 4p "$work/data/postgres/postmaster.pid")"
  export PGHOST=127.0.0.1 PGPORT="$pg_port" PGUSER=storefront PGDATABASE=storefront PGOPTIONS='-c client_min_messages=warning'
  PGPASSWORD="$(cat "$work/data/postgres.password")"
  export PGPASSWORD
  on_sale="$(psql -Atqc "SELECT count(*) FROM products WHERE active")"
  echo "$on_sale" >"$work/on_sale.$size"
  # A returning browser's session, so that no request makes a new one.
  curl -fsS -c "$work/jar" -o /dev/null "$base/"
  cookie="$(awk '$6 == "storefront_session" { print $7 }' "$work/jar")"
  cat >"$work/get.lua" <<LUA
wrk.headers["Cookie"] = "storefront_session=$cookie"
unexpected = 0
local threads = {}
function setup(thread) table.insert(threads, thread) end
function response(status, headers, body) if status ~= 200 then unexpected = unexpected + 1 end end
function done(summary, latency, requests)
  local bad = 0
  for _, thread in ipairs(threads) do bad = bad + thread:get("unexpected") end
  io.write(string.format("requests=%d unexpected=%d\n", summary.requests, bad))
end
LUA
  for page in "${pages[@]}"; do
    curl -fsS -b "$work/jar" "$base${path[$page]}" | wc -c >"$work/bytes.$size.$page"
    # Warm-up (pools, PostgreSQL's buffers after the restart), not reported.
    wrk -t"$threads" -c"$connections" -d2s -s "$work/get.lua" "$base${path[$page]}" >/dev/null
  done
  for stock in quiet stock; do
    [ "$stock" = stock ] && start_stock
    for page in "${pages[@]}"; do
      wrk -t"$threads" -c"$connections" -d"${duration}s" --latency -s "$work/get.lua" "$base${path[$page]}" \
        >"$work/$size.$page.$stock.txt" 2>&1
    done
    if [ "$stock" = stock ]; then
      cp "$work/stock.count" "$work/stock.$size" 2>/dev/null || echo "0 1" >"$work/stock.$size"
      stop_stock
    fi
  done
  last_size="$size"
  if [ "$size" = "$(echo "$sizes" | awk '{ print $NF }')" ]; then
    # Search below saturation: PACE of its peak, the same connections.
    peak="$(sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p' "$work/$size.search.quiet.txt")"
    offered="$(python3 -c "print(${PACE:-0.5} * $peak)")"
    echo "$offered" >"$work/search.offered"
    { cat "$work/get.lua"; echo "function delay() return math.random() * 2 * 1000 * $connections / $offered end"; } >"$work/paced.lua"
    wrk -t"$threads" -c"$connections" -d"${duration}s" --latency -s "$work/paced.lua" "$base${path[search]}" \
      >"$work/search.paced.txt" 2>&1
  fi
  awk '$1 == "VmHWM:" { printf "%.1f", $2 / 1024 }' "/proc/$app/status" >"$work/rss.$size"
  stop "$app"
  app=""
done
load_after="$(cut -d' ' -f1-3 /proc/loadavg)"

echo
echo "Storefront catalog at scale, $(nproc) cores, ${duration}s runs, $connections connections, $threads wrk threads," \
  "$stock_rate stock commits/s in the background runs, release build, $(date -u +%Y-%m-%d); load average before: $load_before, after: $load_after"
python3 - "$work" "$sizes" "$last_size" "$stock_rate" "${PACE:-0.5}" <<'PY'
import re, sys
work, sizes, last, stock_rate, pace = sys.argv[1], sys.argv[2].split(), sys.argv[3], int(sys.argv[4]), float(sys.argv[5])
first = sizes[0]
pages = ["home", "collection", "search", "broad", "product"]
labels = {"home": "Home (GET /)", "collection": "Collection (GET /collections/kitchen)",
          "search": "Search \"ceramic mug\"", "broad": "Search \"mug\"", "product": "Product page"}
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
runs = {(s, p, k): wrk(f"{s}.{p}.{k}") for s in sizes for p in pages for k in ["quiet", "stock"]}
fmt = lambda v: f"{v:.1f} ms" if v >= 1 else f"{v * 1000:.0f} µs"
on_sale = {s: int(open(f"{work}/on_sale.{s}").read()) for s in sizes}
print()
print("| Page | products | requests/s | p99 | vs " + first + " | with stock changing: requests/s | p99 | vs " + first + " (same) | HTML |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
for p in pages:
    for s in sizes:
        q, k = runs[(s, p, "quiet")], runs[(s, p, "stock")]
        q0, k0 = runs[(first, p, "quiet")], runs[(first, p, "stock")]
        size_kb = int(open(f"{work}/bytes.{s}.{p}").read()) / 1024
        print(f"| {labels[p]} | {on_sale[s]:,} | {q['rate']:.0f} | {fmt(q['p99'])} | {q['rate'] / q0['rate']:.2f} | "
              f"{k['rate']:.0f} | {fmt(k['p99'])} | {k['rate'] / k0['rate']:.2f} | {size_kb:.1f} KB |")
print()
rss = {s: float(open(f"{work}/rss.{s}").read()) for s in sizes}
print("App peak RSS (VmHWM) by size: " + ", ".join(f"{on_sale[s]:,} products {rss[s]:.1f} MB" for s in sizes) + ".")
stock = {s: open(f"{work}/stock.{s}").read().split() for s in sizes}
print("Stock commits in the background runs: " + ", ".join(
    f"{int(n) / float(t):.1f}/s ({n} in {float(t):.0f} s)" for n, t in (stock[s] for s in sizes)) + ".")
bad = sum(r["unexpected"] for r in runs.values())
errors = sum(r["errors"] for r in runs.values())
print(f"Answers other than 200: {bad} of {sum(r['requests'] for r in runs.values())}; socket errors: {errors}.")
paced = wrk("search.paced")
offered = float(open(f"{work}/search.offered").read())
print()
print(f"Search \"ceramic mug\" below saturation at {on_sale[last]:,} products: offered {offered:.0f}/s "
      f"({pace:g} of its peak), served {paced['rate']:.0f}/s, p50 {fmt(paced['p50'])}, p99 {fmt(paced['p99'])}; "
      f"{paced['unexpected']} of {paced['requests']} answers not 200.")

verdict = lambda ok: "met" if ok else "NOT met"
print()
print(f"Targets (issue 18), {on_sale[last]:,} against {on_sale[first]:,} products:")
for k, what in [("quiet", "quiet"), ("stock", f"with {stock_rate} stock commits/s")]:
    for p in pages:
        r = runs[(last, p, k)]["rate"] / runs[(first, p, k)]["rate"]
        print(f"- {labels[p]} throughput {what} >= 0.8 of its own at {on_sale[first]:,}: {r:.2f} -> {verdict(r >= 0.8)}")
largest = max(int(open(f"{work}/bytes.{s}.{p}").read()) for s in sizes for p in pages)
print(f"- no page over 200 KB of HTML: largest {largest / 1024:.1f} KB -> {verdict(largest <= 200 * 1024)}")
print(f"- app RSS <= 100 MB at {on_sale[last]:,} products: {rss[last]:.1f} MB -> {verdict(rss[last] <= 100)}")
print(f"- search p99 < 20 ms at {pace:g} of its peak: {fmt(paced['p99'])} -> {verdict(paced['p99'] < 20)}")
for p in ["search", "broad"]:
    r = runs[(last, p, "quiet")]["rate"] / runs[(last, "product", "quiet")]["rate"]
    print(f"- {labels[p]} >= 0.25 of the product page's rate: {r:.3f} -> {verdict(r >= 0.25)}")
PY
