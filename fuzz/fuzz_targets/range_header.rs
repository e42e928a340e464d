//! A Range header against a file whose size the first eight bytes give.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if data.len() < 8 {
        return;
    }
    let (size, header) = data.split_at(8);
    let mut raw = [0u8; 8];
    raw.copy_from_slice(size);
    let Ok(header) = std::str::from_utf8(header) else {
        return;
    };
    gantry_server::fuzzing::range(header, u64::from_le_bytes(raw));
});
