//! `fleetjobs`: runs a Spin application on wasmtime. See [`fleetjobs::cli`].

use std::ffi::{c_int, c_long};
use std::time::Duration;

/// mimalloc: the host allocates and frees per request on many threads;
/// glibc's per-thread arenas keep what a burst used (the RSS benchmark), and
/// its malloc showed in the device path's profile.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

// mimalloc's C API (the static library the `mimalloc` crate links) and
// glibc's `malloc_trim`, which SQLite's allocations (plain `malloc`) use.
extern "C" {
    fn mi_version() -> c_int;
    fn mi_option_set(option: c_int, value: c_long);
    fn mi_collect(force: bool);
    fn malloc_trim(pad: usize) -> c_int;
}

/// mimalloc 3's `mi_option_page_full_retain` (mimalloc.h).
const MI_OPTION_PAGE_FULL_RETAIN: c_int = 36;

/// How often memory freed at least a purge delay ago (mimalloc's
/// `purge_delay`, 1 s) goes back to the kernel.
const RETURN_EVERY: Duration = Duration::from_secs(1);

/// Gives memory a burst used back to the kernel once it is free, also when
/// the host then goes idle. The retention measured (the RSS benchmark,
/// `/proc/<pid>/smaps` by mapping): mimalloc's arenas kept ~30 MB and glibc's
/// heaps up to ~14 MB after 110,000 devices had gone quiet. mimalloc purges
/// a freed page only `purge_delay` after it was freed *and* when some thread
/// next calls into it, so an idle host never did; and each thread keeps two
/// empty pages per size class (`page_full_retain`), over the runtime's
/// workers and blocking threads. So: empty pages go back to the arena at
/// once (the delay still spares a busy host the `madvise` calls), a thread
/// of its own runs the expired purges every second (`mi_collect` purges the
/// arenas process-wide), and trims glibc's heaps.
fn return_freed_memory() {
    // SAFETY: plain calls into the C allocators' public API.
    unsafe {
        if mi_version() >= 300 {
            mi_option_set(MI_OPTION_PAGE_FULL_RETAIN, 0);
        }
    }
    let _ = std::thread::Builder::new()
        .name("memory-return".into())
        .spawn(|| {
            // mimalloc collects nothing for a thread that never allocated.
            let warm = std::hint::black_box(Box::new(0u64));
            for tick in 0u64.. {
                std::thread::sleep(RETURN_EVERY);
                // SAFETY: as above; both are thread-safe.
                unsafe {
                    mi_collect(false);
                    if tick % 10 == 0 {
                        malloc_trim(0);
                    }
                }
            }
            drop(warm);
        });
}

/// Keeps `RUST_BACKTRACE` for panics only. wasmtime makes an error each time
/// a store is dropped with a fiber left (the end of most instances), and
/// errors capture a backtrace when `RUST_BACKTRACE` is set: 3% of the host's
/// CPU under the device updates benchmark, for text nobody reads. Errors
/// look at `RUST_LIB_BACKTRACE` first; panics do not.
fn no_backtraces_in_errors() {
    if std::env::var_os("RUST_LIB_BACKTRACE").is_none() {
        // Before any thread starts (edition 2024 makes this call unsafe).
        std::env::set_var("RUST_LIB_BACKTRACE", "0");
    }
}

fn main() -> std::process::ExitCode {
    no_backtraces_in_errors();
    return_freed_memory();
    fleetjobs::cli::main()
}
