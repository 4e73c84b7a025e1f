//! Products in the back office: list, create, edit (with an image), stock
//! changes with their reasons, archive, restore and delete.

pub mod domain;
pub mod edit;
pub mod http;
pub mod store;
