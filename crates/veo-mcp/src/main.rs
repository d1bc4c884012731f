//! The `veo-mcp` binary: serves MCP over stdio by default, or streamable HTTP.

use std::process::ExitCode;

use clap::Parser;
use tokio_util::sync::CancellationToken;
use veo_mcp::config::{Cli, Command, ServeArgs};
use veo_mcp::transport::{self, HttpOptions};
use veo_mcp::{Config, VeoServer, logging};

fn main() -> ExitCode {
    let cli = Cli::parse();
    logging::init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("veo-mcp: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            tracing::error!("{message}");
            eprintln!("veo-mcp: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<(), String> {
    let config = Config::from_args(&cli.common).map_err(|e| e.to_string())?;
    if config.client.api_key.is_none() {
        tracing::warn!(
            "JIEKOU_API_KEY is not set: tools are listed, but generating will ask for a key"
        );
    }
    let server = VeoServer::start(config).await?;
    let serve = match cli.command {
        None => ServeArgs {
            http: None,
            auth_token: None,
            allowed_hosts: vec![],
            allowed_origins: vec![],
        },
        Some(Command::Serve(args)) => args,
    };
    match serve.http {
        None => transport::serve_stdio(server)
            .await
            .map_err(|e| e.to_string()),
        Some(addr) => {
            let options = HttpOptions {
                auth_token: serve.auth_token,
                allowed_hosts: serve.allowed_hosts,
                allowed_origins: serve.allowed_origins,
            };
            transport::check_http_options(addr, &options)?;
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
            let local = listener.local_addr().map_err(|e| e.to_string())?;
            tracing::info!("serving MCP over streamable HTTP at http://{local}/mcp");
            let shutdown = CancellationToken::new();
            let trigger = shutdown.clone();
            tokio::spawn(async move {
                transport::shutdown_signal().await;
                tracing::info!("shutting down");
                trigger.cancel();
            });
            transport::serve_http_on(listener, server, &options, shutdown)
                .await
                .map_err(|e| e.to_string())
        }
    }
}
