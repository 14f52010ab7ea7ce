//! `fleetjobs check`: validates `spin.toml` and prints what it would run.

use std::path::Path;

use crate::manifest::Manifest;
use crate::routing::Router;
use crate::runtime_config::RuntimeConfig;

pub(super) fn check(manifest_path: &Path) -> Result<(), String> {
    let display = manifest_path.display();
    let manifest = Manifest::load(manifest_path).map_err(|e| format!("{display}: {e}"))?;
    let router = Router::from_manifest(&manifest).map_err(|e| format!("{display}: {e}"))?;
    RuntimeConfig::defaults(None)
        .check_labels(&manifest)
        .map_err(|e| format!("{display}: {e}"))?;
    println!("application {}", manifest.application.name);
    for (route, component) in router.routes() {
        println!("  {route} -> {component}");
    }
    for trigger in &manifest.triggers.cron {
        println!(
            "  cron {} -> {}",
            trigger.cron_expression, trigger.component
        );
    }
    for trigger in &manifest.triggers.mqtt {
        println!("  mqtt {} -> {}", trigger.topic, trigger.component);
    }
    Ok(())
}
