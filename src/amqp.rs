//! Connecting to RabbitMQ with lapin on tokio, shared by the AMQP task sink and the listener.
//!
//! The connection's I/O runs on the runtime whose handle is given, not on whichever runtime
//! happens to call first: HTTP workers each run their own small runtime, and a connection must
//! outlive any one request.

use lapin::{Connection, ConnectionProperties};
use tokio::runtime::Handle;

/// Opens a connection to `url`, driving its I/O on `runtime`. `name` shows up in the broker's
/// connection list.
///
/// # Errors
/// The broker's or the network's refusal.
pub async fn connect(url: &str, name: &str, runtime: &Handle) -> Result<Connection, lapin::Error> {
    let properties = ConnectionProperties::default()
        .with_connection_name(name.into())
        .with_executor(tokio_executor_trait::Tokio::default().with_handle(runtime.clone()))
        .with_reactor(tokio_reactor_trait::Tokio::default().with_handle(runtime.clone()));
    Connection::connect(url, properties).await
}
