#!/usr/bin/env python3
"""Runs Spin's conformance suite (github.com/fermyon/conformance-tests) against
`fleetjobs up`: one host per test, with local services on free ports (a TCP
echo server, the suite's http-echo.py, redis-server, mosquitto with the
suite's user/password, and for the `postgres` test a throwaway PostgreSQL
cluster of the machine's binaries (scripts/postgres.sh installs them) set up
as the suite's docker image is: user postgres with password postgres,
database spin_dev with the suite's postgres-init/*.sql, no TLS); the
responses are compared as the suite's own assertions do (status, body,
headers: exact, nothing extra).

The suite is not in this repository (CI cannot fetch it). With a checkout in
SUITE and the host built (`cargo build --release -p fleetjobs`):

  cd SUITE && cargo update -p url --precise 2.5.8   # url 2.5.0 fails on wasm32-wasip2 today
  cargo build --release --target wasm32-wasip2 -p key-value -p outbound-mqtt-test-component \
    -p outbound-redis-test-component -p wasi-http-rust-0-2-0 -p request-shape \
    -p sqlite-test-component -p tcp-sockets-test-component -p variables -p postgres-test-component
  scripts/spin-conformance.py SUITE [target/release/fleetjobs] [test ...]

Prints one line per test and a summary; exits non-zero if a test fails."""

import atexit, http.client, json, os, re, shutil, socket, subprocess, sys, tempfile, threading, time

if len(sys.argv) < 2:
    sys.exit(__doc__)
