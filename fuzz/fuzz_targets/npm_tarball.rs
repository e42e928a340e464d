//! An npm tarball: gzip and the bounded tar reader.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = gantry_format_npm::pure::tarball::read(&mut std::io::Cursor::new(data.to_vec()));
});
