//! One repository's OpenPGP key, with no I/O: made, read back from its armored form, and
//! used to sign metadata documents.
//!
//! Keys are v4 Ed25519 keys (the "legacy" EdDSA encoding): what GnuPG 2.2 (`gpgv`, which apt
//! and librepo call) verifies, and quick to make in process where RSA would take seconds.
//! The primary key signs; there are no subkeys, so the fingerprint a client pins is the one
//! that signs.

use pgp::composed::{
    ArmorOptions, CleartextSignedMessage, Deserializable, DetachedSignature, EncryptionCaps,
    KeyType, SecretKeyParamsBuilder, SignedSecretKey,
};
use pgp::crypto::hash::HashAlgorithm;
use pgp::ser::Serialize as _;
use pgp::types::{KeyDetails as _, Password};

/// Armored keys and signatures larger than this are not ours (a key is about 1 KiB).
const MAX_ARMORED_KEY: usize = 64 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("making the signing key failed: {0}")]
    Generate(String),
    #[error("the stored signing key cannot be read: {0}")]
    Read(String),
    #[error("the stored signing key is protected and no passphrase unlocks it")]
    Locked,
    #[error("signing failed: {0}")]
    Sign(String),
}

/// A repository's signing key: the secret key (protected by `passphrase` when one is set)
/// and the passphrase that unlocks it.
pub struct RepositoryKey {
    secret: SignedSecretKey,
    password: Password,
}

impl std::fmt::Debug for RepositoryKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RepositoryKey")
            .field("fingerprint", &self.fingerprint())
            .finish_non_exhaustive()
    }
}

impl RepositoryKey {
    /// A new key whose user id is `user_id` (e.g. `Gantry repository acme/dev`). With a
    /// passphrase, the secret key material is encrypted with it (iterated and salted S2K,
    /// AES-256) before it ever leaves this value.
    pub fn generate(user_id: &str, passphrase: Option<&str>) -> Result<Self, KeyError> {
        let mut params = SecretKeyParamsBuilder::default();
        params
            .key_type(KeyType::Ed25519Legacy)
            .can_certify(true)
            .can_sign(true)
            .can_encrypt(EncryptionCaps::None)
            .primary_user_id(user_id.to_owned())
            .passphrase(passphrase.map(str::to_owned));
        let params = params
            .build()
            .map_err(|e| KeyError::Generate(e.to_string()))?;
        let secret = params
            .generate(rand::thread_rng())
            .map_err(|e| KeyError::Generate(e.to_string()))?;
        Ok(Self {
            secret,
            password: password(passphrase),
        })
    }

    /// Reads a key written by [`Self::secret_armored`]; `passphrase` must be the one it was
    /// made with (checked by signing a probe, so a wrong one fails here, not mid-request).
    pub fn from_armored(armored: &str, passphrase: Option<&str>) -> Result<Self, KeyError> {
        if armored.len() > MAX_ARMORED_KEY {
            return Err(KeyError::Read("larger than any key Gantry makes".into()));
        }
        let (secret, _) =
            SignedSecretKey::from_string(armored).map_err(|e| KeyError::Read(e.to_string()))?;
        let key = Self {
            secret,
            password: password(passphrase),
        };
        key.detached_sign(b"probe").map_err(|_| KeyError::Locked)?;
        Ok(key)
    }

    /// The secret key, armored, as stored (its key material encrypted when a passphrase was
    /// given).
    pub fn secret_armored(&self) -> Result<String, KeyError> {
        self.secret
            .to_armored_string(ArmorOptions::default())
            .map_err(|e| KeyError::Read(e.to_string()))
    }

    /// The public key, armored (`-----BEGIN PGP PUBLIC KEY BLOCK-----`): what clients put in
    /// their keyring.
    pub fn public_armored(&self) -> Result<String, KeyError> {
        self.secret
            .to_public_key()
            .to_armored_string(ArmorOptions::default())
            .map_err(|e| KeyError::Read(e.to_string()))
    }

    /// The public key in binary form: a keyring file for `gpgv --keyring` (apt's `signed-by`
    /// takes either form).
    pub fn public_binary(&self) -> Result<Vec<u8>, KeyError> {
        self.secret
            .to_public_key()
            .to_bytes()
            .map_err(|e| KeyError::Read(e.to_string()))
    }

