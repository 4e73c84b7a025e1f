#!/usr/bin/env bash
# The back office at scale, on this machine, loopback only, bounded in time:
# 100,000 products and 100,000 orders (then 1,000,000 for the export).
#   1. list pages: GET /admin/products (first page, a search, a later page)
#      and /admin/orders (first page, a status filter, an email search, a
#      later page), each timed over RUNS requests with curl, against the
#      reference GET /healthz on the same server in the same run;
#   2. the query plans of those lists (EXPLAIN): index scans, not sorts of
#      the whole table;
#   3. the CSV export of 1,000,000 orders: its time, its size, and the app's
#      resident memory before, at its peak during, and after the export.
# Prints Markdown tables; the ratios are what BENCHMARKS.md quotes.
#
# Starts the app with `cargo run` (PROFILE=release by default) on a
# throwaway DATA_DIR (its own private cluster and the simulator). Needs
# psql, curl and python3. Tunables: RUNS (default 50), EXPORT (0 skips the
# export of 1,000,000 orders).
set -euo pipefail
cd "$(dirname "$0")/../.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/storefront-target}"
profile="${PROFILE:-release}"
runs="${RUNS:-50}"
cargo_flags=(--quiet --bin storefront)
[ "$profile" = release ] && cargo_flags+=(--release)

work="$(mktemp -d "${TMPDIR:-/tmp}/storefront-bench.XXXXXX")"
chmod 755 "$work" # the private cluster runs as the postgres user under root
. tests/support/lib.sh
port="$(free_port)"
base="http://127.0.0.1:$port"
export DATA_DIR="$work/data" BIND="127.0.0.1:$port" RUST_LOG=warn RATE_LIMIT_PER_MINUTE=0

cargo build "${cargo_flags[@]}"
password="Bench-Kettle-Orbit-42"
printf '%s\n' "$password" | cargo run "${cargo_flags[@]}" -- admin create --email bench@example.com >/dev/null
cargo run "${cargo_flags[@]}" >"$work/app.log" 2>&1 &
app=$!
cleanup() {
  stop "$app"
  rm -rf "$work"
}
trap cleanup EXIT
wait_for "$base/healthz" "$app" "$work/app.log"
app_pid="$(pgrep -P "$app" -x storefront || echo "$app")"

pg_port="$(sed -n 4p "$DATA_DIR/postgres/postmaster.pid")"
export PGHOST=127.0.0.1 PGPORT="$pg_port" PGUSER=storefront PGDATABASE=storefront PGOPTIONS='-c client_min_messages=warning'
PGPASSWORD="$(cat "$DATA_DIR/postgres.password")"
export PGPASSWORD

seed_orders() {
  psql -q -v ON_ERROR_STOP=1 <<SQL
INSERT INTO orders (token, browser_id, status, currency, amount_total_minor, email, paid_at, created_at, number)
SELECT md5(random()::text) || md5(random()::text), gen_random_uuid(),
       CASE WHEN g % 10 = 0 THEN 'pending' ELSE 'paid' END, 'USD', 1000 + g % 9000,
       'shopper' || g || '@example.com',
       CASE WHEN g % 10 = 0 THEN NULL ELSE now() - (g || ' seconds')::interval END,
       now() - (g || ' seconds')::interval,
       upper(substr(md5(g::text || random()::text), 1, 8))
FROM generate_series($1, $2) AS g
ON CONFLICT DO NOTHING;
SQL
}
psql -q -v ON_ERROR_STOP=1 <<SQL
INSERT INTO products (slug, name, description, price_minor, currency, image_path, stock, active)
SELECT 'bench-product-' || g, 'Bench product ' || g, 'A product of the benchmark.', 100 + g % 10000, 'USD',
       'img/products/placeholder.svg', CASE WHEN g % 50 = 0 THEN 0 ELSE g % 100 END, g % 7 <> 0
FROM generate_series(1, 100000) AS g;
SQL
seed_orders 1 100000
# Crockford's alphabet has no I, L, O or U: fix the numbers md5 made.
psql -q -c "UPDATE orders SET number = translate(number, 'ILOU', '0123') WHERE number ~ '[ILOU]'"
psql -q -c "ANALYZE"

