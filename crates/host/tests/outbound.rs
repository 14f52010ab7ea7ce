//! Outbound networking as Spin does it, on the real `fleetjobs up`:
//! `wasi:sockets` allowed and refused by `allowed_outbound_hosts` (host,
//! port, port range, IP range, `{{ variable }}` hosts; binds and name
//! lookups refused), against echo servers of the test's own; and outbound
//! Redis (`fermyon:spin/redis@2.0.0`) against a redis-server the test starts
//! on a free port (scripts/setup.sh installs it).

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use serde_json::{json, Value};

/// A guest test component's `.wasm` (tests/components/build.sh builds them).
fn wasm(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/components/target/wasm32-wasip2/release")
        .join(format!("{name}.wasm"))
}

/// An application of one component per `(route, wasm, allowed_outbound_hosts)`,
/// with `variables` (TOML lines), written to a temporary directory.
fn app(variables: &str, components: &[(&str, &str, &[String])]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let mut manifest = format!(
        "spin_manifest_version = 2\n[application]\nname = \"outbound\"\n\
         [variables]\n{variables}\n"
    );
    for (route, source, hosts) in components {
        manifest.push_str(&format!(
            "[[trigger.http]]\nroute = \"/{route}\"\ncomponent = \"{route}\"\n\
             [component.{route}]\nsource = {:?}\nallowed_outbound_hosts = {:?}\n",
            wasm(source).display().to_string(),
            hosts
        ));
    }
    let path = dir.path().join("spin.toml");
    std::fs::write(&path, manifest).unwrap();
    (dir, path)
}

/// `fleetjobs up` on `manifest`, without a managed broker (nothing here
/// speaks MQTT).
fn start(manifest: &Path, env: &[(&str, &str)]) -> Host {
    Host::start(
        manifest,
        &[
            "--cache-dir",
            SHARED_CACHE_DIR,
            "--mqtt-url",
            "mqtt://127.0.0.1:1",
        ],
        env,
    )
}

/// A TCP echo server on 127.0.0.1 (a thread per connection); its port.
fn tcp_echo() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().map_while(Result::ok) {
            std::thread::spawn(move || {
                let mut stream = stream;
                let mut buffer = [0; 1024];
                while let Ok(n @ 1..) = stream.read(&mut buffer) {
                    if stream.write_all(&buffer[..n]).is_err() {
                        break;
                    }
                }
            });
        }
    });
    port
}

/// A UDP echo server on 127.0.0.1; its port.
fn udp_echo() -> u16 {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = socket.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut buffer = [0; 1024];
        while let Ok((n, from)) = socket.recv_from(&mut buffer) {
            let _ = socket.send_to(&buffer[..n], from);
        }
    });
    port
}

fn strings(entries: &[&str]) -> Vec<String> {
    entries.iter().map(|e| e.to_string()).collect()
}

const DENIED: &str = "access-denied (error 1)";

