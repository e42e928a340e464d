//! nuget.exe 5.8 under mono with a private HOME, HTTP cache and global packages folder per
//! run (so no answer is reused from an earlier run), and the helpers the NuGet suites share.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::common::TestResult;

static RUNS: AtomicUsize = AtomicUsize::new(0);

fn nuget_exe() -> PathBuf {
    std::env::var_os("GANTRY_TEST_NUGET").map_or_else(
        || {
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../target/test-tools/npm/node_modules/nuget-exe/nuget-5.8.0.exe")
        },
        PathBuf::from,
    )
}

pub(crate) struct Nuget {
    pub(crate) work: tempfile::TempDir,
}

impl Nuget {
    pub(crate) fn new() -> TestResult<Self> {
        Ok(Self {
            work: tempfile::tempdir()?,
        })
    }

    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.work.path().join(name)
    }

    /// `mono nuget.exe ARGS -NonInteractive`, run in the work directory.
    pub(crate) fn run(&self, args: &[&str]) -> TestResult<Output> {
        let run = RUNS.fetch_add(1, Ordering::Relaxed);
        let home = self.work.path().join(format!("home-{run}"));
        std::fs::create_dir_all(&home)?;
        let mut cmd = Command::new("mono");
        cmd.env_clear();
        for key in ["PATH", "TMPDIR"] {
            if let Some(v) = std::env::var_os(key) {
                cmd.env(key, v);
            }
        }
        Ok(cmd
            .current_dir(self.work.path())
            .env("HOME", &home)
            .env("NUGET_PACKAGES", home.join("packages"))
            .env("NUGET_HTTP_CACHE_PATH", home.join("http-cache"))
            .arg(nuget_exe())
            .args(args)
            .arg("-NonInteractive")
            .output()?)
    }

    pub(crate) fn ok(&self, args: &[&str]) -> TestResult<String> {
        let out = self.run(args)?;
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        if !out.status.success() {
            return Err(format!("nuget {args:?} failed:\n{text}").into());
        }
        Ok(text)
    }

    /// nuget ARGS that must fail; what it printed.
    pub(crate) fn fails(&self, args: &[&str]) -> TestResult<String> {
        let out = self.run(args)?;
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        if out.status.success() {
            return Err(format!("nuget {args:?} succeeded, and should not have:\n{text}").into());
        }
        Ok(text)
    }

    /// `nuget pack` of a package with one content file; the `.nupkg`'s path.
    pub(crate) fn pack(&self, id: &str, version: &str) -> TestResult<String> {
        let dir = self.work.path().join(format!("src-{id}-{version}"));
        std::fs::create_dir_all(&dir)?;
        std::fs::write(dir.join("readme.txt"), format!("{id} {version}\n"))?;
        std::fs::write(
            dir.join(format!("{id}.nuspec")),
            format!(
                r#"<?xml version="1.0" encoding="utf-8"?>
<package><metadata>
  <id>{id}</id><version>{version}</version><authors>Gantry tests</authors>
  <description>{id} for the NuGet suite</description>
  <license type="expression">MIT</license>
</metadata><files><file src="readme.txt" target="content" /></files></package>"#
            ),
        )?;
        let out_dir = dir.display().to_string();
        let nuspec = dir.join(format!("{id}.nuspec")).display().to_string();
        let printed = self.ok(&["pack", &nuspec, "-OutputDirectory", &out_dir])?;
        let made = std::fs::read_dir(&dir)?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .find(|p| p.extension().is_some_and(|x| x == "nupkg"))
            .ok_or_else(|| format!("no .nupkg made: {printed}"))?;
        Ok(made.display().to_string())
    }

    /// A `NuGet.Config` naming the feed `gantry` at `url`, with the token as its password.
    pub(crate) fn config(&self, name: &str, url: &str, token: Option<&str>) -> TestResult<String> {
        let credentials = token.map_or(String::new(), |t| {
            format!(
                "<packageSourceCredentials><gantry><add key=\"Username\" value=\"ci\" />\
                 <add key=\"ClearTextPassword\" value=\"{t}\" /></gantry></packageSourceCredentials>"
            )
        });
        let path = self.work.path().join(name);
        std::fs::write(
            &path,
            format!(
                "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<configuration><packageSources><clear />\
                 <add key=\"gantry\" value=\"{url}\" /></packageSources>{credentials}</configuration>\n"
            ),
        )?;
        Ok(path.display().to_string())
    }

    /// `nuget install ID -Version V` into a new folder; whether the package landed there.
    pub(crate) fn install(
        &self,
        id: &str,
        version: Option<&str>,
        source: &[&str],
    ) -> TestResult<Output> {
        let run = RUNS.load(Ordering::Relaxed);
        let out_dir = self.work.path().join(format!("installed-{run}"));
        let out_dir = out_dir.display().to_string();
        let mut args = vec!["install", id, "-OutputDirectory", &out_dir, "-NoCache"];
        if let Some(v) = version {
            args.extend(["-Version", v]);
        }
        args.extend(source);
        self.run(&args)
    }
}

/// A `.nupkg` written by hand: `entries` beside a `.nuspec` for `id` `version`.
pub(crate) fn nupkg(id: &str, version: &str, entries: &[(&str, &[u8])]) -> TestResult<Vec<u8>> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default();
    zip.start_file(format!("{id}.nuspec"), options)?;
    zip.write_all(
        format!(
            "<package><metadata><id>{id}</id><version>{version}</version>\
             <authors>t</authors><description>d</description></metadata></package>"
        )
        .as_bytes(),
    )?;
    for (name, body) in entries {
        zip.start_file(*name, options)?;
        zip.write_all(body)?;
    }
    Ok(zip.finish()?.into_inner())
}

/// Whether `nuget install` put `id`.`version` in its output.
pub(crate) fn installed(out: &Output, id: &str, version: &str) -> bool {
    let text = String::from_utf8_lossy(&out.stdout);
    out.status.success() && text.contains(&format!("Successfully installed '{id} {version}'"))
}

pub(crate) fn printed(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}
