//! The server side of a format: its native protocol's routes and its hooks into the shared
//! pipeline. Every format implements [`FormatPlugin`] once and is listed in [`registered`];
//! nothing else in the server names a format. The route table (used by `gantry admin
//! routes`, the access matrix and the docs) is read from the same [`RouteSet`]s that build
//! the router, so it cannot drift from what the server answers.

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::handler::Handler;
use axum::routing::{delete, get, on, post, put, MethodFilter, MethodRouter};
use axum::Router;
use futures::future::BoxFuture;
use gantry_db::{PackageRow, RepoRow};
use gantry_formats::{Format, Identity};

use crate::app::App;
use crate::client_error::ClientShape;
use axum::extract::State;

use crate::error::{ApiPath, AppResult};
use crate::extract::{op, Repo};

/// One format as the server sees it.
pub trait FormatPlugin: Send + Sync + 'static {
    /// The format's pure part: parsing, validation, identity, limits.
    fn format(&self) -> Arc<dyn Format>;

    /// The native protocol's routes.
    fn routes(&self) -> RouteSet;

    /// How the format's clients show errors (the REST envelope when `None`).
    fn client_shape(&self) -> Option<ClientShape> {
        None
    }

    /// The format's own tables: migrations applied after the core's, numbered per format.
    fn migrations(&self) -> Option<gantry_db::MigrationSet> {
        None
    }

    /// Whether repositories may configure upstreams of this format.
    fn has_upstreams(&self) -> bool {
        false
    }

    /// Whether one uploaded file makes a whole package of this format, so the web
    /// interface's upload form offers it; false for formats whose clients push a package in
    /// several parts (an image's blobs and manifest).
    fn accepts_file_upload(&self) -> bool {
        true
    }

    /// How the scan job reads this format's packages when they are matched by what they
    /// contain (images, JARs with shaded libraries, distribution packages) rather than as
    /// packages of an ecosystem; `None` for the others.
    fn content_scan(&self) -> Option<ContentScan> {
        None
    }

    /// How `gantry push` makes a package of this format when the format does not take a
    /// single file through the upload API (OCI images, Maven deploys); `None` uploads the
    /// file (a directory is packed first by [`gantry_formats::Format::pack_directory`]).
    fn native_push(&self) -> Option<gantry_client::push::NativePush> {
        None
    }

    /// Checks a new package must pass before it is inserted (after its artifact was
    /// processed), e.g. cargo's one spelling per crate name.
    fn before_insert<'a>(
        &'a self,
        _app: &'a App,
        _repo: &'a RepoRow,
        _identity: &'a Identity,
    ) -> BoxFuture<'a, AppResult<()>> {
        Box::pin(async { Ok(()) })
    }
}

/// The future a format's hook returns.
pub type Hook<'a, T> = BoxFuture<'a, AppResult<T>>;

/// Reads what a package contains.
pub type ComponentsHook = for<'a> fn(&'a App, &'a PackageRow) -> Hook<'a, Vec<Component>>;
/// Says why a package cannot be scanned now, if it cannot.
pub type UnsupportedHook = for<'a> fn(&'a App, &'a PackageRow) -> Hook<'a, Option<String>>;
/// Finds the live packages (id, slug_perm) whose contents include a touched (ecosystem, name).
pub type TouchedHook = for<'a> fn(&'a App, &'a [(String, String)]) -> Hook<'a, Vec<(i64, String)>>;

/// The scan job's hooks for a format whose packages are matched by what they contain (see
/// [`FormatPlugin::content_scan`]). Made with [`ContentScan::new`]; the two optional hooks
/// default to "can always be scanned" and "no package to rescan".
#[derive(Clone, Copy)]
pub struct ContentScan {
    /// What the package contains.
    pub components: ComponentsHook,
    /// Why the package cannot be scanned now, if it cannot (a distribution format whose
    /// ecosystem has no advisories imported): the scan then records `not_supported` with this
    /// reason instead of matching the components.
    pub unsupported: UnsupportedHook,
    /// Live packages whose contents, as their last scan found them, include a name of
    /// `touched` (the (ecosystem, name) pairs an advisory import changed): (id, slug_perm),
    /// to be rescanned.
    pub touched: TouchedHook,
}

