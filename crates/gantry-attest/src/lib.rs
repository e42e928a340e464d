//! Signed promotion attestations: every upload, copy and move of a package is described by an
//! in-toto Statement (v1) whose subject is the package's files by sha256 and whose predicate
//! says who did what, when, from where to where, with the scan summary and the policy
//! decisions of the gate. The statement is signed with the site's ed25519 key inside a DSSE
//! envelope. [`verify_chain`] checks a package's envelopes offline against trusted public
//! keys, so someone who does not trust the server can check that the bytes in production are
//! the bytes uploaded to dev, through every step. No I/O.

mod chain;
mod dsse;
mod keys;
mod statement;

pub use chain::{verify_chain, ChainError, VerifiedStep};
pub use dsse::{Envelope, Signature, PAYLOAD_TYPE};
pub use keys::{KeyError, KeyPair, PublicKey};
pub use statement::{Location, Step, PREDICATE_TYPE, STATEMENT_TYPE};
