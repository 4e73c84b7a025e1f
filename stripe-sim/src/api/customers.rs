//! `/v1/customers` and a customer's saved payment methods.

use serde_json::Value;

use super::common::email_param;
use super::expand::expand;
use super::list::{LIST_PARAMS, page};
use crate::error::ApiError;
use crate::form::Params;
use crate::model::Customer;
use crate::state::{State, find};

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
    let items = st
        .customers
        .iter()
        .rev()
        .filter(|c| email.is_none_or(|e| c.email.as_deref() == Some(e)))
        .map(|c| (c.id.clone(), c.to_json()))
        .collect();
    let list = page(p, "/v1/customers", "customer", items)?;
    expand(st, p, list)
}

pub fn retrieve(st: &State, p: &Params, id: &str) -> Result<Value, ApiError> {
    p.check_allowed(&["expand[N]"])?;
    let customer =
        find(&st.customers, id).ok_or_else(|| ApiError::no_such("customer", id, "id", true))?;
    expand(st, p, customer.to_json())
}

pub fn payment_methods(st: &State, p: &Params, id: &str) -> Result<Value, ApiError> {
    let mut allowed = LIST_PARAMS.to_vec();
    allowed.push("type");
    p.check_allowed(&allowed)?;
    p.field("type").opt_enum(&["card"])?;
    if find(&st.customers, id).is_none() {
        return Err(ApiError::no_such("customer", id, "customer", true));
    }
    let items = st
        .payment_methods
        .iter()
        .rev()
        .filter(|pm| pm.customer.as_deref() == Some(id))
        .map(|pm| (pm.id.clone(), pm.to_json()))
        .collect();
    let url = format!("/v1/customers/{id}/payment_methods");
    let list = page(p, &url, "payment_method", items)?;
    expand(st, p, list)
}
