//! Webhook deliveries: the Contract's payload, the `X-Gantry-Signature-256` HMAC, checks of
//! target URLs against denied networks, and one HTTP attempt with a timeout.

use std::net::IpAddr;
use std::str::FromStr;
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use sha2::Sha256;

/// Networks no webhook may target: link-local IPv4 (where cloud instance-metadata endpoints
/// live) and the IPv6 metadata address.
pub const ALWAYS_DENIED: &[&str] = &["169.254.0.0/16", "fd00:ec2::254/128"];

/// Longest part of a receiver's response kept with an attempt.
const EXCERPT_LEN: usize = 512;

/// The body of every delivery.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Payload {
    pub event: String,
    pub delivery_id: String,
    pub occurred_at: String,
    /// `OWNER/REPO`.
    pub repository: String,
    /// The package as the REST API shows it, or null for events without one (`ping`).
    pub package: serde_json::Value,
    pub context: serde_json::Value,
}

/// Hex HMAC-SHA256 of `body` with `secret`, as sent in `X-Gantry-Signature-256: sha256=<hex>`.
pub fn sign(secret: &str, body: &[u8]) -> String {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret.as_bytes()) {
        Ok(mac) => mac,
        Err(_) => return String::new(),
    };
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    #[error("target URL must be an absolute http:// or https:// URL: {0}")]
    BadUrl(String),
    #[error("target {0} is in a denied network ({1})")]
    Denied(String, String),
    #[error("invalid network '{0}' in the webhook deny list")]
    BadNetwork(String),
    #[error("cannot resolve target host {0}")]
    Unresolvable(String),
}

/// Networks refused as webhook targets: [`ALWAYS_DENIED`] plus the operator's list.
#[derive(Debug, Clone)]
pub struct DenyList {
    networks: Vec<IpNet>,
}

impl DenyList {
    pub fn new(extra: &[String]) -> Result<Self, TargetError> {
        let networks = ALWAYS_DENIED
            .iter()
            .map(|s| (*s).to_owned())
            .chain(extra.iter().cloned())
            .map(|s| IpNet::from_str(s.trim()).map_err(|_| TargetError::BadNetwork(s.clone())))
            .collect::<Result<_, _>>()?;
        Ok(Self { networks })
    }

    fn check_ip(&self, ip: IpAddr) -> Result<(), TargetError> {
        // An IPv4-mapped IPv6 address reaches the IPv4 host: judge it as that.
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        match self.networks.iter().find(|n| n.contains(&ip)) {
            Some(net) => Err(TargetError::Denied(ip.to_string(), net.to_string())),
            None => Ok(()),
        }
    }

    /// Checks the URL's form and every address its host resolves to.
    pub async fn check(&self, target: &str) -> Result<(), TargetError> {
        self.resolve(target).await.map(|_| ())
    }

    /// Checks the target and returns its host with the address to connect to (`None` for an
    /// IP literal), so the connection goes where the check looked.
    pub async fn resolve(
        &self,
        target: &str,
    ) -> Result<Option<(String, std::net::SocketAddr)>, TargetError> {
        let url = url::Url::parse(target).map_err(|_| TargetError::BadUrl(target.to_owned()))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(TargetError::BadUrl(target.to_owned()));
        }
        let host = url
            .host_str()
            .ok_or_else(|| TargetError::BadUrl(target.to_owned()))?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        if let Ok(ip) = host.parse::<IpAddr>() {
            return self.check_ip(ip).map(|()| None);
        }
        let port = url.port_or_known_default().unwrap_or(80);
        let addrs: Vec<std::net::SocketAddr> = tokio::net::lookup_host((host.as_str(), port))
            .await
            .map_err(|_| TargetError::Unresolvable(host.clone()))?
            .collect();
        for addr in &addrs {
            self.check_ip(addr.ip())?;
        }
        let first = addrs
            .first()
            .copied()
            .ok_or_else(|| TargetError::Unresolvable(host.clone()))?;
        Ok(Some((host, first)))
    }
}

/// What one attempt found.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub status_code: Option<u16>,
    pub latency: Duration,
    pub response_excerpt: Option<String>,
    pub error: Option<String>,
}

