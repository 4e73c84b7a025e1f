//! The back office's order queries.

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::db::schema::order_issues;

/// How many orders need a person (open issues).
pub async fn open_issue_count(conn: &mut AsyncPgConnection) -> QueryResult<i64> {
    order_issues::table
        .filter(order_issues::resolved_at.is_null())
        .count()
        .get_result(conn)
        .await
}
