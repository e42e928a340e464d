//! `gantry push` for formats whose packages are made through their own protocol rather than
//! the upload API (an OCI image is blobs and manifests pushed to the registry; a Maven
//! artifact is a deploy of several files). The format crate implements [`NativePush`] and
//! returns it from its server plugin, so the CLI finds it by format id and never names a
//! format itself.

use std::path::Path;

use futures::future::BoxFuture;
use gantry_core::Package;

use crate::Client;

/// What `gantry push FORMAT OWNER/REPO SOURCE` was given.
#[derive(Debug, Clone, Copy)]
pub struct PushRequest<'a> {
    pub owner: &'a str,
    pub repo: &'a str,
    /// The file or directory named on the command line (its meaning is the format's: an
    /// image layout with a tag for OCI, the artifact for Maven).
    pub source: &'a Path,
    /// `--name`, where the format lets the caller choose it.
    pub name: Option<&'a str>,
    /// A second file the format needs beside the source (Maven: the POM).
    pub companion: Option<&'a Path>,
}

/// The package a push made, and one line that tells the user what happened.
#[derive(Debug)]
pub struct Pushed {
    pub package: Package,
    pub summary: String,
}

/// A format's own way of pushing a package from the command line.
pub trait NativePush: Send + Sync {
    /// Pushes `request.source` into the repository through the format's protocol; progress
    /// notes go to stderr, the result is returned.
    fn push<'a>(
        &'a self,
        client: &'a Client,
        request: PushRequest<'a>,
    ) -> BoxFuture<'a, anyhow::Result<Pushed>>;
}
