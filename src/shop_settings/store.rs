//! The settings and shipping rates in PostgreSQL: read by every checkout and
//! cart page, changed by the back office. Values go in and come out through
//! the domain's types, so nothing unchecked is stored or used.

use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

use super::domain::{
    Country, DeliveryEstimate, RatePrice, ShippingRate, ShippingRateDraft, ShopSettings,
    TaxBehavior,
};
use crate::db::schema::{shipping_rate_prices, shipping_rates, shop_settings};
use crate::money::{Currency, Money};

/// A stored value the domain refuses (changed by hand in SQL): an error,
/// not something to guess about.
fn corrupt(what: &str) -> diesel::result::Error {
    diesel::result::Error::DeserializationError(format!("invalid {what} in the settings").into())
}

/// The settings row as stored: countries, automatic tax, prices include
/// tax, promotion codes.
type SettingsRow = (Vec<String>, bool, bool, bool);

const SETTINGS_COLUMNS: (
    shop_settings::shipping_countries,
    shop_settings::automatic_tax,
    shop_settings::prices_include_tax,
    shop_settings::promotion_codes,
) = (
    shop_settings::shipping_countries,
    shop_settings::automatic_tax,
    shop_settings::prices_include_tax,
    shop_settings::promotion_codes,
);

/// The merchant's settings.
pub async fn settings(conn: &mut AsyncPgConnection) -> QueryResult<ShopSettings> {
    let row: SettingsRow = shop_settings::table
        .select(SETTINGS_COLUMNS)
        .first(conn)
        .await?;
    settings_of(row)
}

/// The merchant's settings, their row locked until the transaction ends:
/// what a change replaces (call in one).
pub async fn lock_settings(conn: &mut AsyncPgConnection) -> QueryResult<ShopSettings> {
    let row: SettingsRow = shop_settings::table
        .select(SETTINGS_COLUMNS)
        .for_update()
        .first(conn)
        .await?;
    settings_of(row)
}

fn settings_of(
    (countries, automatic_tax, prices_include_tax, promotion_codes): SettingsRow,
) -> QueryResult<ShopSettings> {
    let countries = countries
        .iter()
        .map(|code| Country::parse(code).ok_or_else(|| corrupt("country")))
        .collect::<QueryResult<Vec<Country>>>()?;
    ShopSettings::new(
        countries,
        automatic_tax,
        TaxBehavior::from_prices_include_tax(prices_include_tax),
        promotion_codes,
    )
    .map_err(|_| corrupt("countries"))
}

