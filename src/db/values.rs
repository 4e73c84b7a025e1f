//! How domain values with rules are stored: as their text in PostgreSQL
//! (`TEXT` columns with a CHECK), read back through their one parse.

use diesel::deserialize::{self, FromSql, Queryable};
use diesel::pg::{Pg, PgValue};
use diesel::sql_types::Text;

use crate::ledger::domain::PaymentStatus;
use crate::mail::domain::{MailStatus, MessageKind};
use crate::money::Currency;
use crate::orders::domain::OrderStatus;

/// Reads a value stored as text with `parse`, which names what it refused.
fn from_text<T>(
    value: PgValue<'_>,
    parse: impl FnOnce(&str) -> Result<T, String>,
) -> deserialize::Result<T> {
    let text = <String as FromSql<Text, Pg>>::from_sql(value)?;
    parse(&text).map_err(Into::into)
}

/// Lets a text-stored value be a field of a `Queryable` row (what
/// `#[derive(FromSqlRow)]` would write on the domain type).
macro_rules! queryable_as_text {
    ($($value:ty),*) => {$(
        impl Queryable<Text, Pg> for $value {
            type Row = Self;

            fn build(row: Self) -> deserialize::Result<Self> {
                Ok(row)
            }
        }
    )*};
}

queryable_as_text!(
    Currency,
    OrderStatus,
    PaymentStatus,
    MailStatus,
    MessageKind
);

impl FromSql<Text, Pg> for Currency {
    fn from_sql(value: PgValue<'_>) -> deserialize::Result<Self> {
        from_text(value, |text| text.parse().map_err(|e| format!("{e}")))
    }
}

impl FromSql<Text, Pg> for OrderStatus {
    fn from_sql(value: PgValue<'_>) -> deserialize::Result<Self> {
        from_text(value, OrderStatus::parse)
    }
}

impl FromSql<Text, Pg> for PaymentStatus {
    fn from_sql(value: PgValue<'_>) -> deserialize::Result<Self> {
        from_text(value, PaymentStatus::parse)
    }
}

impl FromSql<Text, Pg> for MailStatus {
    fn from_sql(value: PgValue<'_>) -> deserialize::Result<Self> {
        from_text(value, MailStatus::parse)
    }
}

impl FromSql<Text, Pg> for MessageKind {
    fn from_sql(value: PgValue<'_>) -> deserialize::Result<Self> {
        from_text(value, MessageKind::parse)
    }
}
