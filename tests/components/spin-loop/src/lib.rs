//! `spin-loop`: never answers — every request spins forever in guest code (no host calls),
//! so the host's epoch/fuel interruption or request timeout must stop it.

use spin_sdk::http::{Request, Response};
use spin_sdk::http_component;

#[http_component]
fn handle(_req: Request) -> Response {
    let mut counter: u64 = 0;
    loop {
        // `black_box` keeps the optimiser from proving the loop side-effect free.
        counter = std::hint::black_box(counter.wrapping_add(1));
    }
}
