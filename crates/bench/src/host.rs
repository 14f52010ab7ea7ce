//! `fleetjobs up` as a child process, started as an operator starts it, with
//! its managed mosquitto (`set_tcp_nodelay true`), which the benchmarks also
//! measure the broker's limits on.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use hyper::Method;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::http;
use crate::Result;

/// The control-plane token the benchmarks' hosts are started with.
pub const API_TOKEN: &str = "bench-token-0123456789abcdef";
/// The first start compiles every component (a few minutes on 2 cores);
/// later starts load them from the cache.
const START_TIMEOUT: Duration = Duration::from_secs(900);
const STOP_TIMEOUT: Duration = Duration::from_secs(15);

#[derive(clap::Args)]
pub struct HostArgs {
    /// The host binary, a release build.
    #[arg(long, default_value = "target/release/fleetjobs")]
    pub fleetjobs: PathBuf,
    /// Compiled components, kept from run to run.
    #[arg(long, default_value = "target/bench/cache")]
    pub cache_dir: PathBuf,
    /// Where each host's log goes (`<benchmark>.log`).
    #[arg(long, default_value = "target/bench/logs")]
    pub log_dir: PathBuf,
}

/// A running `fleetjobs up` on a free port with its own state directory,
/// stopped with SIGTERM (so that it stops its mosquitto) when dropped.
pub struct Host {
    child: Child,
    pub http_port: u16,
    pub mqtt_port: u16,
    pub log: PathBuf,
    state: tempfile::TempDir,
}

