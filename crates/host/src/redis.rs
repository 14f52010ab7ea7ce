//! `fermyon:spin/redis@2.0.0`: outbound Redis with the `redis` crate's tokio
//! multiplexed connection, as Spin's `factor-outbound-redis` does it.
//!
//! Each `open` checks `allowed_outbound_hosts` (scheme `redis`; a denied
//! address is `invalid-address`, Spin's answer, with Spin's hint in the log)
//! and opens a connection of its own that lives as long as the guest's
//! resource: connections are not shared between guests, since `execute` can
//! change a connection's state (`SELECT`, `MULTI`, `CLIENT SETNAME`).
//! `execute` flattens arrays and sets of the reply into its list of results
//! and refuses maps, attributes, verbatim strings and pushes, as Spin does.

use std::time::Duration;

use ::redis::aio::MultiplexedConnection;
use ::redis::{AsyncConnectionConfig, ErrorKind, RedisError, Value};
use wasmtime::component::Resource;

use crate::app::HostState;
use crate::bindings::fermyon::spin::redis::{
    Error, Host, HostConnection, RedisParameter, RedisResult,
};

/// How long `open` waits for the server.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The largest reply a guest is handed (Spin's `MAX_HOST_BUFFERED_BYTES`).
const MAX_REPLY_BYTES: usize = 128 << 20;

/// What a guest's `connection` resource holds.
pub struct RedisHandle {
    connection: MultiplexedConnection,
}

fn other(error: impl std::fmt::Display) -> Error {
    Error::Other(error.to_string())
}

/// Opens a connection to `address` (`redis://[user:password@]host[:port][/db]`).
async fn connect(address: &str) -> Result<MultiplexedConnection, Error> {
    let client = ::redis::Client::open(address).map_err(|_| Error::InvalidAddress)?;
    // No response timeout (blocking commands are the guest's to choose; the
    // execution deadline bounds the instance), a bounded connect.
    let config = AsyncConnectionConfig::new()
        .set_connection_timeout(Some(CONNECT_TIMEOUT))
        .set_response_timeout(None);
    client
        .get_multiplexed_async_connection_with_config(&config)
        .await
        .map_err(other)
}

/// A reply of `execute` as the guest's list of results.
fn results(value: Value, out: &mut Vec<RedisResult>) -> Result<(), Error> {
    let unsupported = |what: &str| Err(other(format!("Redis {what} type is not supported")));
    match value {
        Value::Nil => out.push(RedisResult::Nil),
        Value::Int(v) => out.push(RedisResult::Int64(v)),
        Value::BulkString(bytes) => out.push(RedisResult::Binary(bytes)),
        Value::SimpleString(s) => out.push(RedisResult::Status(s)),
        Value::Okay => out.push(RedisResult::Status("OK".into())),
        Value::Array(values) | Value::Set(values) => {
            for value in values {
                results(value, out)?;
            }
        }
        Value::Double(v) => out.push(RedisResult::Binary(v.to_string().into_bytes())),
        Value::Boolean(v) => out.push(RedisResult::Int64(v.into())),
        // Its decimal digits (the crate's `num-bigint` feature is off).
        Value::BigNumber(digits) => out.push(RedisResult::Binary(digits)),
        Value::Map(_) => return unsupported("Map"),
        Value::Attribute { .. } => return unsupported("Attribute"),
        Value::VerbatimString { .. } => return unsupported("string with format attribute"),
        Value::Push { .. } => return unsupported("Pub/Sub"),
        Value::ServerError(error) => return Err(other(RedisError::from(error))),
        // `Value` is non-exhaustive.
        _ => return unsupported("reply"),
    }
    Ok(())
}

fn reply_size(results: &[RedisResult]) -> usize {
    results
        .iter()
        .map(|result| {
            std::mem::size_of::<RedisResult>()
                + match result {
                    RedisResult::Binary(bytes) => bytes.len(),
                    RedisResult::Status(status) => status.len(),
                    RedisResult::Nil | RedisResult::Int64(_) => 0,
                }
        })
        .sum()
}

