//! Walking a directory a format packs into its artifact (`Format::pack_directory`): regular
//! files only (links, devices and sockets are passed over, so nothing outside the directory is
//! read), names as UTF-8 slash-separated paths, in a stable (sorted) order, bounded in count.
//! What to leave out and which names to refuse is the format's rule, given as `keep`.

use std::fs;
use std::path::Path;

use crate::format::FormatError;

/// Whether a walked entry is a directory or a regular file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Walked {
    Dir,
    File,
}

/// The regular files below `root` with their sizes, sorted by path. `keep(path, full, kind)`
/// decides for each directory (whether to descend) and file (whether to take it), or refuses
/// the packing; more than `max_files` files is refused.
pub fn regular_files(
    root: &Path,
    max_files: usize,
    keep: &dyn Fn(&str, &Path, Walked) -> Result<bool, FormatError>,
) -> Result<Vec<(String, u64)>, FormatError> {
    let mut out = Vec::new();
    walk(root, "", max_files, keep, &mut out)?;
    Ok(out)
}

fn walk(
    root: &Path,
    rel: &str,
    max_files: usize,
    keep: &dyn Fn(&str, &Path, Walked) -> Result<bool, FormatError>,
    out: &mut Vec<(String, u64)>,
) -> Result<(), FormatError> {
    let here = if rel.is_empty() {
        root.to_path_buf()
    } else {
        root.join(rel)
    };
    let mut entries: Vec<_> = fs::read_dir(&here)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(fs::DirEntry::file_name);
    for entry in entries {
        let name = entry
            .file_name()
            .into_string()
            .map_err(|n| FormatError::Invalid(format!("file name {n:?} is not UTF-8")))?;
        let path = if rel.is_empty() {
            name
        } else {
            format!("{rel}/{name}")
        };
        let kind = entry.file_type()?;
        if kind.is_dir() {
            if keep(&path, &entry.path(), Walked::Dir)? {
                walk(root, &path, max_files, keep, out)?;
            }
        } else if kind.is_file() && keep(&path, &entry.path(), Walked::File)? {
            out.push((path, entry.metadata()?.len()));
            if out.len() > max_files {
                return Err(FormatError::Invalid(format!(
                    "the directory has more than {max_files} files"
                )));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walks_regular_files_in_order_as_kept() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let d = dir.path();
        for sub in ["b", "skip", "a"] {
            fs::create_dir_all(d.join(sub)).unwrap_or_else(|e| panic!("{e}"));
        }
        for file in ["b/2", "a/1", "skip/x", "top"] {
            fs::write(d.join(file), file).unwrap_or_else(|e| panic!("{e}"));
        }
        #[cfg(unix)]
        std::os::unix::fs::symlink("/etc/passwd", d.join("link")).unwrap_or_else(|e| panic!("{e}"));
        let keep = |p: &str, _: &Path, kind: Walked| Ok(!(kind == Walked::Dir && p == "skip"));
        let files = regular_files(d, 10, &keep).unwrap_or_else(|e| panic!("{e}"));
        let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["a/1", "b/2", "top"]);
        assert!(regular_files(d, 2, &keep).is_err());
    }
}
