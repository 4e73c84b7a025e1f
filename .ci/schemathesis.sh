#!/usr/bin/env bash
# Schema-driven fuzzing of the payments API: schemathesis generates requests
# from the served OpenAPI document (valid and invalid ones) and fails the run
# if any answer is a 5xx. Starts the app with `cargo run` on a throwaway
# DATA_DIR (its own private PostgreSQL and the in-process Stripe simulator),
# creates an API key, an account with a saved card and two payments, one of
# them asynchronous (ids the fuzzer then uses most of the time), fuzzes
# within a time budget, then stops the app.
#
# Needs: schemathesis 4.32 or later 4.x (`python3 -m pip install 'schemathesis>=4.32,<5'`,
# for dictionaries), curl, psql.
# SCHEMATHESIS_MAX_EXAMPLES (default 100) bounds the cases per operation and
# phase; SCHEMATHESIS_TIMEOUT (seconds, default 600) bounds the whole run.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/storefront-target}"
max_examples="${SCHEMATHESIS_MAX_EXAMPLES:-100}"
run_timeout="${SCHEMATHESIS_TIMEOUT:-600}"

work="$(mktemp -d "${TMPDIR:-/tmp}/storefront-schemathesis.XXXXXX")"
# Run as root, the private cluster runs as the postgres user, which must reach it.
chmod 755 "$work"
. tests/support/lib.sh
port="$(free_port)"
base="http://127.0.0.1:$port"
# The fuzzer sends thousands of writes from one address: no rate limits here.
export DATA_DIR="$work/data" BIND="127.0.0.1:$port" METRICS_BIND=127.0.0.1:0 RUST_LOG="${RUST_LOG:-warn}" RATE_LIMIT_PER_MINUTE=0

cargo build --quiet --bin storefront
# The key first: the command starts the private cluster and stops it again.
key="$(cargo run --quiet --bin storefront -- api-key create --name schemathesis 2>/dev/null | grep '^sk_store_' | tail -n1)"
[ -n "$key" ] || { echo "could not create an API key" >&2; exit 1; }

cargo run --quiet --bin storefront >"$work/app.log" 2>&1 &
app=$!
stop_app() {
  stop "$app"
  rm -rf "$work"
}
trap stop_app EXIT

schema="$work/openapi.json"
wait_for "$base/api/v1/openapi.json" "$app" "$work/app.log" -H "Authorization: Bearer $key"
curl -fsS -H "Authorization: Bearer $key" "$base/api/v1/openapi.json" -o "$schema"

# Real ids, so that generated requests also get past "not found" into the
# debit and history code: an account with a saved card and two of its
# payments, one debited at once and one queued (`"confirm": "async"`). Most
# generated cases use them; the rest stay random.
account="$(bash tests/support/saved-card-account.sh "$base" "$DATA_DIR")"
debit() { # idempotency key, then extra JSON fields
  curl -fsS -H "Authorization: Bearer $key" -H 'Content-Type: application/json' \
    -H "Idempotency-Key: $1" \
    -d "{\"account_id\":\"$account\",\"amount\":\"4.20\",\"currency\":\"usd\"$2}" \
    "$base/api/v1/payments" | python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])'
}
payment="$(debit schemathesis-seed '')"
queued="$(debit schemathesis-seed-async ',"confirm":"async"')"
cat >"$work/schemathesis.toml" <<TOML
[dictionaries.accounts]
values = ["$account"]

[dictionaries.payments]
values = ["$payment", "$queued"]

[parameters]
"path.account_id" = { dictionary = "accounts", probability = 0.7 }
"body.account_id" = { dictionary = "accounts", probability = 0.7 }
"path.id" = { dictionary = "payments", probability = 0.7 }
TOML

status=0
# From the scratch directory: schemathesis keeps a cache in the working directory.
cd "$work"
timeout "$run_timeout" schemathesis --config-file "$work/schemathesis.toml" run "$schema" \
  --url "$base" \
  --header "Authorization: Bearer $key" \
  --checks not_a_server_error \
  --max-examples "$max_examples" \
  --request-timeout 30 \
  --generation-database none \
  --no-color || status=$?
cd - >/dev/null

if grep -q '"level":"ERROR"\| ERROR ' "$work/app.log"; then
  echo "--- errors logged by the app during the run:" >&2
  grep '"level":"ERROR"\| ERROR ' "$work/app.log" | head -20 >&2
fi
exit "$status"
