//! The npm publish document (a packument with base64 attachments), split as it streams in;
//! the first byte picks the chunk size.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Some((first, document)) = data.split_first() else {
        return;
    };
    gantry_server::fuzzing::npm_publish(document, usize::from(*first) + 1);
});
