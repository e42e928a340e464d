//! What each repository operation needs, and a repository's address rules.
//!
//! | operation | default minimum |
//! | --- | --- |
//! | `read` (list, get, download) | read |
//! | `push`, `copy_into`, `tag`, `yank` | write |
//! | `move_out`, `delete`, `quarantine`, `resync`, `webhooks`, `upstreams`, `policies` | admin |
//! | repository settings and privileges | admin (fixed) |
//!
//! A repository may raise or lower each configurable minimum (`permissions` on the
//! repository). Anonymous callers never mutate anything, whatever the minimums say.

use std::net::IpAddr;
use std::str::FromStr;

use gantry_core::Privilege;
use gantry_db::RepoRow;
use ipnet::IpNet;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Read,
    Push,
    CopyInto,
    Tag,
    Yank,
    MoveOut,
    Delete,
    Quarantine,
    Resync,
    Webhooks,
    Upstreams,
    Policies,
    /// Repository settings and privileges: always admin.
    Admin,
}

/// Most networks a repository list may hold.
pub const MAX_NETWORKS: usize = 256;

impl Op {
    pub const CONFIGURABLE: &'static [Op] = &[
        Op::Read,
        Op::Push,
        Op::CopyInto,
        Op::Tag,
        Op::Yank,
        Op::MoveOut,
        Op::Delete,
        Op::Quarantine,
        Op::Resync,
        Op::Webhooks,
        Op::Upstreams,
        Op::Policies,
    ];

    pub fn key(self) -> &'static str {
        match self {
            Op::Read => "read",
            Op::Push => "push",
            Op::CopyInto => "copy_into",
            Op::Tag => "tag",
            Op::Yank => "yank",
            Op::MoveOut => "move_out",
            Op::Delete => "delete",
            Op::Quarantine => "quarantine",
            Op::Resync => "resync",
            Op::Webhooks => "webhooks",
            Op::Upstreams => "upstreams",
            Op::Policies => "policies",
            Op::Admin => "admin",
        }
    }

    pub fn default_privilege(self) -> Privilege {
        match self {
            Op::Read => Privilege::Read,
            Op::Push | Op::CopyInto | Op::Tag | Op::Yank => Privilege::Write,
            _ => Privilege::Admin,
        }
    }

    pub fn mutates(self) -> bool {
        self != Op::Read
    }

    /// Repository administration, which a repository's admins may do from any address.
    pub fn administrative(self) -> bool {
        matches!(
            self,
            Op::Webhooks | Op::Upstreams | Op::Policies | Op::Admin
        )
    }
}

/// The minimum privilege `op` needs on `repo`.
pub fn required(repo: &RepoRow, op: Op) -> Privilege {
    if op == Op::Admin {
        return Privilege::Admin;
    }
    serde_json::from_str::<serde_json::Value>(&repo.permissions)
        .ok()
        .and_then(|p| {
            p.get(op.key())
                .and_then(|v| v.as_str())
                .and_then(Privilege::parse)
        })
        .unwrap_or_else(|| op.default_privilege())
}

/// Checks a `permissions` object: known operations, known privileges.
pub fn validate_permissions(value: &serde_json::Value) -> Result<(), String> {
    let Some(map) = value.as_object() else {
        return Err("permissions must be an object of operation → privilege".into());
    };
    for (key, v) in map {
        if !Op::CONFIGURABLE.iter().any(|op| op.key() == key) {
            let known: Vec<_> = Op::CONFIGURABLE.iter().map(|o| o.key()).collect();
            return Err(format!(
                "unknown operation '{key}' (known: {})",
                known.join(", ")
            ));
        }
        if v.as_str().and_then(Privilege::parse).is_none() {
            return Err(format!(
                "permission for '{key}' must be read, write or admin"
            ));
        }
    }
    Ok(())
}

/// Parses CIDR networks (a bare address is a single-host network).
pub fn parse_networks(list: &[String]) -> Result<Vec<IpNet>, String> {
    if list.len() > MAX_NETWORKS {
        return Err(format!("at most {MAX_NETWORKS} networks"));
    }
    list.iter()
        .map(|text| {
            let text = text.trim();
            IpNet::from_str(text)
                .or_else(|_| IpAddr::from_str(text).map(IpNet::from))
                .map_err(|_| {
                    format!("'{text}' is not a CIDR network such as 10.0.0.0/8 or 2001:db8::/32")
                })
        })
        .collect()
}

fn stored_networks(json: &str) -> Vec<IpNet> {
    let list: Vec<String> = serde_json::from_str(json).unwrap_or_default();
    parse_networks(&list).unwrap_or_default()
}

