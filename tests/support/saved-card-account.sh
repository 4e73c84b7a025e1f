#!/usr/bin/env bash
# Usage: saved-card-account.sh BASE_URL DATA_DIR
# A shopper buys a mug on the running app at BASE_URL with "Save my card for
# next time", paying 4242 on the simulator's hosted page; prints the id
# (acct_...) of the account that now has a saved card, read from the app's
# private cluster under DATA_DIR. Used by the benchmarks and the API fuzzer.
# Needs curl and psql.
set -euo pipefail
base="$1" data_dir="$2"

jar="$(mktemp)"
trap 'rm -f "$jar"' EXIT
csrf="$(curl -fsS -c "$jar" -b "$jar" "$base/products/aurora-ceramic-mug" |
  sed -n 's/.*name="csrf_token" value="\([^"]*\)".*/\1/p' | head -n1)"
pay_url="$(curl -fsS -o /dev/null -w '%{redirect_url}' -c "$jar" -b "$jar" \
  --data-urlencode "csrf_token=$csrf" -d product=aurora-ceramic-mug -d quantity=1 -d save_card=1 \
  "$base/checkout/express")"
action="$(curl -fsS "$pay_url" | sed -n 's/.*<form[^>]*action="\([^"]*\)".*/\1/p' | head -n1)"
action="${action:-$pay_url}"
# The mug ships: the page asks for an address (in the sample shop's countries).
success_url="$(curl -sS -o /dev/null -w '%{redirect_url}' \
  -d email=saved-card@example.com -d card_number=4242424242424242 -d exp_month=12 -d exp_year=34 \
  -d cvc=123 -d name=Shopper -d shipping_name=Shopper -d "shipping_line1=1 Market St" \
  -d "shipping_city=San Francisco" -d shipping_state=CA -d shipping_postal_code=94105 \
  -d shipping_country=US "$action")"
curl -fsS -o /dev/null -c "$jar" -b "$jar" "$success_url"

PGHOST=127.0.0.1 PGPORT="$(sed -n 4p "$data_dir/postgres/postmaster.pid")" PGUSER=storefront PGDATABASE=storefront \
  PGPASSWORD="$(cat "$data_dir/postgres.password")" \
  psql -Atqc "SELECT id FROM accounts WHERE email = 'saved-card@example.com' ORDER BY created_at DESC LIMIT 1" |
  grep . || { echo "no account with a saved card" >&2; exit 1; }
