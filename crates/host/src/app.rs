//! The loaded application: manifest, variables, compiled components with
//! their `InstancePre`, the host capabilities, and the per-instance state.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use wasmtime::component::{HasSelf, InstancePre, Linker, ResourceTable};
use wasmtime::{Engine, Store};
use wasmtime_wasi::{FsPerms, WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::p2::bindings::ProxyPre;
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use crate::bindings::cron::SpinCronPre;
use crate::bindings::mqtt_trigger::SpinMqttPre;
use crate::bindings::SpinHost;
use crate::clock::AppClock;
use crate::component_log::{Channel, ComponentLog};
use crate::engine::{deadline_ticks, load_component};
use crate::http::ChainingHooks;
use crate::key_value::KeyValueStores;
use crate::manifest::{Component as ComponentSpec, FileMount, Manifest};
use crate::mqtt::MqttPool;
use crate::outbound::AllowedHosts;
use crate::postgres::PostgresPools;
use crate::routing::Router;
use crate::runtime_config::RuntimeConfig;
use crate::sqlite::SqliteDatabases;
use crate::variables::Variables;

/// How the host was asked to run the application.
#[derive(Debug, Clone)]
pub struct HostOptions {
    pub state_dir: PathBuf,
    /// Where compiled components are kept between starts.
    pub cache_dir: PathBuf,
    pub runtime_config_file: Option<PathBuf>,
    /// A component still running after this long is stopped (its request
    /// answers 500) while the others keep serving.
    pub execution_deadline: Duration,
    /// Enables the admin endpoints that move time and run cron on demand.
    pub test_clock: bool,
    /// Clients per PostgreSQL address (`spin:postgres`).
    pub postgres_pool_size: usize,
    /// Application variables set by the host (e.g. `mqtt_url` of the managed
    /// broker) unless the environment sets them.
    pub host_variables: BTreeMap<String, String>,
}

/// A component ready to instantiate, with what it may touch.
pub struct LoadedComponent {
    pub id: String,
    pub pre: InstancePre<HostState>,
    pub http: Option<ProxyPre<HostState>>,
    pub cron: Option<SpinCronPre<HostState>>,
    pub mqtt: Option<SpinMqttPre<HostState>>,
    pub key_value_stores: Vec<String>,
    pub sqlite_databases: Vec<String>,
    pub allowed_hosts: AllowedHosts,
    pub environment: Vec<(String, String)>,
    /// `files` mounts: a host directory and the guest path it appears at,
    /// read-only.
    pub files: Vec<(PathBuf, String)>,
}

pub struct App {
    pub manifest: Manifest,
    pub variables: Variables,
    pub router: Router,
    pub engine: Engine,
    pub components: BTreeMap<String, Arc<LoadedComponent>>,
    pub key_value: KeyValueStores,
    pub sqlite: SqliteDatabases,
    pub mqtt: MqttPool,
    /// Pooled PostgreSQL clients, by connection string.
    pub postgres: PostgresPools,
    /// The MQTT trigger's ordered lanes and the bounds on its work.
    pub mqtt_lanes: Arc<crate::mqtt_trigger::Lanes>,
    pub clock: AppClock,
    pub options: HostOptions,
}

/// The trigger an instance runs for. Spin runs each trigger in its own
/// process, and only the HTTP trigger's serves `*.spin.internal`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TriggerKind {
    Http,
    Cron,
    Mqtt,
}

/// The data of one component instance's store.
pub struct HostState {
    pub(crate) wasi: WasiCtx,
    pub(crate) http: WasiHttpCtx,
    pub(crate) table: ResourceTable,
    pub(crate) hooks: ChainingHooks,
    pub(crate) app: Arc<App>,
    pub(crate) component: Arc<LoadedComponent>,
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for HostState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.hooks,
        }
    }
}

