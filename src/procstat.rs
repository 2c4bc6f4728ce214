//! This process's resource use as Linux reports it in `/proc/self`: resident
//! memory (now and its peak) and open file descriptors. Read by `pairdesk bench` and by the soak
//! test, which both check that these stay flat under load.

/// Resident memory, kB (`/proc/self/status` VmRSS).
pub fn rss_kb() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Peak resident memory since the start or the last
/// [`reset_peak_rss`], kB (`/proc/self/status` VmHWM).
pub fn peak_rss_kb() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Reset the peak to the current resident set (writing 5 to
/// `/proc/self/clear_refs`, Linux 4.0 and later); false where refused.
pub fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// Open file descriptors of this process.
pub fn open_fds() -> Option<usize> {
    Some(std::fs::read_dir("/proc/self/fd").ok()?.count())
}

#[cfg(test)]
mod tests {
    #[test]
    fn readings_are_present_on_linux() {
        assert!(super::rss_kb().is_some_and(|kb| kb > 0));
        let before = super::open_fds().unwrap();
        let f = std::fs::File::open("/proc/self/status").unwrap();
        assert_eq!(super::open_fds().unwrap(), before + 1);
        drop(f);
    }
}
