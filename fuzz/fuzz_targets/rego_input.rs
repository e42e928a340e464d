//! A Rego input document (what Gantry hands a policy about a package), evaluated by the
//! documented example policies.
#![no_main]

const POLICIES: &[&str] = &[
    include_str!("../../docs/policies/severity-threshold.rego"),
    include_str!("../../docs/policies/licence-allowlist.rego"),
    include_str!("../../docs/policies/minimum-age.rego"),
    include_str!("../../docs/policies/required-tag.rego"),
];

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Some((first, rest)) = data.split_first() else {
        return;
    };
    let Ok(input) = serde_json::from_slice::<serde_json::Value>(rest) else {
        return;
    };
    let policy = POLICIES[usize::from(*first) % POLICIES.len()];
    let _ = gantry_policy::evaluate(policy, &input, &gantry_policy::Limits::default());
});
