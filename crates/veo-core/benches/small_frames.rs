//! CPU cost of the per-call frame work for two tiny inline frames (64×36 PNGs as Base64, as in
//! the HTTP throughput bench): prepare (classify, decode, sniff), fingerprint, and the body
//! produced as it would be sent. No network, no journal.
//!
//! Run: `cargo bench -p veo-core --bench small_frames` (`VEO_BENCH_ITERS` sets the requests per
//! batch, default 20000). Prints the median of 5 batches in µs per request; for instruction
//! counts run the built binary under `valgrind --tool=callgrind` with a small `VEO_BENCH_ITERS`.

use std::time::Instant;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use veo_core::{ImagePolicy, TransitionRequest, body, prepare, sample};

fn main() {
    let iters: usize = std::env::var("VEO_BENCH_ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let first = STANDARD.encode(sample::gradient_png(64, 36, [250, 120, 0], [10, 10, 80]));
    let last = STANDARD.encode(sample::gradient_png(64, 36, [10, 10, 80], [250, 220, 120]));
    let request = TransitionRequest::new(first, last, "a fox runs through the snow");
    let policy = ImagePolicy::default();
    runtime.block_on(async {
        let mut batches = Vec::new();
        for _ in 0..5 {
            let started = Instant::now();
            let mut total = 0usize;
            for _ in 0..iters {
                let prepared = prepare(request.clone(), &policy).await.expect("prepare");
                let fingerprint = prepared.fingerprint().await.expect("fingerprint");
                let sent = body::encode(&prepared).to_bytes().await.expect("body");
                total += fingerprint.len() + sent.len();
            }
            std::hint::black_box(total);
            batches.push(started.elapsed().as_secs_f64() * 1e6 / iters as f64);
        }
        batches.sort_by(f64::total_cmp);
        println!(
            "two 64×36 inline PNG frames: prepare + fingerprint + body, median of 5 batches of {iters}: {:.2} µs per request (min {:.2}, max {:.2})",
            batches[2], batches[0], batches[4]
        );
    });
}
