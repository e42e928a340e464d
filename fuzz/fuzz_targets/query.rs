//! The package query language and the shorthand conditions of promotion rules.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = gantry_core::PackageQuery::parse(text);
    let _ = gantry_policy::Condition::parse(text);
});
