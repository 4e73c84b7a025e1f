//! The audit log: every staff action, who did it, when, and its subject
//! before and after, written in the same transaction as the action.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde_json::Value;

use crate::db::schema::audit_log;

/// Who acted.
#[derive(Debug, Clone, Copy)]
pub enum Actor<'a> {
    Staff {
        id: i64,
        email: &'a str,
    },
    /// `storefront admin ...` on the server.
    CommandLine,
}

impl Actor<'_> {
    pub fn staff_id(&self) -> Option<i64> {
        match self {
            Actor::Staff { id, .. } => Some(*id),
            Actor::CommandLine => None,
        }
    }

    pub fn name(&self) -> &str {
        match self {
            Actor::Staff { email, .. } => email,
            Actor::CommandLine => "command line",
        }
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = audit_log, check_for_backend(diesel::pg::Pg))]
pub struct AuditEntry {
    pub id: i64,
    pub staff_id: Option<i64>,
    pub actor: String,
    pub action: String,
    pub subject: String,
    pub before: Option<Value>,
    pub after: Option<Value>,
    pub created_at: DateTime<Utc>,
}

/// One field an action changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub field: String,
    pub before: String,
    pub after: String,
}

impl AuditEntry {
    /// The fields whose values differ between before and after, by name
    /// (every field of a creation or a deletion).
    pub fn changes(&self) -> Vec<Change> {
        let empty = serde_json::Map::new();
        let object = |value: &Option<Value>| match value {
            Some(Value::Object(map)) => map.clone(),
            _ => empty.clone(),
        };
        let (before, after) = (object(&self.before), object(&self.after));
        let mut fields: Vec<&String> = before.keys().chain(after.keys()).collect();
        fields.sort();
        fields.dedup();
        fields
            .into_iter()
            .filter(|field| before.get(*field) != after.get(*field))
            .map(|field| Change {
                field: field.replace('_', " "),
                before: before.get(field).map(shown).unwrap_or_default(),
                after: after.get(field).map(shown).unwrap_or_default(),
            })
            .collect()
    }
}

/// A JSON value as people read it: strings without their quotes.
fn shown(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Null => "none".to_owned(),
        other => other.to_string(),
    }
}

/// What an audit listing shows: everything, or one staff member's or one
/// subject's actions.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub staff_id: Option<i64>,
    pub subject: Option<String>,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn changes_list_the_fields_that_differ() {
        let entry = AuditEntry {
            id: 1,
            staff_id: Some(1),
            actor: "alice@example.com".into(),
            action: "product.updated".into(),
            subject: "product:1".into(),
            before: Some(json!({"name": "Mug", "price": "24.00", "active": true})),
            after: Some(json!({"name": "Mug", "price": "26.00", "active": false, "slug": "mug"})),
            created_at: Utc::now(),
        };
        let changes = entry.changes();
        assert_eq!(
            changes,
            [
                Change {
                    field: "active".into(),
                    before: "true".into(),
                    after: "false".into()
                },
                Change {
                    field: "price".into(),
                    before: "24.00".into(),
                    after: "26.00".into()
                },
                Change {
                    field: "slug".into(),
                    before: "".into(),
                    after: "mug".into()
                },
            ]
        );
    }
}
