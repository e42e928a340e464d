//! Cargo.toml as a published crate carries it.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = gantry_formats::cargo::parse_manifest(data);
});
