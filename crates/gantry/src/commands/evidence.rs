//! `gantry sbom`: a package's or a repository's CycloneDX document on stdout.

use gantry_client::Client;

use super::client::print_json;
use crate::cli::SbomArgs;

pub(crate) async fn sbom(client: &Client, args: SbomArgs) -> anyhow::Result<()> {
    let parts: Vec<&str> = args.target.split('/').collect();
    if parts.iter().any(|p| p.is_empty()) {
        anyhow::bail!("'{}' must be OWNER/REPO/SLUG or OWNER/REPO", args.target);
    }
    let doc = match parts.as_slice() {
        [owner, repo, slug] => {
            if args.query.is_some() {
                anyhow::bail!("--query selects packages of a repository: name OWNER/REPO");
            }
            client
                .get_value(&format!("/api/v1/packages/{owner}/{repo}/{slug}/sbom"), &[])
                .await?
        }
        [owner, repo] => {
            let query: Vec<(&str, String)> = args.query.into_iter().map(|q| ("query", q)).collect();
            client
                .get_value(&format!("/api/v1/repos/{owner}/{repo}/sbom"), &query)
                .await?
        }
        _ => anyhow::bail!("'{}' must be OWNER/REPO/SLUG or OWNER/REPO", args.target),
    };
    print_json(&doc)
}
