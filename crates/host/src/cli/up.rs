//! `fleetjobs up`: starts the application (HTTP, cron and MQTT triggers),
//! with a managed mosquitto unless `--mqtt-url` names a broker, and serves
//! until SIGINT or SIGTERM.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::app::{App, HostOptions};
use crate::broker::{ManagedBroker, DEFAULT_PORT};
use crate::manifest::Manifest;

#[derive(clap::Args)]
pub(super) struct UpArgs {
    #[arg(long = "from", short = 'f', default_value = "spin.toml")]
    manifest: PathBuf,
    #[arg(long, default_value = "127.0.0.1:3000", env = "SPIN_HTTP_LISTEN_ADDR")]
    listen: SocketAddr,
    #[arg(long, default_value = ".fleetjobs")]
    state_dir: PathBuf,
    #[arg(long)]
    runtime_config_file: Option<PathBuf>,
    /// Where compiled components are cached [default: <state-dir>/cache].
    #[arg(long)]
    cache_dir: Option<PathBuf>,
    /// Use this broker instead of starting a local mosquitto.
    #[arg(long)]
    mqtt_url: Option<String>,
    /// Stop a component that runs longer than this (milliseconds). Longer
    /// than SendCommand's longest `?wait=` (60 s) and the gateway's call
    /// around it.
    #[arg(long, default_value_t = 75_000)]
    execution_deadline_ms: u64,
    /// PostgreSQL connections per database address (Spin's 64); replicas
    /// sharing a server must fit its max_connections together.
    #[arg(long, default_value_t = crate::postgres::POOL_SIZE,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    postgres_pool_size: usize,
    /// Expose /.well-known/fleetjobs/ to move the clock and run cron now; cron
    /// then runs only on demand (tests only).
    #[arg(long)]
    test_clock: bool,
}

/// Serves the application until SIGINT or SIGTERM, then lets in-flight work
/// finish before it returns.
pub(super) async fn up(args: UpArgs) -> Result<(), String> {
    std::fs::create_dir_all(&args.state_dir)
        .map_err(|e| format!("state directory {}: {e}", args.state_dir.display()))?;
    // Listen first: the managed broker may pick a free port, and must not
    // pick this one.
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", args.listen))?;
    let mut host_variables = BTreeMap::new();
    let api_token = api_token(&args)?;
    if let Some(token) = &api_token {
        host_variables.insert(API_TOKEN.to_owned(), token.clone());
    }
    let broker = start_broker(&args, &mut host_variables).await?;
    let app = load_app(&args, host_variables).await?;

    let (stop, stopping) = watch::channel(false);
    let triggers = spawn_triggers(&app, &args, &stopping)?;
    print_banner(
        &app,
        &args,
        &listener,
        broker.as_ref(),
        api_token.as_deref(),
    )?;

    let server = tokio::spawn(crate::http::serve(app.clone(), listener, stopping));
    shutdown_signal().await;
    tracing::info!("shutting down: finishing in-flight work");
    let _ = stop.send(true);
    let _ = server.await;
    drain(triggers, broker).await;
    Ok(())
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM.
async fn shutdown_signal() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate => {}
    }
}

/// The broker the application talks to, handed to it as host variables:
/// `--mqtt-url` as `mqtt_url`, or else a managed mosquitto, started here,
/// whose URL and service account become `mqtt_url`, `mqtt_username` and
/// `mqtt_password`. Returns the managed broker, if any, to stop at the end.
async fn start_broker(
    args: &UpArgs,
    host_variables: &mut BTreeMap<String, String>,
) -> Result<Option<ManagedBroker>, String> {
    if let Some(url) = &args.mqtt_url {
        host_variables.insert("mqtt_url".to_owned(), url.clone());
        return Ok(None);
    }
    let roots = trigger_roots(&args.manifest, host_variables);
    let broker = ManagedBroker::start(&args.state_dir, DEFAULT_PORT, &roots)
        .await
        .map_err(|e| e.to_string())?;
    host_variables.insert("mqtt_url".to_owned(), broker.url());
    let account = broker.service_account();
    host_variables.insert("mqtt_username".to_owned(), account.username.clone());
    host_variables.insert("mqtt_password".to_owned(), account.password.clone());
    Ok(Some(broker))
}

/// Loads the application on a blocking thread: compiling components takes
/// a while and must not hold up the runtime.
async fn load_app(
    args: &UpArgs,
    host_variables: BTreeMap<String, String>,
) -> Result<Arc<App>, String> {
    let engine = crate::engine::new_engine().map_err(|e| format!("wasmtime: {e:#}"))?;
    let options = HostOptions {
        state_dir: args.state_dir.clone(),
        cache_dir: args
            .cache_dir
            .clone()
            .unwrap_or_else(|| args.state_dir.join("cache")),
        runtime_config_file: args.runtime_config_file.clone(),
        execution_deadline: Duration::from_millis(args.execution_deadline_ms),
        test_clock: args.test_clock,
        postgres_pool_size: args.postgres_pool_size,
        host_variables,
    };
    let manifest_path = args.manifest.clone();
    tokio::task::spawn_blocking(move || App::load(&manifest_path, engine, options))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| format!("{}: {e}", args.manifest.display()))
}