# Signs in: a cookie jar holding the staff session.
jar="$work/cookies"
token="$(curl -fsS -c "$jar" "$base/admin/login" | sed -n 's/.*name="csrf_token" value="\([^"]*\)".*/\1/p' | head -n1)"
curl -fsS -b "$jar" -c "$jar" -o /dev/null --data-urlencode "email=bench@example.com" \
  --data-urlencode "password=$password" --data-urlencode "csrf_token=$token" "$base/admin/login"

# time_page PATH: the median time of RUNS GETs, in ms.
time_page() {
  for _ in $(seq 1 "$runs"); do
    curl -fsS -b "$jar" -o /dev/null -w '%{time_total}\n' "$base$1"
  done | sort -n | awk '{a[NR]=$1} END {printf "%.2f", a[int((NR+1)/2)] * 1000}'
}
later_product="$(psql -Atc "SELECT id FROM products ORDER BY name, id OFFSET 50000 LIMIT 1")"
later_order="$(psql -Atc "SELECT id FROM orders ORDER BY created_at DESC, id DESC OFFSET 50000 LIMIT 1")"
reference="$(time_page /healthz)"
echo "| Page (100,000 products, 100,000 orders) | Median ms | × /healthz |"
echo "|---|---:|---:|"
echo "| GET /healthz (reference) | $reference | 1.0 |"
for path in "/admin/products" "/admin/products?q=product+4242" "/admin/products?after=$later_product" \
            "/admin/orders" "/admin/orders?status=pending" "/admin/orders?q=shopper4242%40" \
            "/admin/orders?after=$later_order" "/admin"; do
  ms="$(time_page "$path")"
  echo "| GET $path | $ms | $(python3 -c "print(f'{$ms / $reference:.1f}')") |"
done

echo
echo "Plans:"
explain() { psql -Atc "EXPLAIN $1" | grep -E 'Scan|Sort|Limit' | sed 's/^ */    /' | head -n 4; }
echo "- product list, first page:"; explain "SELECT id FROM products WHERE archived_at IS NULL ORDER BY name, id LIMIT 51"
echo "- product search:"; explain "SELECT id FROM products WHERE archived_at IS NULL AND (name || ' ' || slug) ILIKE '%product 4242%' ORDER BY name, id LIMIT 51"
echo "- order list, a later page:"; explain "SELECT id FROM orders WHERE (created_at, id) < (SELECT o.created_at, o.id FROM orders o WHERE o.id = $later_order) ORDER BY created_at DESC, id DESC LIMIT 51"
echo "- orders by status:"; explain "SELECT id FROM orders WHERE status = 'pending' ORDER BY created_at DESC, id DESC LIMIT 51"
echo "- orders by email:"; explain "SELECT id FROM orders WHERE lower(email) LIKE '%shopper4242@%' ORDER BY created_at DESC, id DESC LIMIT 51"

[ "${EXPORT:-1}" = 0 ] && exit 0
seed_orders 100001 1000000
psql -q -c "UPDATE orders SET number = translate(number, 'ILOU', '0123') WHERE number ~ '[ILOU]'"
psql -q -c "ANALYZE orders"
rss() { ps -o rss= -p "$app_pid" | tr -d ' '; }
before="$(rss)"
peak="$before"
start="$(date +%s.%N)"
curl -fsS -b "$jar" -o "$work/orders.csv" "$base/admin/orders/export.csv" &
curl_pid=$!
while kill -0 "$curl_pid" 2>/dev/null; do
  now="$(rss)"; [ "$now" -gt "$peak" ] && peak="$now"
  sleep 0.1
done
wait "$curl_pid"
end="$(date +%s.%N)"
after="$(rss)"
echo
echo "| Export of 1,000,000 orders | Value |"
echo "|---|---:|"
echo "| rows | $(($(wc -l <"$work/orders.csv") - 1)) |"
echo "| size | $(du -m "$work/orders.csv" | cut -f1) MB |"
echo "| time | $(python3 -c "print(f'{$end - $start:.1f}')") s |"
echo "| app RSS before / peak / after | $((before / 1024)) / $((peak / 1024)) / $((after / 1024)) MB |"