#[test]
fn tcp_connects_are_allowed_exactly_where_allowed_outbound_hosts_allows_them() {
    let port = tcp_echo();
    let other = tcp_echo();
    let udp = udp_echo();
    let p = |text: &str| text.replace("P", &port.to_string());
    let components: Vec<(&str, &str, Vec<String>)> = vec![
        ("host", "tcp_connect", vec![p("tcp://127.0.0.1:P")]),
        ("any-scheme", "tcp_connect", vec![p("*://127.0.0.1:P")]),
        (
            "other-port",
            "tcp_connect",
            vec![format!("tcp://127.0.0.1:{}", port + 1)],
        ),
        (
            "range",
            "tcp_connect",
            vec![format!("tcp://127.0.0.1:{}..{}", port, port + 1)],
        ),
        (
            "range-end",
            "tcp_connect",
            vec![format!("tcp://127.0.0.1:{}..{}", port - 1, port)],
        ),
        ("ip-range", "tcp_connect", vec![p("*://127.0.0.0/24:P")]),
        (
            "other-ip-range",
            "tcp_connect",
            vec![p("tcp://10.0.0.0/8:P")],
        ),
        (
            "variable",
            "tcp_connect",
            vec![
                p("*://{{ net }}/{{ bits }}:P"),
                p("tcp://{{ echo_host }}:P"),
            ],
        ),
        ("udp", "tcp_connect", vec![p("tcp://127.0.0.1:P")]),
        ("none", "tcp_connect", vec![]),
        ("all", "tcp_connect", strings(&["*://*:*"])),
        (
            "udp-allowed",
            "tcp_connect",
            strings(&["udp://127.0.0.1:*"]),
        ),
    ];
    let components: Vec<(&str, &str, &[String])> = components
        .iter()
        .map(|(route, source, hosts)| (*route, *source, hosts.as_slice()))
        .collect();
    let (_dir, manifest) = app(
        "net = { default = \"10.0.0.0\" }\nbits = { default = \"8\" }\n\
         echo_host = { default = \"192.0.2.1\" }",
        &components,
    );
    // `net` comes from the environment, `bits` keeps its default.
    let host = start(&manifest, &[("SPIN_VARIABLE_NET", "127.0.0.0")]);
    let connect = |route: &str, to: &str| host.json(&format!("/{route}?connect={to}"));
    let echoed = json!({ "echo": "hello" });
    let refused = json!({ "error": DENIED });
    let to = format!("127.0.0.1:{port}");

    assert_eq!(connect("host", &to), echoed, "allowed by host and port");
    assert_eq!(connect("any-scheme", &to), echoed, "scheme *");
    assert_eq!(
        connect("host", &format!("127.0.0.2:{port}")),
        refused,
        "another address"
    );
    assert_eq!(
        connect("host", &format!("127.0.0.1:{other}")),
        refused,
        "another port"
    );
    assert_eq!(connect("other-port", &to), refused, "by port");
    assert_eq!(connect("range", &to), echoed, "in a port range");
    assert_eq!(
        connect("range-end", &to),
        refused,
        "a range's end is excluded"
    );
    assert_eq!(connect("ip-range", &to), echoed, "in an IP range");
    assert_eq!(
        connect("other-ip-range", &to),
        refused,
        "outside the IP range"
    );
    assert_eq!(
        connect("variable", &to),
        echoed,
        "an IP range from variables"
    );
    assert_eq!(connect("none", &to), refused, "no allowed_outbound_hosts");
    assert_eq!(connect("all", &to), echoed, "*://*:*");
    let nobody = connect("all", &format!("127.0.0.1:{}", free_port()));
    assert!(
        nobody["error"]
            .as_str()
            .is_some_and(|e| e.starts_with("connection-refused")),
        "allowed, and nobody listens: {nobody}"
    );

    // UDP is checked as udp://ip:port: the bind address and the destination.
    let datagram =
        |route: &str, from: &str| host.json(&format!("/{route}?udp=127.0.0.1:{udp}&from={from}"));
    assert_eq!(datagram("udp-allowed", "127.0.0.1:0"), echoed);
    assert_eq!(
        datagram("udp-allowed", "0.0.0.0:0"),
        refused,
        "binding 0.0.0.0 is not allowed"
    );
    assert_eq!(datagram("udp", "127.0.0.1:0"), refused, "tcp:// only");
    assert_eq!(datagram("all", "0.0.0.0:0"), echoed);

    // Binds are refused even with every host allowed, but for the
    // unspecified address with port 0: wasmtime 48 checks a connect's
    // implicit bind as that bind (sockets.rs), so it has to pass. Name
    // lookups (which Spin 3 does not enable) fail.
    for at in ["127.0.0.1:0", &format!("0.0.0.0:{}", free_port())] {
        assert_eq!(host.json(&format!("/all?bind={at}")), refused, "bind {at}");
    }
    assert_eq!(host.json("/all?bind=0.0.0.0:0"), json!({ "bound": true }));
    let lookup = host.json("/all?lookup=localhost");
    assert!(
        lookup["error"]
            .as_str()
            .is_some_and(|e| e.starts_with("permanent-resolver-failure")),
        "{lookup}"
    );
}