    /// The fingerprint, 40 upper-case hex digits (as `gpg --list-keys` prints it).
    pub fn fingerprint(&self) -> String {
        format!("{:X}", self.secret.fingerprint())
    }

    /// `text` clear-signed (`-----BEGIN PGP SIGNED MESSAGE-----`): apt's `InRelease`.
    pub fn clear_sign(&self, text: &str) -> Result<String, KeyError> {
        let message = CleartextSignedMessage::sign(
            rand::thread_rng(),
            text,
            &self.secret.primary_key,
            &self.password,
        )
        .map_err(|e| KeyError::Sign(e.to_string()))?;
        message
            .to_armored_string(ArmorOptions::default())
            .map_err(|e| KeyError::Sign(e.to_string()))
    }

    /// An armored detached signature over `data` as bytes (`-----BEGIN PGP SIGNATURE-----`):
    /// apt's `Release.gpg`, dnf's `repomd.xml.asc`.
    pub fn detached_sign(&self, data: &[u8]) -> Result<String, KeyError> {
        let signature = DetachedSignature::sign_binary_data(
            rand::thread_rng(),
            &self.secret.primary_key,
            &self.password,
            HashAlgorithm::Sha256,
            data,
        )
        .map_err(|e| KeyError::Sign(e.to_string()))?;
        signature
            .to_armored_string(ArmorOptions::default())
            .map_err(|e| KeyError::Sign(e.to_string()))
    }
}

fn password(passphrase: Option<&str>) -> Password {
    passphrase.map_or_else(Password::empty, Password::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_protected_key_needs_its_passphrase() -> Result<(), KeyError> {
        let key = RepositoryKey::generate("Gantry repository acme/dev", Some("s3cret"))?;
        let stored = key.secret_armored()?;
        assert!(stored.contains("BEGIN PGP PRIVATE KEY BLOCK"));
        assert!(RepositoryKey::from_armored(&stored, None).is_err());
        assert!(RepositoryKey::from_armored(&stored, Some("wrong")).is_err());
        let back = RepositoryKey::from_armored(&stored, Some("s3cret"))?;
        assert_eq!(back.fingerprint(), key.fingerprint());
        assert_eq!(key.fingerprint().len(), 40);
        Ok(())
    }

    /// The signatures verify with GnuPG's `gpgv`, the verifier apt runs (and librepo's
    /// GnuPG backend): InRelease clear-signed, Release.gpg detached; a changed document fails.
    #[test]
    fn gpgv_verifies_both_signature_forms() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let key = RepositoryKey::generate("Gantry repository acme/dev", Some("pw"))?;
        let keyring = dir.path().join("key.gpg");
        std::fs::write(&keyring, key.public_binary()?)?;
        let release = "Origin: Gantry\nSuite: bookworm\n- a line with a dash\nSHA256:\n abc 12 main/Packages\n";
        let gpgv = |args: &[&std::path::Path]| -> std::io::Result<bool> {
            let mut cmd = std::process::Command::new("gpgv");
            cmd.arg("--keyring").arg(&keyring).args(args);
            Ok(cmd.output()?.status.success())
        };

        let inrelease = dir.path().join("InRelease");
        std::fs::write(&inrelease, key.clear_sign(release)?)?;
        assert!(gpgv(&[&inrelease])?, "InRelease did not verify");

        let data = dir.path().join("Release");
        let sig = dir.path().join("Release.gpg");
        std::fs::write(&data, release)?;
        std::fs::write(&sig, key.detached_sign(release.as_bytes())?)?;
        assert!(gpgv(&[&sig, &data])?, "Release.gpg did not verify");

        std::fs::write(&data, release.replace("12", "13"))?;
        assert!(!gpgv(&[&sig, &data])?, "a changed Release verified");
        let other = RepositoryKey::generate("someone else", None)?;
        std::fs::write(&inrelease, other.clear_sign(release)?)?;
        assert!(!gpgv(&[&inrelease])?, "another key's signature verified");
        Ok(())
    }

    #[test]
    fn oversized_or_garbage_keys_are_refused() {
        assert!(RepositoryKey::from_armored("not a key", None).is_err());
        assert!(RepositoryKey::from_armored(&"A".repeat(MAX_ARMORED_KEY + 1), None).is_err());
    }
}
