//! The `veo-mcp` binary: serves MCP over stdio by default, or streamable HTTP; `generate`,
//! `status` and `tasks` (and, with the `demo` feature, `demo`) are the command line for people
//! and scripts.

use std::alloc::{GlobalAlloc, Layout};
use std::future::Future;
use std::process::ExitCode;

use clap::Parser;
use mimalloc::MiMalloc;
use tokio_util::sync::CancellationToken;
use veo_mcp::cli::args::{Cli, Command, CommonArgs, ServeArgs};
use veo_mcp::cli::{self, Exit, Failure};
use veo_mcp::links::VideoLinks;
use veo_mcp::transport::{self, HttpOptions};
use veo_mcp::{VeoServer, logging};

/// The memory allocator: mimalloc (issue 12). Each call allocates and frees buffers of a few to
/// tens of kilobytes (request bodies, frames, replies) on several threads; in glibc's allocator
/// that was a fifth of the server's CPU, and `generate_transition_video` made 4,118 – 4,743
/// calls/s under `wrk` against 5,410 – 6,163 with mimalloc (BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: Allocator = Allocator;

/// mimalloc behind calls that are never inlined: inlined at every allocation site, the calls
/// made the server build ~45 KB larger for no measurable speed.
struct Allocator;

// SAFETY: every method hands its arguments to mimalloc's own `GlobalAlloc`, unchanged.
unsafe impl GlobalAlloc for Allocator {
    #[inline(never)]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        unsafe { MiMalloc.alloc(layout) }
    }

    #[inline(never)]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        unsafe { MiMalloc.alloc_zeroed(layout) }
    }

    #[inline(never)]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { MiMalloc.dealloc(ptr, layout) }
    }

    #[inline(never)]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        unsafe { MiMalloc.realloc(ptr, layout, new_size) }
    }
}

fn main() -> ExitCode {
    let Cli { command, common } = Cli::parse();
    let workers = common.workers;
    match command {
        None => serve(common, ServeArgs::default()),
        Some(Command::Serve(args)) => serve(common, args),
        #[cfg(feature = "demo")]
        Some(Command::Demo(args)) => one_shot(workers, async move {
            veo_mcp::demo::run(&common, &args).await.map(|()| Exit::Ok)
        }),
        Some(Command::Generate(args)) => {
            one_shot(workers, async move { cli::generate(args, &common).await })
        }
        Some(Command::Status(args)) => {
            one_shot(workers, async move { cli::status(args, &common).await })
        }
        Some(Command::Tasks(args)) => {
            one_shot(workers, async move { cli::tasks(args, &common).await })
        }
    }
}

/// The async runtime: `workers` threads (else one per CPU) answer requests; blocking work gets
/// threads of its own.
fn runtime(workers: Option<u16>) -> Option<tokio::runtime::Runtime> {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if let Some(workers) = workers {
        builder.worker_threads(usize::from(workers));
    }
    match builder.enable_all().build() {
        Ok(rt) => Some(rt),
        Err(e) => {
            eprintln!("veo-mcp: cannot start the async runtime: {e}");
            None
        }
    }
}

/// Runs a command-line command: warnings-only logs, its exit code, its failure on stderr.
fn one_shot(workers: Option<u16>, work: impl Future<Output = Result<Exit, Failure>>) -> ExitCode {
    logging::init(logging::COMMAND_FILTER);
    let Some(runtime) = runtime(workers) else {
        return ExitCode::FAILURE;
    };
    let outcome = runtime.block_on(work);
    // Blocking work still under way (a DNS lookup, a file write cut short by Ctrl-C) must not
    // keep the process alive.
    runtime.shutdown_timeout(std::time::Duration::from_millis(100));
    match outcome {
        Ok(exit) => ExitCode::from(exit.code()),
        Err(failure) => {
            use std::io::Write as _;
            let _ = writeln!(std::io::stderr(), "veo-mcp: {}", failure.message);
            ExitCode::from(failure.exit.code())
        }
    }
}

/// Serves MCP until the client goes away (stdio) or a signal arrives (HTTP).
fn serve(common: CommonArgs, args: ServeArgs) -> ExitCode {
    logging::init(logging::SERVE_FILTER);
    let Some(runtime) = runtime(common.workers) else {
        return ExitCode::FAILURE;
    };
    match runtime.block_on(run_server(common, args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            tracing::error!("{message}");
            eprintln!("veo-mcp: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run_server(common: CommonArgs, serve: ServeArgs) -> Result<(), String> {
    let mut config = common.config().map_err(|e| e.to_string())?;
    if let (Some(_), Some(url)) = (serve.http, serve.public_url.as_deref()) {
        let secret = serve.video_link_secret.as_deref();
        if secret.is_none() {
            tracing::info!(
                "no VEO_VIDEO_LINK_SECRET: video links are signed with a random secret and stop working when this process stops"
            );
        }
        let links = VideoLinks::new(url, secret, serve.video_link_days)?;
        config = config.with_video_links(Some(links));
    } else if serve.http.is_none() && serve.public_url.is_some() {
        tracing::warn!("--public-url is used only with --http: no video links over stdio");
    }
    if config.client.api_key.is_none() {
        tracing::warn!(
            "JIEKOU_API_KEY is not set: tools are listed, but generating will ask for a key"
        );
    }
    let server = VeoServer::start(config).await.map_err(|e| e.to_string())?;
    let app = server.app().clone();
    let served = match serve.http {
        None => transport::serve_stdio(server)
            .await
            .map_err(|e| e.to_string()),
        Some(addr) => {
            let options = HttpOptions {
                auth_token: serve.auth_token,
                allowed_hosts: serve.allowed_hosts,
                allowed_origins: serve.allowed_origins,
                ..HttpOptions::default()
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
    };
    // Another server sharing the journal takes this one's tasks over at once.
    app.shutdown().await;
    served
}