CT = os.path.abspath(sys.argv[1])
HOST_BIN = os.path.abspath(sys.argv[2]) if len(sys.argv) > 2 else os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "target", "release", "fleetjobs")
WASM_DIR = f"{CT}/target/wasm32-wasip2/release"
ONLY = sys.argv[3:]


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_port(port, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            time.sleep(0.1)
    return False


def tcp_echo():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    port = server.getsockname()[1]

    def serve(conn):
        while True:
            data = conn.recv(1024)
            if not data:
                break
            conn.sendall(data)
        conn.close()

    def accept():
        while True:
            conn, _ = server.accept()
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    return port


services = {}
procs = []
atexit.register(lambda: [p.kill() for p in procs])
work = tempfile.mkdtemp(prefix="ct-run-")

services[7] = tcp_echo()

echo = subprocess.Popen([sys.executable, f"{CT}/crates/test-environment/services/http-echo.py"],
                        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
procs.append(echo)
for line in echo.stdout:
    m = re.match(r"PORT=\((\d+),(\d+)\)", line)
    if m:
        services[int(m.group(1))] = int(m.group(2))
    if line.strip() == "READY":
        break
threading.Thread(target=lambda: [None for _ in echo.stdout], daemon=True).start()

redis_port = free_port()
procs.append(subprocess.Popen(["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1 -::1",
                               "--save", "", "--appendonly", "no", "--dir", work],
                              stdout=subprocess.DEVNULL))
services[6379] = redis_port

mqtt_port = free_port()
passwords = f"{work}/mqtt-passwords"
subprocess.run(["mosquitto_passwd", "-b", "-c", passwords, "user", "password"], check=True,
               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
os.chmod(passwords, 0o600)
with open(f"{work}/mosquitto.conf", "w") as f:
    f.write(f"user root\nlistener {mqtt_port}\nallow_anonymous true\npassword_file {passwords}\n")
procs.append(subprocess.Popen(["mosquitto", "-c", f"{work}/mosquitto.conf"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
services[1883] = mqtt_port
for port in (redis_port, mqtt_port):
    assert wait_port(port), f"service on {port} did not start"


def postgres():
    """A PostgreSQL cluster of its own on a free port, as the suite's
    postgres.Dockerfile sets it up; run as the `postgres` user when this
    script runs as root (the server refuses root)."""
    versions = sorted(os.listdir("/usr/lib/postgresql"), key=lambda v: [int(x) for x in v.split(".")])
    bin_dir = f"/usr/lib/postgresql/{versions[-1]}/bin"
    data = tempfile.mkdtemp(prefix="ct-postgres-")
    atexit.register(lambda: shutil.rmtree(data, ignore_errors=True))
    as_owner = {}
    if os.geteuid() == 0:
        shutil.chown(data, "postgres", "postgres")
        as_owner = {"user": "postgres", "group": "postgres", "extra_groups": []}
    with open(f"{data}/pwfile", "w") as f:
        f.write("postgres\n")
    os.chmod(f"{data}/pwfile", 0o644)
    subprocess.run([f"{bin_dir}/initdb", "-D", f"{data}/db", "-U", "postgres", "--pwfile",
                    f"{data}/pwfile", "--auth-local=trust", "--auth-host=scram-sha-256"],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=data, **as_owner)
    port = free_port()
    procs.append(subprocess.Popen([f"{bin_dir}/postgres", "-D", f"{data}/db", "-p", str(port), "-k", data,
                                   "-c", "listen_addresses=localhost", "-c", "ssl=off"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=data, **as_owner))
    assert wait_port(port), "postgres did not start"
    psql = ["psql", "-h", data, "-p", str(port), "-U", "postgres", "-v", "ON_ERROR_STOP=1", "-q"]
    for _ in range(50):
        if subprocess.run(psql + ["-c", "SELECT 1"], capture_output=True, cwd=data, **as_owner).returncode == 0:
            break
        time.sleep(0.2)
    subprocess.run(psql + ["-c", "CREATE DATABASE spin_dev"], check=True, cwd=data, **as_owner)
    init = f"{CT}/crates/test-environment/services/postgres-init"
    for sql in sorted(os.listdir(init)):
        with open(f"{init}/{sql}") as f:
            subprocess.run(psql + ["-d", "spin_dev"], stdin=f, check=True, stdout=subprocess.DEVNULL, cwd=data,
                           **as_owner)
    return port


def wasm_for(component):
    with open(f"{CT}/components/{component}/Cargo.toml") as f:
        name = re.search(r'^name\s*=\s*"([^"]+)"', f.read(), re.M).group(1)
    return f"{WASM_DIR}/{name.replace('-', '_')}.wasm"


def substitute(text, test_dir):
    def repl(m):
        key, value = m.group(1).split("=", 1)
        if key == "source":
            wasm = wasm_for(value)
            shutil.copy(wasm, test_dir)
            return os.path.basename(wasm)
        if key == "port":
            return str(services.get(int(value), 1))
        raise ValueError(key)
    return re.sub(r"%\{(.*?)\}", repl, text)


def json5(path):
    out = subprocess.run(["node", "-e", "const fs=require('fs');"
                          "process.stdout.write(JSON.stringify(eval('('+fs.readFileSync(process.argv[1],'utf8')+')')))",
                          path], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def check(expected, status, headers, body):
    want_status = expected.get("status", 200)
    if status != want_status:
        return f"status {status} != {want_status}: {body!r}"
    want_body = expected.get("body") or ""
    if body != want_body:
        return f"body {body!r} != {want_body!r}"
    actual = {k.lower(): v.lower() for k, v in headers}
    for h in expected.get("headers", []):
        name = h["name"].lower()
        if name not in actual:
            if h.get("optional"):
                continue
            return f"header {name} missing"
        value = actual.pop(name)
        if h.get("value") is not None and value != h["value"].lower():
            return f"header {name}: {value!r} != {h['value'].lower()!r}"
    if actual:
        return f"unexpected headers {actual}"
    return None


results = []
tests = sorted(os.listdir(f"{CT}/tests"))
if any(open(f"{CT}/tests/{t}/spin.toml").read().count("%{port=5432}") for t in tests if not ONLY or t in ONLY):
    services[5432] = postgres()
for test in tests:
    if ONLY and test not in ONLY:
        continue
    test_dir = tempfile.mkdtemp(prefix=f"{test}-", dir=work)
    with open(f"{CT}/tests/{test}/spin.toml") as f:
        manifest = substitute(f.read(), test_dir)
    with open(f"{test_dir}/spin.toml", "w") as f:
        f.write(manifest)
    config = json5(f"{CT}/tests/{test}/test.json5")
    port = free_port()
    log = open(f"{test_dir}/host.log", "w")
    host = subprocess.Popen([HOST_BIN, "up", "--from", f"{test_dir}/spin.toml", "--listen", f"127.0.0.1:{port}",
                             "--state-dir", f"{test_dir}/state", "--cache-dir", f"{work}/cache",
                             "--mqtt-url", "mqtt://127.0.0.1:1"], stdout=log, stderr=log)
    failure = None
    deadline = time.time() + 60
    while True:
        if host.poll() is not None:
            failure = "host exited at start-up: " + open(f"{test_dir}/host.log").read().strip().splitlines()[-1][:300]
            break
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            c.request("GET", "/.well-known/spin/health")
            if c.getresponse().status == 200:
                break
        except OSError:
            pass
        if time.time() > deadline:
            failure = "host not healthy"
            break
        time.sleep(0.1)
    if failure is None:
        for invocation in config["invocations"]:
            req, expected = invocation["request"], invocation["response"]
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            c.putrequest(req.get("method", "GET"), req["path"], skip_host=True, skip_accept_encoding=True)
            body = req.get("body")
            for h in req.get("headers", []):
                c.putheader(h["name"], re.sub(r"%\{port=(\d+)\}", lambda m: str(services[int(m.group(1))]), h["value"]))
            if body is not None:
                c.putheader("Content-Length", str(len(body.encode())))
            c.endheaders(body.encode() if body is not None else None)
            r = c.getresponse()
            text = r.read().decode(errors="replace")
            failure = check(expected, r.status, r.getheaders(), text)
            if failure:
                break
    host.terminate()
    try:
        host.wait(10)
    except subprocess.TimeoutExpired:
        host.kill()
    results.append((test, failure))
    print(f"{'PASS' if failure is None else 'FAIL'} {test}" + (f": {failure}" if failure else ""), flush=True)

for p in procs:
    p.terminate()
passed = sum(1 for _, f in results if f is None)
print(f"{passed} of {len(results)} pass")
shutil.rmtree(work, ignore_errors=True)
sys.exit(0 if passed == len(results) else 1)
