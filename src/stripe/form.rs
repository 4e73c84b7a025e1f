//! Stripe's request encoding: `application/x-www-form-urlencoded` with nested
//! keys in brackets (`line_items[0][price_data][currency]=usd`).

/// An ordered list of form fields. Empty values are never sent: Stripe reads
/// an empty value as "unset" and rejects it where a value is required.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Form(Vec<(String, String)>);

impl Form {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn field(mut self, key: impl Into<String>, value: impl ToString) -> Self {
        let value = value.to_string();
        if !value.is_empty() {
            self.0.push((key.into(), value));
        }
        self
    }

    pub fn optional(self, key: impl Into<String>, value: Option<impl ToString>) -> Self {
        match value {
            Some(value) => self.field(key, value),
            None => self,
        }
    }

    /// Fields of `nested` under `prefix`: `prefix[key]`, or `prefix[outer][inner]` for
    /// an already-nested key `outer[inner]`.
    pub fn nest(mut self, prefix: &str, nested: Form) -> Self {
        for (key, value) in nested.0 {
            let key = match key.split_once('[') {
                Some((head, rest)) => format!("{prefix}[{head}][{rest}"),
                None => format!("{prefix}[{key}]"),
            };
            self.0.push((key, value));
        }
        self
    }

    pub fn encode(&self) -> String {
        serde_urlencoded::to_string(&self.0).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_nested_keys_with_brackets_and_skips_empty_values() {
        let line = Form::new()
            .field("quantity", 2)
            .nest(
                "price_data",
                Form::new()
                    .field("currency", "usd")
                    .field("unit_amount", 2400),
            )
            .nest(
                "price_data",
                Form::new().nest("product_data", Form::new().field("name", "Mug & co")),
            );
        let form = Form::new()
            .field("mode", "payment")
            .field("customer_email", "")
            .optional("client_reference_id", None::<String>)
            .nest("line_items[0]", line);

        assert_eq!(
            form.encode(),
            "mode=payment&line_items%5B0%5D%5Bquantity%5D=2\
             &line_items%5B0%5D%5Bprice_data%5D%5Bcurrency%5D=usd\
             &line_items%5B0%5D%5Bprice_data%5D%5Bunit_amount%5D=2400\
             &line_items%5B0%5D%5Bprice_data%5D%5Bproduct_data%5D%5Bname%5D=Mug+%26+co"
        );
    }
}
