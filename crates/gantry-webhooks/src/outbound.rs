//! Where Gantry may connect on a user's behalf (webhook receivers, upstream indexes).
//!
//! A user who configures a webhook or an upstream chooses the URL, and for webhooks also a
//! header and, through `ping`, sees the answer: without rules that would let any repository
//! admin reach services inside the operator's network. So, by default, only public addresses
//! are reachable; the operator names private ranges that are allowed (`allow`), may deny more
//! (`deny`, which wins over `allow`), and can never allow the cloud instance-metadata address.
//! IPv6 spellings that embed an IPv4 address (mapped, compatible, NAT64, 6to4) are judged as
//! that IPv4 address.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::str::FromStr;

use ipnet::IpNet;

/// Cloud instance-metadata endpoints: refused whatever the operator allows.
pub const ALWAYS_DENIED: &[&str] = &["169.254.169.254/32", "fd00:ec2::254/128"];

/// Ranges that are not public: refused unless the operator allows them.
pub const NOT_PUBLIC: &[&str] = &[
    "0.0.0.0/8",
    "10.0.0.0/8",
    "100.64.0.0/10",
    "127.0.0.0/8",
    "169.254.0.0/16",
    "172.16.0.0/12",
    "192.0.0.0/24",
    "192.168.0.0/16",
    "198.18.0.0/15",
    "224.0.0.0/4",
    "240.0.0.0/4",
    "::/128",
    "::1/128",
    "fc00::/7",
    "fe80::/10",
    "fec0::/10",
    "ff00::/8",
];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    #[error("target URL must be an absolute http:// or https:// URL: {0}")]
    BadUrl(String),
    #[error("target {0} is in a denied network ({1})")]
    Denied(String, String),
    #[error(
        "target {0} is in a private network ({1}); an operator may allow it with \
         --outbound-allow-networks"
    )]
    Private(String, String),
    #[error("invalid network '{0}' in the outbound rules")]
    BadNetwork(String),
    #[error("cannot resolve target host {0}")]
    Unresolvable(String),
}

/// Where a checked target goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// The host name and the address the check looked at, to pin the connection to; `None`
    /// for an IP literal.
    pub pinned: Option<(String, SocketAddr)>,
    /// Whether the address is outside the public ranges (allowed by the operator's list).
    pub private: bool,
}

/// The operator's outbound rules.
#[derive(Debug, Clone)]
pub struct OutboundRules {
    always: Vec<IpNet>,
    not_public: Vec<IpNet>,
    deny: Vec<IpNet>,
    allow: Vec<IpNet>,
}

fn networks<'a>(list: impl IntoIterator<Item = &'a str>) -> Result<Vec<IpNet>, TargetError> {
    list.into_iter()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            IpNet::from_str(s)
                .or_else(|_| IpAddr::from_str(s).map(IpNet::from))
                .map_err(|_| TargetError::BadNetwork(s.chars().take(64).collect()))
        })
        .collect()
}

/// The IPv4 address an IPv6 spelling reaches, if it embeds one: IPv4-mapped (`::ffff:a.b.c.d`),
/// IPv4-compatible (`::a.b.c.d`), NAT64 (`64:ff9b::/96`, `64:ff9b:1::/48`) and 6to4
/// (`2002:AABB:CCDD::/16`).
fn embedded_v4(v6: Ipv6Addr) -> Option<Ipv4Addr> {
    if let Some(v4) = v6.to_ipv4_mapped() {
        return Some(v4);
    }
    let s = v6.segments();
    let low = Ipv4Addr::new(
        (s[6] >> 8) as u8,
        (s[6] & 0xff) as u8,
        (s[7] >> 8) as u8,
        (s[7] & 0xff) as u8,
    );
    // `::` and `::1` are IPv6's own unspecified and loopback addresses, not IPv4-compatible.
    if s[..6] == [0; 6] && u32::from(low) > 1 {
        return Some(low);
    }
    if s[0] == 0x64 && s[1] == 0xff9b && (s[2..6] == [0; 4] || s[2] == 1) {
        return Some(low);
    }
    if s[0] == 0x2002 {
        return Some(Ipv4Addr::new(
            (s[1] >> 8) as u8,
            (s[1] & 0xff) as u8,
            (s[2] >> 8) as u8,
            (s[2] & 0xff) as u8,
        ));
    }
    None
}

impl OutboundRules {
    /// Rules with the operator's `allow` and `deny` networks (CIDR, or single addresses).
    pub fn new(allow: &[String], deny: &[String]) -> Result<Self, TargetError> {
        Ok(Self {
            always: networks(ALWAYS_DENIED.iter().copied())?,
            not_public: networks(NOT_PUBLIC.iter().copied())?,
            deny: networks(deny.iter().map(String::as_str))?,
            allow: networks(allow.iter().map(String::as_str))?,
        })
    }

