//! Which process wrote a journal entry, and whether it is still running: a submit left half-sent
//! by a process that is gone can be judged at once, instead of after a timeout.
//!
//! An owner is `<boot id>:<pid namespace>:<pid>:<start time>` (Linux: `/proc`), so a reused
//! pid, a reboot or another container is not mistaken for the writer. Where that cannot be
//! read, there is no owner, and callers fall back to a timeout.

/// This process, as an owner; `None` where it cannot be told. Read from `/proc` once: it does
/// not change while the process lives.
pub fn this_process() -> Option<String> {
    static THIS: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    THIS.get_or_init(|| owner_of(std::process::id())).clone()
}

/// Whether the process that wrote `owner` has certainly stopped: this machine (since its last
/// boot) has no process with that pid and start time. `false` when that cannot be told (another
/// machine, another boot, no `/proc`).
pub fn is_gone(owner: &str) -> bool {
    let mut parts = owner.splitn(4, ':');
    let (Some(boot), Some(namespace), Some(pid), Some(start)) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let Ok(pid) = pid.parse::<u32>() else {
        return false;
    };
    if boot_id().as_deref() != Some(boot) || pid_namespace().as_deref() != Some(namespace) {
        return false; // another machine, boot or container: cannot be told
    }
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => start_time(&stat).as_deref() != Some(start),
        // Only a process that does not exist is gone; unreadable (hidepid) cannot be told.
        Err(e) => e.kind() == std::io::ErrorKind::NotFound,
    }
}

/// The process `pid` of this machine, as an owner; `None` where it cannot be told.
pub fn owner_of(pid: u32) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    Some(format!(
        "{}:{}:{pid}:{}",
        boot_id()?,
        pid_namespace()?,
        start_time(&stat)?
    ))
}

fn boot_id() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .ok()
        .map(|id| id.trim().to_string())
        .filter(|id| !id.is_empty() && !id.contains(':'))
}

/// This process's pid namespace (`pid:[4026531836]` → `4026531836`).
fn pid_namespace() -> Option<String> {
    let link = std::fs::read_link("/proc/self/ns/pid").ok()?;
    let text = link.to_string_lossy();
    let inode: String = text.chars().filter(char::is_ascii_digit).collect();
    (!inode.is_empty()).then_some(inode)
}

/// Field 22 of a `/proc/<pid>/stat`: when the process started, in clock ticks since boot.
fn start_time(stat: &str) -> Option<String> {
    // The command name (field 2) may hold spaces and parentheses: count from its end.
    let after_name = &stat[stat.rfind(')')? + 1..];
    after_name.split_whitespace().nth(19).map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_alive_and_a_finished_one_is_gone() {
        let Some(me) = this_process() else {
            return; // no /proc here: owners cannot be told, and nothing relies on them
        };
        assert!(!is_gone(&me));
        let mut child = std::process::Command::new("sleep")
            .arg("5")
            .spawn()
            .unwrap();
        let owner = owner_of(child.id());
        assert!(owner.as_deref().is_some_and(|o| !is_gone(o)), "running");
        child.kill().unwrap();
        child.wait().unwrap();
        if let Some(owner) = owner {
            assert!(is_gone(&owner), "{owner}");
        }
        assert!(
            !is_gone("another-machine:1:1:1"),
            "cannot be told: not gone"
        );
        assert!(!is_gone("garbage"));
    }
}