/// Why a query failed: no such connection, or Redis said no.
enum QueryError {
    Connection(Error),
    Redis(RedisError),
}

impl From<QueryError> for Error {
    fn from(error: QueryError) -> Self {
        match error {
            QueryError::Connection(error) => error,
            QueryError::Redis(error) => other(error),
        }
    }
}

/// Runs `cmd` on the guest's connection and reads its reply as `T`.
async fn query_raw<T: ::redis::FromRedisValue>(
    connection: Result<MultiplexedConnection, Error>,
    cmd: ::redis::Cmd,
) -> Result<T, QueryError> {
    let mut connection = connection.map_err(QueryError::Connection)?;
    cmd.query_async::<T>(&mut connection)
        .await
        .map_err(QueryError::Redis)
}

/// [`query_raw`] with Redis' refusals as `other`.
async fn query<T: ::redis::FromRedisValue>(
    connection: Result<MultiplexedConnection, Error>,
    cmd: ::redis::Cmd,
) -> Result<T, Error> {
    query_raw(connection, cmd).await.map_err(Error::from)
}

impl HostState {
    /// The guest's connection (a cheap clone: it multiplexes one socket).
    fn redis(&self, connection: &Resource<RedisHandle>) -> Result<MultiplexedConnection, Error> {
        self.table
            .get(connection)
            .map(|handle| handle.connection.clone())
            .map_err(|_| other("could not find connection for resource"))
    }
}

impl Host for HostState {}

impl HostConnection for HostState {
    async fn open(
        &mut self,
        address: String,
    ) -> wasmtime::Result<Result<Resource<RedisHandle>, Error>> {
        if !self.component.allowed_hosts.allows_url(&address) {
            let destination = address
                .split(['/', '?'])
                .take(3)
                .collect::<Vec<_>>()
                .join("/");
            tracing::warn!(
                component = %self.component.id,
                "A component tried to make an outbound network connection to disallowed \
                 destination '{destination}'. To allow this request, add \
                 'allowed_outbound_hosts = [\"{destination}\"]' to the manifest component section."
            );
            return Ok(Err(Error::InvalidAddress));
        }
        let connection = match connect(&address).await {
            Ok(connection) => connection,
            Err(error) => return Ok(Err(error)),
        };
        Ok(self
            .table
            .push(RedisHandle { connection })
            .map_err(|_| Error::TooManyConnections))
    }

    async fn publish(
        &mut self,
        connection: Resource<RedisHandle>,
        channel: String,
        payload: Vec<u8>,
    ) -> wasmtime::Result<Result<(), Error>> {
        let mut cmd = ::redis::cmd("PUBLISH");
        cmd.arg(&channel).arg(&payload);
        let published = query::<i64>(self.redis(&connection), cmd).await;
        Ok(published.map(|_| ()))
    }

    async fn get(
        &mut self,
        connection: Resource<RedisHandle>,
        key: String,
    ) -> wasmtime::Result<Result<Option<Vec<u8>>, Error>> {
        let mut cmd = ::redis::cmd("GET");
        cmd.arg(&key);
        Ok(
            match query::<Option<Vec<u8>>>(self.redis(&connection), cmd).await {
                Ok(Some(bytes)) if bytes.len() > MAX_REPLY_BYTES => Err(other(format!(
                    "query result exceeds limit of {MAX_REPLY_BYTES} bytes"
                ))),
                value => value,
            },
        )
    }

    async fn set(
        &mut self,
        connection: Resource<RedisHandle>,
        key: String,
        value: Vec<u8>,
    ) -> wasmtime::Result<Result<(), Error>> {
        let mut cmd = ::redis::cmd("SET");
        cmd.arg(&key).arg(&value);
        Ok(query::<()>(self.redis(&connection), cmd).await)
    }

    async fn incr(
        &mut self,
        connection: Resource<RedisHandle>,
        key: String,
    ) -> wasmtime::Result<Result<i64, Error>> {
        let mut cmd = ::redis::cmd("INCRBY");
        cmd.arg(&key).arg(1);
        Ok(query::<i64>(self.redis(&connection), cmd).await)
    }

