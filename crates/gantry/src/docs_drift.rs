//! The docs and the code name the same routes and verbs. Every `METHOD /path` template in the
//! docs is a route the server answers (the OpenAPI document plus the native route table),
//! and every route is documented on some page; every `gantry VERB …` in the docs parses as
//! far as its verbs go, and every verb is documented. So a renamed route or verb fails here
//! until the docs follow.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use clap::CommandFactory;

type TestResult = Result<(), Box<dyn std::error::Error>>;

const METHODS: [&str; 6] = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"];

/// README.md and every page under docs/.
fn pages() -> Result<Vec<(PathBuf, String)>, std::io::Error> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut out = vec![(
        root.join("README.md"),
        std::fs::read_to_string(root.join("README.md"))?,
    )];
    let mut stack = vec![root.join("docs")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let path = entry?.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "md") {
                let text = std::fs::read_to_string(&path)?;
                out.push((path, text));
            }
        }
    }
    Ok(out)
}

/// A path as a list of segments, placeholders (`{owner}`, `OWNER`, `{filename}.metadata`)
/// as `{}` and a catch-all (`{*path}`) as `*`.
fn segments(path: &str) -> Vec<String> {
    let path = path.split(['?', '#', '[']).next().unwrap_or_default();
    path.trim_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| {
            let caps = s.split('.').next().is_some_and(|h| {
                !h.is_empty() && h.chars().all(|c| c.is_ascii_uppercase() || c == '_')
            });
            if s.starts_with("{*") {
                "*".to_owned()
            } else if s.contains('{') || caps {
                "{}".to_owned()
            } else {
                s.to_owned()
            }
        })
        .collect()
}

fn path_matches(doc: &[String], route: &[String]) -> bool {
    let mut d = doc.iter();
    for r in route {
        if r == "*" {
            return d.next().is_some();
        }
        match d.next() {
            Some(s) if s == r || r == "{}" => {}
            _ => return false,
        }
    }
    d.next().is_none()
}

/// `(methods, path, page)` for every `METHOD /path` (or `` `GET`/`HEAD /path` ``) in the docs
/// that is a template: with placeholders, or made only of words the route table uses (so
/// that examples with real names, `/api/v1/packages/acme/dev/…`, are not taken for routes).
fn documented_routes(
    pages: &[(PathBuf, String)],
    words: &BTreeSet<String>,
) -> Vec<(Vec<String>, Vec<String>, String)> {
    let mut out = Vec::new();
    for (page, text) in pages {
        let tokens: Vec<&str> = text
            .split(|c: char| c.is_whitespace() || c == '|' || c == '(' || c == ')')
            .filter(|t| !t.is_empty())
            .collect();
        for pair in tokens.windows(2) {
            let methods: Vec<String> = pair[0]
                .split('/')
                .map(|m| m.trim_matches(|c| c == '`' || c == ','))
                .filter(|m| !m.is_empty())
                .map(str::to_owned)
                .collect();
            if methods.is_empty() || !methods.iter().all(|m| METHODS.contains(&m.as_str())) {
                continue;
            }
            let path = pair[1].trim_matches(|c| c == '`' || c == ',' || c == '.');
            let base = path.split(['?', '#', '[']).next().unwrap_or_default();
            if !base.starts_with('/') || base.contains('…') || base.starts_with("//") {
                continue;
            }
            let segs = segments(base);
            let template = base.contains('{')
                || base.split('/').any(|s| s == "OWNER")
                || segs.iter().all(|s| s == "{}" || words.contains(s));
            if template {
                out.push((methods, segs, page.display().to_string()));
            }
        }
    }
    out
}

#[test]
fn every_documented_route_exists_and_every_route_is_documented() -> TestResult {
    let pages = pages()?;
    let table: Vec<(String, Vec<String>)> = gantry_server::route_table()
        .into_iter()
        .map(|(m, p)| (m, segments(&p)))
        .collect();
    let words: BTreeSet<String> = table
        .iter()
        .flat_map(|(_, s)| s.iter().filter(|w| *w != "{}" && *w != "*").cloned())
        .collect();
    let documented = documented_routes(&pages, &words);
    let answers = |method: &str, path: &[String]| {
        table.iter().any(|(m, p)| {
            // axum answers HEAD on every GET route.
            (m == method || (method == "HEAD" && m == "GET")) && path_matches(path, p)
        })
    };
    let mut unknown = Vec::new();
    for (methods, path, page) in &documented {
        for method in methods {
            if !answers(method, path) {
                unknown.push(format!("{page}: {method} /{}", path.join("/")));
            }
        }
    }
    assert!(
        unknown.is_empty(),
        "documented routes the server does not answer:\n{}",
        unknown.join("\n")
    );
    let mut undocumented = Vec::new();
    for (method, route) in &table {
        let found = documented.iter().any(|(methods, path, _)| {
            (methods.contains(method) || (method == "HEAD" && methods.iter().any(|m| m == "GET")))
                && path_matches(path, route)
        });
        if !found {
            undocumented.push(format!("{method} /{}", route.join("/")));
        }
    }
    assert!(
        undocumented.is_empty(),
        "routes no page documents:\n{}",
        undocumented.join("\n")
    );
    Ok(())
}

