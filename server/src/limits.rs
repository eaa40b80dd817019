//! What the server allows each client, so that a flood on an organisation's network cannot
//! take it down or its memory up: a time to send the request headers, a cap on open
//! connections (the ones over it are closed at once), a time limit for a whole connection and
//! for one request, and (in the relay) a cap on relayed requests in flight, each body read
//! only after it gets a place. Memory for bodies is then at most
//! `max_relayed * relay::MAX_BODY_BYTES` (32 x 16 MB = 512 MB by default).

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

/// The limits; see the module documentation.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Time for a client to send a request's headers (slowloris).
    pub header_read: Duration,
    /// Connections open at once; more are closed as soon as they are accepted.
    pub max_connections: usize,
    /// The longest a connection stays open, idle or not.
    pub connection: Duration,
    /// The longest one request may take (the relay waits up to 120 s for Qualtrics).
    pub request: Duration,
    /// Relayed requests in flight at once; more are answered 503 at once.
    pub max_relayed: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            header_read: Duration::from_secs(10),
            max_connections: 512,
            connection: Duration::from_secs(600),
            request: Duration::from_secs(150),
            max_relayed: 32,
        }
    }
}

/// Serves `app` on `listener` under `limits` until `shutdown` resolves.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let places = Arc::new(Semaphore::new(limits.max_connections));
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => return,
        };
        let Ok((stream, _)) = accepted else {
            // Out of file descriptors and the like: wait a moment rather than spin.
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let Ok(place) = places.clone().try_acquire_owned() else {
            drop(stream); // over the cap: closed at once, costing nothing to keep
            continue;
        };
        // The peer's address, for the relay's per-client limit.
        let peer = stream.peer_addr().ok();
        let app = match peer {
            Some(addr) => app
                .clone()
                .layer(axum::Extension(axum::extract::ConnectInfo(addr))),
            None => app.clone(),
        };
        let service = TowerToHyperService::new(app);
        tokio::spawn(async move {
            let mut http = hyper::server::conn::http1::Builder::new();
            http.timer(TokioTimer::new())
                .header_read_timeout(limits.header_read);
            let connection = http.serve_connection(TokioIo::new(stream), service);
            let _ = tokio::time::timeout(limits.connection, connection).await;
            drop(place);
        });
    }
}
