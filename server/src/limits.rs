//! What the server allows each client, so that a flood on an organisation's network cannot
//! take it down or its memory up: a time to send the request headers, a cap on open
//! connections (the ones over it are closed at once), a time limit for a whole connection and
//! for one request, and (in the relay) a cap on relayed requests in flight, each body read
//! only after it gets a place. Memory for bodies is then at most
//! `max_relayed * relay::MAX_BODY_BYTES` (32 x 16 MB = 512 MB by default).
//!
//! The http and the https listener are served by the same loop ([`serve`]): the https one only
//! adds the TLS handshake, which must end within the header time too.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;

/// The limits; see the module documentation.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Time for a client to send a request's headers (slowloris); on https, also the time to
    /// finish the TLS handshake.
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

impl Limits {
    /// The places for open connections: one set shared by every listener of the server, so
    /// `max_connections` holds for all of them together.
    #[must_use]
    pub fn places(&self) -> Arc<Semaphore> {
        Arc::new(Semaphore::new(self.max_connections.max(1)))
    }
}

/// Serves `app` on `listener` under `limits` until `shutdown` resolves: plain http, or https
/// when `tls` is given. Each connection takes one of `places` (see [`Limits::places`]) or is
/// closed at once.
pub async fn serve(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    app: Router,
    limits: Limits,
    places: Arc<Semaphore>,
    shutdown: impl std::future::Future<Output = ()>,
) {
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
        let tls = tls.clone();
        tokio::spawn(async move {
            let connection = async {
                match tls {
                    None => serve_connection(stream, app, limits).await,
                    Some(acceptor) => {
                        // A client that never finishes the handshake is cut off like one that
                        // never finishes its headers.
                        let handshake =
                            tokio::time::timeout(limits.header_read, acceptor.accept(stream));
                        if let Ok(Ok(stream)) = handshake.await {
                            serve_connection(stream, app, limits).await;
                        }
                    }
                }
            };
            let _ = tokio::time::timeout(limits.connection, connection).await;
            drop(place);
        });
    }
}

/// One connection's requests (HTTP/1.1), each one's headers within `limits.header_read`.
async fn serve_connection<I>(io: I, app: Router, limits: Limits)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read);
    let service = TowerToHyperService::new(app);
    let _ = http.serve_connection(TokioIo::new(io), service).await;
}

/// Why the https listener's certificate cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A PEM file cannot be read or holds nothing usable.
    #[error("{path}: {message}")]
    Pem {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// rustls refuses the pair (the key does not match the certificate, say).
    #[error("{0}")]
    Rustls(#[from] rustls::Error),
}

/// The TLS side of the https listener: the certificate chain at `cert` and the private key at
/// `key` (PEM), HTTP/1.1 only (what [`serve`] speaks).
pub fn tls_acceptor(cert: &Path, key: &Path) -> Result<TlsAcceptor, TlsError> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let pem = |path: &Path, e: &dyn std::fmt::Display| TlsError::Pem {
        path: path.display().to_string(),
        message: e.to_string(),
    };
    let chain = CertificateDer::pem_file_iter(cert)
        .map_err(|e| pem(cert, &e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem(cert, &e))?;
    if chain.is_empty() {
        return Err(pem(cert, &"no certificate in it"));
    }
    let key_der = PrivateKeyDer::from_pem_file(key).map_err(|e| pem(key, &e))?;
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_no_client_auth()
    .with_single_cert(chain, key_der)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}
