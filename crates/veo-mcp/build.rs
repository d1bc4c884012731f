//! Release builds of the `veo-mcp` binary link its functions in the order `symbol-order.txt`
//! gives: the code every server runs (start-up, the idle watcher, the tools' request path) lies
//! together, so an idle server holds about 2.1 – 2.6 MiB of code in memory rather than
//! 5.7 – 6.4 (issue 12).
//!
//! The file is made by `scripts/symbol-order.sh` from the server build
//! (`--no-default-features`). Names it lists that a build does not have (another feature set,
//! other dependency versions, renamed code) are skipped by the linker, never an error: a stale
//! file only makes the layout less compact. The option is given only to LLD as rustup's Rust
//! 1.90 and later use it by default on x86_64-unknown-linux-gnu (the toolchain ships
//! `gcc-ld/ld.lld`); set `VEO_SYMBOL_ORDER=0` to leave it out.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    println!("cargo::rerun-if-changed=symbol-order.txt");
    println!("cargo::rerun-if-env-changed=VEO_SYMBOL_ORDER");
    println!("cargo::rerun-if-env-changed=RUSTFLAGS");
    let var = |name: &str| env::var(name).unwrap_or_default();
    let wanted = var("VEO_SYMBOL_ORDER") != "0" && var("PROFILE") == "release";
    // A linker chosen by hand, an older toolchain, or a Rust built without its own LLD (as
    // some Linux distributions build it) may link with GNU ld, which has no such option.
    let default_lld = var("TARGET") == "x86_64-unknown-linux-gnu"
        && var("HOST") == "x86_64-unknown-linux-gnu"
        && env::var_os("RUSTC_LINKER").is_none()
        && !var("CARGO_ENCODED_RUSTFLAGS").contains("link")
        && rustc_minor().is_some_and(|minor| minor >= 90)
        && sysroot().is_some_and(|root| {
            root.join("lib/rustlib/x86_64-unknown-linux-gnu/bin/gcc-ld/ld.lld")
                .is_file()
        });
    let file = Path::new(&var("CARGO_MANIFEST_DIR")).join("symbol-order.txt");
    if wanted && default_lld && file.is_file() {
        println!(
            "cargo::rustc-link-arg-bins=-Wl,--symbol-ordering-file={}",
            file.display()
        );
        println!("cargo::rustc-link-arg-bins=-Wl,--no-warn-symbol-ordering");
    }
}

/// The output of the compiler building this crate, run with `arg`.
fn rustc(arg: &str) -> Option<String> {
    let output = Command::new(env::var_os("RUSTC")?).arg(arg).output().ok()?;
    String::from_utf8(output.stdout).ok()
}

/// The compiler's minor version (`rustc 1.95.0 …` → 95).
fn rustc_minor() -> Option<u32> {
    rustc("--version")?
        .split_whitespace()
        .nth(1)?
        .split('.')
        .nth(1)?
        .parse()
        .ok()
}

/// The compiler's sysroot.
fn sysroot() -> Option<PathBuf> {
    Some(PathBuf::from(
        rustc("--print=sysroot")?.trim_end_matches('\n'),
    ))
}
