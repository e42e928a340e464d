//! Package formats. Each format lives in its own module and implements [`Format`]: it turns
//! an uploaded artifact (plus what the client declared about it) into a package identity and
//! metadata, and names its vulnerability ecosystem. Formats do no I/O of their own beyond
//! reading the artifact they are handed, and know nothing of HTTP or the database; the
//! server's native-protocol routes and the sync pipeline call them.
//!
//! A format's server side (its native protocol and pipeline hooks) is registered with the
//! server, which builds the [`Registry`] from that one list.

pub mod archive;
pub mod bom;
pub mod dir;
pub mod format;
mod sniff;
pub mod zip_archive;

pub use bom::{BomFacts, DeclaredDependency, MAX_BOM_DEPENDENCIES};
pub use format::{
    check_filename, encode_segment, verify_declared_checksums, Artifact, Declared, ExtraFile,
    FileLocation, Format, FormatError, FormatInfo, Identity, Processed, ReadSeek, Registry,
    MAX_ATTRIBUTES, MAX_ATTRIBUTE_LEN,
};
pub use sniff::content_type;
