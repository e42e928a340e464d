//! The example policies of `docs/policies/`, built into the binary so that
//! `gantry policy create … --example NAME` works wherever the binary is, not only in a
//! checkout. The files stay the documentation; the binary holds the same bytes.

pub(crate) struct Example {
    pub(crate) name: &'static str,
    pub(crate) source: &'static str,
}

/// One example by the name of its file (`include_str!` takes only a literal path, so a
/// function cannot build it).
macro_rules! example {
    ($name:literal) => {
        Example {
            name: $name,
            source: include_str!(concat!("../../../../docs/policies/", $name, ".rego")),
        }
    };
}

pub(crate) const EXAMPLES: [Example; 4] = [
    example!("severity-threshold"),
    example!("licence-allowlist"),
    example!("required-tag"),
    example!("minimum-age"),
];

impl Example {
    /// The first comment sentence of the module: "Severity threshold: a package whose …".
    pub(crate) fn summary(&self) -> String {
        let comment: Vec<&str> = self
            .source
            .lines()
            .skip_while(|l| !l.starts_with('#'))
            .take_while(|l| l.starts_with('#'))
            .map(|l| l.trim_start_matches('#').trim())
            .collect();
        let text = comment.join(" ");
        match text.find(". ") {
            Some(end) => text[..=end].to_owned(),
            None => text,
        }
    }
}

pub(crate) fn find(name: &str) -> anyhow::Result<&'static Example> {
    EXAMPLES.iter().find(|e| e.name == name).ok_or_else(|| {
        let names: Vec<&str> = EXAMPLES.iter().map(|e| e.name).collect();
        anyhow::anyhow!(
            "no example policy '{name}' (examples: {})",
            names.join(", ")
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_example_file_is_built_in() -> Result<(), Box<dyn std::error::Error>> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/policies");
        let mut files: Vec<String> = std::fs::read_dir(dir)?
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".rego"))
            .map(|n| n.trim_end_matches(".rego").to_owned())
            .collect();
        files.sort();
        let mut built: Vec<String> = EXAMPLES.iter().map(|e| e.name.to_owned()).collect();
        built.sort();
        assert_eq!(files, built);
        for e in &EXAMPLES {
            assert!(e.source.starts_with("package gantry"), "{}", e.name);
            assert!(!e.summary().is_empty(), "{}", e.name);
        }
        Ok(())
    }
}
