//! The host's cost per request: `fleetjobs up` and `wasmtime serve` serving
//! the same trivial HTTP component (`tests/components/http-echo`), loaded by
//! the same generator, in alternating rounds so that both see the same
//! machine.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use hyper::Method;

use crate::host::{free_port, test_component_app, Host, HostArgs};
use crate::{http, thousands, Result, Row};

pub const BENCHMARK: &str = "the host on a trivial HTTP component (tests/components/http-echo), \
     requests/s vs `wasmtime serve` on the same component (goal ≥ 1.00)";
const PATH: &str = "/echo/bench";

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    host: HostArgs,
    /// The trivial component (tests/components/build.sh builds it).
    #[arg(
        long,
        default_value = "tests/components/target/wasm32-wasip2/release/http_echo.wasm"
    )]
    component: PathBuf,
    /// The wasmtime CLI.
    #[arg(long, default_value = "wasmtime")]
    wasmtime: PathBuf,
    /// Keep-alive connections of the load generator.
    #[arg(long, default_value_t = 16)]
    connections: usize,
    /// Rounds per host.
    #[arg(long, default_value_t = 3)]
    rounds: u32,
    /// Seconds per round.
    #[arg(long, default_value_t = 5)]
    seconds: u64,
}

pub async fn run(args: Args) -> Result<Row> {
    let (component, app) = test_component_app(&args.component, manifest_text)?;
    let manifest = app.path().join("spin.toml");
    let fleetjobs = Host::start(&args.host, "host-overhead", &manifest, &[], &[]).await?;
    let wasmtime = WasmtimeServe::start(&args.wasmtime, &component, &args.host.log_dir).await?;

    let round = Duration::from_secs(args.seconds);
    let (mut ours, mut theirs) = (0.0, 0.0);
    for r in 1..=args.rounds {
        eprintln!("host-overhead: round {r} of {}", args.rounds);
        ours += http::load(fleetjobs.http_port, PATH, args.connections, round).await?;
        theirs += http::load(wasmtime.port, PATH, args.connections, round).await?;
    }
    let (ours, theirs) = (ours / args.rounds as f64, theirs / args.rounds as f64);
    Ok(Row {
        benchmark: format!("{BENCHMARK}, {} connections", args.connections),
        figure: format!("fleetjobs up: {} requests/s", thousands(ours)),
        limit: format!("wasmtime serve: {} requests/s", thousands(theirs)),
        ratio: ours / theirs,
    })
}

/// A one-component application: every path to the component.
fn manifest_text(component: &Path) -> String {
    format!(
        "spin_manifest_version = 2\n\n\
         [application]\nname = \"bench-trivial\"\n\n\
         [[trigger.http]]\nroute = \"/...\"\ncomponent = \"echo\"\n\n\
         [component.echo]\nsource = \"{}\"\n",
        component.display()
    )
}

/// `wasmtime serve` with its defaults plus WASI CLI interfaces (stdio,
/// environment), which Rust guests import; stopped when dropped.
struct WasmtimeServe {
    child: Child,
    port: u16,
}

impl WasmtimeServe {
    async fn start(wasmtime: &Path, component: &Path, log_dir: &Path) -> Result<Self> {
        let port = free_port()?;
        std::fs::create_dir_all(log_dir)?;
        let log = log_dir.join("wasmtime-serve.log");
        let child = Command::new(wasmtime)
            .args(["serve", "-S", "cli", "--addr"])
            .arg(format!("127.0.0.1:{port}"))
            .arg(component)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log)?)
            .spawn()
            .map_err(|e| format!("{}: {e} (install the wasmtime CLI)", wasmtime.display()))?;
        let mut serve = WasmtimeServe { child, port };
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            match http::request(port, Method::GET, PATH, None, Bytes::new()).await {
                Ok((200, _)) => return Ok(serve),
                Ok((status, body)) => {
                    let body = String::from_utf8_lossy(&body);
                    return Err(format!(
                        "wasmtime serve answered {status} {body}; see {}",
                        log.display()
                    )
                    .into());
                }
                Err(_) if Instant::now() < deadline => {
                    if let Ok(Some(status)) = serve.child.try_wait() {
                        return Err(format!(
                            "wasmtime serve exited ({status}); see {}",
                            log.display()
                        )
                        .into());
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => return Err(format!("wasmtime serve did not answer: {e}").into()),
            }
        }
    }
}

impl Drop for WasmtimeServe {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
