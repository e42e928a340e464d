//! Extractors for the namespace, repository and package a route names. Handlers take typed
//! values instead of path strings: [`OwnerPath`] holds a validated `{owner}`, [`Namespace`]
//! that namespace with the caller holding a privilege on it, [`RepoPath`]
//! the validated `{owner}` and `{repo}`, [`Repo`] that repository loaded and authorised for
//! one operation, and [`PackageAt`] adds the package at `{slug_perm}` ([`PackagePath`] before
//! it is loaded). The other parameters of a route come from small named structs (e.g.
//! [`IdParam`]), which `Path` fills by name, so one route can be read by several extractors.
//!
//! Extractors run in the order of the handler's arguments, so a handler lists the other path
//! parameters and its query before [`Repo`]: their errors come first, as they did when the
//! handler loaded the repository itself. A JSON body can only be read last, so a handler with
//! one takes [`RepoPath`] or [`PackagePath`] and loads after reading it.
//!
//! The errors are those of [`load_repo`] and [`load_package`]: a malformed name answers 400
//! with the name's own message, an unknown or hidden repository 404, and a missing privilege
//! 401 or 403, recorded as a denial. A format router's [`crate::client_error::ClientShape`]
//! reshapes them like any other error.

use std::marker::PhantomData;
use std::ops::Deref;
use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use gantry_core::{OwnerName, Privilege, RepoName};
use gantry_db::{PackageRow, RepoRow};
use serde::Deserialize;

use crate::access::Op;
use crate::app::App;
use crate::auth::Caller;
use crate::error::{ApiPath, AppError, Closing};
use crate::repo::{load_package, load_repo};

/// The route's `{owner}`, validated: the namespace of a namespace-wide route (policies,
/// teams).
#[derive(Debug, Clone)]
pub struct OwnerPath {
    pub owner: OwnerName,
}

/// The segments as sent; they are validated before a handler sees them.
#[derive(Deserialize)]
struct RawOwner {
    owner: String,
}

#[derive(Deserialize)]
struct RawRepo {
    repo: String,
}

impl<S: Send + Sync> FromRequestParts<S> for OwnerPath {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AppError> {
        let ApiPath(raw) = ApiPath::<RawOwner>::from_request_parts(parts, state).await?;
        Ok(Self {
            owner: OwnerName::parse(&raw.owner)?,
        })
    }
}

/// A privilege on a namespace as a type, for [`Namespace`].
pub trait NamespacePrivilege: Send + Sync + 'static {
    const PRIVILEGE: Privilege;
}

/// One marker type per [`Privilege`], for [`Namespace`].
pub mod privilege {
    use super::{NamespacePrivilege, Privilege};

    macro_rules! privileges {
        ($($name:ident),* $(,)?) => {$(
            #[doc = concat!("[`Privilege::", stringify!($name), "`] on a namespace as a type.")]
            #[derive(Debug, Clone, Copy)]
            pub struct $name;

            impl NamespacePrivilege for $name {
                const PRIVILEGE: Privilege = Privilege::$name;
            }
        )*};
    }

    privileges!(Read, Write, Admin);
}

/// The namespace at `{owner}`: validated, the caller holding `P` on it (a missing grant is
/// 401/403 and recorded as a denial, before anything about the namespace is revealed), and
/// existing (404 otherwise). Dereferences to the [`OwnerName`].
#[derive(Debug, Clone)]
pub struct Namespace<P> {
    pub owner: OwnerName,
    privilege: PhantomData<fn() -> P>,
}

impl<P> Deref for Namespace<P> {
    type Target = OwnerName;

    fn deref(&self) -> &OwnerName {
        &self.owner
    }
}

impl<P: NamespacePrivilege> FromRequestParts<Arc<App>> for Namespace<P> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Self, AppError> {
        let caller = Caller::from_request_parts(parts, app).await?;
        let OwnerPath { owner } = OwnerPath::from_request_parts(parts, app).await?;
        caller.require_namespace(owner.as_str(), P::PRIVILEGE)?;
        if !app.db.namespace_exists(owner.as_str()).await? {
            return Err(AppError::NotFound(format!("namespace {owner} not found")));
        }
        Ok(Self {
            owner,
            privilege: PhantomData,
        })
    }
}

/// The route's `{owner}` and `{repo}`, validated (the owner first, as `load_repo` does).
#[derive(Debug, Clone)]
pub struct RepoPath {
    pub owner: OwnerName,
    pub repo: RepoName,
}

impl<S: Send + Sync> FromRequestParts<S> for RepoPath {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AppError> {
        let OwnerPath { owner } = OwnerPath::from_request_parts(parts, state).await?;
        let ApiPath(raw) = ApiPath::<RawRepo>::from_request_parts(parts, state).await?;
        Ok(Self {
            owner,
            repo: RepoName::parse(&raw.repo)?,
        })
    }
}

impl RepoPath {
    /// Loads the repository and checks that `caller` may do `op` there.
    pub async fn load(&self, app: &App, caller: &Caller, op: Op) -> Result<RepoRow, AppError> {
        load_repo(app, caller, self.owner.as_str(), self.repo.as_str(), op).await
    }
}

