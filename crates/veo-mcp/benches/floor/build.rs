//! Building what the floor comparison runs, in a scratch directory under the target directory
//! (`<target>/bench-floor`): the floor server from a copy of its sources, and veo-mcp's server
//! build. Nothing is written next to the floor's sources.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::support::BIN;

/// Where the floor's sources are unless `VEO_BENCH_FLOOR` says otherwise: relative to the
/// workspace root.
const FLOOR_SOURCES: &str = "../shared/bench/floor";

/// The workspace root (where `Cargo.lock` is).
pub fn workspace_root() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    root.canonicalize().unwrap_or(root)
}

/// `<target>/bench-floor`: the bench binary's target directory, from the path of the binary
/// under test (`<target>/release/veo-mcp`).
pub fn scratch_dir() -> PathBuf {
    let target = Path::new(BIN)
        .parent()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .unwrap_or_else(std::env::temp_dir);
    target.join("bench-floor")
}

/// Where the floor's sources are: `VEO_BENCH_FLOOR`, else `../shared/bench/floor` from the
/// workspace root.
pub fn floor_sources() -> PathBuf {
    match std::env::var_os("VEO_BENCH_FLOOR") {
        Some(dir) => PathBuf::from(dir),
        None => workspace_root().join(FLOOR_SOURCES),
    }
}

/// Builds the floor server (`srv`) from a copy of its sources in `scratch`, with the
/// workspace's `Cargo.lock`, so that it links the same versions of rmcp, tokio, hyper and
/// reqwest as veo-mcp (and builds offline when those are in cargo's cache). Returns the binary.
pub fn build_floor(scratch: &Path) -> Result<PathBuf, String> {
    let sources = floor_sources();
    if !sources.join("Cargo.toml").is_file() {
        return Err(format!(
            "no floor sources at {} (set VEO_BENCH_FLOOR to the floor's directory)",
            sources.display()
        ));
    }
    let copy = scratch.join("floor");
    copy_tree(&sources, &copy).map_err(|e| {
        format!(
            "cannot copy {} to {}: {e}",
            sources.display(),
            copy.display()
        )
    })?;
    // Its own workspace, even when the scratch directory is inside another one.
    let manifest = copy.join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest).unwrap_or_default();
    if !text.contains("[workspace]") {
        std::fs::write(&manifest, format!("{text}\n[workspace]\n"))
            .map_err(|e| format!("cannot write {}: {e}", manifest.display()))?;
    }
    std::fs::write(
        copy.join("Cargo.lock"),
        std::fs::read(workspace_root().join("Cargo.lock")).unwrap_or_default(),
    )
    .map_err(|e| format!("cannot write the floor's Cargo.lock: {e}"))?;
    let target = scratch.join("floor-target");
    cargo(
        &copy.join("Cargo.toml"),
        &target,
        &["build", "--release", "--bin", "srv"],
    )?;
    Ok(target.join("release").join("srv"))
}

/// Builds veo-mcp as a server is deployed: `cargo build --release -p veo-mcp
/// --no-default-features` (no demo, veo-mock or MCP client, and the SQLite journal only), into
/// `scratch`. Returns the binary.
pub fn build_server(scratch: &Path) -> Result<PathBuf, String> {
    build_release(scratch, "veo-mcp", &["--no-default-features"])
}

/// Builds veo-mock's binary into `scratch` beside the server build (release), so that veo-mcp's
/// platform runs as a process of its own, as the floor's does. Returns the binary.
pub fn build_mock(scratch: &Path) -> Result<PathBuf, String> {
    build_release(scratch, "veo-mock", &[])
}

/// Builds the workspace package `name`'s binary of the same name, release, with `options`, into
/// `scratch`'s `server-target`. Returns the binary.
fn build_release(scratch: &Path, name: &str, options: &[&str]) -> Result<PathBuf, String> {
    let target = scratch.join("server-target");
    let mut args = vec!["build", "--release", "-p", name, "--bin", name];
    args.extend_from_slice(options);
    cargo(&workspace_root().join("Cargo.toml"), &target, &args)?;
    Ok(target.join("release").join(name))
}

/// Runs `cargo ARGS` on `manifest` with `target` as the target directory: offline first (no
/// network needed when every crate is in cargo's cache), then online. On failure, the last
/// lines cargo printed.
fn cargo(manifest: &Path, target: &Path, args: &[&str]) -> Result<(), String> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut last = String::new();
    for offline in [true, false] {
        let mut command = Command::new(&cargo);
        command
            .args(args)
            .arg("--quiet")
            .arg("--manifest-path")
            .arg(manifest)
            .arg("--target-dir")
            .arg(target)
            .stdin(Stdio::null());
        if offline {
            command.arg("--offline");
        }
        let output = command
            .output()
            .map_err(|e| format!("cannot run cargo: {e}"))?;
        if output.status.success() {
            return Ok(());
        }
        let stderr = String::from_utf8_lossy(&output.stderr);
        let lines: Vec<&str> = stderr.lines().collect();
        last = lines[lines.len().saturating_sub(12)..].join("\n");
    }
    Err(format!(
        "`cargo {}` for {} failed:\n{last}",
        args.join(" "),
        manifest.display()
    ))
}

/// Copies the files under `from` into `to` (their contents only: the copy is writable even when
/// the sources are not), leaving out `target` directories.
fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let path = entry.path();
        let name = entry.file_name();
        if entry.file_type()?.is_dir() {
            if name != "target" {
                copy_tree(&path, &to.join(&name))?;
            }
        } else {
            std::fs::write(to.join(&name), std::fs::read(&path)?)?;
        }
    }
    Ok(())
}

/// Writes `binary` out and drops it from the page cache, so that both servers start from the
/// same state: a file the linker has just written is all in the cache, and the kernel then maps
/// every cached page around each page a process touches (fault-around), which made a freshly
/// built server read ~0.5 MiB more idle RSS than the same file built earlier. Afterwards each
/// holds what its own starts have read.
#[cfg(target_os = "linux")]
pub fn settle(binary: &Path) -> std::io::Result<()> {
    use std::os::fd::AsRawFd as _;
    let file = std::fs::File::open(binary)?;
    file.sync_all()?;
    // SAFETY: a plain call on a file descriptor that `file` keeps open.
    let err = unsafe { libc::posix_fadvise(file.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED) };
    if err == 0 {
        Ok(())
    } else {
        Err(std::io::Error::from_raw_os_error(err))
    }
}

/// [`settle`] elsewhere: nothing to do (the figures read `/proc`, so they are Linux's anyway).
#[cfg(not(target_os = "linux"))]
pub fn settle(_binary: &Path) -> std::io::Result<()> {
    Ok(())
}

/// The size of `binary` and of a stripped copy of it (`strip`; `None` when it is not
/// installed), in bytes.
pub fn sizes(binary: &Path, scratch: &Path) -> (u64, Option<u64>) {
    let size = std::fs::metadata(binary).map(|m| m.len()).unwrap_or(0);
    let stripped = scratch.join("stripped");
    let ok = Command::new("strip")
        .arg("-o")
        .arg(&stripped)
        .arg(binary)
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    let stripped_size = ok
        .then(|| std::fs::metadata(&stripped).ok().map(|m| m.len()))
        .flatten();
    let _ = std::fs::remove_file(&stripped);
    (size, stripped_size)
}
