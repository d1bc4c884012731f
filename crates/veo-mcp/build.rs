//! Release builds of the `veo-mcp` binary link its functions in the order `symbol-order.txt`
//! gives: the code every server runs (start-up, the idle watcher, the tools' request path) lies
//! together, so an idle server maps about 2.6 MiB of code rather than 6.4 (issue 12).
//!
//! The file is made by `scripts/symbol-order.sh`. Names it lists that a build does not have
//! (another feature set, renamed code) are skipped by the linker, never an error: a stale file
//! only makes the binary's layout less compact. Only LLD (Rust's default linker on
//! x86_64-unknown-linux-gnu) is given the option; set `VEO_SYMBOL_ORDER=0` to leave it out.

use std::env;
use std::path::Path;
use std::process::Command;

fn main() {
    println!("cargo::rerun-if-changed=symbol-order.txt");
    println!("cargo::rerun-if-env-changed=VEO_SYMBOL_ORDER");
    println!("cargo::rerun-if-env-changed=RUSTC_LINKER");
    let var = |name: &str| env::var(name).unwrap_or_default();
    let wanted = var("VEO_SYMBOL_ORDER") != "0" && var("PROFILE") == "release";
    // Rust 1.90 and later link this target with LLD by default; a linker chosen by hand, or an
    // older toolchain's, may not take the option.
    let default_linker = var("TARGET") == "x86_64-unknown-linux-gnu"
        && env::var_os("RUSTC_LINKER").is_none()
        && !var("CARGO_ENCODED_RUSTFLAGS").contains("link")
        && rustc_minor().is_some_and(|minor| minor >= 90);
    let file = Path::new(&var("CARGO_MANIFEST_DIR")).join("symbol-order.txt");
    if wanted && default_linker && file.is_file() {
        println!(
            "cargo::rustc-link-arg-bins=-Wl,--symbol-ordering-file={}",
            file.display()
        );
        println!("cargo::rustc-link-arg-bins=-Wl,--no-warn-symbol-ordering");
    }
}

/// The minor version of the compiler building this crate (`rustc 1.95.0 …` → 95).
fn rustc_minor() -> Option<u32> {
    let rustc = env::var_os("RUSTC")?;
    let output = Command::new(rustc).arg("--version").output().ok()?;
    let version = String::from_utf8(output.stdout).ok()?;
    version
        .split_whitespace()
        .nth(1)?
        .split('.')
        .nth(1)?
        .parse()
        .ok()
}
