//! `/v1/customers` and a customer's saved payment methods.

use serde_json::Value;

use super::common::email_param;
use super::expand::expand;
use super::list::{LIST_PARAMS, page};
use crate::error::ApiError;
use crate::form::Params;
use crate::model::{Customer, PaymentMethod};
use crate::state::State;

pub fn create(st: &mut State, p: &Params) -> Result<Value, ApiError> {
    p.check_allowed(&[
        "email",
        "name",
        "phone",
        "description",
        "metadata[*]",
        "expand[N]",
    ])?;
    let email = email_param(&p.field("email"))?;
    let name = p.field("name").opt_bounded(256)?;
    let phone = p.field("phone").opt_bounded(20)?;
    let description = p.field("description").opt_bounded(350)?;
    let metadata = p.field("metadata").metadata()?;
    let customer = Customer {
        phone,
        description,
        metadata,
        ..Customer::new(st.now(), email, name)
    };
    let json = customer.to_json();
    st.add_customer(customer);
    expand(st, p, json)
}

pub fn list(st: &State, p: &Params) -> Result<Value, ApiError> {
    let mut allowed = LIST_PARAMS.to_vec();
    allowed.push("email");
    p.check_allowed(&allowed)?;
    // Stripe's email filter is an exact, case-sensitive match.
    let email = p.field("email").opt_str()?;
    let by = email.map(|e| ("email", e));
    let list = page(
        p,
        "/v1/customers",
        |cursor| st.customers.walk(cursor, "customer", by, |_| true),
        Customer::to_json,
    )?;
    expand(st, p, list)
}

pub fn retrieve(st: &State, p: &Params, id: &str) -> Result<Value, ApiError> {
    p.check_allowed(&["expand[N]"])?;
    let customer = st
        .customers
        .get(id)
        .ok_or_else(|| ApiError::no_such("customer", id, "id", true))?;
    expand(st, p, customer.to_json())
}

pub fn payment_methods(st: &State, p: &Params, id: &str) -> Result<Value, ApiError> {
    let mut allowed = LIST_PARAMS.to_vec();
    allowed.push("type");
    p.check_allowed(&allowed)?;
    p.field("type").opt_enum(&["card"])?;
    if st.customers.get(id).is_none() {
        return Err(ApiError::no_such("customer", id, "customer", true));
    }
    let url = format!("/v1/customers/{id}/payment_methods");
    let by = Some(("customer", id));
    let list = page(
        p,
        &url,
        |cursor| {
            st.payment_methods
                .walk(cursor, "payment_method", by, |_| true)
        },
        PaymentMethod::to_json,
    )?;
    expand(st, p, list)
}
