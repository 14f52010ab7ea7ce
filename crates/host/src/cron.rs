//! The cron trigger: calls `handle-cron-event` of world `spin-cron` on each
//! tick of a 6-field (seconds first, UTC) schedule. As in Spin's trigger-cron
//! (whose scheduler spawns every tick's run), runs may overlap: a tick that
//! comes while the previous run is busy starts a new instance beside it.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::app::App;
use crate::bindings::cron::fermyon::spin_cron::cron_types::{Error, Metadata};

/// Runs the cron export of `component` once.
pub async fn run_now(app: &Arc<App>, component_id: &str) -> Result<(), String> {
    let component = app
        .component(component_id)
        .cloned()
        .ok_or_else(|| format!("no component {component_id}"))?;
    let pre = component
        .cron
        .clone()
        .ok_or_else(|| format!("component {component_id} does not export handle-cron-event"))?;
    if !app
        .manifest
        .triggers
        .cron
        .iter()
        .any(|t| t.component == component_id)
    {
        return Err(format!("component {component_id} has no cron trigger"));
    }
    let mut store = app.store(&component, crate::app::TriggerKind::Cron);
    let timestamp = app.clock.now().as_secs();
    let instance = pre
        .instantiate_async(&mut store)
        .await
        .map_err(|e| format!("{e:#}"))?;
    match instance
        .call_handle_cron_event(&mut store, Metadata { timestamp })
        .await
    {
        Ok(Ok(())) => Ok(()),
        Ok(Err(Error::Other(message))) => Err(format!("component {component_id}: {message}")),
        Err(trap) => Err(format!("component {component_id} trapped: {trap:#}")),
    }
}

fn now_utc(app: &App) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(app.clock.now().as_millis() as i64).unwrap_or_default()
}

/// Starts every `[[trigger.cron]]`; each stops when `shutdown` flips.
pub fn spawn_all(app: &Arc<App>, tasks: &mut JoinSet<()>, shutdown: &watch::Receiver<bool>) {
    for trigger in &app.manifest.triggers.cron {
        let Ok(schedule) = trigger.schedule() else {
            continue; // validated when the manifest was loaded
        };
        let app = app.clone();
        let component = trigger.component.clone();
        let mut shutdown = shutdown.clone();
        tasks.spawn(async move {
            // The runs in progress: a shutdown waits for them to finish.
            let mut runs = JoinSet::new();
            loop {
                while runs.try_join_next().is_some() {}
                let now = now_utc(&app);
                let Ok(next) = schedule.find_next_occurrence(&now, false) else {
                    break;
                };
                let wait = (next - now).to_std().unwrap_or(Duration::ZERO);
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = shutdown.changed() => break,
                }
                let (app, component) = (app.clone(), component.clone());
                runs.spawn(async move {
                    if let Err(message) = run_now(&app, &component).await {
                        tracing::error!(%component, "cron run failed: {message}");
                    }
                });
            }
            while runs.join_next().await.is_some() {}
        });
    }
}
