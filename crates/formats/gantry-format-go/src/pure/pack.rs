//! Packing a module directory into a module zip, the way the go command's own zips are made:
//! regular files only (links and devices are skipped), version-control directories and
//! nested modules (directories with their own `go.mod`) left out, vendored packages left out,
//! every entry under `path@version/`, in a stable order. Names the rules refuse fail the
//! packing rather than being dropped silently.

use std::fs;
use std::io::{Seek, Write};
use std::path::Path;

use super::modzip::{
    check_file_path, is_vendored_package, LIMITS, MAX_ENTRIES, MAX_GO_MOD, MAX_LICENSE,
};
use super::path::check_path;
use super::version::Version;
use crate::archive::quote;
use crate::format::FormatError;
use gantry_formats::dir::{regular_files, Walked};
use gantry_formats::format::invalid;
use gantry_formats::zip_archive::{write_zip, ZipLimits};

/// What was packed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packed {
    pub path: String,
    pub version: String,
}

/// Packs the module in `dir` as `version` into `out`. The module path is the `go.mod`'s;
/// `path` must agree with it, and names the module when there is no `go.mod`.
pub fn pack_dir(
    dir: &Path,
    path: Option<&str>,
    version: &str,
    out: &mut (impl Write + Seek),
) -> Result<Packed, FormatError> {
    let go_mod = dir.join("go.mod");
    let declared = if go_mod.is_file() {
        if fs::metadata(&go_mod)?.len() > MAX_GO_MOD {
            return Err(invalid(format!("go.mod is larger than {MAX_GO_MOD} bytes")));
        }
        let text = fs::read_to_string(&go_mod)
            .map_err(|e| invalid(format!("cannot read {}: {e}", go_mod.display())))?;
        Some(
            super::gomod::module_path(&text)
                .ok_or_else(|| invalid(format!("{} has no module directive", go_mod.display())))?,
        )
    } else {
        None
    };
    let module = match (declared, path) {
        (Some(declared), Some(given)) if declared != given => {
            return Err(invalid(format!(
                "go.mod declares module {}, not {}",
                quote(&declared),
                quote(given)
            )))
        }
        (Some(declared), _) => declared,
        (None, Some(given)) => given.to_owned(),
        (None, None) => {
            return Err(invalid(format!(
                "{} has no go.mod; give the module path with --name",
                dir.display()
            )))
        }
    };
    check_path(&module)?;
    let parsed = Version::parse(version)?;
    parsed.check_path_major(&module)?;
    if parsed.incompatible() && go_mod.is_file() {
        return Err(invalid(format!(
            "version {version} is +incompatible, but the module has a go.mod file"
        )));
    }
    let files = collect(dir)?;
    let prefix = format!("{module}@{version}/");
    let limits = ZipLimits {
        what: "the module",
        ..LIMITS
    };
    let check = |name: &str, size: u64| {
        if name == "LICENSE" && size > MAX_LICENSE {
            return Err(invalid(format!(
                "LICENSE is larger than {MAX_LICENSE} bytes"
            )));
        }
        Ok(())
    };
    write_zip(dir, &files, &prefix, limits, check, out)?;
    Ok(Packed {
        path: module,
        version: version.to_owned(),
    })
}

/// The module's files, sorted, with their sizes: version-control directories, nested
/// modules and vendored packages left out, every path checked.
fn collect(root: &Path) -> Result<Vec<(String, u64)>, FormatError> {
    let keep = |path: &str, full: &Path, kind: Walked| match kind {
        Walked::Dir => Ok(
            !matches!(path.rsplit('/').next(), Some(".bzr" | ".git" | ".hg" | ".svn"))
            // Another module's directory.
            && !full.join("go.mod").is_file(),
        ),
        Walked::File if is_vendored_package(path) => Ok(false),
        Walked::File => check_file_path(path).map(|()| true),
    };
    regular_files(root, MAX_ENTRIES, &keep)
}
