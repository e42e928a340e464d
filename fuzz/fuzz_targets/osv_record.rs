//! An OSV record, parsed and matched against a package in every supported ecosystem (so each
//! ecosystem's version ordering meets the record's ranges).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(advisory) = gantry_vuln::parse_advisory(data) else {
        return;
    };
    for ecosystem in gantry_vuln::Ecosystem::ALL {
        for version in ["1.0.0", "0.1.0-rc.1", "2.0.post1"] {
            let _ = gantry_vuln::match_advisory(&advisory, ecosystem, "demo", version);
        }
    }
});
