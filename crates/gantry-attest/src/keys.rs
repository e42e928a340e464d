//! The site's ed25519 keys: a key pair for signing (its secret stored base64 by the server),
//! and public keys as the API publishes them and `gantry verify --key` reads them.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("{0}")]
    Invalid(String),
    #[error("the signature by key {0} does not verify")]
    BadSignature(String),
    #[error("signed by no trusted key (signed by: {0})")]
    UnknownKey(String),
}

/// A signing key.
pub struct KeyPair {
    key: SigningKey,
}

/// A public key with its id and lifetime (milliseconds since the epoch). A retired key
/// still verifies what it signed before `retired_at`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicKey {
    pub keyid: String,
    pub algorithm: String,
    /// The 32-byte ed25519 public key, base64.
    pub public_key: String,
    pub created_at: i64,
    pub retired_at: Option<i64>,
}

/// The id of a public key: the hex sha256 of its 32 bytes.
fn keyid_of(key: &VerifyingKey) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

impl KeyPair {
    pub fn generate() -> Self {
        Self {
            key: SigningKey::generate(&mut rand::rngs::OsRng),
        }
    }

    /// A key from its stored secret (32 bytes, base64).
    pub fn from_secret(secret: &str) -> Result<Self, KeyError> {
        let bytes = STANDARD
            .decode(secret.trim())
            .map_err(|_| KeyError::Invalid("the signing key is not base64".into()))?;
        let bytes: [u8; 32] = bytes
            .try_into()
            .map_err(|_| KeyError::Invalid("the signing key is not 32 bytes".into()))?;
        Ok(Self {
            key: SigningKey::from_bytes(&bytes),
        })
    }

    pub fn secret(&self) -> String {
        STANDARD.encode(self.key.to_bytes())
    }

    pub fn keyid(&self) -> String {
        keyid_of(&self.key.verifying_key())
    }

    pub fn public(&self, created_at: i64, retired_at: Option<i64>) -> PublicKey {
        PublicKey {
            keyid: self.keyid(),
            algorithm: "ed25519".into(),
            public_key: STANDARD.encode(self.key.verifying_key().as_bytes()),
            created_at,
            retired_at,
        }
    }

    pub(crate) fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.key.sign(message).to_bytes()
    }
}

impl PublicKey {
    /// Checks `sig` over `message`; also that the key's id is the digest of its bytes, so a
    /// key file cannot claim another key's id.
    pub(crate) fn verify(&self, message: &[u8], sig: &[u8]) -> Result<(), KeyError> {
        if self.algorithm != "ed25519" {
            return Err(KeyError::Invalid(format!(
                "key {} uses '{}', not ed25519",
                self.keyid, self.algorithm
            )));
        }
        let bytes: [u8; 32] = STANDARD
            .decode(&self.public_key)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| KeyError::Invalid(format!("key {} is malformed", self.keyid)))?;
        let key = VerifyingKey::from_bytes(&bytes)
            .map_err(|_| KeyError::Invalid(format!("key {} is malformed", self.keyid)))?;
        if keyid_of(&key) != self.keyid {
            return Err(KeyError::Invalid(format!(
                "key {} does not match its id",
                self.keyid
            )));
        }
        let sig: [u8; 64] = sig
            .try_into()
            .map_err(|_| KeyError::BadSignature(self.keyid.clone()))?;
        key.verify_strict(message, &ed25519_dalek::Signature::from_bytes(&sig))
            .map_err(|_| KeyError::BadSignature(self.keyid.clone()))
    }
}
