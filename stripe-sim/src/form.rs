//! Stripe's form encoding: `a[b][0][c]=v` nests into a JSON tree whose leaves are
//! strings; numeric indices and `[]` make arrays. Typed accessors turn leaves into
//! integers, booleans and enums with Stripe's error messages.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::error::ApiError;

/// Parsed request parameters: the raw keys (for the unknown-parameter check) and the tree.
#[derive(Debug)]
pub struct Params {
    keys: Vec<String>,
    tree: Value,
}

enum Node {
    Leaf(String),
    Object(BTreeMap<String, Node>),
    Array(BTreeMap<u64, Node>),
}

/// `a[b][0]` → `["a", "b", "0"]`; `None` when the brackets are unbalanced.
fn split_key(key: &str) -> Option<Vec<&str>> {
    let Some(open) = key.find('[') else {
        return Some(vec![key]);
    };
    let (root, mut rest) = key.split_at(open);
    if root.is_empty() {
        return None;
    }
    let mut segments = vec![root];
    while !rest.is_empty() {
        let inner = rest.strip_prefix('[')?;
        let close = inner.find(']')?;
        segments.push(&inner[..close]);
        rest = &inner[close + 1..];
    }
    Some(segments)
}

fn is_index(segment: &str) -> bool {
    segment.is_empty() || segment.bytes().all(|b| b.is_ascii_digit())
}

impl Node {
    fn empty() -> Self {
        Node::Object(BTreeMap::new())
    }

    /// Walks `segments` below this node, creating hashes and arrays as needed.
    fn insert(&mut self, segments: &[&str], value: String, key: &str) -> Result<(), ApiError> {
        let Some((first, rest)) = segments.split_first() else {
            if matches!(self, Node::Leaf(_)) || is_empty_object(self) {
                *self = Node::Leaf(value);
                return Ok(());
            }
            return Err(conflict(key));
        };
        // A fresh placeholder takes the shape its first index asks for.
        if is_empty_object(self) && is_index(first) {
            *self = Node::Array(BTreeMap::new());
        }
        let child = match self {
            Node::Object(map) if !is_index(first) => {
                map.entry((*first).to_owned()).or_insert_with(Node::empty)
            }
            Node::Array(items) if is_index(first) => {
                let index = if first.is_empty() {
                    items.keys().next_back().map_or(0, |last| last + 1)
                } else {
                    first
                        .parse()
                        .map_err(|_| ApiError::invalid_param(key, "Invalid array index"))?
                };
                items.entry(index).or_insert_with(Node::empty)
            }
            Node::Leaf(_) | Node::Object(_) | Node::Array(_) => return Err(conflict(key)),
        };
        child.insert(rest, value, key)
    }

    fn into_value(self) -> Value {
        match self {
            Node::Leaf(s) => Value::String(s),
            Node::Object(map) => {
                Value::Object(map.into_iter().map(|(k, v)| (k, v.into_value())).collect())
            }
            Node::Array(items) => Value::Array(items.into_values().map(Node::into_value).collect()),
        }
    }
}

fn conflict(key: &str) -> ApiError {
    ApiError::invalid_param(
        key,
        format!(
            "Invalid value for {key}: it is used as more than one of a value, a hash and an array"
        ),
    )
}

fn is_empty_object(node: &Node) -> bool {
    matches!(node, Node::Object(map) if map.is_empty())
}

impl Params {
    /// Parses `application/x-www-form-urlencoded` bytes (a body or a query string).
    pub fn parse(input: &[u8]) -> Result<Self, ApiError> {
        let mut root: BTreeMap<String, Node> = BTreeMap::new();
        let mut keys = Vec::new();
        for (key, value) in form_urlencoded::parse(input) {
            let segments = split_key(&key).ok_or_else(|| {
                ApiError::invalid_param(&key, format!("Invalid parameter name: {key}"))
            })?;
            root.entry(segments[0].to_owned())
                .or_insert_with(Node::empty)
                .insert(&segments[1..], value.into_owned(), &key)?;
            keys.push(key.into_owned());
        }
        let tree = root.into_iter().map(|(k, v)| (k, v.into_value())).collect();
        Ok(Self {
            keys,
            tree: Value::Object(tree),
        })
    }

    /// The tree, compared to detect an idempotency key reused with other parameters.
    pub fn tree(&self) -> &Value {
        &self.tree
    }

    /// Rejects any key not matching one of `allowed`, where `N` stands for an array
    /// index and `*` for any hash key: `line_items[N][quantity]`, `metadata[*]`.
    pub fn check_allowed(&self, allowed: &[&str]) -> Result<(), ApiError> {
        for key in &self.keys {
            let segments = split_key(key).unwrap_or_default();
            let known = allowed.iter().any(|pattern| {
                let pattern = split_key(pattern).unwrap_or_default();
                pattern.len() == segments.len()
                    && pattern.iter().zip(&segments).all(|(p, s)| match *p {
                        "N" => is_index(s),
                        "*" => true,
                        p => p == *s,
                    })
            });
            if !known {
                return Err(ApiError::unknown_param(key));
            }
        }
        Ok(())
    }

