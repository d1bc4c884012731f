//! Wall time and peak memory of submitting two 20 MB PNG frames from disk to a local server.
//!
//! Run: `cargo bench -p veo-core --bench large_submit`. Prints the median of several runs and the
//! peak resident memory over the idle baseline (Linux: VmHWM, reset before measuring), then the
//! time of the request's fingerprint alone (what duplicate detection adds before sending).

use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::routing::post;
use futures_util::StreamExt as _;
use veo_core::{Client, ClientConfig, ImagePolicy, Model, TransitionRequest, prepare, sample};

const RUNS: usize = 5;

fn status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Consumes the body without keeping it, like a server that streams the upload onward.
async fn drain(body: Body) -> &'static str {
    let mut stream = body.into_data_stream();
    let mut total = 0usize;
    while let Some(Ok(chunk)) = stream.next().await {
        total += chunk.len();
    }
    assert!(total > 40_000_000, "the whole body arrived");
    r#"{"task_id":"bench"}"#
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let dir = tempfile::tempdir().expect("temp dir");
        // 2600×2600 RGB, stored uncompressed: ~20.3 MB each, just under the 20 MiB limit.
        for (name, from) in [("first.png", [255, 0, 0]), ("last.png", [0, 0, 255])] {
            std::fs::write(
                dir.path().join(name),
                sample::gradient_png(2600, 2600, from, [0, 255, 0]),
            )
            .expect("write");
        }
        let frame_bytes = std::fs::metadata(dir.path().join("first.png"))
            .expect("meta")
            .len();

        let app = Router::new()
            .route("/v3/async/{endpoint}", post(drain))
            .layer(axum::extract::DefaultBodyLimit::disable());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });

        let client = Client::new(
            ClientConfig::default()
                .with_api_key("bench")
                .with_base_url(&base)
                .expect("url"),
        );
        let policy = ImagePolicy {
            allowed_roots: vec![dir.path().to_path_buf()],
        };
        let request = TransitionRequest {
            model: Model::Veo31,
            ..TransitionRequest::new(
                dir.path().join("first.png").to_string_lossy(),
                dir.path().join("last.png").to_string_lossy(),
                "bench",
            )
        };
        // Reset the peak-RSS counter (the frames were generated in memory above), take the idle
        // baseline, then warm up: the peak covers the first submit, HTTP stack set-up included.
        let _ = std::fs::write("/proc/self/clear_refs", "5");
        let idle = status_kib("VmRSS:").unwrap_or(0);
        let prepared = prepare(request.clone(), &policy).await.expect("prepare");
        client.submit(&prepared).await.expect("submit");

        let mut times: Vec<Duration> = Vec::new();
        for _ in 0..RUNS {
            let started = Instant::now();
            let prepared = prepare(request.clone(), &policy).await.expect("prepare");
            client.submit(&prepared).await.expect("submit");
            times.push(started.elapsed());
        }
        times.sort();
        let peak = status_kib("VmHWM:").unwrap_or(0);
        // What a server with duplicate detection adds before sending: the request's fingerprint.
        let mut fingerprint_times: Vec<Duration> = Vec::new();
        for _ in 0..RUNS {
            let prepared = prepare(request.clone(), &policy).await.expect("prepare");
            let started = Instant::now();
            std::hint::black_box(prepared.fingerprint().await.expect("fingerprint"));
            fingerprint_times.push(started.elapsed());
        }
        fingerprint_times.sort();
        println!(
            "frames: 2 × {:.1} MB PNG files (body ≈ {:.1} MB of JSON)",
            frame_bytes as f64 / 1e6,
            (frame_bytes * 8 / 3) as f64 / 1e6
        );
        println!(
            "prepare + submit, median of {RUNS}: {:.1} ms (min {:.1}, max {:.1})",
            ms(times[RUNS / 2]),
            ms(times[0]),
            ms(times[RUNS - 1])
        );
        println!(
            "fingerprint (both frames read and hashed), median of {RUNS}: {:.1} ms (min {:.1}, max {:.1})",
            ms(fingerprint_times[RUNS / 2]),
            ms(fingerprint_times[0]),
            ms(fingerprint_times[RUNS - 1])
        );
        println!(
            "peak RSS over idle (client and server in one process): {:.1} MiB (idle {:.1} MiB)",
            peak.saturating_sub(idle) as f64 / 1024.0,
            idle as f64 / 1024.0
        );
    });
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