/// Errors that stop the application from starting.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error(transparent)]
    Manifest(#[from] crate::config_file::ConfigError),
    #[error(transparent)]
    Routes(#[from] crate::routing::RouteError),
    #[error(transparent)]
    Variables(#[from] crate::variables::VariablesError),
    #[error("component {component}: allowed_outbound_hosts: {message}")]
    OutboundHosts { component: String, message: String },
    #[error("key-value store: {0}")]
    KeyValue(#[from] rusqlite::Error),
    #[error("component {component}: {message}")]
    Component { component: String, message: String },
}

fn linker(engine: &Engine) -> wasmtime::Result<Linker<HostState>> {
    let mut linker = Linker::<HostState>::new(engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
    SpinHost::add_to_linker::<HostState, HasSelf<HostState>>(&mut linker, |state| state)?;
    Ok(linker)
}

impl App {
    /// Loads `spin.toml`, resolves variables, compiles (or loads from the
    /// cache) and pre-instantiates every component.
    pub fn load(
        manifest_path: &Path,
        engine: Engine,
        options: HostOptions,
    ) -> Result<Arc<App>, LoadError> {
        let manifest = Manifest::load(manifest_path)?;
        let router = Router::from_manifest(&manifest)?;
        let runtime = runtime_config(&options)?;
        runtime.check_labels(&manifest)?;
        let variables = resolve_variables(&manifest, &options)?;
        let components = load_components(&engine, &manifest, &variables, &options.cache_dir)?;
        Ok(Arc::new(App {
            key_value: KeyValueStores::open(&runtime)?,
            sqlite: SqliteDatabases::new(&runtime),
            mqtt: MqttPool::default(),
            postgres: PostgresPools::new(options.postgres_pool_size),
            mqtt_lanes: Arc::default(),
            clock: AppClock::default(),
            manifest,
            variables,
            router,
            engine,
            components,
            options,
        }))
    }

    pub fn component(&self, id: &str) -> Option<&Arc<LoadedComponent>> {
        self.components.get(id)
    }

    /// A fresh store for one instance of `component`, with the execution
    /// deadline armed.
    pub fn store(
        self: &Arc<Self>,
        component: &Arc<LoadedComponent>,
        trigger: TriggerKind,
    ) -> Store<HostState> {
        let mut wasi = WasiCtx::builder();
        wasi.stdout(ComponentLog::new(&component.id, Channel::Stdout));
        wasi.stderr(ComponentLog::new(&component.id, Channel::Stderr));
        wasi.wall_clock(self.clock.clone());
        for (key, value) in &component.environment {
            wasi.env(key, value);
        }
        crate::sockets::configure(&mut wasi, component);
        for (host_dir, guest_path) in &component.files {
            // Checked at load; a directory removed since only leaves the
            // component without it.
            if let Err(e) = wasi.preopened_dir(host_dir, guest_path, FsPerms::ReadOnly) {
                tracing::warn!(component = %component.id, dir = %host_dir.display(), "files: {e:#}");
            }
        }
        let state = HostState {
            wasi: wasi.build(),
            http: WasiHttpCtx::new(),
            table: ResourceTable::new(),
            hooks: ChainingHooks::new(self.clone(), component.clone(), trigger),
            app: self.clone(),
            component: component.clone(),
        };
        let mut store = Store::new(&self.engine, state);
        store.set_epoch_deadline(deadline_ticks(self.options.execution_deadline));
        store.epoch_deadline_trap();
        store
    }
}

/// `--runtime-config-file` if given, else the defaults (both with databases
/// in the state directory).
fn runtime_config(options: &HostOptions) -> Result<RuntimeConfig, LoadError> {
    Ok(match &options.runtime_config_file {
        Some(file) => RuntimeConfig::load(file, Some(&options.state_dir))?,
        None => RuntimeConfig::defaults(Some(&options.state_dir)),
    })
}

/// The application's variables, from the environment or else from what the
/// host sets (e.g. `mqtt_url`): the environment wins.
fn resolve_variables(manifest: &Manifest, options: &HostOptions) -> Result<Variables, LoadError> {
    let host_variables: BTreeMap<String, String> = options
        .host_variables
        .iter()
        .map(|(name, value)| (crate::variables::env_var_name(name), value.clone()))
        .collect();
    Ok(Variables::resolve(manifest, |env_name| {
        std::env::var(env_name)
            .ok()
            .or_else(|| host_variables.get(env_name).cloned())
    })?)
}

/// Every component of the manifest, compiled (or loaded from `cache_dir`)
/// and pre-instantiated against the host's linker.
fn load_components(
    engine: &Engine,
    manifest: &Manifest,
    variables: &Variables,
    cache_dir: &Path,
) -> Result<BTreeMap<String, Arc<LoadedComponent>>, LoadError> {
    let linker = linker(engine).map_err(|e| LoadError::Component {
        component: "(host)".into(),
        message: e.to_string(),
    })?;
    let mut components = BTreeMap::new();
    for (id, spec) in &manifest.components {
        let files = file_mounts(id, spec, &manifest.base_dir)?;
        let mut component = prepare_component(engine, &linker, id, spec, variables, cache_dir)?;
        component.files = files;
        components.insert(id.clone(), Arc::new(component));
    }
    Ok(components)
}

/// One component: its outbound hosts checked, its code compiled and
/// pre-instantiated, and the triggers' worlds it exports found.
fn prepare_component(
    engine: &Engine,
    linker: &Linker<HostState>,
    id: &str,
    spec: &ComponentSpec,
    variables: &Variables,
    cache_dir: &Path,
) -> Result<LoadedComponent, LoadError> {
    let failed = |message: String| LoadError::Component {
        component: id.to_owned(),
        message,
    };
    let allowed_hosts = allowed_hosts(id, spec, variables)?;
    let component =
        load_component(engine, &spec.source, cache_dir).map_err(|e| failed(format!("{e:#}")))?;
    let pre = linker
        .instantiate_pre(&component)
        .map_err(|e| failed(format!("{e:#}")))?;
    Ok(LoadedComponent {
        id: id.to_owned(),
        http: ProxyPre::new(pre.clone()).ok(),
        cron: SpinCronPre::new(pre.clone()).ok(),
        mqtt: SpinMqttPre::new(pre.clone()).ok(),
        pre,
        key_value_stores: spec.key_value_stores.clone(),
        sqlite_databases: spec.sqlite_databases.clone(),
        allowed_hosts,
        environment: spec.environment.clone().into_iter().collect(),
        files: Vec::new(),
    })
}

/// The component's `files`, as directories to mount read-only. A directory
/// placement (`{ source = "dir", destination = "/path" }`) is mounted as it
/// is, as `spin up` does for a local app; glob patterns and single-file
/// placements (which Spin copies into a temporary directory) are refused
/// rather than silently left out.
fn file_mounts(
    id: &str,
    spec: &ComponentSpec,
    base_dir: &Path,
) -> Result<Vec<(PathBuf, String)>, LoadError> {
    spec.files
        .iter()
        .enumerate()
        .map(|(i, mount)| {
            let failed = |message: String| LoadError::Component {
                component: id.to_owned(),
                message: format!("files[{i}]: {message}"),
            };
            match mount {
                FileMount::Pattern(pattern) => Err(failed(format!(
                    "glob patterns ({pattern:?}) are not supported by this host; \
                     mount a directory with {{ source = \"dir\", destination = \"/\" }}"
                ))),
                FileMount::Placement {
                    source,
                    destination,
                } => {
                    let host_dir = base_dir.join(source);
                    if !host_dir.is_dir() {
                        return Err(failed(format!(
                            "source {} is not a directory (build it first?)",
                            host_dir.display()
                        )));
                    }
                    if !destination.starts_with('/') {
                        return Err(failed(format!(
                            "destination {destination:?} must be an absolute guest path"
                        )));
                    }
                    Ok((host_dir, destination.clone()))
                }
            }
        })
        .collect()
}

/// The component's `allowed_outbound_hosts`, with variables rendered.
fn allowed_hosts(
    id: &str,
    spec: &ComponentSpec,
    variables: &Variables,
) -> Result<AllowedHosts, LoadError> {
    let hosts: Vec<String> = spec
        .allowed_outbound_hosts
        .iter()
        .map(|h| {
            variables.render(h).map_err(|e| LoadError::Component {
                component: id.to_owned(),
                message: e.to_string(),
            })
        })
        .collect::<Result<_, _>>()?;
    AllowedHosts::parse(&hosts).map_err(|e| LoadError::OutboundHosts {
        component: id.to_owned(),
        message: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A one-component manifest with `files` in a fresh directory that holds
    /// `static/`.
    fn manifest_with_files(files: &str) -> (tempfile::TempDir, Manifest) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("static")).unwrap();
        let path = dir.path().join("spin.toml");
        std::fs::write(
            &path,
            format!(
                "spin_manifest_version = 2\n[application]\nname = \"a\"\n\
                 [[trigger.http]]\nroute = \"/...\"\ncomponent = \"a\"\n\
                 [component.a]\nsource = \"a.wasm\"\nfiles = {files}\n"
            ),
        )
        .unwrap();
        let manifest = Manifest::load(&path).unwrap();
        (dir, manifest)
    }

    fn mounts(files: &str) -> Result<Vec<(PathBuf, String)>, String> {
        let (_dir, manifest) = manifest_with_files(files);
        file_mounts("a", &manifest.components["a"], &manifest.base_dir).map_err(|e| e.to_string())
    }

    #[test]
    fn a_directory_placement_is_mounted_at_its_destination() {
        let (dir, manifest) = manifest_with_files(r#"[{ source = "static", destination = "/" }]"#);
        let mounts = file_mounts("a", &manifest.components["a"], &manifest.base_dir).unwrap();
        assert_eq!(mounts, [(dir.path().join("static"), "/".to_owned())]);
    }

    #[test]
    fn what_cannot_be_mounted_is_refused_by_name() {
        let error = mounts(r#"["static/**/*"]"#).unwrap_err();
        assert!(
            error.contains("component a: files[0]: glob patterns"),
            "{error}"
        );
        let error = mounts(r#"[{ source = "missing", destination = "/" }]"#).unwrap_err();
        assert!(
            error.contains("files[0]: source") && error.contains("is not a directory"),
            "{error}"
        );
        let error = mounts(r#"[{ source = "static", destination = "www" }]"#).unwrap_err();
        assert!(error.contains("must be an absolute guest path"), "{error}");
    }
}
