//! What uploads cut short by a crash leave in the local store: the stage file of a multipart
//! upload (`NAME#N`, `object_store`'s name for it), which no listing shows and nothing would
//! ever finish or remove. An aborted upload removes its own; these are the rest.

use std::path::Path;
use std::time::{Duration, SystemTime};

/// Whether `name` is a stage file's: `<anything>#<digits>`.
fn is_stage(name: &str) -> bool {
    name.rsplit_once('#').is_some_and(|(file, suffix)| {
        !file.is_empty() && !suffix.is_empty() && suffix.bytes().all(|b| b.is_ascii_digit())
    })
}

/// Removes the stage files below `root` that were last written `idle` or more before `now`,
/// and says how many. A live upload writes its stage with every part (1 MiB), so only an
/// upload silent for that long can lose its stage (then it fails at its end, and the client
/// retries it). Links are not followed: everything swept is inside `root`.
pub(super) fn sweep(root: &Path, idle: Duration, now: SystemTime) -> std::io::Result<u64> {
    let mut removed = 0;
    let mut folders = vec![root.to_path_buf()];
    while let Some(folder) = folders.pop() {
        let Some(entries) = present(std::fs::read_dir(&folder))? else {
            continue;
        };
        for entry in entries {
            let entry = entry?;
            let kind = entry.file_type()?;
            if kind.is_dir() {
                folders.push(entry.path());
                continue;
            }
            if !kind.is_file() || !entry.file_name().to_str().is_some_and(is_stage) {
                continue;
            }
            let Some(metadata) = present(entry.metadata())? else {
                continue;
            };
            if now
                .duration_since(metadata.modified()?)
                .is_ok_and(|age| age >= idle)
                && present(std::fs::remove_file(entry.path()))?.is_some()
            {
                removed += 1;
            }
        }
    }
    Ok(removed)
}

/// `None` for what went away while the sweep walked (an upload finished or aborted, a folder
/// deleted): nothing left to sweep there, and no reason to stop.
fn present<T>(result: std::io::Result<T>) -> std::io::Result<Option<T>> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stage_files_are_named_by_a_number_after_the_last_hash() {
        assert!(is_stage("weights.bin#3"));
        assert!(is_stage("a#b#12"));
        assert!(!is_stage("weights.bin"));
        assert!(!is_stage("notes#draft"));
        assert!(!is_stage("weights.bin#"));
        assert!(!is_stage("#3"));
    }

    #[test]
    fn only_stages_silent_for_the_idle_time_are_swept() {
        let root = tempfile::tempdir().unwrap();
        let folder = root.path().join("1/run/artifacts/model");
        std::fs::create_dir_all(&folder).unwrap();
        let day = Duration::from_secs(86_400);
        let now = SystemTime::now();
        let write = |name: &str, at: SystemTime| {
            let file = std::fs::File::create(folder.join(name)).unwrap();
            file.set_modified(at).unwrap();
        };
        write("crashed.bin#7", now - 2 * day);
        write("uploading.bin#8", now - Duration::from_secs(60));
        write("old.bin", now - 2 * day);
        write("notes#draft", now - 2 * day);
        std::fs::write(root.path().join("top#1"), b"stage at the root").unwrap();

        assert_eq!(sweep(root.path(), day, now).unwrap(), 1);
        let mut left: Vec<String> = std::fs::read_dir(&folder)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(left, ["notes#draft", "old.bin", "uploading.bin#8"]);
        assert!(root.path().join("top#1").exists(), "written just now");

        assert_eq!(sweep(root.path(), day, now + 2 * day).unwrap(), 2);
        assert!(!root.path().join("top#1").exists());
    }
}
