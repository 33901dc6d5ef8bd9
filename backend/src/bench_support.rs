//! Support for the benchmarks (import and export of a national-scale dataset): what the
//! process costs in memory, as the kernel measures it.

/// The process's peak resident memory in bytes (`VmHWM` of `/proc/self/status`), or `None`
/// where procfs is not available (not Linux).
pub fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status_field_bytes(&status, "VmHWM")
}

/// Reads a `Name:   1234 kB` line of `/proc/<pid>/status`.
fn status_field_bytes(status: &str, name: &str) -> Option<u64> {
    status.lines().find_map(|line| {
        let rest = line.strip_prefix(name)?.strip_prefix(':')?;
        let mut parts = rest.split_whitespace();
        let n: u64 = parts.next()?.parse().ok()?;
        match parts.next() {
            Some("kB") | None => Some(n * 1024),
            Some(_) => None,
        }
    })
}

/// Bytes as mebibytes with one decimal, for reports.
pub fn mib(bytes: u64) -> String {
    format!("{:.1} Mio", bytes as f64 / (1024.0 * 1024.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_status_lines() {
        let status =
            "Name:\tecarto\nVmPeak:\t  300000 kB\nVmHWM:\t   45678 kB\nVmRSS:\t   40000 kB\n";
        assert_eq!(status_field_bytes(status, "VmHWM"), Some(45678 * 1024));
        assert_eq!(status_field_bytes(status, "VmRSS"), Some(40000 * 1024));
        assert_eq!(status_field_bytes(status, "VmSwap"), None);
        if cfg!(target_os = "linux") {
            // Both from one reading: the kernel reports the peak as at least the current RSS.
            let status = std::fs::read_to_string("/proc/self/status").expect("procfs");
            let peak = status_field_bytes(&status, "VmHWM").expect("VmHWM");
            assert!(peak >= status_field_bytes(&status, "VmRSS").expect("VmRSS"));
            assert!(peak_rss_bytes().is_some_and(|p| p >= peak));
        }
    }
}
