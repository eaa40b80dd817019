//! `roster-server`: serves the page and relays to Qualtrics; hosts the sandbox brand when asked.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;
use roster_server::limits::Limits;
use roster_server::relay::Upstream;
use roster_server::sandbox::faults::{Faults, RateLimits};
use roster_server::sandbox::SandboxConfig;
use roster_server::{app, ServerConfig};

/// qualtrics-roster server: the page and the Qualtrics relay (and the sandbox brand with --sandbox).
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// Address to listen on.
    #[arg(long, env = "ROSTER_HOST", default_value = "127.0.0.1")]
    host: String,
    /// Port to listen on; 0 picks a free one (the URL is printed).
    #[arg(long, env = "ROSTER_PORT", default_value_t = 8080)]
    port: u16,
    /// Folder with the page's files.
    #[arg(long, env = "ROSTER_WWW", default_value = "www")]
    www: PathBuf,
    /// Seed of the sandbox brand's data and tokens.
    #[arg(long, env = "ROSTER_SEED", default_value_t = 1)]
    seed: u64,
    /// How many users the sandbox brand has.
    #[arg(long, env = "ROSTER_SANDBOX_USERS", default_value_t = 250)]
    users: usize,
    /// How many groups the sandbox brand has.
    #[arg(long, env = "ROSTER_SANDBOX_GROUPS", default_value_t = 12)]
    groups: usize,
    /// How many CX dashboard roles (with Automatic Role Assignment rules) it has.
    #[arg(long, env = "ROSTER_SANDBOX_ROLES", default_value_t = 6)]
    roles: usize,
    /// Multiply the sandbox's rate limits (3000/min brand and users, 600/min groups, 75/min
    /// directory) by this factor.
    #[arg(long, default_value_t = 1.0)]
    rate_limit_scale: f64,
    /// Milliseconds the sandbox adds to every answer.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// Share (0-1) of sandbox requests answered 500.
    #[arg(long, default_value_t = 0.0)]
    fault_500: f64,
    /// Share answered 503.
    #[arg(long, default_value_t = 0.0)]
    fault_503: f64,
    /// Share answered 429 whatever the rate.
    #[arg(long, default_value_t = 0.0)]
    fault_429: f64,
    /// Share whose connection is dropped before handling.
    #[arg(long, default_value_t = 0.0)]
    fault_drop: f64,
    /// Share handled whose answer is then lost.
    #[arg(long, default_value_t = 0.0)]
    fault_lost: f64,
    /// Share of 429 answers carrying Retry-After.
    #[arg(long, default_value_t = 0.5)]
    retry_after_share: f64,
    /// Answer the directory endpoints inside `result` (default: Qualtrics' documented flat form).
    #[arg(long)]
    directory_wrapped: bool,
    /// Answer user records in other plausible forms (language `EN`, time zone lower-case,
    /// dates with milliseconds): which the live API uses is unverified.
    #[arg(long)]
    user_forms_alternate: bool,
    /// Give the sandbox brand two automatic groups besides the seeded ones: "All Staff"
    /// (brand-wide) and "Everyone in Arts & Sciences" (division-wide).
    #[arg(long)]
    auto_groups: bool,
    /// Let the sandbox's group listing carry `autoMembership` (by default only one group's
    /// record says it: whether Qualtrics' listing does is unverified).
    #[arg(long)]
    group_list_auto_membership: bool,
    /// How long the sandbox's OAuth access tokens live, in seconds (Qualtrics: 3600).
    #[arg(long, default_value_t = 3600)]
    oauth_token_ttl: u64,
    /// Seed of the fault draws.
    #[arg(long, default_value_t = 1)]
    fault_seed: u64,
    /// Host the sandbox brand under /sandbox: a practice brand for trying the tool and for
    /// tests. Its admin token and OAuth secret are handed to anyone who asks, so it is off
    /// unless asked for (`npm start` asks), and never part of an organisation's deployment.
    #[arg(long, env = "ROSTER_SANDBOX")]
    sandbox: bool,
    /// No sandbox brand (the default; kept so older scripts still start).
    #[arg(long, hide = true, conflicts_with = "sandbox")]
    no_sandbox: bool,
    /// Milliseconds a client has to send a request's headers (slow clients are cut off).
    #[arg(long, env = "ROSTER_HEADER_TIMEOUT_MS", default_value_t = 10_000)]
    header_timeout_ms: u64,
    /// Connections open at once; more are closed as soon as they are accepted.
    #[arg(long, env = "ROSTER_MAX_CONNECTIONS", default_value_t = 512)]
    max_connections: usize,
    /// An origin whose pages may call the relay (e.g. https://roster.example.org); repeat, or
    /// separate with commas. None given: any (the page is normally on the relay's own origin).
    #[arg(
        long = "allowed-origin",
        env = "ROSTER_ALLOWED_ORIGINS",
        value_delimiter = ','
    )]
    allowed_origins: Vec<String>,
    /// Relayed requests per minute per client (its address; behind a --trusted-proxy, the
    /// address that proxy names in X-Forwarded-For); 0: no limit.
    #[arg(long, env = "ROSTER_RELAY_RATE_PER_MINUTE", default_value_t = 0)]
    relay_rate_per_minute: u32,
    /// A reverse proxy in front of the server (an IP address, or a CIDR block such as
    /// 10.0.0.0/8) whose X-Forwarded-For is believed; repeat, or separate with commas. From
    /// any other peer (none given: every peer) X-Forwarded-For is ignored.
    #[arg(
        long = "trusted-proxy",
        env = "ROSTER_TRUSTED_PROXIES",
        value_delimiter = ',',
        value_name = "ADDR"
    )]
    trusted_proxies: Vec<String>,
    /// Relayed requests in flight at once; more are answered 503 (bodies up to 16 MB each).
    #[arg(long, env = "ROSTER_MAX_RELAYED", default_value_t = 32)]
    max_relayed: usize,
    /// Let the sandbox answer CORS preflights (Qualtrics, as far as is known, does not).
    #[arg(long, env = "ROSTER_SANDBOX_CORS")]
    sandbox_cors: bool,
    /// Send relayed requests here instead of https://{datacenter}.qualtrics.com:
    /// "sandbox" for this server's sandbox brand, or a base URL.
    #[arg(long, env = "ROSTER_RELAY_UPSTREAM")]
    relay_upstream: Option<String>,
    /// Also serve HTTPS on this port (the Excel add-in's dev URL is https://localhost:3000).
    #[arg(long, env = "ROSTER_HTTPS_PORT")]
    https_port: Option<u16>,
    /// PEM certificate for HTTPS (npm start uses office-addin-dev-certs' localhost.crt).
    #[arg(long, env = "ROSTER_TLS_CERT", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// PEM private key for HTTPS.
    #[arg(long, env = "ROSTER_TLS_KEY", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// CRM / HR hooks (POST /hooks/v1/{hook}) from this configuration file (TOML, chmod 600);
    /// off without it.
    #[arg(long, env = "ROSTER_HOOKS_CONFIG")]
    hooks_config: Option<PathBuf>,
    /// Write a hooks configuration for the sandbox at this path (readable by its owner only,
    /// with a fresh signing secret), then exit.
    #[arg(long, value_name = "PATH")]
    write_hooks_config: Option<PathBuf>,
    /// Do not print a line per relayed request.
    #[arg(long)]
    quiet: bool,
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    if let Err(message) = run(args).await {
        eprintln!("roster-server: {message}");
        std::process::exit(1);
    }
}

