//! Raw SQL that is prepared once per connection.

use std::marker::PhantomData;

use diesel::QueryResult;
use diesel::pg::Pg;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::serialize::ToSql;
use diesel::sql_types::{HasSqlType, Untyped};

/// A fixed SQL statement with numbered parameters (`$1`, `$2`, ... in the
/// order of the `bind` calls), for what diesel's DSL cannot say: CTEs,
/// conditional upserts. Read it with `QueryableByName` rows, like
/// `diesel::sql_query`; but where `sql_query` prepares (one more round trip)
/// and plans its text again on every call, a `Statement` is prepared once
/// per connection and its plan reused. On the hot paths, planning cost more
/// than running. The text must not use dollar quoting.
#[derive(Debug, Clone, Copy)]
pub struct Statement<B = ()> {
    sql: &'static str,
    binds: B,
}

/// One bound parameter, after the ones before it.
#[derive(Debug, Clone, Copy)]
pub struct Param<Before, ST, V> {
    before: Before,
    value: V,
    sql_type: PhantomData<ST>,
}

impl Statement {
    pub const fn new(sql: &'static str) -> Statement {
        Statement { sql, binds: () }
    }
}

impl<B: Binds> Statement<B> {
    pub fn bind<ST, V>(self, value: V) -> Statement<Param<B, ST, V>> {
        Statement {
            sql: self.sql,
            binds: Param {
                before: self.binds,
                value,
                sql_type: PhantomData,
            },
        }
    }
}

/// The parameters bound so far, found by their number.
pub trait Binds {
    const COUNT: usize;

    /// Writes parameter `index` (0-based) where the text refers to it.
    fn walk<'b>(&'b self, index: usize, out: AstPass<'_, 'b, Pg>) -> QueryResult<()>;
}

impl Binds for () {
    const COUNT: usize = 0;

    fn walk<'b>(&'b self, index: usize, _out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        Err(diesel::result::Error::QueryBuilderError(
            format!(
                "the statement uses ${} but binds fewer parameters",
                index + 1
            )
            .into(),
        ))
    }
}

impl<Before, ST, V> Binds for Param<Before, ST, V>
where
    Before: Binds,
    Pg: HasSqlType<ST>,
    V: ToSql<ST, Pg>,
{
    const COUNT: usize = Before::COUNT + 1;

    fn walk<'b>(&'b self, index: usize, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        if index + 1 == Self::COUNT {
            out.push_bind_param::<ST, V>(&self.value)
        } else {
            self.before.walk(index, out)
        }
    }
}

impl<B: Binds> QueryFragment<Pg> for Statement<B> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        // diesel writes each placeholder itself (and collects its value), so
        // every `$n` in the text is replaced by parameter n, renumbered in
        // order of appearance: a parameter used twice is sent twice.
        let mut rest = self.sql;
        while let Some(dollar) = rest.find('$') {
            out.push_sql(&rest[..dollar]);
            let after = &rest[dollar + 1..];
            let digits = after.bytes().take_while(u8::is_ascii_digit).count();
            match after[..digits].parse::<usize>() {
                Ok(n) if n >= 1 => self.binds.walk(n - 1, out.reborrow())?,
                _ => {
                    return Err(diesel::result::Error::QueryBuilderError(
                        format!("a `$` without a parameter number in: {}", self.sql).into(),
                    ));
                }
            }
            rest = &after[digits..];
        }
        out.push_sql(rest);
        Ok(())
    }
}

impl<B> QueryId for Statement<B> {
    type QueryId = ();
    // All statements share a type: the statement cache keys them by their text.
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<B> Query for Statement<B> {
    type SqlType = Untyped;
}

#[cfg(test)]
mod tests {
    use diesel::debug_query;
    use diesel::pg::PgQueryBuilder;
    use diesel::sql_types::{BigInt, Text};

    use super::*;

    #[test]
    fn parameters_are_renumbered_in_order_of_appearance() {
        let statement = Statement::new("SELECT $2 || $1 WHERE $2 <> '' AND id = $1")
            .bind::<BigInt, _>(7_i64)
            .bind::<Text, _>("x");
        assert_eq!(
            debug_query::<Pg, _>(&statement).to_string(),
            r#"SELECT $1 || $2 WHERE $3 <> '' AND id = $4 -- binds: ["x", 7, "x", 7]"#
        );
    }

    #[test]
    fn a_missing_parameter_or_a_stray_dollar_is_an_error_not_a_panic() {
        for sql in ["SELECT $2", "SELECT $1 || '$'"] {
            let statement = Statement::new(sql).bind::<BigInt, _>(1_i64);
            let mut builder = PgQueryBuilder::default();
            assert!(statement.to_sql(&mut builder, &Pg).is_err(), "{sql}");
        }
    }
}
