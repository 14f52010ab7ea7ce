//! `fleetjobs [spin.toml]`: for now, loads and validates a manifest and prints
//! what it would run. (The full CLI comes with the wasmtime host.)

use std::process::ExitCode;

use fleetjobs::manifest::{HttpRoute, Manifest, ManifestError};
use fleetjobs::routing::Router;
use fleetjobs::runtime_config::RuntimeConfig;

fn main() -> ExitCode {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "spin.toml".into());
    match run(&path) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

fn run(path: &str) -> Result<(), String> {
    let manifest = Manifest::load(path).map_err(|e| match e {
        ManifestError::Read { .. } => e.to_string(), // already names the file
        _ => format!("{path}: {e}"),
    })?;
    let router = Router::from_manifest(&manifest).map_err(|e| format!("{path}: {e}"))?;
    // Without a runtime config only the `default` labels exist, as in `spin up`.
    RuntimeConfig::defaults(None)
        .check_labels(&manifest)
        .map_err(|e| format!("{path}: {e}"))?;

    println!("application {}", manifest.application.name);
    for duplicate in router.duplicates() {
        eprintln!(
            "warning: route {} of component {} is replaced by component {}",
            duplicate.route, duplicate.replaced_component, duplicate.effective_component
        );
    }
    println!("http routes:");
    for (route, component) in router.routes() {
        println!("  {route} -> {component}");
    }
    for trigger in &manifest.triggers.http {
        if trigger.route == HttpRoute::Private {
            println!("  (private) -> {}", trigger.component);
        }
    }
    for trigger in &manifest.triggers.cron {
        println!(
            "cron {:?} -> {}",
            trigger.cron_expression, trigger.component
        );
    }
    for trigger in &manifest.triggers.mqtt {
        println!(
            "mqtt {:?} qos {} -> {}",
            trigger.topic, trigger.qos, trigger.component
        );
    }
    println!("components:");
    for (id, component) in &manifest.components {
        println!("  {id}: {}", component.source.display());
    }
    Ok(())
}
