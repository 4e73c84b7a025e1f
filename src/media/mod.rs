//! Uploaded images: checked, re-encoded and stored by content hash
//! (`images`), and served with a year's cache (`http`).

pub mod domain;
pub mod http;
pub mod images;
