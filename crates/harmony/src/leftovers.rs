//! What a scenario run left behind in `/dev/shm` and the lock directories.

/// Shared-memory objects and lock files whose name carries `suffix` (`_<host>_<feature>`).
pub fn leftovers(suffix: &str) -> Vec<String> {
    let mut found = Vec::new();
    for dir in ["/dev/shm", "/tmp/zerobuffer", "/tmp/zerobuffer/locks"] {
        let Ok(entries) = std::fs::read_dir(dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.contains(&format!("{suffix}_"))
                || name.contains(&format!("{suffix}."))
                || name.ends_with(suffix)
            {
                found.push(format!("{dir}/{name}"));
            }
        }
    }
    found
}
