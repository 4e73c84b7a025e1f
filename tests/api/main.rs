//! Integration tests: the real app on a real port, a real PostgreSQL database
//! per test (cloned from a migrated, seeded template), a real HTTP client.

mod batch;
mod cart;
mod catalog;
mod checkout;
mod cluster;
mod db_tls;
mod faults;
mod health;
mod helpers;
mod logs;
mod multinode;
mod payments_api;
mod start_together;
