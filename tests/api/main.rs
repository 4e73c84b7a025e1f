//! Integration tests: the real app on a real port, a real PostgreSQL database
//! per test (cloned from a migrated, seeded template), a real HTTP client.

mod admin;
mod bank_debits;
mod batch;
mod browse;
mod cart;
mod cart_limits;
mod catalog;
mod checkout;
mod checkout_guards;
mod checkout_recovery;
mod cluster;
mod db_tier;
mod db_tls;
mod faults;
mod health;
mod helpers;
mod logs;
mod mail;
mod multinode;
mod multinode_burst;
mod payments_api;
mod receiver;
mod search;
mod search_cache;
mod shipping;
mod smtp;
mod start_together;
mod tax_and_codes;