/// Why the server could not start, in words for the person starting it.
#[derive(Debug, thiserror::Error)]
enum StartError {
    #[error("cannot listen on {address}: {source}")]
    Listen {
        address: String,
        source: std::io::Error,
    },
    #[error("--relay-upstream sandbox needs the sandbox: add --sandbox")]
    UpstreamNeedsSandbox,
    #[error("--relay-upstream {given:?}: {source}")]
    Upstream {
        given: String,
        source: url::ParseError,
    },
    #[error("--https-port needs --tls-cert and --tls-key")]
    HttpsNeedsCertificate,
    #[error("--trusted-proxy {0}")]
    TrustedProxy(String),
    #[error(transparent)]
    Hooks(#[from] roster_server::hooks::HooksError),
    #[error("cannot write {path}: {source}")]
    WriteHooksConfig {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot use the certificate {cert} / {key}: {source}")]
    Certificate {
        cert: String,
        key: String,
        source: roster_server::limits::TlsError,
    },
}

async fn run(args: Args) -> Result<(), StartError> {
    if let Some(path) = &args.write_hooks_config {
        let base = format!("http://localhost:{}/sandbox/API/v3", args.port);
        roster_server::hooks::config::write_template(path, &base).map_err(|source| {
            StartError::WriteHooksConfig {
                path: path.display().to_string(),
                source,
            }
        })?;
        println!(
            "wrote {} (readable by you only): its signing secret is in it; start the server with --sandbox --hooks-config {}",
            path.display(),
            path.display()
        );
        return Ok(());
    }
    let listen = |address: String| move |source| StartError::Listen { address, source };
    let listener = tokio::net::TcpListener::bind((args.host.as_str(), args.port))
        .await
        .map_err(listen(format!("{}:{}", args.host, args.port)))?;
    let addr: SocketAddr = listener
        .local_addr()
        .map_err(listen(format!("{}:{}", args.host, args.port)))?;
    let url = format!("http://{addr}/");

    let sandbox = args.sandbox.then(|| {
        ServerConfig::sandbox(&SandboxConfig {
            seed: args.seed,
            users: args.users,
            groups: args.groups,
            roles: args.roles,
            cors: args.sandbox_cors,
            limits: RateLimits::default().scaled(args.rate_limit_scale),
            faults: Faults {
                latency_ms: args.latency_ms,
                error_500: args.fault_500,
                error_503: args.fault_503,
                error_429: args.fault_429,
                drop_connection: args.fault_drop,
                lost_answer: args.fault_lost,
                retry_after_share: args.retry_after_share,
                timeouts_408: 0,
                seed: args.fault_seed,
            },
            directory_wrapped: args.directory_wrapped,
            user_forms_alternate: args.user_forms_alternate,
            oauth_token_ttl: std::time::Duration::from_secs(args.oauth_token_ttl),
            directory_only: 0,
            auto_groups: args.auto_groups,
            group_list_auto_membership: args.group_list_auto_membership,
        })
    });
    let relay_upstream =
        match args.relay_upstream.as_deref() {
            None | Some("") | Some("qualtrics") => Upstream::Qualtrics,
            Some("sandbox") => {
                if sandbox.is_none() {
                    return Err(StartError::UpstreamNeedsSandbox);
                }
                Upstream::Override(url::Url::parse(&format!("{url}sandbox")).expect("valid URL"))
            }
            Some(other) => Upstream::Override(url::Url::parse(other).map_err(|source| {
                StartError::Upstream {
                    given: other.to_string(),
                    source,
                }
            })?),
        };
    if !args.www.join("index.html").exists() {
        eprintln!(
            "roster-server: warning: {} has no index.html (run npm start to build the page)",
            args.www.display()
        );
    }

    let trusted_proxies = roster_server::relay::TrustedProxies::parse(&args.trusted_proxies)
        .map_err(StartError::TrustedProxy)?;
    let hooks = match &args.hooks_config {
        Some(path) => Some(roster_server::hooks::Hooks::start(path)?),
        None => None,
    };
    println!("qualtrics-roster listening on {url}");
    if let Some(h) = &hooks {
        println!("hooks: {}", h.describe());
    }
    match &relay_upstream {
        Upstream::Qualtrics => println!("relay: /relay/{{datacenter}}/API/v3/... -> https://{{datacenter}}.qualtrics.com/API/v3/..."),
        Upstream::Override(u) => println!("relay: /relay/{{datacenter}}/API/v3/... -> {u}/API/v3/... (stand-in for Qualtrics)"),
    }
    let sandbox_line = sandbox.as_ref().map(|sb| {
        let (client_id, client_secret) = sb.oauth_client();
        format!(
            "sandbox brand: {url}sandbox/API/v3 (seed {}, brand admin token {}, OAuth client {client_id} / {client_secret})",
            args.seed,
            sb.admin_token()
        )
    });
    let limits = Limits {
        header_read: std::time::Duration::from_millis(args.header_timeout_ms.max(1)),
        max_connections: args.max_connections.max(1),
        max_relayed: args.max_relayed.max(1),
        ..Limits::default()
    };
    let app = app(ServerConfig {
        www: args.www,
        sandbox,
        relay_upstream,
        log_relay: !args.quiet,
        limits,
        hooks,
        relay_access: roster_server::relay::Access::new(
            args.allowed_origins,
            args.relay_rate_per_minute,
        )
        .trusting(trusted_proxies),
    });
    // One set of connection places for both listeners: --max-connections holds for all.
    let places = limits.places();
    let https = match (args.https_port, &args.tls_cert, &args.tls_key) {
        (Some(port), Some(cert), Some(key)) => {
            let tls = roster_server::limits::tls_acceptor(cert, key).map_err(|source| {
                StartError::Certificate {
                    cert: cert.display().to_string(),
                    key: key.display().to_string(),
                    source,
                }
            })?;
            let https_listen = || listen(format!("{}:{port} for HTTPS", args.host));
            let https_listener = tokio::net::TcpListener::bind((args.host.as_str(), port))
                .await
                .map_err(https_listen())?;
            let https_addr = https_listener.local_addr().map_err(https_listen())?;
            println!(
                "https: https://localhost:{}/ (the add-in's task pane is /taskpane.html)",
                https_addr.port()
            );
            // Browsers that reached this listener once keep to https for a year (HSTS).
            let https_app =
                app.clone()
                    .layer(tower_http::set_header::SetResponseHeaderLayer::overriding(
                        axum::http::header::STRICT_TRANSPORT_SECURITY,
                        axum::http::HeaderValue::from_static("max-age=31536000"),
                    ));
            // The same loop as the http listener: header time (the handshake within it),
            // connection cap and lifetime.
            Some(tokio::spawn(roster_server::limits::serve(
                https_listener,
                Some(tls),
                https_app,
                limits,
                places.clone(),
                std::future::pending(),
            )))
        }
        (Some(_), _, _) => return Err(StartError::HttpsNeedsCertificate),
        _ => None,
    };
    if let Some(line) = sandbox_line {
        println!("{line}");
    }
    roster_server::limits::serve(listener, None, app, limits, places, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await;
    if let Some(h) = https {
        h.abort();
    }
    Ok(())
}