/// Starts the cron and MQTT triggers; they stop when `stopping` flips.
fn spawn_triggers(
    app: &Arc<App>,
    args: &UpArgs,
    stopping: &watch::Receiver<bool>,
) -> Result<JoinSet<()>, String> {
    let mut triggers = JoinSet::new();
    // With the test clock the test owns time: cron runs only on demand.
    if !args.test_clock {
        crate::cron::spawn_all(app, &mut triggers, stopping);
    }
    crate::mqtt_trigger::spawn_all(app, &mut triggers, stopping)?;
    Ok(triggers)
}

/// Prints what is being served and where (stdout, for whoever started us).
fn print_banner(
    app: &App,
    args: &UpArgs,
    listener: &tokio::net::TcpListener,
    broker: Option<&ManagedBroker>,
    api_token: Option<&str>,
) -> Result<(), String> {
    println!("fleetjobs: serving {}", app.manifest.application.name);
    let address = listener.local_addr().map_err(|e| e.to_string())?;
    println!("  HTTP       http://{address}");
    // Each route as a URL, as `spin up` lists its available routes.
    for (route, component) in app.router.routes() {
        let path = route.based().trim_end_matches("...").trim_end_matches('/');
        let wildcard = if route.is_wildcard() {
            " (wildcard)"
        } else {
            ""
        };
        println!("    {component}: http://{address}{path}{wildcard}");
    }
    match (broker, &args.mqtt_url) {
        (Some(broker), _) => println!("  MQTT       {} (managed mosquitto)", broker.url()),
        (None, Some(url)) => println!("  MQTT       {url}"),
        (None, None) => {}
    }
    println!("  state      {}", args.state_dir.display());
    if let Some(token) = api_token {
        println!("  API token  {token}");
    }
    if args.test_clock {
        println!(
            "  test clock http://{}{}",
            args.listen,
            crate::http::ADMIN_PREFIX
        );
    }
    Ok(())
}

/// Once the HTTP server has stopped: waits for the triggers' in-flight work,
/// then stops the managed broker, which that work may still have needed.
async fn drain(mut triggers: JoinSet<()>, broker: Option<ManagedBroker>) {
    while triggers.join_next().await.is_some() {}
    if let Some(broker) = broker {
        broker.stop().await;
    }
}

/// The `$`-prefixed roots of the application's MQTT trigger topics: the
/// managed broker's service account must reach them (`#` does not match
/// `$` topics). None when the variables cannot be resolved yet.
fn trigger_roots(manifest: &Path, host_variables: &BTreeMap<String, String>) -> Vec<String> {
    let Ok(manifest) = Manifest::load(manifest) else {
        return Vec::new();
    };
    let variables = crate::variables::Variables::resolve(&manifest, |env_name| {
        std::env::var(env_name).ok().or_else(|| {
            host_variables
                .iter()
                .find(|(name, _)| crate::variables::env_var_name(name) == env_name)
                .map(|(_, value)| value.clone())
        })
    });
    let Ok(variables) = variables else {
        return Vec::new();
    };
    let topics: Vec<String> = manifest
        .triggers
        .mqtt
        .iter()
        .filter_map(|trigger| variables.render(&trigger.topic).ok())
        .collect();
    crate::broker::dynsec::dollar_roots(topics.iter().map(String::as_str))
}

/// The variable fleetjobs' gateway checks bearer tokens against.
const API_TOKEN: &str = "api_token";

/// For an application declaring `api_token` that the environment does not
/// set: the token kept in the state directory, generated on first start.
fn api_token(args: &UpArgs) -> Result<Option<String>, String> {
    let declared = Manifest::load(&args.manifest)
        .map(|m| m.variables.contains_key(API_TOKEN))
        .unwrap_or(false);
    let from_env = std::env::var(crate::variables::env_var_name(API_TOKEN)).is_ok();
    if !declared || from_env {
        return Ok(None);
    }
    let file = args.state_dir.join("api_token");
    if let Ok(token) = std::fs::read_to_string(&file) {
        if !token.trim().is_empty() {
            return Ok(Some(token.trim().to_owned()));
        }
    }
    let token = format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    std::fs::write(&file, &token).map_err(|e| format!("{}: {e}", file.display()))?;
    Ok(Some(token))
}
