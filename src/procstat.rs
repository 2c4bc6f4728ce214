//! This process's resource use as Linux reports it in `/proc/self`: resident
//! memory and open file descriptors. Read by `pairdesk bench` and by the soak
//! test, which both check that these stay flat under load.

/// Resident memory, kB (`/proc/self/status` VmRSS).
pub fn rss_kb() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
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
