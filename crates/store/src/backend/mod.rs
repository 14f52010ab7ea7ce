//! The `Sql` backends; each is compiled only where it can run: rusqlite and
//! `postgres` natively, Spin's SQLite and PostgreSQL interfaces in wasm32.

#[cfg(not(target_arch = "wasm32"))]
pub mod native;
#[cfg(not(target_arch = "wasm32"))]
pub mod postgres;
#[cfg(target_arch = "wasm32")]
pub mod spin;
#[cfg(target_arch = "wasm32")]
pub mod spin_pg;
