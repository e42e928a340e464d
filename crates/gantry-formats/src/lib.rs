//! Package formats. Each format lives in its own module and implements [`Format`]: it turns
//! an uploaded artifact (plus what the client declared about it) into a package identity and
//! metadata, and names its vulnerability ecosystem. Formats do no I/O of their own beyond
//! reading the artifact they are handed, and know nothing of HTTP or the database; the
//! server's native-protocol routes and the sync pipeline call them.
//!
//! To add a format: create `src/<format>/`, implement [`Format`], and list it in
//! [`Registry::builtin`].

mod archive;
pub mod cargo;
mod format;
pub mod npm;
pub mod python;
pub mod raw;
mod sniff;

pub use format::{
    verify_declared_checksums, Artifact, Declared, ExtraFile, Format, FormatError, Identity,
    Processed, ReadSeek, Registry,
};
pub use sniff::content_type;
