//! The formats this server serves: the one list to extend when a format is added.

use std::sync::Arc;

use gantry_protocol::plugin::FormatPlugin;

/// Every registered format's plugin.
pub(crate) fn registered() -> Vec<Arc<dyn FormatPlugin>> {
    vec![
        Arc::new(gantry_format_raw::Plugin),
        Arc::new(gantry_format_python::Plugin),
        Arc::new(gantry_format_cargo::Plugin),
        Arc::new(gantry_format_npm::Plugin),
    ]
}

/// Registers them with the toolkit; every entry point calls this before opening the app.
pub(crate) fn install() {
    gantry_protocol::plugin::install(registered());
}
