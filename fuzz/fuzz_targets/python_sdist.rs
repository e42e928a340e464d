//! A .tar.gz sdist as uploaded: gzip, the bounded tar reader, PKG-INFO parsing.
#![no_main]

fn process(format: &str, filename: &str, data: &[u8]) {
    let Some(format) = registry().get(format) else {
        return;
    };
    let declared = gantry_formats::Declared {
        filename: filename.to_owned(),
        ..Default::default()
    };
    let mut content = std::io::Cursor::new(data.to_vec());
    let _ = format.process(
        &declared,
        gantry_formats::Artifact {
            content: &mut content,
            size: data.len() as u64,
            md5: "",
            sha1: "",
            sha256: "",
            sha512: "",
        },
    );
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    process("python", "demo-1.0.tar.gz", data);
});

/// The formats as the server registers them.
fn registry() -> gantry_formats::Registry {
    let mut registry = gantry_formats::Registry::empty();
    registry.register(std::sync::Arc::new(gantry_format_python::Python));
    registry.register(std::sync::Arc::new(gantry_format_cargo::Cargo));
    registry.register(std::sync::Arc::new(gantry_format_npm::Npm));
    registry
}