#[test]
fn a_variable_names_the_allowed_host() {
    let port = tcp_echo();
    let hosts = vec![format!("tcp://{{{{ echo_host }}}}:{port}")];
    let (_dir, manifest) = app(
        "echo_host = { default = \"192.0.2.1\" }",
        &[("connect", "tcp_connect", &hosts)],
    );
    let to = format!("/connect?connect=127.0.0.1:{port}");
    let by_default = start(&manifest, &[]);
    assert_eq!(by_default.json(&to), json!({ "error": DENIED }));
    drop(by_default);
    let set = start(&manifest, &[("SPIN_VARIABLE_ECHO_HOST", "127.0.0.1")]);
    assert_eq!(set.json(&to), json!({ "echo": "hello" }));
}

/// A redis-server of the test's own on a free port, killed when dropped.
struct Redis {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Redis {
    fn start() -> Redis {
        let binary = ["/usr/bin/redis-server", "/usr/local/bin/redis-server"]
            .into_iter()
            .find(|path| Path::new(path).exists())
            .unwrap_or("redis-server");
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let child = Command::new(binary)
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--dir"])
            .arg(dir.path())
            .stdout(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("redis-server ({binary}): {e}; scripts/setup.sh installs it")
            });
        let redis = Redis {
            child,
            port,
            _dir: dir,
        };
        let deadline = Instant::now() + DEADLINE;
        while redis.command("PING") != "+PONG" {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        redis
    }

    fn connection(&self) -> Option<TcpStream> {
        let stream = TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        stream.set_read_timeout(Some(DEADLINE)).unwrap();
        Some(stream)
    }