    /// All parameters as one hash, for what other endpoints take nested
    /// (a shipping rate's fields are also a session's `shipping_rate_data`).
    pub fn root(&self) -> Field<'_> {
        Field {
            path: String::new(),
            value: Some(&self.tree),
        }
    }

    pub fn field(&self, name: &str) -> Field<'_> {
        Field {
            path: name.to_owned(),
            value: self.tree.get(name),
        }
    }
}

/// One parameter (possibly absent), named by its full bracketed path for errors.
pub struct Field<'a> {
    path: String,
    value: Option<&'a Value>,
}

impl<'a> Field<'a> {
    pub fn path(&self) -> &str {
        &self.path
    }

    pub fn is_present(&self) -> bool {
        self.value.is_some()
    }

    pub fn child(&self, key: &str) -> Field<'a> {
        let path = if self.path.is_empty() {
            key.to_owned()
        } else {
            format!("{}[{key}]", self.path)
        };
        Field {
            path,
            value: self.value.and_then(|v| v.get(key)),
        }
    }

    /// Array elements; a string where an array belongs is Stripe's "Invalid array".
    pub fn items(&self) -> Result<Vec<Field<'a>>, ApiError> {
        match self.value {
            None => Ok(Vec::new()),
            Some(Value::Array(items)) => Ok(items
                .iter()
                .enumerate()
                .map(|(i, value)| Field {
                    path: format!("{}[{i}]", self.path),
                    value: Some(value),
                })
                .collect()),
            Some(_) => Err(ApiError::invalid_param(&self.path, "Invalid array")),
        }
    }

    pub fn opt_str(&self) -> Result<Option<&'a str>, ApiError> {
        match self.value {
            None => Ok(None),
            Some(Value::String(s)) if s.is_empty() => Err(ApiError::empty_param(&self.path)),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(ApiError::invalid_param(
                &self.path,
                format!("Invalid string: {}", self.path),
            )),
        }
    }

    pub fn req_str(&self) -> Result<&'a str, ApiError> {
        self.opt_str()?
            .ok_or_else(|| ApiError::missing_param(&self.path))
    }

    pub fn opt_string(&self) -> Result<Option<String>, ApiError> {
        Ok(self.opt_str()?.map(str::to_owned))
    }

    /// A string of at most `max` characters.
    pub fn opt_bounded(&self, max: usize) -> Result<Option<String>, ApiError> {
        match self.opt_str()? {
            Some(s) if s.chars().count() > max => Err(ApiError::invalid_param(
                &self.path,
                format!("Invalid string: {s}; must be at most {max} characters"),
            )),
            other => Ok(other.map(str::to_owned)),
        }
    }

    pub fn opt_int(&self) -> Result<Option<i64>, ApiError> {
        match self.opt_str()? {
            None => Ok(None),
            Some(s) => s.parse().map(Some).map_err(|_| {
                ApiError::invalid_param(&self.path, format!("Invalid integer: {s}"))
                    .with_code("parameter_invalid_integer")
            }),
        }
    }

    /// An integer that must be at least `min`.
    pub fn opt_int_min(&self, min: i64) -> Result<Option<i64>, ApiError> {
        match self.opt_int()? {
            Some(n) if n < min => Err(ApiError::invalid_param(
                &self.path,
                format!("This value must be greater than or equal to {min}."),
            )),
            other => Ok(other),
        }
    }

    pub fn opt_bool(&self) -> Result<Option<bool>, ApiError> {
        match self.opt_str()? {
            None => Ok(None),
            Some("true") => Ok(Some(true)),
            Some("false") => Ok(Some(false)),
            Some(s) => Err(ApiError::invalid_param(
                &self.path,
                format!("Invalid boolean: {s}"),
            )),
        }
    }

    pub fn opt_enum(&self, allowed: &[&'static str]) -> Result<Option<&'static str>, ApiError> {
        let Some(s) = self.opt_str()? else {
            return Ok(None);
        };
        allowed
            .iter()
            .copied()
            .find(|a| *a == s)
            .map(Some)
            .ok_or_else(|| {
                ApiError::invalid_param(
                    &self.path,
                    format!("Invalid {}: must be one of {}", self.path, one_of(allowed)),
                )
            })
    }

    pub fn string_list(&self) -> Result<Vec<String>, ApiError> {
        self.items()?
            .iter()
            .map(|item| item.req_str().map(str::to_owned))
            .collect()
    }

    /// Metadata within Stripe's limits: 50 keys, keys up to 40 and values up to 500 characters.
    pub fn metadata(&self) -> Result<Map<String, Value>, ApiError> {
        let entries: Vec<(String, &Value)> = match self.value {
            None => return Ok(Map::new()),
            Some(Value::Object(map)) => map.iter().map(|(k, v)| (k.clone(), v)).collect(),
            // `metadata[0]=x` parses as an array; metadata keys are free-form strings.
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, v)| (i.to_string(), v))
                .collect(),
            Some(_) => return Err(ApiError::invalid_param(&self.path, "Invalid object")),
        };
        if entries.len() > 50 {
            return Err(ApiError::invalid_param(
                &self.path,
                format!(
                    "Invalid {}: metadata can have up to 50 keys, but you passed in {} keys.",
                    self.path,
                    entries.len()
                ),
            ));
        }
        let mut out = Map::new();
        for (key, value) in entries {
            let path = format!("{}[{key}]", self.path);
            if key.chars().count() > 40 {
                return Err(ApiError::invalid_param(
                    &path,
                    "Metadata keys can have up to 40 characters.",
                ));
            }
            let Value::String(value) = value else {
                return Err(ApiError::invalid_param(&path, "Invalid string"));
            };
            if value.chars().count() > 500 {
                return Err(ApiError::invalid_param(
                    &path,
                    format!(
                        "Metadata values can have up to 500 characters, but you passed in a \
                         value that is {} characters.",
                        value.chars().count()
                    ),
                ));
            }
            out.insert(key, Value::String(value.clone()));
        }
        Ok(out)
    }
}

