//! The GOPROXY protocol at `/{owner}/{repo}/go/`: `$module/@v/list`, `$module/@v/$version.info`,
//! `.mod`, `.zip` and `$module/@latest`, with module paths and versions case-encoded. Module
//! paths hold `/`, so one catch-all route takes the rest of the path and is parsed here.
//!
//! Answers follow what a `GOPROXY` list needs: a module or version this repository (and its
//! upstreams) does not have is a 404, so `GOPROXY=gantry,direct` moves on to the next entry;
//! a refusal (401, 403 for a quarantined version) stops the go command, which prints the
//! plain-text body, Gantry's message.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, Method};
use axum::response::Response;
use serde::Deserialize;

use crate::app::App;
use crate::auth::Caller;
use crate::error::{ApiPath, AppError, AppResult};
use crate::pure::path::{check_path, unescape};
use crate::pure::Version;
use gantry_protocol::extract::{op, Repo};

mod answer;

pub(crate) use answer::info_json;

const FORMAT: &str = "go";

/// What a proxy request asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Wanted {
    List,
    Latest,
    Info(Version),
    Mod(Version),
    Zip(Version),
}

/// The module path and what is asked of it, from the path below `/go/`; `None` for anything
/// that is not a well-formed proxy request (answered 404, as for an unknown module).
pub(crate) fn parse_request(path: &str) -> Option<(String, Wanted)> {
    let (escaped, wanted) = if let Some(escaped) = path.strip_suffix("/@latest") {
        (escaped, Wanted::Latest)
    } else {
        let (escaped, file) = path.rsplit_once("/@v/")?;
        if file == "list" {
            (escaped, Wanted::List)
        } else {
            let (version, extension) = file.rsplit_once('.')?;
            let version = Version::parse(&unescape(version)?).ok()?;
            let wanted = match extension {
                "info" => Wanted::Info(version),
                "mod" => Wanted::Mod(version),
                "zip" => Wanted::Zip(version),
                _ => return None,
            };
            (escaped, wanted)
        }
    };
    let module = unescape(escaped)?;
    check_path(&module).ok()?;
    Some((module, wanted))
}

/// The path below `/{owner}/{repo}/go/`.
#[derive(Deserialize)]
pub(crate) struct GoPath {
    path: String,
}

/// `GET`/`HEAD /{owner}/{repo}/go/{*path}`.
pub(crate) async fn dispatch(
    State(app): State<Arc<App>>,
    caller: Caller,
    method: Method,
    headers: HeaderMap,
    ApiPath(GoPath { path }): ApiPath<GoPath>,
    repo: Repo<op::Read>,
) -> AppResult<Response> {
    let Some((module, wanted)) = parse_request(&path) else {
        return Err(AppError::NotFound(format!(
            "'{}' is not a module proxy request (want MODULE/@v/list, MODULE/@v/VERSION.info|.mod|.zip or MODULE/@latest, with upper case written as !x)",
            gantry_formats::archive::quote(&path)
        )));
    };
    let request = answer::Request {
        app: &app,
        caller: &caller,
        method: &method,
        headers: &headers,
        repo: repo.into_row(),
        module,
    };
    match wanted {
        Wanted::List => request.list().await,
        Wanted::Latest => request.latest().await,
        Wanted::Info(version) => request.info(&version).await,
        Wanted::Mod(version) => request.file(&version, false).await,
        Wanted::Zip(version) => request.file(&version, true).await,
    }
}

/// Go modules: the module proxy protocol; uploads go through the REST API (`gantry push go`).
pub struct Plugin;

impl crate::plugin::FormatPlugin for Plugin {
    fn format(&self) -> Arc<dyn gantry_formats::Format> {
        Arc::new(crate::pure::Go)
    }

    fn routes(&self) -> crate::plugin::RouteSet {
        crate::plugin::RouteSet::new().file("/{owner}/{repo}/go/{*path}", dispatch)
    }

    /// The go command prints a proxy's error body only when it is plain text.
    fn client_shape(&self) -> Option<gantry_protocol::client_error::ClientShape> {
        Some(gantry_protocol::client_error::ClientShape::PlainText)
    }

    fn has_upstreams(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn version(text: &str) -> Version {
        Version::parse(text).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn parses_proxy_requests() {
        assert_eq!(
            parse_request("github.com/!azure/x/@v/list"),
            Some(("github.com/Azure/x".into(), Wanted::List))
        );
        assert_eq!(
            parse_request("example.com/m/@latest"),
            Some(("example.com/m".into(), Wanted::Latest))
        );
        assert_eq!(
            parse_request("example.com/m/@v/v1.0.0-!r!c1.info"),
            Some(("example.com/m".into(), Wanted::Info(version("v1.0.0-RC1"))))
        );
        assert_eq!(
            parse_request("example.com/m/v2/@v/v2.0.0.zip"),
            Some(("example.com/m/v2".into(), Wanted::Zip(version("v2.0.0"))))
        );
        assert_eq!(
            parse_request("example.com/m/@v/v2.0.0+incompatible.mod"),
            Some((
                "example.com/m".into(),
                Wanted::Mod(version("v2.0.0+incompatible"))
            ))
        );
        for bad in [
            "example.com/m/@v/master.info",
            "example.com/m/@v/v1.0.0.tar",
            "github.com/Azure/x/@v/list",
            "example.com/../m/@v/list",
            "example.com/m",
            "@v/list",
            "sumdb/sum.example.org/supported",
        ] {
            assert_eq!(parse_request(bad), None, "{bad}");
        }
    }
}
