//! Staff and signing in: accounts (managed from the command line), argon2id
//! passwords, sessions kept in PostgreSQL, limits on failed sign-ins, and
//! the middleware that keeps every back-office page behind a sign-in.

pub mod accounts;
pub mod domain;
pub mod http;
pub mod passwords;
pub mod sign_in;
pub mod store;
