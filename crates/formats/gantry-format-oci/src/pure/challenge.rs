//! The `WWW-Authenticate: Bearer realm=…,service=…,scope=…` challenge a registry answers an
//! unauthenticated request with, read so that an upstream registry's token can be fetched.

/// Longest challenge read; registries send well under a kilobyte.
const MAX_CHALLENGE: usize = 4096;

/// A bearer challenge's parameters.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Challenge {
    pub realm: String,
    pub service: Option<String>,
    pub scope: Option<String>,
}

/// Reads a `Bearer` challenge; `None` for another scheme, a missing realm or a malformed or
/// oversized value.
pub fn parse_bearer(value: &str) -> Option<Challenge> {
    if value.len() > MAX_CHALLENGE {
        return None;
    }
    let value = value.trim();
    let (scheme, rest) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let mut challenge = Challenge::default();
    for (key, val) in params(rest)? {
        match key.to_ascii_lowercase().as_str() {
            "realm" => challenge.realm = val,
            "service" => challenge.service = Some(val),
            "scope" => challenge.scope = Some(val),
            _ => {}
        }
    }
    (!challenge.realm.is_empty()).then_some(challenge)
}

/// `key=value` pairs separated by commas; values may be quoted (with `\` escapes), and a
/// quoted value may hold commas (scopes list actions as `pull,push`).
fn params(text: &str) -> Option<Vec<(String, String)>> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| *c == ',' || c.is_whitespace()) {
            chars.next();
        }
        if chars.peek().is_none() {
            return Some(out);
        }
        let mut key = String::new();
        while let Some(c) = chars.next_if(|c| *c != '=') {
            key.push(c);
        }
        chars.next()?;
        let mut val = String::new();
        if chars.next_if_eq(&'"').is_some() {
            loop {
                match chars.next()? {
                    '"' => break,
                    '\\' => val.push(chars.next()?),
                    c => val.push(c),
                }
            }
        } else {
            while let Some(c) = chars.next_if(|c| *c != ',') {
                val.push(c);
            }
        }
        out.push((key.trim().to_owned(), val.trim().to_owned()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_bearer_challenges() {
        let c = parse_bearer(
            r#"Bearer realm="http://127.0.0.1:5/token",service="registry",scope="repository:a/b:pull,push""#,
        );
        assert_eq!(
            c,
            Some(Challenge {
                realm: "http://127.0.0.1:5/token".into(),
                service: Some("registry".into()),
                scope: Some("repository:a/b:pull,push".into()),
            })
        );
        let bare = parse_bearer("bearer realm=http://h/t, service=s").map(|c| c.service);
        assert_eq!(bare, Some(Some("s".into())));
        assert_eq!(parse_bearer(r#"Basic realm="x""#), None);
        assert_eq!(parse_bearer(r#"Bearer service="x""#), None);
        assert_eq!(parse_bearer(r#"Bearer realm="unterminated"#), None);
        assert_eq!(parse_bearer(&"Bearer realm=x,".repeat(1000)), None);
    }
}