    /// Judges one address: `Ok(true)` if it may be reached and is private (allowed by the
    /// operator), `Ok(false)` if it is public.
    pub fn check_ip(&self, ip: IpAddr) -> Result<bool, TargetError> {
        let judged = match ip {
            IpAddr::V6(v6) => embedded_v4(v6).map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        let shown = ip.to_string();
        for candidate in [ip, judged] {
            if let Some(net) = self
                .always
                .iter()
                .chain(&self.deny)
                .find(|n| n.contains(&candidate))
            {
                return Err(TargetError::Denied(shown, net.to_string()));
            }
        }
        let Some(range) = self.not_public.iter().find(|n| n.contains(&judged)) else {
            return Ok(false);
        };
        if self.allow.iter().any(|n| n.contains(&judged)) {
            Ok(true)
        } else {
            Err(TargetError::Private(shown, range.to_string()))
        }
    }

    /// Checks the URL's form and every address its host resolves to.
    pub async fn check(&self, target: &str) -> Result<(), TargetError> {
        self.resolve(target).await.map(|_| ())
    }

    /// Checks the target and returns where to connect, so the connection goes where the check
    /// looked (no second DNS answer can redirect it).
    pub async fn resolve(&self, target: &str) -> Result<Resolved, TargetError> {
        let shown = || target.chars().take(200).collect::<String>();
        let url = url::Url::parse(target).map_err(|_| TargetError::BadUrl(shown()))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(TargetError::BadUrl(shown()));
        }
        let host = match url.host() {
            Some(url::Host::Ipv4(v4)) => {
                let private = self.check_ip(IpAddr::V4(v4))?;
                return Ok(Resolved {
                    pinned: None,
                    private,
                });
            }
            Some(url::Host::Ipv6(v6)) => {
                let private = self.check_ip(IpAddr::V6(v6))?;
                return Ok(Resolved {
                    pinned: None,
                    private,
                });
            }
            Some(url::Host::Domain(d)) => d.to_owned(),
            None => return Err(TargetError::BadUrl(shown())),
        };
        let port = url.port_or_known_default().unwrap_or(80);
        let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), port))
            .await
            .map_err(|_| TargetError::Unresolvable(host.clone()))?
            .collect();
        let mut private = false;
        for addr in &addrs {
            private |= self.check_ip(addr.ip())?;
        }
        let first = addrs
            .first()
            .copied()
            .ok_or_else(|| TargetError::Unresolvable(host.clone()))?;
        Ok(Resolved {
            pinned: Some((host, first)),
            private,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(allow: &[&str], deny: &[&str]) -> OutboundRules {
        let owned = |l: &[&str]| l.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        match OutboundRules::new(&owned(allow), &owned(deny)) {
            Ok(r) => r,
            Err(e) => panic!("rules: {e}"),
        }
    }

    #[tokio::test]
    async fn private_targets_are_refused_by_default() {
        let r = rules(&[], &[]);
        for target in [
            "http://127.0.0.1:9/hook",
            "http://10.1.2.3/x",
            "http://192.168.1.1/",
            "http://172.16.0.1/",
            "http://169.254.1.1/",
            "http://100.64.0.1/",
            "http://0.0.0.0/",
            "http://[::1]/",
            "http://[fe80::1]/",
            "http://[fc00::1]/",
            "http://[fd12:3456::1]/",
            "http://[::ffff:127.0.0.1]/",
            "http://[::127.0.0.1]/",
            "http://[::ffff:7f00:1]/",
            "http://[64:ff9b::10.0.0.1]/",
            "http://[64:ff9b::7f00:1]/",
            "http://[2002:7f00:1::]/",
            "http://[2002:a00:1::1]/",
            "http://localhost:9/",
        ] {
            assert!(
                matches!(r.check(target).await, Err(TargetError::Private(..))),
                "{target} should be refused"
            );
        }
        assert!(matches!(
            r.check_ip(
                "93.184.216.34"
                    .parse()
                    .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
            ),
            Ok(false)
        ));
        assert!(matches!(
            r.check_ip(
                "2001:db9::1"
                    .parse()
                    .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
            ),
            Ok(false)
        ));
    }

    #[tokio::test]
    async fn the_allow_list_opens_named_ranges_but_not_metadata_or_denied_ones() {
        let r = rules(
            &["127.0.0.0/8", "169.254.0.0/16", "10.0.0.0/8"],
            &["10.9.0.0/16"],
        );
        assert_eq!(
            r.resolve("http://127.0.0.1:9/hook").await,
            Ok(Resolved {
                pinned: None,
                private: true
            })
        );
        assert!(r.check("http://[::ffff:127.0.0.1]/").await.is_ok());
        assert!(r.check("http://169.254.1.1/").await.is_ok());
        for denied in [
            "http://169.254.169.254/latest",
            "http://[::ffff:169.254.169.254]/",
            "http://[64:ff9b::a9fe:a9fe]/",
            "http://[2002:a9fe:a9fe::]/",
            "http://[fd00:ec2::254]/",
            "http://10.9.1.1/",
            "http://[::ffff:10.9.1.1]/",
        ] {
            assert!(
                matches!(r.check(denied).await, Err(TargetError::Denied(..))),
                "{denied} should be denied"
            );
        }
        assert!(matches!(
            r.check("http://192.168.0.1/").await,
            Err(TargetError::Private(..))
        ));
    }

    #[tokio::test]
    async fn bad_urls_and_networks_are_refused() {
        let r = rules(&[], &[]);
        assert!(matches!(
            r.check("ftp://127.0.0.1/").await,
            Err(TargetError::BadUrl(_))
        ));
        assert!(matches!(
            r.check("not a url").await,
            Err(TargetError::BadUrl(_))
        ));
        assert!(OutboundRules::new(&["nonsense".into()], &[]).is_err());
        assert!(OutboundRules::new(&[], &["nonsense".into()]).is_err());
    }
}
