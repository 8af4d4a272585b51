//! How much memory this process may use, for defaults that scale with the machine (the
//! decoded-block cache): the smaller of physical memory and the cgroup limit, so that a
//! container limited to 512 MiB on a 64 GiB host sizes for 512 MiB.

use std::fs;

/// Memory available to the process in bytes, `None` when neither source can be read (not
/// Linux, or no /proc).
pub fn available_bytes() -> Option<u64> {
    let physical = fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|t| mem_total(&t));
    // cgroup v2, then v1.
    let limit = fs::read_to_string("/sys/fs/cgroup/memory.max")
        .ok()
        .or_else(|| fs::read_to_string("/sys/fs/cgroup/memory/memory.limit_in_bytes").ok())
        .and_then(|t| cgroup_limit(&t));
    match (physical, limit) {
        (Some(p), Some(l)) => Some(p.min(l)),
        (p, l) => p.or(l),
    }
}

/// This process's resident memory in bytes (`VmRSS`), `None` when it cannot be read.
pub fn resident_bytes() -> Option<u64> {
    let status = fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kb.checked_mul(1024)
}

/// `MemTotal` of /proc/meminfo, in bytes.
fn mem_total(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|l| l.starts_with("MemTotal:"))?;
    let mut parts = line.split_whitespace().skip(1);
    let n: u64 = parts.next()?.parse().ok()?;
    match parts.next() {
        Some("kB") | None => n.checked_mul(1024),
        Some(_) => None,
    }
}

/// A cgroup memory limit file's value in bytes; `None` for no limit ("max", or v1's
/// page-rounded `i64::MAX`).
fn cgroup_limit(text: &str) -> Option<u64> {
    let n: u64 = text.trim().parse().ok()?;
    (n < 1 << 60).then_some(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meminfo_and_cgroup_limits_parse() {
        let meminfo = "MemTotal:       24573112 kB\nMemFree:         1000 kB\n";
        assert_eq!(mem_total(meminfo), Some(24_573_112 * 1024));
        assert_eq!(mem_total("MemFree: 5 kB\n"), None);
        assert_eq!(mem_total("MemTotal: many kB\n"), None);
        assert_eq!(cgroup_limit("max\n"), None);
        assert_eq!(cgroup_limit("536870912\n"), Some(512 << 20));
        assert_eq!(cgroup_limit("9223372036854771712\n"), None);
        assert_eq!(cgroup_limit(""), None);
        // On this Linux test machine, something is known.
        if cfg!(target_os = "linux") {
            assert!(available_bytes().is_some_and(|b| b > 16 << 20));
        }
    }
}