/// "a, b, or c", as Stripe words its enum errors.
fn one_of(allowed: &[&str]) -> String {
    match allowed {
        [] => String::new(),
        [only] => (*only).to_owned(),
        [a, b] => format!("{a} or {b}"),
        [init @ .., last] => format!("{}, or {last}", init.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn nests_hashes_and_arrays() {
        let params = Params::parse(
            b"mode=payment&line_items[0][price_data][product_data][name]=Tee+shirt\
              &line_items[0][quantity]=2&line_items[1][quantity]=1\
              &expand[]=line_items&expand[]=payment_intent&metadata[order_id]=42",
        )
        .unwrap();
        assert_eq!(
            params.tree(),
            &json!({
                "mode": "payment",
                "line_items": [
                    {"price_data": {"product_data": {"name": "Tee shirt"}}, "quantity": "2"},
                    {"quantity": "1"}
                ],
                "expand": ["line_items", "payment_intent"],
                "metadata": {"order_id": "42"}
            })
        );
    }

    #[test]
    fn percent_decodes_brackets_in_keys() {
        let params = Params::parse(b"metadata%5Border%5D=a%26b").unwrap();
        assert_eq!(params.tree(), &json!({"metadata": {"order": "a&b"}}));
    }

    #[test]
    fn sparse_indices_keep_their_order() {
        let params = Params::parse(b"a[10]=x&a[2]=y").unwrap();
        assert_eq!(params.tree(), &json!({"a": ["y", "x"]}));
    }

    #[test]
    fn rejects_a_value_that_is_also_a_hash() {
        let err = Params::parse(b"a=1&a[b]=2").unwrap_err();
        assert_eq!(err.param.as_deref(), Some("a[b]"));
        assert!(Params::parse(b"[a]=1").is_err());
        assert!(Params::parse(b"a[b=1").is_err());
    }

    #[test]
    fn unknown_keys_are_named_as_sent() {
        let params = Params::parse(b"line_items[0][quantity]=1&line_items[0][colour]=red").unwrap();
        let err = params
            .check_allowed(&["line_items[N][quantity]", "metadata[*]"])
            .unwrap_err();
        assert_eq!(
            err.message,
            "Received unknown parameter: line_items[0][colour]"
        );
        assert_eq!(err.code, Some("parameter_unknown"));
    }

    #[test]
    fn typed_accessors_report_the_full_path() {
        let params = Params::parse(b"line_items[0][quantity]=two&customer_email=").unwrap();
        let quantity = params.field("line_items").items().unwrap()[0].child("quantity");
        let err = quantity.opt_int().unwrap_err();
        assert_eq!(err.param.as_deref(), Some("line_items[0][quantity]"));
        assert_eq!(err.message, "Invalid integer: two");
        let err = params.field("customer_email").opt_str().unwrap_err();
        assert_eq!(err.code, Some("parameter_invalid_empty"));
    }

    #[test]
    fn enum_errors_list_the_choices() {
        let params = Params::parse(b"customer_creation=sometimes").unwrap();
        let err = params
            .field("customer_creation")
            .opt_enum(&["always", "if_required"])
            .unwrap_err();
        assert_eq!(
            err.message,
            "Invalid customer_creation: must be one of always or if_required"
        );
    }
}