impl ContentScan {
    pub fn new(components: ComponentsHook) -> Self {
        Self {
            components,
            unsupported: |_, _| Box::pin(async { Ok(None) }),
            touched: |_, _| Box::pin(async { Ok(Vec::new()) }),
        }
    }

    pub fn unsupported(self, unsupported: UnsupportedHook) -> Self {
        Self {
            unsupported,
            ..self
        }
    }

    pub fn touched(self, touched: TouchedHook) -> Self {
        Self { touched, ..self }
    }
}

/// Something a package contains that is matched against advisories on its own: an image
/// holds OS and language packages, each with its ecosystem, while the image itself has none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Component {
    /// The OSV ecosystem (`PyPI`, `npm`, …).
    pub ecosystem: String,
    pub name: String,
    pub version: String,
    /// Where it was found (for an image: the layer digest and the path), shown with findings.
    pub location: serde_json::Value,
}

static PLUGINS: std::sync::OnceLock<Plugins> = std::sync::OnceLock::new();

/// Registers the formats this process serves (once, at start; later calls are ignored). The
/// server passes its one list of format plugins.
pub fn install(plugins: Vec<Arc<dyn FormatPlugin>>) -> &'static Plugins {
    PLUGINS.get_or_init(|| Plugins::new(plugins))
}

static COMPONENT_MIGRATIONS: std::sync::OnceLock<Vec<gantry_db::MigrationSet>> =
    std::sync::OnceLock::new();

/// Registers the migrations of parts of the server that are not formats (the web
/// interface's sessions), applied after the formats' (once, at start; later calls are
/// ignored).
pub fn install_component_migrations(sets: Vec<gantry_db::MigrationSet>) {
    let _ = COMPONENT_MIGRATIONS.set(sets);
}

/// The registered plugins: formats are compiled in, so one list serves the whole process.
/// Before [`install`] the list is empty.
pub fn plugins() -> &'static Plugins {
    static NONE: std::sync::LazyLock<Plugins> =
        std::sync::LazyLock::new(|| Plugins::new(Vec::new()));
    PLUGINS.get().unwrap_or(&NONE)
}

/// The registered plugins, by format id.
#[derive(Clone)]
pub struct Plugins {
    plugins: Vec<Arc<dyn FormatPlugin>>,
    formats: gantry_formats::Registry,
}

impl Plugins {
    pub fn new(plugins: Vec<Arc<dyn FormatPlugin>>) -> Self {
        let mut formats = gantry_formats::Registry::empty();
        for plugin in &plugins {
            formats.register(plugin.format());
        }
        Self { plugins, formats }
    }

    pub fn get(&self, id: &str) -> Option<&Arc<dyn FormatPlugin>> {
        self.plugins.iter().find(|p| p.format().id() == id)
    }

    /// Every registered format's migrations, in registration order.
    pub fn migrations(&self) -> Vec<gantry_db::MigrationSet> {
        let components = COMPONENT_MIGRATIONS.get().into_iter().flatten().copied();
        self.plugins
            .iter()
            .filter_map(|p| p.migrations())
            .chain(components)
            .collect()
    }

    pub fn formats(&self) -> &gantry_formats::Registry {
        &self.formats
    }

    /// Ids of the formats that support upstreams.
    pub fn with_upstreams(&self) -> Vec<&'static str> {
        self.plugins
            .iter()
            .filter(|p| p.has_upstreams())
            .map(|p| p.format().id())
            .collect()
    }

    /// Ids of the formats whose packages are one uploaded file (see
    /// [`FormatPlugin::accepts_file_upload`]), in registration order.
    pub fn with_file_upload(&self) -> Vec<&'static str> {
        self.plugins
            .iter()
            .filter(|p| p.accepts_file_upload())
            .map(|p| p.format().id())
            .collect()
    }

    /// Every format's native routes, each in its clients' error shape, and their table.
    pub fn routes(&self) -> (Router<Arc<App>>, Vec<(&'static str, String)>) {
        let mut router = Router::new();
        let mut table = Vec::new();
        for plugin in &self.plugins {
            let set = plugin.routes();
            table.extend(set.table);
            router = router.merge(match plugin.client_shape() {
                Some(shape) => shape.apply(set.router),
                None => set.router,
            });
        }
        (router, table)
    }
}

