//! Core metadata (METADATA / PKG-INFO) text, reached through a well-formed wheel so that the
//! fuzzer spends its time on the metadata parser rather than on zip checksums.
#![no_main]

use std::io::Write;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let mut out = std::io::Cursor::new(Vec::new());
    {
        let mut w = zip::ZipWriter::new(&mut out);
        let stored = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored);
        if w.start_file("demo-1.0.dist-info/METADATA", stored).is_err()
            || w.write_all(data).is_err()
        {
            return;
        }
        if w.finish().is_err() {
            return;
        }
    }
    let bytes = out.into_inner();
    let Some(format) = registry().get("python") else {
        return;
    };
    let declared = gantry_formats::Declared {
        filename: "demo-1.0-py3-none-any.whl".to_owned(),
        ..Default::default()
    };
    let mut content = std::io::Cursor::new(bytes.clone());
    let _ = format.process(
        &declared,
        gantry_formats::Artifact {
            content: &mut content,
            size: bytes.len() as u64,
            md5: "",
            sha1: "",
            sha256: "",
            sha512: "",
        },
    );
});

/// The formats as the server registers them.
fn registry() -> gantry_formats::Registry {
    let mut registry = gantry_formats::Registry::empty();
    registry.register(std::sync::Arc::new(gantry_format_python::Python));
    registry.register(std::sync::Arc::new(gantry_format_cargo::Cargo));
    registry.register(std::sync::Arc::new(gantry_format_npm::Npm));
    registry
}
