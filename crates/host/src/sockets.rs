//! `wasi:sockets`: which addresses a component's sockets may use, as Spin 3's
//! `factor-outbound-networking` decides it (its `socket_addr_check`):
//!
//! - a TCP connect is allowed where `allowed_outbound_hosts` allows the URL
//!   `tcp://{ip}:{port}`;
//! - a UDP bind or send where it allows `udp://{ip}:{port}`;
//! - a TCP bind or listen is refused (the guest serves nothing);
//! - name lookups (`ip-name-lookup`) are refused: Spin 3 never enables them
//!   (wasmtime's default), so a guest connects to addresses, and a lookup
//!   fails with `permanent-resolver-failure`.
//!
//! wasmtime 48 (Spin 3 ran on 42) names more uses than Spin's check knows:
//! it checks a connect's implicit bind (the unspecified address, port 0) as
//! a TCP bind, which Spin never saw, so that one is allowed (an explicit
//! bind to the same address cannot be told apart and passes too, but it
//! leads nowhere: listening is refused); it checks
//! received datagrams, which Spin did not filter, so they pass; and it
//! enables TCP and UDP only when asked, which Spin's wasmtime did by default.

use std::net::SocketAddr;
use std::sync::Arc;

use wasmtime_wasi::sockets::SocketAddrUse;
use wasmtime_wasi::WasiCtxBuilder;

use crate::app::LoadedComponent;
use crate::outbound::AllowedHosts;

/// Whether a component with these `allowed_outbound_hosts` may use `address`
/// for `what`.
pub fn permits(hosts: &AllowedHosts, address: SocketAddr, what: SocketAddrUse) -> bool {
    match what {
        SocketAddrUse::TcpConnect => hosts.allows_socket("tcp", address),
        SocketAddrUse::TcpBind => address.ip().is_unspecified() && address.port() == 0,
        SocketAddrUse::TcpListen | SocketAddrUse::TcpAccept => false,
        SocketAddrUse::UdpBind | SocketAddrUse::UdpSend => hosts.allows_socket("udp", address),
        SocketAddrUse::UdpReceive => true,
    }
}

/// Sets an instance's socket policy on its `WasiCtx`.
pub fn configure(wasi: &mut WasiCtxBuilder, component: &Arc<LoadedComponent>) {
    let component = component.clone();
    wasi.allow_tcp(true)
        .allow_udp(true)
        .allow_ip_name_lookup(false)
        .socket_addr_check(move |address, what| {
            let permitted = permits(&component.allowed_hosts, address, what);
            Box::pin(async move { permitted })
        });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn permitted(entries: &[&str], address: &str, what: SocketAddrUse) -> bool {
        let entries: Vec<String> = entries.iter().map(|e| e.to_string()).collect();
        permits(
            &AllowedHosts::parse(&entries).unwrap(),
            address.parse().unwrap(),
            what,
        )
    }

    #[test]
    fn connects_and_datagrams_follow_allowed_outbound_hosts() {
        let hosts = [
            "tcp://127.0.0.1:7",
            "udp://127.0.0.0/24:53",
            "*://10.0.0.1:1..3",
        ];
        assert!(permitted(&hosts, "127.0.0.1:7", SocketAddrUse::TcpConnect));
        assert!(!permitted(&hosts, "127.0.0.1:8", SocketAddrUse::TcpConnect));
        assert!(!permitted(&hosts, "127.0.0.1:7", SocketAddrUse::UdpSend));
        assert!(permitted(&hosts, "127.0.0.9:53", SocketAddrUse::UdpSend));
        assert!(!permitted(
            &hosts,
            "127.0.0.9:53",
            SocketAddrUse::TcpConnect
        ));
        assert!(permitted(&hosts, "10.0.0.1:2", SocketAddrUse::TcpConnect));
        assert!(permitted(&hosts, "10.0.0.1:2", SocketAddrUse::UdpBind));
        assert!(!permitted(&hosts, "10.0.0.1:3", SocketAddrUse::TcpConnect));
        assert!(
            permitted(&[], "192.0.2.1:9", SocketAddrUse::UdpReceive),
            "datagrams received are not filtered, as on Spin 3"
        );
    }

    #[test]
    fn binds_are_refused_but_a_connects_implicit_one() {
        let all = ["*://*:*"];
        assert!(permitted(&all, "0.0.0.0:0", SocketAddrUse::TcpBind));
        assert!(permitted(&all, "[::]:0", SocketAddrUse::TcpBind));
        assert!(!permitted(&all, "0.0.0.0:8080", SocketAddrUse::TcpBind));
        assert!(!permitted(&all, "127.0.0.1:0", SocketAddrUse::TcpBind));
        assert!(!permitted(&all, "0.0.0.0:0", SocketAddrUse::TcpListen));
        assert!(!permitted(&all, "127.0.0.1:9", SocketAddrUse::TcpAccept));
    }
}
