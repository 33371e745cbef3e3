//! Starting a pipeline: the pipe, the exporter on its own thread, and the [`Client`] handle to
//! them, from a checked [`Config`].

use super::transport::Transport;
use crate::config::Config;
use crate::model::ProjectName;
use crate::pipe::{Client, Pipe};
use std::fmt;
use std::sync::Arc;
use tokio::sync::mpsc;

/// Why a client could not start.
#[derive(Debug)]
pub struct ClientError(String);

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "opik: {}", self.0)
    }
}

impl std::error::Error for ClientError {}

impl Client {
    /// A client that sends to the Opik server `config` names, batching, pacing and retrying as
    /// its exporter settings say.
    ///
    /// In a build without the `enabled` feature the client is inert: it takes records and
    /// drops them uncounted, and no exporter thread starts.
    pub fn new(config: &Config) -> Result<Client, ClientError> {
        #[cfg(feature = "enabled")]
        {
            let transport = super::http::HttpTransport::new(config).map_err(ClientError)?;
            let client = Self::with_transport(config, Box::new(transport))?;
            client.set_server(config); // for the REST calls of datasets and experiments
            Ok(client)
        }
        #[cfg(not(feature = "enabled"))]
        {
            Ok(Self::inert(config))
        }
    }

    /// A client whose batches go to `transport` (the local view, an in-memory capture...)
    /// instead of Opik's REST API, with the project and exporter settings of `config`.
    pub fn with_transport(
        config: &Config,
        transport: Box<dyn Transport>,
    ) -> Result<Client, ClientError> {
        #[cfg(feature = "enabled")]
        {
            let settings = config.export().clone();
            let local_file = transport.local_file().map(std::path::Path::to_path_buf);
            let pipe = Arc::new(Pipe::new(&settings));
            let (control, control_rx) = mpsc::unbounded_channel();
            let shutdown_timeout = settings.shutdown_timeout;
            let environment = config.environment().map(Arc::from);
            super::exporter::Exporter::new(
                Arc::clone(&pipe),
                transport,
                settings,
                control_rx,
                environment,
            )
            .spawn()
            .map_err(|e| ClientError(format!("could not start the exporter thread: {e}")))?;
            let client = Client::from_parts(
                pipe,
                control,
                ProjectName::intern(config.project_name()),
                shutdown_timeout,
            );
            if let Some(path) = local_file {
                client.set_local_file(&path); // what reads answer from without a server
            }
            Ok(client)
        }
        #[cfg(not(feature = "enabled"))]
        {
            drop(transport);
            Ok(Self::inert(config))
        }
    }

    /// A client with no exporter (a build without `enabled`): every record is dropped where it
    /// is produced, flushes answer at once.
    #[cfg_attr(feature = "enabled", allow(dead_code))]
    fn inert(config: &Config) -> Client {
        let (control, _) = mpsc::unbounded_channel();
        Client::from_parts(
            Arc::new(Pipe::inert()),
            control,
            ProjectName::intern(config.project_name()),
            config.export().shutdown_timeout,
        )
    }
}
