//! `tcp-connect`: `wasi:sockets` as a guest sees it, through WASI 0.2.0's own bindings (the `wasi`
//! crate spin-sdk 5.2 uses). One query parameter picks what to do:
//!
//! - `?connect=<ip:port>`: TCP connect, write `hello`, read as many bytes back →
//!   `{"echo": "hello"}`;
//! - `?udp=<ip:port>&from=<ip:port>`: bind a UDP socket to `from` (default `0.0.0.0:0`), send
//!   `hello` to `udp`, receive one datagram → `{"echo": "..."}`;
//! - `?bind=<ip:port>`: bind a TCP socket → `{"bound": true}`;
//! - `?lookup=<name>`: `ip-name-lookup` → `{"addresses": ["ip", ...]}`.
//!
//! A refusal is `{"error": "<error-code name> (error <n>)"}` (the binding's `Display`, as the
//! Spin conformance suite's `tcp-sockets` component prints it); a bad parameter is a 400.

use std::net::{IpAddr, SocketAddr};

use serde_json::{json, Value};
use spin_sdk::http::{IntoResponse, Request, Response};
use spin_sdk::http_component;
use wasi::io::poll;
use wasi::sockets::instance_network::instance_network;
use wasi::sockets::ip_name_lookup;
use wasi::sockets::network::{
    ErrorCode, IpAddress, IpAddressFamily, IpSocketAddress, Ipv4SocketAddress, Ipv6SocketAddress,
};
use wasi::sockets::udp::OutgoingDatagram;
use wasi::sockets::{tcp_create_socket, udp_create_socket};

const MESSAGE: &[u8] = b"hello";

fn respond(status: u16, body: Value) -> Response {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(body.to_string())
        .build()
}

fn wasi_address(address: SocketAddr) -> IpSocketAddress {
    match address {
        SocketAddr::V4(address) => IpSocketAddress::Ipv4(Ipv4SocketAddress {
            address: address.ip().octets().into(),
            port: address.port(),
        }),
        SocketAddr::V6(address) => IpSocketAddress::Ipv6(Ipv6SocketAddress {
            address: address.ip().segments().into(),
            port: address.port(),
            flow_info: 0,
            scope_id: 0,
        }),
    }
}

fn family(address: SocketAddr) -> IpAddressFamily {
    match address {
        SocketAddr::V4(_) => IpAddressFamily::Ipv4,
        SocketAddr::V6(_) => IpAddressFamily::Ipv6,
    }
}

fn connect(address: SocketAddr) -> Result<Value, String> {
    let error = |e: ErrorCode| e.to_string();
    let socket = tcp_create_socket::create_tcp_socket(family(address)).map_err(error)?;
    socket
        .start_connect(&instance_network(), wasi_address(address))
        .map_err(error)?;
    let (input, output) = loop {
        match socket.finish_connect() {
            Err(ErrorCode::WouldBlock) => {
                poll::poll(&[&socket.subscribe()]);
            }
            result => break result.map_err(error)?,
        }
    };
    output
        .blocking_write_and_flush(MESSAGE)
        .map_err(|e| format!("write: {e:?}"))?;
    let mut echo = Vec::new();
    while echo.len() < MESSAGE.len() {
        let chunk = input
            .blocking_read((MESSAGE.len() - echo.len()) as u64)
            .map_err(|e| format!("read: {e:?}"))?;
        echo.extend(chunk);
    }
    Ok(json!({ "echo": String::from_utf8_lossy(&echo) }))
}

fn udp(address: SocketAddr, from: SocketAddr) -> Result<Value, String> {
    let error = |e: ErrorCode| e.to_string();
    let network = instance_network();
    let socket = udp_create_socket::create_udp_socket(family(address)).map_err(error)?;
    socket
        .start_bind(&network, wasi_address(from))
        .map_err(error)?;
    loop {
        match socket.finish_bind() {
            Err(ErrorCode::WouldBlock) => {
                poll::poll(&[&socket.subscribe()]);
            }
            result => break result.map_err(error)?,
        }
    }
    let (incoming, outgoing) = socket.stream(Some(wasi_address(address))).map_err(error)?;
    while outgoing.check_send().map_err(error)? == 0 {
        poll::poll(&[&outgoing.subscribe()]);
    }
    outgoing
        .send(&[OutgoingDatagram {
            data: MESSAGE.to_vec(),
            remote_address: None,
        }])
        .map_err(error)?;
    loop {
        let datagrams = incoming.receive(1).map_err(error)?;
        if let Some(datagram) = datagrams.into_iter().next() {
            return Ok(json!({ "echo": String::from_utf8_lossy(&datagram.data) }));
        }
        poll::poll(&[&incoming.subscribe()]);
    }
}

fn bind(address: SocketAddr) -> Result<Value, String> {
    let error = |e: ErrorCode| e.to_string();
    let socket = tcp_create_socket::create_tcp_socket(family(address)).map_err(error)?;
    socket
        .start_bind(&instance_network(), wasi_address(address))
        .map_err(error)?;
    loop {
        match socket.finish_bind() {
            Err(ErrorCode::WouldBlock) => {
                poll::poll(&[&socket.subscribe()]);
            }
            result => break result.map_err(error)?,
        }
    }
    Ok(json!({ "bound": true }))
}

fn lookup(name: &str) -> Result<Value, String> {
    let error = |e: ErrorCode| e.to_string();
    let stream = ip_name_lookup::resolve_addresses(&instance_network(), name).map_err(error)?;
    let mut addresses = Vec::new();
    loop {
        match stream.resolve_next_address() {
            Err(ErrorCode::WouldBlock) => {
                poll::poll(&[&stream.subscribe()]);
            }
            Err(e) => return Err(error(e)),
            Ok(None) => break,
            Ok(Some(IpAddress::Ipv4((a, b, c, d)))) => {
                addresses.push(IpAddr::from([a, b, c, d]).to_string())
            }
            Ok(Some(IpAddress::Ipv6((a, b, c, d, e, f, g, h)))) => {
                addresses.push(IpAddr::from([a, b, c, d, e, f, g, h]).to_string())
            }
        }
    }
    Ok(json!({ "addresses": addresses }))
}

#[http_component]
fn handle(req: Request) -> impl IntoResponse {
    let params: Vec<(String, String)> = form_urlencoded::parse(req.query().as_bytes())
        .into_owned()
        .collect();
    let param = |name: &str| {
        params
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    };
    let address = |name: &str| param(name).map(str::parse::<SocketAddr>);
    let outcome = match (
        address("connect"),
        address("udp"),
        address("bind"),
        param("lookup"),
    ) {
        (Some(Ok(to)), None, None, None) => connect(to),
        (None, Some(Ok(to)), None, None) => {
            match address("from").unwrap_or(Ok(SocketAddr::from(([0, 0, 0, 0], 0)))) {
                Ok(from) => udp(to, from),
                Err(e) => return respond(400, json!({ "error": format!("from: {e}") })),
            }
        }
        (None, None, Some(Ok(at)), None) => bind(at),
        (None, None, None, Some(name)) => lookup(name),
        _ => {
            return respond(
                400,
                json!({ "error": "one of connect, udp, bind (ip:port) or lookup (a name)" }),
            )
        }
    };
    match outcome {
        Ok(body) => respond(200, body),
        Err(error) => respond(200, json!({ "error": error })),
    }
}
