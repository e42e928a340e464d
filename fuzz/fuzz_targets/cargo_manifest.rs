//! Cargo.toml as a published crate carries it.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = gantry_format_cargo::pure::parse_manifest(data);
});