impl Host {
    /// Starts the host on `manifest` with `options` and `env` added and waits
    /// until it is healthy. `name` names its log file.
    pub async fn start(
        args: &HostArgs,
        name: &str,
        manifest: &Path,
        options: &[&str],
        env: &[(&str, &str)],
    ) -> Result<Host> {
        let state = tempfile::tempdir()?;
        let http_port = free_port()?;
        std::fs::create_dir_all(&args.log_dir)?;
        let log = args.log_dir.join(format!("{name}.log"));
        let mut child = Command::new(&args.fleetjobs)
            .arg("up")
            .arg("--from")
            .arg(manifest)
            .arg("--listen")
            .arg(format!("127.0.0.1:{http_port}"))
            .arg("--state-dir")
            .arg(state.path())
            .arg("--cache-dir")
            .arg(&args.cache_dir)
            .args(options)
            .envs(env.iter().copied())
            // Component logs would cost the figure a terminal's speed
            // (`RUST_LOG` still chooses, to look into a row).
            .env(
                "RUST_LOG",
                std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log)?)
            .spawn()
            .map_err(|e| format!("{}: {e}", args.fleetjobs.display()))?;
        let stdout = tokio::process::ChildStdout::from_std(child.stdout.take().expect("piped"))?;
        let mut host = Host {
            child,
            http_port,
            mqtt_port: 0,
            log,
            state,
        };
        host.mqtt_port = tokio::time::timeout(START_TIMEOUT, host.printed_mqtt_port(stdout))
            .await
            .map_err(|_| host.failure("did not start in 15 minutes"))??;
        let deadline = Instant::now() + Duration::from_secs(30);
        while !host.healthy().await {
            if Instant::now() > deadline {
                return Err(host.failure("did not become healthy"));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(host)
    }

    /// The broker's port from the line `  MQTT       mqtt://127.0.0.1:1883 …`,
    /// printed once the components are loaded. The rest of the output is
    /// read and dropped so the host never blocks on a full pipe.
    async fn printed_mqtt_port(&self, stdout: tokio::process::ChildStdout) -> Result<u16> {
        let mut lines = BufReader::new(stdout).lines();
        while let Some(line) = lines.next_line().await? {
            let Some(url) = line.trim_start().strip_prefix("MQTT") else {
                continue;
            };
            let port = url
                .split_whitespace()
                .next()
                .and_then(|url| url.rsplit(':').next())
                .and_then(|port| port.parse().ok())
                .ok_or_else(|| format!("no port in the line {line:?}"))?;
            tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
            return Ok(port);
        }
        Err(self.failure("exited at start-up"))
    }

    async fn healthy(&self) -> bool {
        let health = http::request(
            self.http_port,
            Method::GET,
            "/.well-known/spin/health",
            None,
            Bytes::new(),
        );
        matches!(health.await, Ok((200, _)))
    }

    fn failure(&self, what: &str) -> crate::Error {
        format!("fleetjobs {what}; see {}", self.log.display()).into()
    }

    /// The host's resident memory now and its peak so far, in MB (Linux).
    pub fn memory_mb(&self) -> Result<(f64, f64)> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))?;
        let kilobytes = |key: &str| {
            status
                .lines()
                .find_map(|line| line.strip_prefix(key))
                .and_then(|rest| rest.split_whitespace().next()?.parse::<f64>().ok())
                .ok_or_else(|| format!("no {key} in /proc/<pid>/status"))
        };
        Ok((kilobytes("VmRSS:")? / 1024.0, kilobytes("VmHWM:")? / 1024.0))
    }

    /// The host's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The host's CPU time so far (user + system), in seconds (Linux).
    pub fn cpu_seconds(&self) -> Result<f64> {
        process_cpu_seconds(self.child.id())
    }

    pub fn state_dir(&self) -> &Path {
        self.state.path()
    }

    /// The managed mosquitto's service account, which `fleetjobs up` keeps
    /// in its state directory.
    pub fn service_login(&self) -> Result<crate::mqtt::Login> {
        let file = self.state_dir().join("mosquitto/service_password");
        let password =
            std::fs::read_to_string(&file).map_err(|e| format!("{}: {e}", file.display()))?;
        Ok(crate::mqtt::Login {
            username: "fleetjobs-service".into(),
            password: password.trim().to_owned(),
        })
    }

    /// A control-plane call with the API token that must answer `expected`;
    /// returns the JSON body (null when empty).
    pub async fn api(
        &self,
        method: Method,
        path: &str,
        body: Value,
        expected: u16,
    ) -> Result<Value> {
        let body = if body.is_null() {
            Bytes::new()
        } else {
            Bytes::from(body.to_string())
        };
        let (status, reply) =
            http::request(self.http_port, method.clone(), path, Some(API_TOKEN), body).await?;
        if status != expected {
            let reply = String::from_utf8_lossy(&reply);
            return Err(format!("{method} {path}: {status} {reply}").into());
        }
        if reply.is_empty() {
            return Ok(Value::Null);
        }
        Ok(serde_json::from_slice(&reply)?)
    }
}

impl Drop for Host {
    /// SIGTERM, not SIGKILL: the host then stops its managed mosquitto.
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + STOP_TIMEOUT;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A process' CPU time so far (user + system), in seconds (Linux).
pub fn process_cpu_seconds(pid: u32) -> Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // After the command name in parentheses: state is field 3, utime 14 and
    // stime 15, in USER_HZ (100 a second on Linux).
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |i: usize| -> Result<f64> {
        Ok(fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .ok_or("no CPU times in /proc/<pid>/stat")?)
    };
    Ok((ticks(11)? + ticks(12)?) / 100.0)
}

/// A port nothing listens on now.
pub fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// A one-component application from `tests/components`: the component's
/// absolute path and a temporary directory holding the `spin.toml` that
/// `manifest` writes for it (kept while the directory lives).
pub fn test_component_app(
    component: &Path,
    manifest: impl Fn(&Path) -> String,
) -> Result<(PathBuf, tempfile::TempDir)> {
    let component = std::path::absolute(component)?;
    if !component.is_file() {
        return Err(format!(
            "{} is missing: run tests/components/build.sh",
            component.display()
        )
        .into());
    }
    let app = tempfile::tempdir()?;
    std::fs::write(app.path().join("spin.toml"), manifest(&component))?;
    Ok((component, app))
}
