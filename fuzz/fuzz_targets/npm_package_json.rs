//! package.json as npm publishes it: placed in a well-formed tarball, then read into the
//! version document the registry serves.
#![no_main]

use std::io::Write;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let mut builder = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_size(data.len() as u64);
    header.set_mode(0o644);
    header.set_entry_type(tar::EntryType::Regular);
    if builder
        .append_data(&mut header, "package/package.json", data)
        .is_err()
    {
        return;
    }
    let Ok(tar) = builder.into_inner() else {
        return;
    };
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    if gz.write_all(&tar).is_err() {
        return;
    }
    let Ok(tgz) = gz.finish() else { return };
    let _ = gantry_format_npm::pure::read_manifest(&mut std::io::Cursor::new(tgz));
});
