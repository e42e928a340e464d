//! Repository signing keys: one OpenPGP key per repository, made on first use and kept in
//! Gantry's database, used to sign the metadata that apt (`InRelease`, `Release.gpg`) and dnf
//! (`repomd.xml.asc`) check. Formats call [`active_key`] and sign with
//! [`RepositoryKey::clear_sign`] or [`RepositoryKey::detached_sign`]; they serve the public key
//! with [`public_key_asc`] under their own prefix.
//!
//! At rest, the secret key is stored armored in `repository_signing_keys`. When the server
//! has a passphrase ([`PASSPHRASE_ENV`]), the key material is encrypted with it (OpenPGP's
//! iterated and salted S2K, AES-256), so a copy of the database alone signs nothing; without
//! one it is stored unencrypted and the database's own protection is the key's. See
//! `docs/signing.md`.
//!
//! [`rotate`] retires the active key and makes a new one; clients then fetch the public key
//! again (the metadata signed afterwards no longer verifies with the old key).

mod key;
mod routes;
mod store;

pub use key::{KeyError, RepositoryKey};
pub use routes::public_key_asc;
pub use store::{active_key, keys, public_key, rotate, KeyInfo, MIGRATIONS, PASSPHRASE_ENV};