    /// One inline command; the reply's first line (and for a bulk string,
    /// its value).
    fn command(&self, command: &str) -> String {
        let Some(mut stream) = self.connection() else {
            return String::new();
        };
        if stream
            .write_all(format!("{command}\r\n").as_bytes())
            .is_err()
        {
            return String::new();
        }
        let mut reader = BufReader::new(stream);
        let mut line = String::new();
        let _ = reader.read_line(&mut line);
        if line.starts_with('$') && !line.starts_with("$-1") {
            let mut value = String::new();
            let _ = reader.read_line(&mut value);
            return value.trim_end().to_owned();
        }
        line.trim_end().to_owned()
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn redis_commands_on_a_real_server_and_denied_addresses() {
    let redis = Redis::start();
    let address = format!("redis://127.0.0.1:{}", redis.port);
    let allowed = vec![address.clone()];
    let by_variable = vec![format!("redis://{{{{ redis_host }}}}:{}", redis.port)];
    let wrong_port = vec![format!("redis://127.0.0.1:{}", redis.port + 1)];
    let (_dir, manifest) = app(
        "redis_host = { default = \"192.0.2.1\" }",
        &[
            ("redis", "redis_outbound", &allowed),
            ("by-variable", "redis_outbound", &by_variable),
            ("wrong-port", "redis_outbound", &wrong_port),
            ("none", "redis_outbound", &[]),
        ],
    );
    let host = start(&manifest, &[("SPIN_VARIABLE_REDIS_HOST", "127.0.0.1")]);
    let run = |route: &str, commands: Value| {
        host.post_json(
            &format!("/{route}"),
            &json!({ "address": address, "commands": commands }),
        )
    };

    // A subscriber of the test's own, to see the guest's publish arrive.
    let mut subscriber = redis.connection().unwrap();
    subscriber.write_all(b"SUBSCRIBE news\r\n").unwrap();
    let mut seen = Vec::new();
    let mut buffer = [0; 256];
    while !String::from_utf8_lossy(&seen).contains(":1\r\n") {
        let n = subscriber.read(&mut buffer).unwrap();
        assert!(n > 0, "the subscriber was disconnected");
        seen.extend_from_slice(&buffer[..n]);
    }

    let reply = run(
        "redis",
        json!([
            {"op": "set", "key": "greeting", "value": "Eureka!"},
            {"op": "get", "key": "greeting"},
            {"op": "get", "key": "missing"},
            {"op": "set", "key": "counter", "value": "41"},
            {"op": "incr", "key": "counter"},
            {"op": "incr", "key": "fresh"},
            {"op": "incr", "key": "greeting"},
            {"op": "del", "keys": ["counter", "fresh", "missing"]},
            {"op": "sadd", "key": "set", "values": ["a", "b", "c"]},
            {"op": "srem", "key": "set", "values": ["b", "z"]},
            {"op": "smembers", "key": "set"},
            {"op": "publish", "channel": "news", "payload": "extra"},
            {"op": "execute", "command": "append", "args": ["greeting", " I've got it!"]},
            {"op": "execute", "command": "get", "args": ["greeting"]},
            {"op": "execute", "command": "set", "args": ["n", 5]},
            {"op": "execute", "command": "incrby", "args": ["n", 10]},
            {"op": "execute", "command": "mget", "args": ["n", "missing"]},
            {"op": "execute", "command": "nosuchcommand", "args": []},
        ]),
    );
    let results = reply["results"]
        .as_array()
        .unwrap_or_else(|| panic!("{reply}"));
    assert_eq!(results[0], "ok");
    assert_eq!(results[1], "Eureka!");
    assert_eq!(results[2], Value::Null);
    assert_eq!(results[3], "ok");
    assert_eq!(results[4], 42);
    assert_eq!(results[5], 1);
    assert!(
        results[6]["error"]
            .as_str()
            .unwrap()
            .contains("not an integer"),
        "{}",
        results[6]
    );
    assert_eq!(results[7], 2, "counter and fresh deleted, missing ignored");
    assert_eq!(results[8], 3);
    assert_eq!(results[9], 1);
    assert_eq!(results[10], json!(["a", "c"]));
    assert_eq!(results[11], "ok");
    assert_eq!(results[12], json!([20]), "append answers the new length");
    assert_eq!(results[13], json!(["Eureka! I've got it!"]));
    assert_eq!(results[14], json!([{"status": "OK"}]));
    assert_eq!(results[15], json!([15]));
    assert_eq!(results[16], json!(["15", null]), "arrays are flattened");
    assert!(
        results[17]["error"]
            .as_str()
            .unwrap()
            .starts_with("Error::Other("),
        "{}",
        results[17]
    );

    // What the guest wrote is in the server, and its message reached the
    // subscriber.
    assert_eq!(redis.command("GET greeting"), "Eureka! I've got it!");
    assert_eq!(redis.command("EXISTS counter"), ":0");
    let deadline = Instant::now() + DEADLINE;
    while !String::from_utf8_lossy(&seen).contains("extra") {
        assert!(Instant::now() < deadline, "no message on news");
        let n = subscriber.read(&mut buffer).unwrap();
        assert!(n > 0, "the subscriber was disconnected");
        seen.extend_from_slice(&buffer[..n]);
    }

    // A host from a variable (set in the environment) is allowed.
    let reply = run("by-variable", json!([{"op": "get", "key": "greeting"}]));
    assert_eq!(reply["results"], json!(["Eureka! I've got it!"]));

    // Denied addresses are `invalid-address`, as on Spin.
    for route in ["wrong-port", "none"] {
        assert_eq!(
            run(route, json!([])),
            json!({ "error": "Error::InvalidAddress" }),
            "{route}"
        );
    }
    // An allowed address where nothing listens is another error.
    let closed = format!("redis://127.0.0.1:{}", free_port());
    let (_dir, manifest) = app(
        "",
        &[("redis", "redis_outbound", std::slice::from_ref(&closed))],
    );
    let other = start(&manifest, &[]);
    let reply = other.post_json("/redis", &json!({ "address": closed }));
    assert!(
        reply["error"]
            .as_str()
            .unwrap()
            .starts_with("Error::Other("),
        "{reply}"
    );
}