/// An operation as a type, so that an extractor can name what it authorises.
pub trait RepoOp: Send + Sync + 'static {
    const OP: Op;
}

/// One marker type per [`Op`], for [`Repo`] and [`PackageAt`].
pub mod op {
    use super::{Op, RepoOp};

    macro_rules! ops {
        ($($name:ident),* $(,)?) => {$(
            #[doc = concat!("[`Op::", stringify!($name), "`] as a type.")]
            #[derive(Debug, Clone, Copy)]
            pub struct $name;

            impl RepoOp for $name {
                const OP: Op = Op::$name;
            }
        )*};
    }

    ops!(
        Read, Push, CopyInto, Tag, Yank, MoveOut, Delete, Quarantine, Resync, Webhooks, Upstreams,
        Policies, Admin
    );
}

/// The repository at `{owner}/{repo}`, loaded, and the caller allowed to do `O` there.
/// Dereferences to the [`RepoRow`].
#[derive(Debug, Clone)]
pub struct Repo<O> {
    row: RepoRow,
    op: PhantomData<fn() -> O>,
}

impl<O> Repo<O> {
    pub fn into_row(self) -> RepoRow {
        self.row
    }
}

impl<O> Deref for Repo<O> {
    type Target = RepoRow;

    fn deref(&self) -> &RepoRow {
        &self.row
    }
}

impl<O: RepoOp> FromRequestParts<Arc<App>> for Repo<O> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Self, AppError> {
        // The caller is cached on the request, so a handler that also takes it does not
        // authenticate twice.
        let caller = Caller::from_request_parts(parts, app).await?;
        let path = RepoPath::from_request_parts(parts, app).await?;
        Ok(Self {
            row: path.load(app, &caller, O::OP).await?,
            op: PhantomData,
        })
    }
}

/// The route's `{owner}`, `{repo}` (validated) and `{slug_perm}`, not yet loaded: for a
/// handler that reads a JSON body first, so that a malformed body answers before a missing
/// package does, as it always has (a body can only be read after every other extractor).
#[derive(Debug, Clone)]
pub struct PackagePath {
    pub repo: RepoPath,
    pub slug_perm: String,
}

#[derive(Deserialize)]
struct SlugParam {
    slug_perm: String,
}

impl<S: Send + Sync> FromRequestParts<S> for PackagePath {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AppError> {
        let repo = RepoPath::from_request_parts(parts, state).await?;
        let ApiPath(slug) = ApiPath::<SlugParam>::from_request_parts(parts, state).await?;
        Ok(Self {
            repo,
            slug_perm: slug.slug_perm,
        })
    }
}

impl PackagePath {
    /// Loads the repository, checks that `caller` may do `op` there, then loads the package
    /// in any state. A malformed slug answers 404 like an unknown one, and only once the
    /// caller may see the repository.
    pub async fn load(
        &self,
        app: &App,
        caller: &Caller,
        op: Op,
    ) -> Result<(RepoRow, PackageRow), AppError> {
        let repo = self.repo.load(app, caller, op).await?;
        let package = load_package(app, &repo, &self.slug_perm).await?;
        Ok((repo, package))
    }
}

/// The package at `{owner}/{repo}/{slug_perm}` in any state, its repository authorised for
/// `O` (see [`PackagePath::load`]).
#[derive(Debug, Clone)]
pub struct PackageAt<O> {
    pub repo: Repo<O>,
    pub package: PackageRow,
}

impl<O: RepoOp> FromRequestParts<Arc<App>> for PackageAt<O> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Self, AppError> {
        let caller = Caller::from_request_parts(parts, app).await?;
        let path = PackagePath::from_request_parts(parts, app).await?;
        let (row, package) = path.load(app, &caller, O::OP).await?;
        Ok(Self {
            repo: Repo {
                row,
                op: PhantomData,
            },
            package,
        })
    }
}

/// An upload into the repository at `{owner}/{repo}`: the app, the caller, and the repository
/// authorised for `O` before the body is read (so strangers learn nothing from the body's
/// errors). A refusal closes the connection, like every error of an upload ([`Closing`]).
pub struct UploadTo<O> {
    pub app: Arc<App>,
    pub caller: Caller,
    pub repo: Repo<O>,
}

impl<O: RepoOp> FromRequestParts<Arc<App>> for UploadTo<O> {
    type Rejection = Closing;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Self, Closing> {
        let caller = Caller::from_request_parts(parts, app).await?;
        let repo = Repo::<O>::from_request_parts(parts, app).await?;
        Ok(Self {
            app: Arc::clone(app),
            caller,
            repo,
        })
    }
}

/// A route's `{name}` (a rule), free text matched exactly.
#[derive(Debug, Clone, Deserialize)]
pub struct NameParam {
    pub name: String,
}

/// A route's numeric `{id}` (an upstream, a webhook).
#[derive(Debug, Clone, Copy, Deserialize)]
pub struct IdParam {
    pub id: i64,
}