/// Replaces the merchant's settings.
pub async fn update_settings(
    conn: &mut AsyncPgConnection,
    settings: &ShopSettings,
) -> QueryResult<()> {
    let countries: Vec<&str> = settings
        .shipping_countries()
        .iter()
        .map(|country| country.code())
        .collect();
    diesel::update(shop_settings::table)
        .set((
            shop_settings::shipping_countries.eq(countries),
            shop_settings::automatic_tax.eq(settings.automatic_tax),
            shop_settings::prices_include_tax.eq(settings.tax_behavior.prices_include_tax()),
            shop_settings::promotion_codes.eq(settings.promotion_codes),
            shop_settings::updated_at.eq(diesel::dsl::now),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// A rate with one of its prices, as read: id, name, delivery days,
/// active, position; currency, amount, free-over threshold (none without
/// prices).
type RateRow = (
    i64,
    String,
    Option<i32>,
    Option<i32>,
    bool,
    i32,
    Option<String>,
    Option<i64>,
    Option<i64>,
);

/// Every shipping rate, active or not, in position order, with its prices.
pub async fn shipping_rates(conn: &mut AsyncPgConnection) -> QueryResult<Vec<ShippingRate>> {
    let rows: Vec<RateRow> = shipping_rates::table
        .left_join(shipping_rate_prices::table)
        .order_by((
            shipping_rates::position,
            shipping_rates::id,
            shipping_rate_prices::currency.nullable(),
        ))
        .select((
            shipping_rates::id,
            shipping_rates::display_name,
            shipping_rates::min_business_days,
            shipping_rates::max_business_days,
            shipping_rates::active,
            shipping_rates::position,
            shipping_rate_prices::currency.nullable(),
            shipping_rate_prices::amount_minor.nullable(),
            shipping_rate_prices::free_over_minor.nullable(),
        ))
        .load(conn)
        .await?;
    let mut rates: Vec<ShippingRate> = Vec::new();
    for (id, display_name, min, max, active, position, currency, amount, free_over) in rows {
        if rates.last().is_none_or(|rate| rate.id != id) {
            rates.push(ShippingRate {
                id,
                display_name,
                delivery: DeliveryEstimate::from_days(min, max),
                active,
                position,
                prices: Vec::new(),
            });
        }
        if let (Some(currency), Some(amount), Some(rate)) = (currency, amount, rates.last_mut()) {
            rate.prices.push(rate_price(&currency, amount, free_over)?);
        }
    }
    Ok(rates)
}

/// One shipping rate, its row locked until the transaction ends: what a
/// change replaces (call in one). `None` if there is none with this id.
pub async fn lock_shipping_rate(
    conn: &mut AsyncPgConnection,
    id: i64,
) -> QueryResult<Option<ShippingRate>> {
    let locked: Option<i64> = shipping_rates::table
        .find(id)
        .select(shipping_rates::id)
        .for_update()
        .first(conn)
        .await
        .optional()?;
    if locked.is_none() {
        return Ok(None);
    }
    // A shop has a handful of rates: read them all, keep this one.
    let rates = shipping_rates(conn).await?;
    Ok(rates.into_iter().find(|rate| rate.id == id))
}

fn rate_price(currency: &str, amount: i64, free_over: Option<i64>) -> QueryResult<RatePrice> {
    let currency: Currency = currency.parse().map_err(|_| corrupt("currency"))?;
    let money = |minor| Money::new(minor, currency).map_err(|_| corrupt("amount"));
    let free_over = free_over.map(money).transpose()?;
    RatePrice::new(money(amount)?, free_over).map_err(|_| corrupt("shipping price"))
}

/// Adds a shipping rate; returns its id.
pub async fn create_shipping_rate(
    conn: &mut AsyncPgConnection,
    draft: &ShippingRateDraft,
) -> QueryResult<i64> {
    conn.transaction(async |conn| {
        let id: i64 = diesel::insert_into(shipping_rates::table)
            .values(rate_values(draft))
            .returning(shipping_rates::id)
            .get_result(conn)
            .await?;
        insert_prices(conn, id, draft).await?;
        Ok(id)
    })
    .await
}

/// Replaces a shipping rate (its prices too); false if there is none with
/// this id. Orders keep the options they offered as they were.
pub async fn update_shipping_rate(
    conn: &mut AsyncPgConnection,
    id: i64,
    draft: &ShippingRateDraft,
) -> QueryResult<bool> {
    conn.transaction(async |conn| {
        let updated = diesel::update(shipping_rates::table.find(id))
            .set((
                rate_values(draft),
                shipping_rates::updated_at.eq(diesel::dsl::now),
            ))
            .execute(conn)
            .await?;
        if updated == 0 {
            return Ok(false);
        }
        diesel::delete(
            shipping_rate_prices::table.filter(shipping_rate_prices::shipping_rate_id.eq(id)),
        )
        .execute(conn)
        .await?;
        insert_prices(conn, id, draft).await?;
        Ok(true)
    })
    .await
}

/// A rate's own columns, as written.
#[derive(Insertable, AsChangeset)]
#[diesel(table_name = shipping_rates, treat_none_as_null = true)]
struct RateColumns<'a> {
    display_name: &'a str,
    min_business_days: Option<i32>,
    max_business_days: Option<i32>,
    active: bool,
    position: i32,
}

fn rate_values(draft: &ShippingRateDraft) -> RateColumns<'_> {
    let days = |day: fn(DeliveryEstimate) -> u16| draft.delivery.map(|d| i32::from(day(d)));
    RateColumns {
        display_name: &draft.display_name,
        min_business_days: days(DeliveryEstimate::min_business_days),
        max_business_days: days(DeliveryEstimate::max_business_days),
        active: draft.active,
        position: draft.position,
    }
}

async fn insert_prices(
    conn: &mut AsyncPgConnection,
    rate_id: i64,
    draft: &ShippingRateDraft,
) -> QueryResult<()> {
    let rows: Vec<_> = draft
        .prices
        .iter()
        .map(|price| {
            (
                shipping_rate_prices::shipping_rate_id.eq(rate_id),
                shipping_rate_prices::currency.eq(price.currency().code()),
                shipping_rate_prices::amount_minor.eq(price.amount().minor()),
                shipping_rate_prices::free_over_minor.eq(price.free_over().map(Money::minor)),
            )
        })
        .collect();
    diesel::insert_into(shipping_rate_prices::table)
        .values(rows)
        .execute(conn)
        .await?;
    Ok(())
}
