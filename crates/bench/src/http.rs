//! HTTP/1.1 on hyper: single requests (the control-plane API, health checks)
//! and the load generator both hosts are measured with.

use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::{header, Method, Request};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::task::JoinSet;

use crate::Result;

/// A keep-alive connection to 127.0.0.1:`port`.
async fn connect(port: u16) -> Result<SendRequest<Full<Bytes>>> {
    let stream = TcpStream::connect(("127.0.0.1", port)).await?;
    stream.set_nodelay(true)?;
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(connection);
    Ok(sender)
}

fn build(
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Bytes,
) -> Result<Request<Full<Bytes>>> {
    let mut request = Request::builder()
        .method(method)
        .uri(path)
        .header(header::HOST, "127.0.0.1")
        .header(header::CONTENT_TYPE, "application/json");
    if let Some(token) = token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    Ok(request.body(Full::new(body))?)
}

/// Sends the request and reads the whole answer.
async fn exchange(
    sender: &mut SendRequest<Full<Bytes>>,
    request: Request<Full<Bytes>>,
) -> Result<(u16, Bytes)> {
    sender.ready().await?;
    let response = sender.send_request(request).await?;
    let status = response.status().as_u16();
    let body = response.into_body().collect().await?.to_bytes();
    Ok((status, body))
}

/// One request on its own connection: status and body.
pub async fn request(
    port: u16,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Bytes,
) -> Result<(u16, Bytes)> {
    let mut sender = connect(port).await?;
    exchange(&mut sender, build(method, path, token, body)?).await
}

/// `connections` keep-alive connections, each sending `GET path` again as soon
/// as the previous answer is read, for `duration`; returns 200 answers/s.
/// Any other answer or a broken connection fails the run: it would flatter
/// the rate.
pub async fn load(port: u16, path: &str, connections: usize, duration: Duration) -> Result<f64> {
    let path = path.to_owned();
    load_requests(port, connections, duration, move |_| {
        (Method::GET, path.clone(), Bytes::new())
    })
    .await
}

/// [`load`] with the requests `next` makes (method, path, body), given how
/// many the connection has sent.
pub async fn load_requests(
    port: u16,
    connections: usize,
    duration: Duration,
    next: impl Fn(u64) -> (Method, String, Bytes) + Clone + Send + 'static,
) -> Result<f64> {
    let until = Instant::now() + duration;
    let mut tasks = JoinSet::new();
    for _ in 0..connections {
        let next = next.clone();
        tasks.spawn(async move {
            let mut sender = connect(port).await?;
            let mut answered = 0_u64;
            while Instant::now() < until {
                let (method, path, body) = next(answered);
                let (status, answer) =
                    exchange(&mut sender, build(method.clone(), &path, None, body)?).await?;
                if status != 200 {
                    let answer = String::from_utf8_lossy(&answer);
                    return Err(format!("{method} {path}: {status} {answer}").into());
                }
                answered += 1;
            }
            Ok::<_, crate::Error>(answered)
        });
    }
    let mut answered = 0;
    while let Some(connection) = tasks.join_next().await {
        answered += connection??;
    }
    Ok(answered as f64 / duration.as_secs_f64())
}
