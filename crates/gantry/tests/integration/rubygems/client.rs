//! The real `gem` and `bundle` (Debian's Ruby 3.1, RubyGems 3.3, Bundler 2.3), each run with
//! private HOME, GEM_HOME and Bundler directories, and `.gem` files built in Rust for the
//! cases `gem build` will not make (hostile archives, names the scanner knows).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use reqwest::StatusCode;

use crate::common::{TestResult, TestServer};

pub(crate) struct Ruby {
    pub(crate) work: tempfile::TempDir,
}

impl Ruby {
    pub(crate) fn new() -> TestResult<Self> {
        Ok(Self {
            work: tempfile::tempdir()?,
        })
    }

    /// `program ARGS` in `dir`, installing into the gem home named `home`; `api_key` is what
    /// `gem push`/`yank` send.
    pub(crate) fn run(
        &self,
        dir: &Path,
        home: &str,
        api_key: Option<&str>,
        program: &str,
        args: &[&str],
    ) -> TestResult<Output> {
        let root = self.work.path();
        let mut cmd = Command::new(program);
        cmd.env_clear();
        for key in ["PATH", "TMPDIR", "LANG"] {
            if let Some(v) = std::env::var_os(key) {
                cmd.env(key, v);
            }
        }
        let gem_home = root.join(format!("gems-{home}"));
        cmd.current_dir(dir)
            .env("HOME", root.join("home"))
            .env("GEM_HOME", &gem_home)
            .env("GEM_PATH", &gem_home)
            .env("GEM_SPEC_CACHE", root.join(format!("specs-{home}")))
            .env("BUNDLE_USER_HOME", root.join("bundle-home"))
            .env("BUNDLE_APP_CONFIG", dir.join(".bundle"))
            .env("BUNDLE_PATH", root.join(format!("bundle-{home}")))
            .env("BUNDLE_SILENCE_ROOT_WARNING", "1")
            .env("BUNDLE_DISABLE_VERSION_CHECK", "1")
            .args(args);
        if let Some(key) = api_key {
            cmd.env("GEM_HOST_API_KEY", key);
        }
        Ok(cmd.output()?)
    }

    fn both(out: &Output) -> String {
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    }

    /// Runs as [`Ruby::run`] and checks the outcome: what it printed (stdout, then stderr).
    fn expect(
        &self,
        success: bool,
        dir: &Path,
        home: &str,
        api_key: Option<&str>,
        program: &str,
        args: &[&str],
    ) -> TestResult<String> {
        let out = self.run(dir, home, api_key, program, args)?;
        if out.status.success() != success {
            let what = if success { "failed" } else { "succeeded" };
            return Err(format!("{program} {args:?} {what}:\n{}", Self::both(&out)).into());
        }
        Ok(Self::both(&out))
    }

    pub(crate) fn ok(
        &self,
        dir: &Path,
        home: &str,
        api_key: Option<&str>,
        program: &str,
        args: &[&str],
    ) -> TestResult<String> {
        self.expect(true, dir, home, api_key, program, args)
    }

    pub(crate) fn fails(
        &self,
        dir: &Path,
        home: &str,
        api_key: Option<&str>,
        program: &str,
        args: &[&str],
    ) -> TestResult<String> {
        self.expect(false, dir, home, api_key, program, args)
    }

    /// `gem push --host HOST GEM` with `key` as the API key, expected to succeed or not.
    pub(crate) fn push(
        &self,
        success: bool,
        host: &str,
        key: &str,
        gem: &Path,
    ) -> TestResult<String> {
        let gem = gem.display().to_string();
        let root = self.work.path();
        self.expect(
            success,
            root,
            "push",
            Some(key),
            "gem",
            &["push", "--host", host, &gem],
        )
    }

    /// `gem yank NAME -v VERSION --host HOST` with `key`; gem prints the answer whatever
    /// its status, and exits 0.
    pub(crate) fn yank(
        &self,
        host: &str,
        key: &str,
        name: &str,
        version: &str,
    ) -> TestResult<String> {
        let args = ["yank", name, "-v", version, "--host", host];
        self.ok(self.work.path(), "yank", Some(key), "gem", &args)
    }

    /// `bundle install` in `app`, then `bundle exec ruby -e SCRIPT`: what the script printed.
    pub(crate) fn bundle_run(&self, app: &Path, home: &str, script: &str) -> TestResult<String> {
        self.ok(app, home, None, "bundle", &["install"])?;
        self.ok(app, home, None, "bundle", &["exec", "ruby", "-e", script])
    }

