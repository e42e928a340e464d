//! DSSE envelopes: the payload, its type, and signatures over the pre-authentication
//! encoding (PAE) of both, so a signature cannot be replayed under another payload type.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::keys::{KeyError, KeyPair, PublicKey};

/// The payload type of an in-toto statement.
pub const PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";

/// Largest payload accepted when verifying (a statement is a few kilobytes).
const MAX_PAYLOAD: usize = 1 << 20;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    /// The statement, base64 (standard alphabet, padded).
    pub payload: String,
    #[serde(rename = "payloadType")]
    pub payload_type: String,
    pub signatures: Vec<Signature>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signature {
    pub keyid: String,
    /// The ed25519 signature over the PAE, base64.
    pub sig: String,
}

/// `DSSEv1 <len(type)> <type> <len(body)> <body>`.
pub(crate) fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "DSSEv1 {} {payload_type} {} ",
        payload_type.len(),
        payload.len()
    )
    .into_bytes();
    out.extend_from_slice(payload);
    out
}

impl Envelope {
    /// Signs `payload` (a serialised statement) with `key`.
    pub fn sign(payload: &[u8], key: &KeyPair) -> Self {
        let sig = key.sign(&pae(PAYLOAD_TYPE, payload));
        Self {
            payload: STANDARD.encode(payload),
            payload_type: PAYLOAD_TYPE.to_owned(),
            signatures: vec![Signature {
                keyid: key.keyid(),
                sig: STANDARD.encode(sig),
            }],
        }
    }

    /// The payload's bytes once a signature by one of `keys` checks out, with the key that
    /// made it.
    pub fn open<'k>(&self, keys: &'k [PublicKey]) -> Result<(Vec<u8>, &'k PublicKey), KeyError> {
        if self.payload_type != PAYLOAD_TYPE {
            return Err(KeyError::Invalid(format!(
                "payload type '{}' is not an in-toto statement",
                self.payload_type
            )));
        }
        if self.payload.len() > MAX_PAYLOAD * 4 / 3 + 4 {
            return Err(KeyError::Invalid("payload too large".into()));
        }
        let payload = STANDARD
            .decode(&self.payload)
            .map_err(|_| KeyError::Invalid("payload is not base64".into()))?;
        let signed = pae(&self.payload_type, &payload);
        let mut tried = Vec::new();
        for s in &self.signatures {
            let Some(key) = keys.iter().find(|k| k.keyid == s.keyid) else {
                tried.push(s.keyid.clone());
                continue;
            };
            let sig = STANDARD
                .decode(&s.sig)
                .map_err(|_| KeyError::Invalid("signature is not base64".into()))?;
            if key.verify(&signed, &sig).is_ok() {
                return Ok((payload, key));
            }
            return Err(KeyError::BadSignature(s.keyid.clone()));
        }
        Err(KeyError::UnknownKey(tried.join(", ")))
    }
}

#[cfg(test)]
mod tests {
    use super::{pae, Envelope};
    use crate::keys::{KeyError, KeyPair};

    #[test]
    fn pae_matches_the_specification() {
        assert_eq!(
            pae("http://example.com/HelloWorld", b"hello world"),
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world".to_vec()
        );
    }

    #[test]
    fn sign_open_tamper_and_other_key() {
        let key = KeyPair::generate();
        let env = Envelope::sign(br#"{"a":1}"#, &key);
        let keys = [key.public(0, None)];
        let opened = env.open(&keys).map(|(payload, _)| payload);
        assert_eq!(opened, Ok(br#"{"a":1}"#.to_vec()));

        let mut tampered = env.clone();
        tampered.payload =
            base64::Engine::encode(&base64::engine::general_purpose::STANDARD, br#"{"a":2}"#);
        assert!(matches!(
            tampered.open(&keys),
            Err(KeyError::BadSignature(_))
        ));

        let other = [KeyPair::generate().public(0, None)];
        assert!(matches!(env.open(&other), Err(KeyError::UnknownKey(_))));
    }
}