impl Attempt {
    pub fn succeeded(&self) -> bool {
        self.error.is_none() && self.status_code.is_some_and(|c| (200..300).contains(&c))
    }
}

/// One POST of a delivery.
pub struct Request<'a> {
    pub target_url: &'a str,
    pub body: &'a [u8],
    pub event: &'a str,
    pub delivery_id: &'a str,
    pub secret: Option<&'a str>,
    pub extra_header: Option<(&'a str, &'a str)>,
    pub timeout: Duration,
}

/// Sends one attempt. Redirects are not followed, and the connection goes to the address
/// that was checked (no second DNS answer can redirect it).
pub async fn send(client: &reqwest::Client, deny: &DenyList, req: Request<'_>) -> Attempt {
    let start = Instant::now();
    let failed = |error: String| Attempt {
        status_code: None,
        latency: start.elapsed(),
        response_excerpt: None,
        error: Some(error),
    };
    let pinned = match deny.resolve(req.target_url).await {
        Ok(pinned) => pinned,
        Err(e) => return failed(e.to_string()),
    };
    let pinned_client;
    let client = match pinned {
        None => client,
        Some((host, addr)) => match client_builder().resolve(&host, addr).build() {
            Ok(c) => {
                pinned_client = c;
                &pinned_client
            }
            Err(e) => return failed(format!("cannot build the HTTP client: {e}")),
        },
    };
    let mut builder = client
        .post(req.target_url)
        .timeout(req.timeout)
        .header("content-type", "application/json")
        .header("user-agent", "Gantry-Webhooks/1")
        .header("x-gantry-event", req.event)
        .header("x-gantry-delivery", req.delivery_id)
        .body(req.body.to_vec());
    if let Some(secret) = req.secret.filter(|s| !s.is_empty()) {
        builder = builder.header(
            "x-gantry-signature-256",
            format!("sha256={}", sign(secret, req.body)),
        );
    }
    if let Some((name, value)) = req.extra_header {
        builder = builder.header(name, value);
    }
    match builder.send().await {
        Ok(response) => {
            let status = response.status().as_u16();
            let text = response.text().await.unwrap_or_default();
            let excerpt: String = text.chars().take(EXCERPT_LEN).collect();
            Attempt {
                status_code: Some(status),
                latency: start.elapsed(),
                response_excerpt: (!excerpt.is_empty()).then_some(excerpt),
                error: (!(200..300).contains(&status))
                    .then(|| format!("receiver answered HTTP {status}")),
            }
        }
        Err(e) => Attempt {
            status_code: None,
            latency: start.elapsed(),
            response_excerpt: None,
            error: Some(if e.is_timeout() {
                format!("timed out after {} s", req.timeout.as_secs_f64())
            } else {
                format!("request failed: {e}")
            }),
        },
    }
}

/// An HTTP client for deliveries: no redirects, so a receiver cannot bounce a delivery to a
/// denied network.
pub fn client() -> Result<reqwest::Client, reqwest::Error> {
    client_builder().build()
}

fn client_builder() -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(5))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_matches_a_known_vector() {
        // RFC 4231 test case 2.
        assert_eq!(
            sign("Jefe", b"what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[tokio::test]
    async fn metadata_and_configured_networks_are_denied() {
        let deny =
            DenyList::new(&["10.0.0.0/8".into()]).unwrap_or_else(|_| DenyList { networks: vec![] });
        assert!(matches!(
            deny.check("http://169.254.169.254/latest").await,
            Err(TargetError::Denied(..))
        ));
        for denied in [
            "http://10.1.2.3/x",
            "http://[::ffff:169.254.169.254]/",
            "http://[::ffff:10.0.0.1]/",
            "http://169.254.1.1/",
        ] {
            assert!(
                matches!(deny.check(denied).await, Err(TargetError::Denied(..))),
                "{denied}"
            );
        }
        assert!(deny.check("http://127.0.0.1:9/hook").await.is_ok());
        assert!(matches!(
            deny.check("ftp://127.0.0.1/").await,
            Err(TargetError::BadUrl(_))
        ));
        assert!(matches!(
            deny.check("not a url").await,
            Err(TargetError::BadUrl(_))
        ));
        assert!(DenyList::new(&["nonsense".into()]).is_err());
    }
}
