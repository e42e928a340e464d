//! Webhook deliveries: the Contract's payload, the `X-Gantry-Signature-256` HMAC, checks of
//! target URLs against denied networks, and one HTTP attempt with a timeout.

use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

mod outbound;

pub use outbound::{OutboundRules, Resolved, TargetError, ALWAYS_DENIED, NOT_PUBLIC};

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

/// What one attempt found.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub status_code: Option<u16>,
    pub latency: Duration,
    pub response_excerpt: Option<String>,
    pub error: Option<String>,
    /// The receiver is in a private range the operator allowed: its answers are shown to
    /// site admins only.
    pub private_target: bool,
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
pub async fn send(client: &reqwest::Client, rules: &OutboundRules, req: Request<'_>) -> Attempt {
    let start = Instant::now();
    let failed = |error: String| Attempt {
        status_code: None,
        latency: start.elapsed(),
        response_excerpt: None,
        error: Some(error),
        private_target: false,
    };
    let resolved = match rules.resolve(req.target_url).await {
        Ok(resolved) => resolved,
        Err(e) => return failed(e.to_string()),
    };
    let private_target = resolved.private;
    let pinned_client;
    let client = match resolved.pinned {
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
                private_target,
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
            private_target,
        },
    }
}

/// An HTTP client for deliveries: no redirects, so a receiver cannot bounce a delivery to a
/// denied network.
pub fn client() -> Result<reqwest::Client, reqwest::Error> {
    client_builder().build()
}

/// The settings of every outbound client: no redirects, a 5 s connect timeout.
pub fn client_builder() -> reqwest::ClientBuilder {
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
}
