//! Domain types of Gantry, shared by the server, the database layer, the formats and the
//! client: validated names, permanent ids, the package/repository/event shapes of the REST
//! Contract, privileges and the package query language. Nothing here does I/O.

pub mod format_id;
pub mod ids;
pub mod model;
pub mod names;
pub mod query;
pub mod time;

pub use format_id::{BadFormatId, FormatId};
pub use ids::SlugPerm;
pub use model::{
    Event, EventType, FormatTotals, Package, PackageFile, PackageState, Privilege, Repository,
    ScanStatus, Severity, SyncStatus, UnknownValue, UpdateRepository,
};
pub use names::{NameError, OwnerName, RepoName};
pub use query::{Field as QueryField, PackageQuery, QueryError};
