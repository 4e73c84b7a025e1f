//! What operators and orchestrators ask of a node: health and metrics.

pub mod http;
