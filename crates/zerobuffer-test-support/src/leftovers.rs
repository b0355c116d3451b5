//! What a buffer left behind on the machine.

use std::path::Path;

use zerobuffer::{ObjectPaths, CSHARP_LOCK_DIR};

/// Every OS object of buffer `name` that exists now, as paths: those of
/// [`ObjectPaths::existing`] (segment, both semaphores, lock file, in that order), then the
/// lock file the C# implementation keeps in [`CSHARP_LOCK_DIR`], which a C# peer of the
/// buffer may have left. Empty when the buffer left nothing behind.
pub fn leftovers(name: &str) -> Vec<String> {
    let csharp_lock = Path::new(CSHARP_LOCK_DIR).join(format!("{name}.lock"));
    ObjectPaths::new(name)
        .existing()
        .into_iter()
        .chain(csharp_lock.exists().then_some(csharp_lock))
        .map(|path| path.display().to_string())
        .collect()
}

/// Panics, naming what is left, unless buffer `name` left nothing behind (see [`leftovers`]).
#[track_caller]
pub fn assert_clean(name: &str) {
    let left = leftovers(name);
    assert!(left.is_empty(), "buffer {name} left behind: {left:?}");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::unique_name;
    use zerobuffer::{BufferConfig, Reader};

    #[test]
    fn a_live_buffer_shows_its_four_objects_and_a_closed_one_none() {
        let name = unique_name("leftovers");
        let reader = Reader::create(&name, BufferConfig::new(0, 1024)).unwrap();
        let all: Vec<String> = ObjectPaths::new(&name)
            .all()
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        assert_eq!(leftovers(&name), all);
        let live = std::panic::catch_unwind(|| assert_clean(&name));
        assert!(live.is_err(), "a live buffer is not clean");
        drop(reader);
        assert_eq!(leftovers(&name), Vec::<String>::new());
        assert_clean(&name);
    }

    #[test]
    fn a_csharp_lock_file_counts() {
        let name = unique_name("csharp-lock");
        let lock = Path::new(CSHARP_LOCK_DIR).join(format!("{name}.lock"));
        std::fs::create_dir_all(CSHARP_LOCK_DIR).unwrap();
        // Held, as a live C# reader holds it: the stale scan of any reader created meanwhile
        // (here or in another process) removes only unlocked `.lock` files. So the file is
        // locked under a name the scan ignores and only then renamed into place; created
        // under its final name it could be removed before the lock is taken.
        let unseen = lock.with_extension("lock.tmp");
        let file = std::fs::File::create(&unseen).unwrap();
        file.lock().unwrap();
        std::fs::rename(&unseen, &lock).unwrap();
        let left = leftovers(&name);
        std::fs::remove_file(&lock).unwrap();
        drop(file);
        assert_eq!(left, [lock.display().to_string()]);
        assert_clean(&name);
    }
}