    /// `gem build` of a gem whose `NAME.hi` returns `"NAME VERSION"`, with runtime
    /// dependencies; the `.gem`'s path.
    pub(crate) fn build(
        &self,
        name: &str,
        version: &str,
        deps: &[(&str, &str)],
    ) -> TestResult<PathBuf> {
        let dir = self.work.path().join(format!("src-{name}-{version}"));
        std::fs::create_dir_all(dir.join("lib"))?;
        let module = module_name(name);
        std::fs::write(
            dir.join(format!("lib/{name}.rb")),
            format!("module {module}\n  def self.hi\n    \"{name} {version}\"\n  end\nend\n"),
        )?;
        let mut spec = format!(
            "Gem::Specification.new do |s|\n  s.name = {name:?}\n  s.version = {version:?}\n  \
             s.summary = \"test gem\"\n  s.authors = [\"Gantry\"]\n  s.license = \"MIT\"\n  \
             s.files = [\"lib/{name}.rb\"]\n"
        );
        for (dep, requirement) in deps {
            spec.push_str(&format!(
                "  s.add_runtime_dependency {dep:?}, {requirement:?}\n"
            ));
        }
        spec.push_str("end\n");
        std::fs::write(dir.join(format!("{name}.gemspec")), spec)?;
        self.ok(
            &dir,
            "build",
            None,
            "gem",
            &["build", &format!("{name}.gemspec")],
        )?;
        Ok(dir.join(format!("{name}-{version}.gem")))
    }

    /// A project whose Gemfile takes `gems` from `source`.
    pub(crate) fn project(
        &self,
        label: &str,
        source: &str,
        gems: &[(&str, &str)],
    ) -> TestResult<PathBuf> {
        let dir = self.work.path().join(format!("app-{label}"));
        std::fs::create_dir_all(&dir)?;
        let mut gemfile = format!("source {source:?}\n");
        for (name, requirement) in gems {
            gemfile.push_str(&format!("gem {name:?}, {requirement:?}\n"));
        }
        std::fs::write(dir.join("Gemfile"), gemfile)?;
        let _ = std::fs::remove_file(dir.join("Gemfile.lock"));
        Ok(dir)
    }
}

/// The module a test gem defines: `hello_world` is `HelloWorld`.
pub(crate) fn module_name(name: &str) -> String {
    name.split(['_', '-'])
        .map(|part| {
            let mut chars = part.chars();
            chars
                .next()
                .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect()
}

fn gz(bytes: &[u8]) -> TestResult<Vec<u8>> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes)?;
    Ok(e.finish()?)
}

fn append(b: &mut tar::Builder<Vec<u8>>, path: &str, body: &[u8]) -> TestResult {
    let mut header = tar::Header::new_gnu();
    header.set_size(body.len() as u64);
    header.set_mode(0o644);
    header.set_entry_type(tar::EntryType::Regular);
    // Written raw, so hostile names reach the server as they are.
    let field = header.as_old_mut().name.as_mut();
    let n = path.len().min(field.len());
    field[..n].copy_from_slice(&path.as_bytes()[..n]);
    header.set_cksum();
    b.append(&header, body)?;
    Ok(())
}

/// The YAML specification of a gem without dependencies.
pub(crate) fn spec_yaml(name: &str, version: &str) -> String {
    format!(
        "--- !ruby/object:Gem::Specification\nname: {name}\nversion: !ruby/object:Gem::Version\n  \
         version: {version}\nplatform: ruby\nauthors:\n- Gantry\nsummary: built in a test\n\
         rubygems_version: 3.3.15\nspecification_version: 4\n"
    )
}

/// A `.gem` of `metadata` (YAML) and the files `files`.
pub(crate) fn gem_bytes(metadata: &str, files: &[(&str, &[u8])]) -> TestResult<Vec<u8>> {
    let mut data = tar::Builder::new(Vec::new());
    for (path, body) in files {
        append(&mut data, path, body)?;
    }
    let data = gz(&data.into_inner()?)?;
    let mut gem = tar::Builder::new(Vec::new());
    append(&mut gem, "metadata.gz", &gz(metadata.as_bytes())?)?;
    append(&mut gem, "data.tar.gz", &data)?;
    Ok(gem.into_inner()?)
}

/// `POST …/rubygems/api/v1/gems` as `gem push` sends it: the status and the body.
pub(crate) async fn push_bytes(
    s: &TestServer,
    repo: &str,
    token: &str,
    gem: Vec<u8>,
) -> TestResult<(StatusCode, String)> {
    let resp = s
        .http
        .post(format!("{}/{repo}/rubygems/api/v1/gems", s.url))
        .header("Authorization", token)
        .header("Content-Type", "application/octet-stream")
        .body(gem)
        .send()
        .await?;
    Ok((resp.status(), resp.text().await?))
}

/// A GET of a path with an optional token: status and body text.
pub(crate) async fn get_text(
    s: &TestServer,
    path: &str,
    token: Option<&str>,
) -> TestResult<(StatusCode, String)> {
    let resp = s.req(reqwest::Method::GET, path, token).send().await?;
    Ok((resp.status(), resp.text().await?))
}
