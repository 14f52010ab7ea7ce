//! The control plane's wire format, shared by the API components: JSON views
//! of jobs and executions, request parsing with errors that name the field,
//! and the one error shape of design §2. Pure: no spin-sdk, no I/O, so it is
//! tested natively and built for `wasm32-wasip2`.

pub mod device;
pub mod error;
pub mod request;
pub mod routes;
pub mod routing;
pub mod views;

pub use error::ApiError;