/// Every `gantry …` command line in the docs, as words (up to the first flag, placeholder
/// or shell syntax).
fn documented_commands(pages: &[(PathBuf, String)]) -> Vec<(Vec<String>, String)> {
    let mut out = Vec::new();
    for (page, text) in pages {
        for line in text.lines() {
            for (i, _) in line.match_indices("gantry ") {
                let before = line[..i].chars().last();
                if before.is_some_and(|c| c.is_alphanumeric() || c == '-' || c == '/' || c == '_') {
                    continue;
                }
                let words: Vec<String> = line[i + "gantry ".len()..]
                    .split_whitespace()
                    .map(|w| w.trim_matches(|c| c == '`' || c == ',' || c == ';'))
                    .take_while(|w| {
                        !w.is_empty()
                            && w.chars().all(|c| c.is_ascii_lowercase() || c == '-')
                            && !w.starts_with('-')
                    })
                    .map(str::to_owned)
                    .collect();
                if !words.is_empty() {
                    out.push((words, page.display().to_string()));
                }
            }
        }
    }
    out
}

/// The verb path a documented command line names: top-level verb, then subcommands (after
/// the positionals a command takes before its subcommand, as `upstream FORMAT create`).
fn resolve(words: &[String]) -> Result<Vec<String>, String> {
    let mut cmd = crate::cli::Cli::command();
    let mut path = Vec::new();
    let mut rest = words;
    loop {
        let subs: Vec<String> = cmd
            .get_subcommands()
            .map(|s| s.get_name().to_owned())
            .collect();
        if subs.is_empty() {
            return Ok(path);
        }
        // A command whose arguments and subcommands are alternatives (`vulnerabilities
        // PACKAGE` or `vulnerabilities except …`): a first word that is no subcommand is the
        // argument form, the command itself.
        if cmd.is_args_conflicts_with_subcommands_set() {
            match rest.first() {
                Some(w) if cmd.find_subcommand(w).is_some() => {}
                _ => return Ok(path),
            }
        }
        let skip = if path.is_empty() || cmd.is_args_conflicts_with_subcommands_set() {
            0
        } else {
            cmd.get_positionals().count()
        };
        let Some(word) = rest.get(skip) else {
            return Ok(path);
        };
        let Some(sub) = cmd.find_subcommand(word).cloned() else {
            if word == "help" {
                return Ok(path);
            }
            return Err(format!("'{word}' after 'gantry {}'", path.join(" ")));
        };
        path.push(word.clone());
        rest = &rest[skip + 1..];
        cmd = sub;
    }
}

/// Every verb path of the CLI that ends in a command without subcommands.
fn leaves(cmd: &clap::Command, prefix: &[String], out: &mut Vec<Vec<String>>) {
    for sub in cmd.get_subcommands() {
        let mut path = prefix.to_vec();
        path.push(sub.get_name().to_owned());
        if sub.has_subcommands() {
            leaves(sub, &path, out);
        } else {
            out.push(path);
        }
    }
}

#[test]
fn every_documented_verb_exists_and_every_verb_is_documented() -> TestResult {
    let pages = pages()?;
    let mut documented = BTreeSet::new();
    let mut unknown = Vec::new();
    for (words, page) in documented_commands(&pages) {
        // Prose such as "gantry server is …" starts with a verb too; only a first word that
        // is a verb is judged.
        if crate::cli::Cli::command()
            .find_subcommand(&words[0])
            .is_none()
        {
            continue;
        }
        match resolve(&words) {
            Ok(path) => {
                documented.insert(path);
            }
            Err(e) => unknown.push(format!("{page}: {e}")),
        }
    }
    assert!(
        unknown.is_empty(),
        "documented commands the CLI does not have:\n{}",
        unknown.join("\n")
    );
    let mut all = Vec::new();
    leaves(&crate::cli::Cli::command(), &[], &mut all);
    let missing: Vec<String> = all
        .iter()
        .filter(|p| p[0] != "help" && p.last().is_some_and(|l| l != "help"))
        .filter(|p| !documented.contains(*p))
        .map(|p| format!("gantry {}", p.join(" ")))
        .collect();
    assert!(
        missing.is_empty(),
        "verbs no page documents:\n{}",
        missing.join("\n")
    );
    Ok(())
}
