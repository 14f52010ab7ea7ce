//! `fleetjobs build`: runs each component's build command, like `spin build`.

use std::path::Path;

use crate::manifest::Manifest;

pub(super) fn build(manifest_path: &Path) -> Result<(), String> {
    let manifest =
        Manifest::load(manifest_path).map_err(|e| format!("{}: {e}", manifest_path.display()))?;
    for (id, component) in &manifest.components {
        let Some(build) = &component.build else {
            continue;
        };
        let workdir = build
            .workdir
            .as_ref()
            .map_or(manifest.base_dir.clone(), |w| manifest.base_dir.join(w));
        for command in &build.command {
            println!("building {id}: {command}");
            let status = std::process::Command::new("sh")
                .arg("-c")
                .arg(command)
                .current_dir(&workdir)
                .status()
                .map_err(|e| format!("component {id}: cannot run {command:?}: {e}"))?;
            if !status.success() {
                return Err(format!("component {id}: {command:?} failed ({status})"));
            }
        }
    }
    Ok(())
}
