//! The wasmtime engine: pooling allocator, epoch interruption so a runaway
//! component is stopped, and compiled components cached on disk.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::{Digest, Sha256};
use wasmtime::component::Component;
use wasmtime::{Config, Enabled, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

/// How often the epoch advances; deadlines are counted in these ticks.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Slots decommitted together (one TLB flush per batch instead of per slot):
/// 64 measured 0-14% (6% on average) more device updates/s than 16 in five
/// alternating pairs, with the memory row unchanged (0.87 vs 0.85).
const DECOMMIT_BATCH: usize = 64;

/// Bytes of a slot's memory and tables reset in place rather than given
/// back to the kernel when its instance ends.
const KEEP_RESIDENT: usize = 1 << 20;

/// An engine configured as Spin configures its own (pooling, epochs), with a
/// thread advancing the epoch for as long as the engine lives.
pub fn new_engine() -> wasmtime::Result<Engine> {
    let mut config = Config::new();
    config.wasm_component_model(true);
    config.epoch_interruption(true);
    // An instance's stack goes back to the kernel when it is done (batched
    // with the memories' decommits), or every stack a burst ran on stays
    // resident for good.
    config.async_stack_zeroing(true);
    // Funcref tables stay filled lazily (wasmtime's default): a request
    // calls few of a table's functions, and filling every entry at
    // instantiation (a code lookup each) measured 3-7% slower under the
    // device updates benchmark.
    let mut pooling = PoolingAllocationConfig::default();
    pooling.total_component_instances(1000);
    pooling.total_memories(1000);
    pooling.total_tables(2000);
    pooling.total_stacks(1000);
    pooling.total_core_instances(4000);
    pooling.max_memories_per_component(32);
    pooling.max_tables_per_component(64);
    pooling.max_core_instances_per_component(200);
    pooling.table_elements(100_000);
    pooling.max_component_instance_size(10 << 20);
    pooling.max_core_instance_size(10 << 20);
    // A request's instance lives for milliseconds: giving its memory back to
    // the kernel costs a TLB flush on every core; batching the decommits
    // flushes once per batch.
    pooling.decommit_batch_size(DECOMMIT_BATCH);
    // Better still, the pages an instance touched stay with its slot and are
    // reset in place for the next instance of the component, which then
    // takes no page faults (each write to a copy-on-write page of the
    // image was a fault and a TLB flush on every core: 11% of the host's
    // CPU under the updates benchmark). `PAGEMAP_SCAN` (Linux 6.7) finds
    // just the touched pages, so a slot keeps what its instances used, not
    // the whole allowance (without it, the first pages of every slot a burst
    // ever used stayed resident: 130 MB in the RSS benchmark).
    if has_pagemap_scan() {
        pooling.pagemap_scan(Enabled::Auto);
        pooling.linear_memory_keep_resident(KEEP_RESIDENT);
        pooling.table_keep_resident(KEEP_RESIDENT);
    }
    config.allocation_strategy(InstanceAllocationStrategy::Pooling(pooling));
    let engine = Engine::new(&config)?;
    let weak = engine.weak();
    std::thread::Builder::new()
        .name("epoch-ticker".into())
        .spawn(move || {
            while let Some(engine) = weak.upgrade() {
                engine.increment_epoch();
                drop(engine);
                std::thread::sleep(EPOCH_TICK);
            }
        })?;
    Ok(engine)
}

/// Whether the kernel has the `PAGEMAP_SCAN` ioctl (Linux 6.7 and later).
fn has_pagemap_scan() -> bool {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let mut numbers = release
        .split(|c: char| !c.is_ascii_digit())
        .map(|n| n.parse::<u32>().unwrap_or(0));
    let (major, minor) = (numbers.next().unwrap_or(0), numbers.next().unwrap_or(0));
    (major, minor) >= (6, 7)
}

/// Ticks of [`EPOCH_TICK`] in a deadline.
pub fn deadline_ticks(deadline: Duration) -> u64 {
    (deadline.as_millis() / EPOCH_TICK.as_millis()).max(1) as u64
}

/// Compiles a component, or loads it from the cache directory when it was
/// compiled before by an engine with the same settings.
pub fn load_component(
    engine: &Engine,
    wasm: &Path,
    cache_dir: &Path,
) -> wasmtime::Result<Component> {
    let bytes = std::fs::read(wasm).map_err(|e| {
        wasmtime::Error::msg(format!("cannot read component {}: {e}", wasm.display()))
    })?;
    let cached = cache_path(engine, &bytes, cache_dir);
    if cached.is_file() {
        // SAFETY: the file was written by `Component::serialize` of an engine
        // with the same compatibility hash (it is in the file name) and is
        // only ever replaced atomically.
        if let Ok(component) = unsafe { Component::deserialize_file(engine, &cached) } {
            return Ok(component);
        }
    }
    let component = Component::new(engine, &bytes)?;
    if std::fs::create_dir_all(cache_dir).is_ok() {
        // One partial file per process: hosts may share a cache directory.
        let partial = cached.with_extension(format!("{}.partial", std::process::id()));
        if std::fs::write(&partial, component.serialize()?).is_ok() {
            let _ = std::fs::rename(&partial, &cached);
        }
    }
    Ok(component)
}

fn cache_path(engine: &Engine, wasm: &[u8], cache_dir: &Path) -> PathBuf {
    let mut settings = DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut settings);
    let digest = Sha256::digest(wasm);
    let wasm_hash: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
    cache_dir.join(format!("{wasm_hash}-{:016x}.cwasm", settings.finish()))
}