/// A format's routes, recorded as they are added.
pub struct RouteSet {
    router: Router<Arc<App>>,
    table: Vec<(&'static str, String)>,
}

impl Default for RouteSet {
    fn default() -> Self {
        Self::new()
    }
}

impl RouteSet {
    pub fn new() -> Self {
        Self {
            router: Router::new(),
            table: Vec::new(),
        }
    }

    fn add(mut self, path: &str, methods: &[&'static str], route: MethodRouter<Arc<App>>) -> Self {
        self.table
            .extend(methods.iter().map(|m| (*m, path.to_owned())));
        self.router = self.router.route(path, route);
        self
    }

    /// `GET` (an index, a document).
    pub fn get<H, T>(self, path: &str, handler: H) -> Self
    where
        H: Handler<T, Arc<App>>,
        T: 'static,
    {
        self.add(path, &["GET"], get(handler))
    }

    /// `GET` and `HEAD` of a file.
    pub fn file<H, T>(self, path: &str, handler: H) -> Self
    where
        H: Handler<T, Arc<App>>,
        T: 'static,
    {
        self.add(path, &["GET", "HEAD"], get(handler))
    }

    /// `GET` and `HEAD /{owner}/{repo}/{format}/files/{slug}/{filename}`: the package files of
    /// `format` by slug, served by the toolkit.
    pub fn slug_files(self, format: &'static str) -> Self {
        let path = format!("/{{owner}}/{{repo}}/{format}/files/{{slug}}/{{filename}}");
        let handler = move |State(app): State<Arc<App>>,
                            caller: crate::auth::Caller,
                            method: axum::http::Method,
                            headers: axum::http::HeaderMap,
                            ApiPath(SlugFile { slug, filename }): ApiPath<SlugFile>,
                            repo: Repo<op::Read>| async move {
            crate::serve::serve_by_slug(
                &app, &caller, &method, &headers, format, &repo, &slug, &filename,
            )
            .await
        };
        self.add(&path, &["GET", "HEAD"], get(handler))
    }

    /// `PUT` of a small document.
    pub fn put<H, T>(self, path: &str, handler: H) -> Self
    where
        H: Handler<T, Arc<App>>,
        T: 'static,
    {
        self.add(path, &["PUT"], put(handler))
    }

    /// `DELETE`.
    pub fn delete<H, T>(self, path: &str, handler: H) -> Self
    where
        H: Handler<T, Arc<App>>,
        T: 'static,
    {
        self.add(path, &["DELETE"], delete(handler))
    }

    /// `POST` of an upload, bounded by the configured maximum while it streams rather than by
    /// the extractor's default limit.
    pub fn post_upload<H, T>(self, path: &str, handler: H) -> Self
    where
        H: Handler<T, Arc<App>>,
        T: 'static,
    {
        self.add(
            path,
            &["POST"],
            post(handler).layer(DefaultBodyLimit::disable()),
        )
    }

    /// `PUT` of an upload, bounded as for [`RouteSet::post_upload`].
    pub fn put_upload<H, T>(self, path: &str, handler: H) -> Self
    where
        H: Handler<T, Arc<App>>,
        T: 'static,
    {
        self.add(
            path,
            &["PUT"],
            put(handler).layer(DefaultBodyLimit::disable()),
        )
    }

    /// Each of `methods` on one path, to one handler, with the body streamed as for
    /// [`RouteSet::post_upload`]: for protocols that dispatch on the method and the path
    /// themselves, because their paths cannot be written as templates (names that hold `/`
    /// followed by fixed segments). Unknown method names are ignored.
    pub fn methods_upload<H, T>(self, path: &str, methods: &[&'static str], handler: H) -> Self
    where
        H: Handler<T, Arc<App>>,
        T: 'static,
    {
        let filter = methods
            .iter()
            .filter_map(|m| axum::http::Method::from_bytes(m.as_bytes()).ok())
            .filter_map(|m| MethodFilter::try_from(m).ok())
            .reduce(MethodFilter::or);
        let Some(filter) = filter else {
            return self;
        };
        self.add(
            path,
            methods,
            on(filter, handler).layer(DefaultBodyLimit::disable()),
        )
    }
}

/// The `{slug}` and `{filename}` of a package file's route. The slug stays text: a malformed
/// one answers as a missing file once the repository is authorised.
#[derive(serde::Deserialize)]
struct SlugFile {
    slug: String,
    filename: String,
}