    async fn del(
        &mut self,
        connection: Resource<RedisHandle>,
        keys: Vec<String>,
    ) -> wasmtime::Result<Result<u32, Error>> {
        let mut cmd = ::redis::cmd("DEL");
        cmd.arg(&keys);
        Ok(query::<u32>(self.redis(&connection), cmd).await)
    }

    async fn sadd(
        &mut self,
        connection: Resource<RedisHandle>,
        key: String,
        values: Vec<String>,
    ) -> wasmtime::Result<Result<u32, Error>> {
        let mut cmd = ::redis::cmd("SADD");
        cmd.arg(&key).arg(&values);
        Ok(match query_raw::<u32>(self.redis(&connection), cmd).await {
            Err(QueryError::Redis(e)) if e.kind() == ErrorKind::UnexpectedReturnType => {
                Err(Error::TypeError)
            }
            other_outcome => other_outcome.map_err(Error::from),
        })
    }

    async fn smembers(
        &mut self,
        connection: Resource<RedisHandle>,
        key: String,
    ) -> wasmtime::Result<Result<Vec<String>, Error>> {
        let mut cmd = ::redis::cmd("SMEMBERS");
        cmd.arg(&key);
        Ok(query::<Vec<String>>(self.redis(&connection), cmd).await)
    }

    async fn srem(
        &mut self,
        connection: Resource<RedisHandle>,
        key: String,
        values: Vec<String>,
    ) -> wasmtime::Result<Result<u32, Error>> {
        let mut cmd = ::redis::cmd("SREM");
        cmd.arg(&key).arg(&values);
        Ok(query::<u32>(self.redis(&connection), cmd).await)
    }

    async fn execute(
        &mut self,
        connection: Resource<RedisHandle>,
        command: String,
        arguments: Vec<RedisParameter>,
    ) -> wasmtime::Result<Result<Vec<RedisResult>, Error>> {
        let connection = self.redis(&connection);
        Ok(async move {
            let mut connection = connection?;
            let mut cmd = ::redis::cmd(&command);
            for argument in &arguments {
                match argument {
                    RedisParameter::Int64(v) => cmd.arg(*v),
                    RedisParameter::Binary(v) => cmd.arg(v.as_slice()),
                };
            }
            let value = cmd
                .query_async::<Value>(&mut connection)
                .await
                .map_err(other)?;
            let mut out = Vec::new();
            results(value, &mut out)?;
            if reply_size(&out) > MAX_REPLY_BYTES {
                return Err(other(format!(
                    "query result exceeds limit of {MAX_REPLY_BYTES} bytes"
                )));
            }
            Ok(out)
        }
        .await)
    }

    async fn drop(&mut self, connection: Resource<RedisHandle>) -> wasmtime::Result<()> {
        self.table.delete(connection)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flattened(value: Value) -> Result<Vec<RedisResult>, Error> {
        let mut out = Vec::new();
        results(value, &mut out).map(|()| out)
    }

    #[test]
    fn replies_become_results_as_on_spin() {
        let reply = Value::Array(vec![
            Value::Nil,
            Value::Int(7),
            Value::BulkString(b"v".to_vec()),
            Value::Okay,
            Value::SimpleString("QUEUED".into()),
            Value::Set(vec![Value::Boolean(true), Value::Double(1.5)]),
        ]);
        let out = flattened(reply).unwrap();
        assert!(matches!(
            out.as_slice(),
            [
                RedisResult::Nil,
                RedisResult::Int64(7),
                RedisResult::Binary(v),
                RedisResult::Status(ok),
                RedisResult::Status(queued),
                RedisResult::Int64(1),
                RedisResult::Binary(double),
            ] if v == b"v" && ok == "OK" && queued == "QUEUED" && double == b"1.5"
        ));
        assert!(matches!(
            flattened(Value::Map(vec![])),
            Err(Error::Other(message)) if message.contains("Map type is not supported")
        ));
    }

    #[tokio::test]
    async fn a_malformed_address_is_invalid() {
        assert!(matches!(
            connect("not a url").await,
            Err(Error::InvalidAddress)
        ));
    }
}