/// Whether `addr` may reach `repo`: not in its denylist, and in its allowlist when it has one.
pub fn address_allowed(repo: &RepoRow, addr: Option<IpAddr>) -> Result<(), String> {
    let deny = stored_networks(&repo.ip_denylist);
    let allow = stored_networks(&repo.ip_allowlist);
    let shown = addr.map_or_else(|| "an unknown address".to_owned(), |a| a.to_string());
    // IPv4-mapped IPv6 addresses are compared as IPv4.
    let addr = addr.map(|a| match a {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(a, IpAddr::V4),
        v4 => v4,
    });
    if let Some(a) = addr {
        if let Some(net) = deny.iter().find(|n| n.contains(&a)) {
            return Err(format!(
                "requests from {shown} to {} are denied (denylist {net})",
                repo.slug()
            ));
        }
    }
    if allow.is_empty() {
        return Ok(());
    }
    match addr {
        Some(a) if allow.iter().any(|n| n.contains(&a)) => Ok(()),
        _ => Err(format!(
            "{} accepts requests only from its allowlisted networks; {shown} is not among them",
            repo.slug()
        )),
    }
}

/// The client address: the socket's peer, or, when that peer is a trusted proxy, the
/// right-most address of `X-Forwarded-For` that is not itself a trusted proxy.
pub fn client_address(
    peer: Option<IpAddr>,
    forwarded_for: Option<&str>,
    trusted: &[IpNet],
) -> Option<IpAddr> {
    let peer = unmap(peer?);
    let is_trusted = |a: &IpAddr| trusted.iter().any(|n| n.contains(a));
    if !is_trusted(&peer) {
        return Some(peer);
    }
    let Some(header) = forwarded_for else {
        return Some(peer);
    };
    // Walk from the right: each hop was added by the proxy to its right. The first hop that
    // is not a trusted proxy is the client; a hop that does not parse ends the walk at the
    // last trusted address, so nothing a client wrote to its left is believed.
    let mut last = peer;
    for hop in header.rsplit(',') {
        let Ok(addr) = IpAddr::from_str(hop.trim()).map(unmap) else {
            return Some(last);
        };
        if !is_trusted(&addr) {
            return Some(addr);
        }
        last = addr;
    }
    Some(last)
}

/// An IPv4-mapped IPv6 address as the IPv4 address it is.
fn unmap(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(addr, IpAddr::V4),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo(allow: &[&str], deny: &[&str], permissions: &str) -> RepoRow {
        RepoRow {
            id: 1,
            namespace: "acme".into(),
            name: "staging".into(),
            description: String::new(),
            private: 1,
            package_count: 0,
            created_at: 0,
            updated_at: 0,
            ip_allowlist: serde_json::json!(allow).to_string(),
            ip_denylist: serde_json::json!(deny).to_string(),
            permissions: permissions.into(),
            immutable_tags: 0,
            allow_republish: 0,
        }
    }

    fn ip(text: &str) -> Option<IpAddr> {
        IpAddr::from_str(text).ok()
    }

    #[test]
    fn allowlists_and_denylists_cover_v4_and_v6() {
        let r = repo(&["10.0.0.0/8", "2001:db8::/32"], &["10.9.0.0/16"], "{}");
        assert!(address_allowed(&r, ip("10.1.2.3")).is_ok());
        assert!(address_allowed(&r, ip("2001:db8::1")).is_ok());
        assert!(address_allowed(&r, ip("::ffff:10.1.2.3")).is_ok());
        assert!(address_allowed(&r, ip("10.9.0.1")).is_err());
        assert!(address_allowed(&r, ip("192.0.2.1")).is_err());
        assert!(address_allowed(&r, None).is_err());
        let open = repo(&[], &["192.0.2.0/24"], "{}");
        assert!(address_allowed(&open, ip("198.51.100.1")).is_ok());
        assert!(address_allowed(&open, ip("192.0.2.7")).is_err());
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let trusted = parse_networks(&["127.0.0.1/32".into()]).unwrap_or_default();
        let xff = Some("203.0.113.9, 127.0.0.1");
        assert_eq!(
            client_address(ip("127.0.0.1"), xff, &trusted),
            ip("203.0.113.9")
        );
        assert_eq!(
            client_address(ip("192.0.2.5"), xff, &trusted),
            ip("192.0.2.5")
        );
        assert_eq!(
            client_address(ip("127.0.0.1"), None, &trusted),
            ip("127.0.0.1")
        );
        assert_eq!(client_address(ip("127.0.0.1"), xff, &[]), ip("127.0.0.1"));
        // A hop that does not parse stops the walk: the client's claim to its left is ignored.
        assert_eq!(
            client_address(ip("127.0.0.1"), Some("10.0.0.1, unknown"), &trusted),
            ip("127.0.0.1")
        );
        assert_eq!(
            client_address(ip("::ffff:127.0.0.1"), xff, &trusted),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn permissions_override_defaults() {
        let r = repo(&[], &[], r#"{"push": "admin", "read": "write"}"#);
        assert_eq!(required(&r, Op::Push), Privilege::Admin);
        assert_eq!(required(&r, Op::Read), Privilege::Write);
        assert_eq!(required(&r, Op::Delete), Privilege::Admin);
        assert_eq!(required(&r, Op::CopyInto), Privilege::Write);
        assert!(validate_permissions(&serde_json::json!({"push": "read"})).is_ok());
        assert!(validate_permissions(&serde_json::json!({"fly": "read"})).is_err());
        assert!(validate_permissions(&serde_json::json!({"push": "root"})).is_err());
        assert!(parse_networks(&["10.0.0.0/33".into()]).is_err());
        assert!(parse_networks(&["192.0.2.1".into()]).is_ok());
    }
}
