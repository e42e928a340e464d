//! The one thing read from a `go.mod`: its `module` directive, which must name the module
//! being published. Comments, quoting (`"…"` and `` `…` ``) and the block form are handled;
//! nothing else in the file is interpreted.

/// The module path a `go.mod` declares, if it declares one.
pub fn module_path(go_mod: &str) -> Option<String> {
    let mut in_block = false;
    for raw in go_mod.lines() {
        let line = raw.split("//").next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        if in_block {
            if line == ")" {
                in_block = false;
                continue;
            }
            return unquote(line);
        }
        let Some(rest) = line.strip_prefix("module") else {
            continue;
        };
        if !rest.is_empty() && !rest.starts_with([' ', '\t', '(']) {
            continue;
        }
        let rest = rest.trim();
        if rest == "(" {
            in_block = true;
            continue;
        }
        return unquote(rest);
    }
    None
}

fn unquote(token: &str) -> Option<String> {
    let token = token.trim();
    let inner = token
        .strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .or_else(|| token.strip_prefix('`').and_then(|t| t.strip_suffix('`')));
    match inner {
        // Module paths need no escapes; a backslash in one is refused by the path rules.
        Some(inner) => Some(inner.to_owned()),
        None if !token.is_empty() && !token.contains(char::is_whitespace) => Some(token.to_owned()),
        None => None,
    }
}

/// The `go.mod` the go command synthesises for a module without one.
pub fn synthesized(path: &str) -> String {
    format!("module {path}\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_module_directive() {
        assert_eq!(
            module_path("// c\nmodule example.com/m // trailing\n\ngo 1.19\n").as_deref(),
            Some("example.com/m")
        );
        assert_eq!(
            module_path("module \"example.com/q\"\n").as_deref(),
            Some("example.com/q")
        );
        assert_eq!(
            module_path("module (\n  example.com/b\n)\n").as_deref(),
            Some("example.com/b")
        );
        assert_eq!(module_path("modules x\ngo 1.19\n"), None);
        assert_eq!(module_path("go 1.19\n"), None);
        assert_eq!(module_path("module a b\n"), None);
    }
}
