//! `gantry push maven OWNER/REPO FILE --pom POM`, on the client side: a deploy for CI
//! without Maven, through the
//! same Maven routes `mvn deploy` uses (the POM, the file, then the artifact metadata that
//! ends the deploy), so it is sealed, checked and refused exactly as an mvn deploy is.

use anyhow::{bail, Context};
use futures::future::BoxFuture;
use gantry_client::push::{NativePush, PushRequest, Pushed};
use gantry_client::Client;

use crate::pure::{metadata, path::SNAPSHOT_SUFFIX, pom};

/// The build number after the newest one the version-level metadata names.
fn next_build(metadata: Option<&str>) -> u32 {
    metadata
        .and_then(|m| m.split("<buildNumber>").nth(1))
        .and_then(|rest| rest.split("</buildNumber>").next())
        .and_then(|n| n.trim().parse::<u32>().ok())
        .map_or(1, |n| n.saturating_add(1))
}

/// Deploys a file and its POM through the Maven routes.
pub(crate) struct Deploy;

impl NativePush for Deploy {
    fn push<'a>(
        &'a self,
        client: &'a Client,
        request: PushRequest<'a>,
    ) -> BoxFuture<'a, anyhow::Result<Pushed>> {
        Box::pin(push(client, request))
    }
}

async fn push(client: &Client, request: PushRequest<'_>) -> anyhow::Result<Pushed> {
    let PushRequest { owner, repo, .. } = request;
    let pom_path = request
        .companion
        .context("gantry push maven needs the artifact's POM: --pom pom.xml")?;
    let pom_bytes =
        std::fs::read(pom_path).with_context(|| format!("cannot read {}", pom_path.display()))?;
    let pom = pom::parse(&pom_bytes).with_context(|| pom_path.display().to_string())?;
    let artifact_dir = format!(
        "/{owner}/{repo}/maven/{}/{}",
        pom.group_id.replace('.', "/"),
        pom.artifact_id
    );
    let version_dir = format!("{artifact_dir}/{}", pom.version);
    let file_version = match pom.version.strip_suffix(SNAPSHOT_SUFFIX) {
        Some(base) => {
            let metadata = client
                .get_native_text(&format!("{version_dir}/maven-metadata.xml"))
                .await?;
            let stamp = metadata::build_timestamp(gantry_core::time::now_millis());
            format!("{base}-{stamp}-{}", next_build(metadata.as_deref()))
        }
        None => pom.version.clone(),
    };
    let stem = format!("{}-{file_version}", pom.artifact_id);
    let extension = request
        .source
        .extension()
        .map_or_else(|| "jar".to_owned(), |e| e.to_string_lossy().into_owned());
    if extension != "pom" {
        client
            .put_native_file(&format!("{version_dir}/{stem}.{extension}"), request.source)
            .await?;
    }
    client
        .put_native_file(&format!("{version_dir}/{stem}.pom"), pom_path)
        .await?;
    let closing = format!(
        "<metadata><groupId>{}</groupId><artifactId>{}</artifactId><versioning/></metadata>",
        pom.group_id, pom.artifact_id
    );
    client
        .put_native_text(&format!("{artifact_dir}/maven-metadata.xml"), closing)
        .await?;
    let name = format!("{}:{}", pom.group_id, pom.artifact_id);
    let query = format!(
        "format:maven name:{name} version:{} filename:{stem}.pom",
        pom.version
    );
    let page = client
        .list_packages(owner, repo, Some(&query), 1, 1)
        .await?;
    let Some(package) = page.packages.into_iter().next() else {
        bail!(
            "{name} {} was deployed but is not listed in {owner}/{repo}",
            pom.version
        );
    };
    Ok(Pushed {
        summary: format!("Deployed {name}:{} ({stem}) to {owner}/{repo}", pom.version),
        package,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn build_numbers_follow_the_metadata() {
        assert_eq!(super::next_build(None), 1);
        assert_eq!(
            super::next_build(Some("<snapshot><buildNumber>7</buildNumber></snapshot>")),
            8
        );
    }
}
