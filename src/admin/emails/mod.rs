//! The shop's emails in the back office: every message of the outbox with
//! where it stands, and "Send again".

pub mod http;
pub mod send_again;
