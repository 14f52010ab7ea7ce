#![allow(dead_code)] // each test file uses a part

pub mod browser;
pub mod fleet;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub const DEADLINE: Duration = Duration::from_secs(60);

/// A compile cache the tests' hosts share, so each component is compiled
/// once per test run instead of once per host.
pub const SHARED_CACHE_DIR: &str = concat!(env!("CARGO_TARGET_TMPDIR"), "/fleetjobs-cache");

/// The conformance app's manifest.
pub fn app_manifest() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/app/spin.toml")
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running `fleetjobs up`, stopped (SIGTERM) when dropped.
pub struct Host {
    child: Child,
    pub port: u16,
    pub stdout: Vec<String>,
    state: Option<tempfile::TempDir>,
    /// The device tokens the registry handed out, by thing (what a real
    /// device keeps in its own secure storage).
    device_tokens: std::sync::Mutex<std::collections::BTreeMap<String, String>>,
}

impl Host {
    /// Starts the real binary on a free port and waits until it is healthy.
    pub fn start(manifest: &Path, args: &[&str], env: &[(&str, &str)]) -> Host {
        let state = tempfile::tempdir().unwrap();
        let port = free_port();
        let mut command = Command::new(env!("CARGO_BIN_EXE_fleetjobs"));
        command
            .arg("up")
            .arg("--from")
            .arg(manifest)
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .arg("--state-dir")
            .arg(state.path())
            .args(args)
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut child = command.spawn().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (lines, received) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                println!("[fleetjobs] {line}");
                if lines.send(line).is_err() {
                    break;
                }
            }
        });
        let mut host = Host {
            child,
            port,
            stdout: Vec::new(),
            state: Some(state),
            device_tokens: Default::default(),
        };
        let deadline = Instant::now() + DEADLINE;
        loop {
            while let Ok(line) = received.try_recv() {
                host.stdout.push(line);
            }
            if let Ok(Some(status)) = host.child.try_wait() {
                panic!("fleetjobs exited at start-up: {status}");
            }
            if host.get("/.well-known/spin/health").0 == 200 {
                while let Ok(line) = received.recv_timeout(Duration::from_millis(100)) {
                    host.stdout.push(line);
                }
                return host;
            }
            assert!(
                Instant::now() < deadline,
                "fleetjobs did not become healthy"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn get(&self, path: &str) -> (u16, String) {
        request(self.port, "GET", path, "")
    }

    pub fn post(&self, path: &str, body: &str) -> (u16, String) {
        request(self.port, "POST", path, body)
    }

    pub fn json(&self, path: &str) -> serde_json::Value {
        let (status, body) = self.get(path);
        assert_eq!(status, 200, "GET {path}: {body}");
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {path}: {e}: {body}"))
    }

    pub fn post_json(&self, path: &str, body: &serde_json::Value) -> serde_json::Value {
        let (status, text) = self.post(path, &body.to_string());
        assert_eq!(status, 200, "POST {path}: {text}");
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("POST {path}: {e}: {text}"))
    }

    /// Remembers the device token the registry gave `thing`.
    pub fn keep_device_token(&self, thing: &str, token: &str) {
        let mut tokens = self.device_tokens.lock().unwrap();
        tokens.insert(thing.to_owned(), token.to_owned());
    }

    /// The device token of `thing`, as the registry last gave it.
    pub fn device_token(&self, thing: &str) -> String {
        let tokens = self.device_tokens.lock().unwrap();
        tokens
            .get(thing)
            .unwrap_or_else(|| panic!("no device token for {thing}"))
            .clone()
    }

    /// The device tokens of `things`, for a simulated fleet.
    pub fn device_tokens<'a>(
        &self,
        things: impl IntoIterator<Item = &'a String>,
    ) -> std::collections::BTreeMap<String, String> {
        things
            .into_iter()
            .map(|thing| (thing.clone(), self.device_token(thing)))
            .collect()
    }

    pub fn state_dir(&self) -> &Path {
        self.state.as_ref().expect("the host is running").path()
    }

    /// SIGKILL: the host stops at once, whatever it was doing.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then waits for the exit (killing it after 10 s).
    fn terminate(&mut self) -> Option<std::process::ExitStatus> {
        if let Ok(Some(status)) = self.child.try_wait() {
            return Some(status);
        }
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        None
    }

    /// Stops the host gracefully; returns how it exited (None if it had to
    /// be killed) and its state directory.
    pub fn stop(mut self) -> (Option<std::process::ExitStatus>, tempfile::TempDir) {
        let status = self.terminate();
        (status, self.state.take().expect("stopped once"))
    }

    /// The URL printed on the line starting with `label`.
    pub fn printed(&self, label: &str) -> Option<String> {
        self.stdout
            .iter()
            .find_map(|l| l.trim_start().strip_prefix(label))
            .and_then(|rest| rest.split_whitespace().next())
            .map(str::to_owned)
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        self.terminate();
    }
}

/// A minimal HTTP/1.1 client: one request per connection. Status 0 when the
/// connection fails.
pub fn request(port: u16, method: &str, path: &str, body: &str) -> (u16, String) {
    authorized_request(port, method, path, body, None)
}

/// [`request`] with an optional bearer token.
pub fn authorized_request(
    port: u16,
    method: &str,
    path: &str,
    body: &str,
    token: Option<&str>,
) -> (u16, String) {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return (0, String::new());
    };
    stream.set_read_timeout(Some(DEADLINE)).unwrap();
    let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\
         {auth}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    if stream.write_all(head.as_bytes()).is_err() || stream.write_all(body.as_bytes()).is_err() {
        return (0, String::new());
    }
    let mut response = Vec::new();
    if stream.read_to_end(&mut response).is_err() {
        return (0, String::new());
    }
    let text = String::from_utf8_lossy(&response).into_owned();
    let Some((head, body)) = text.split_once("\r\n\r\n") else {
        return (0, text);
    };
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_owned()
    };
    (status, body)
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let Ok(size) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if size == 0 || rest.len() < size {
            break;
        }
        out.push_str(&rest[..size]);
        body = rest[size..].trim_start_matches("\r\n");
    }
    out
}

/// Polls `check` until it returns Some, or fails after [`DEADLINE`].
pub fn eventually<T>(what: &str, check: impl FnMut() -> Option<T>) -> T {
    eventually_within(DEADLINE, what, check)
}

/// [`eventually`] with a deadline of its own, for work that is large on
/// purpose (and slow on a loaded machine in a debug build).
pub fn eventually_within<T>(
    deadline: Duration,
    what: &str,
    mut check: impl FnMut() -> Option<T>,
) -> T {
    let deadline = Instant::now() + deadline;
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}
