//! Native protocol routes, one module per format; file serving is in `gantry_protocol::serve`.

pub(crate) mod cargo;
pub(crate) mod npm;
pub(crate) mod python;
pub(crate) mod raw;

pub(crate) use gantry_protocol::serve::*;
