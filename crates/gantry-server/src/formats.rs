//! The formats this server serves: the one list to extend when a format is added.

use std::sync::Arc;

use gantry_protocol::plugin::FormatPlugin;

/// Every registered format's plugin.
pub(crate) fn registered() -> Vec<Arc<dyn FormatPlugin>> {
    vec![
        Arc::new(gantry_format_raw::Plugin),
        Arc::new(gantry_format_python::Plugin),
        Arc::new(gantry_format_cargo::Plugin),
        Arc::new(gantry_format_npm::Plugin),
        Arc::new(gantry_format_oci::Plugin),
        Arc::new(gantry_format_go::Plugin),
        Arc::new(gantry_format_maven::Plugin),
        Arc::new(gantry_format_composer::Plugin),
        Arc::new(gantry_format_nuget::Plugin),
        Arc::new(gantry_format_rubygems::Plugin),
        Arc::new(gantry_format_rpm::Plugin),
        Arc::new(gantry_format_deb::Plugin),
    ]
}

/// Registers them with the toolkit, and the job the store queues beside each package event
/// for webhook fan-out; every entry point calls this before opening the app.
pub(crate) fn install() {
    gantry_protocol::plugin::install(registered());
    gantry_protocol::plugin::install_component_migrations(vec![
        gantry_web::MIGRATIONS,
        gantry_signing::MIGRATIONS,
    ]);
    gantry_db::set_fan_out_job(crate::jobs::webhooks::Dispatch::of_event);
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    /// What the rest of Gantry needs from a format comes through its trait: every registered
    /// format names its purl type and tells how its client installs a package.
    #[test]
    fn every_format_answers_for_sboms_and_install_snippets() {
        let mut purls = std::collections::HashSet::new();
        for plugin in super::registered() {
            let format = plugin.format();
            assert!(
                purls.insert(format.purl_type()),
                "{} repeats a purl type",
                format.id()
            );
            let hint = format.install_hint("http://h/acme/dev", "demo", "1.2.3");
            assert!(
                hint.contains("demo")
                    && hint.contains("1.2.3")
                    && hint.contains("http://h/acme/dev"),
                "{}: {hint}",
                format.id()
            );
        }
    }

    /// What the rest of Gantry needs from a format comes through its plugin: no code outside
    /// the format crates compares with a format's id (`== "cargo"`, a `match` arm on it).
    #[test]
    fn no_code_outside_the_format_crates_names_a_format() {
        let crates = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let ids: Vec<&str> = super::registered()
            .iter()
            .map(|p| p.format().id())
            .collect();
        let mut offenders = Vec::new();
        let mut dirs: Vec<_> = std::fs::read_dir(&crates)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path().join("src"))
            .filter(|p| p.is_dir())
            .collect();
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    dirs.push(path);
                    continue;
                }
                let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
                if !name.ends_with(".rs") || name == "tests.rs" {
                    continue;
                }
                let text = std::fs::read_to_string(&path).unwrap_or_default();
                // Only the code before a file's unit tests counts.
                let code = text.split("#[cfg(test)]").next().unwrap_or("");
                for id in &ids {
                    for pattern in [
                        format!("== \"{id}\""),
                        format!("!= \"{id}\""),
                        format!("\"{id}\" =>"),
                    ] {
                        if code.contains(&pattern) {
                            offenders.push(format!("{}: {pattern}", path.display()));
                        }
                    }
                }
            }
        }
        assert!(offenders.is_empty(), "{offenders:#?}");
    }

    /// `crates/README.md` is the map of the workspace: every crate and every registered
    /// format has its line, so a new one cannot land without it.
    #[test]
    fn the_crate_map_lists_every_crate_and_format() {
        let crates = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let map = std::fs::read_to_string(crates.join("README.md")).unwrap_or_default();
        let mut names = Vec::new();
        for dir in [crates.clone(), crates.join("formats")] {
            for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
                if entry.path().join("Cargo.toml").is_file() {
                    names.push(entry.file_name().to_string_lossy().into_owned());
                }
            }
        }
        assert!(names.len() >= 15, "found only {names:?}");
        for name in &names {
            assert!(
                map.contains(&format!("[`{name}`]")),
                "crates/README.md has no line for {name}"
            );
        }
        for plugin in super::registered() {
            let id = plugin.format().id();
            assert!(
                map.contains(&format!("[`gantry-format-{id}`]"))
                    && map.contains(&format!("`{id}`")),
                "crates/README.md has no line for the {id} format"
            );
        }
    }
}
