//! `fleetjobs`: runs a Spin application on wasmtime. See [`fleetjobs::cli`].

/// mimalloc: the host allocates and frees per request on many threads;
/// glibc's per-thread arenas keep what a burst used (the RSS benchmark), and
/// its malloc showed in the device path's profile.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    fleetjobs::cli::main()
}
