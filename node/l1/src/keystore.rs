//! EIP-2335 BLS keystores: the encrypted files validators already keep their signing keys in.
//!
//! Decryption follows the EIP: the password is NFKD-normalised with control characters removed;
//! the KDF (`scrypt` or `pbkdf2` with HMAC-SHA256) yields a 32-byte key whose upper half, hashed
//! with the ciphertext (SHA-256), must equal the checksum — a wrong password is reported as such,
//! never as a wrong key; the lower half decrypts the secret with AES-128-CTR. The public key in
//! the file, when present, must match the decrypted secret.

use std::path::Path;

use aes::cipher::{KeyIvInit, StreamCipher};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use unicode_normalization::UnicodeNormalization;

type Aes128Ctr = ctr::Ctr128BE<aes::Aes128>;

/// Why a keystore cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeystoreError {
    /// Not valid keystore JSON, or a function this implementation does not know.
    #[error("keystore format: {0}")]
    Format(String),
    /// The checksum does not match: the password is wrong.
    #[error("wrong password (checksum mismatch)")]
    WrongPassword,
    /// The decrypted secret is not a BLS12-381 secret key, or does not match `pubkey`.
    #[error("keystore secret: {0}")]
    Secret(String),
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Module {
    function: String,
    params: serde_json::Map<String, serde_json::Value>,
    message: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Crypto {
    kdf: Module,
    checksum: Module,
    cipher: Module,
}

/// An EIP-2335 keystore file.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Keystore {
    crypto: Crypto,
    /// The compressed public key, hex without `0x` (optional in the EIP).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pubkey: Option<String>,
    /// The derivation path, informational.
    #[serde(default)]
    pub path: String,
    /// Version; must be 4.
    pub version: u32,
}

fn hex_param(m: &Module, name: &str) -> Result<Vec<u8>, KeystoreError> {
    let s =
        m.params.get(name).and_then(|v| v.as_str()).ok_or_else(|| {
            KeystoreError::Format(format!("{} parameter {name} missing", m.function))
        })?;
    alloy::hex::decode(s).map_err(|e| KeystoreError::Format(format!("{name}: {e}")))
}

fn num_param(m: &Module, name: &str) -> Result<u64, KeystoreError> {
    m.params
        .get(name)
        .and_then(|v| v.as_u64())
        .ok_or_else(|| KeystoreError::Format(format!("{} parameter {name} missing", m.function)))
}

/// The password bytes the EIP specifies: NFKD, without C0, C1 and DEL control characters.
pub fn normalize_password(password: &str) -> Vec<u8> {
    password
        .nfkd()
        .filter(|c| !matches!(*c as u32, 0x00..=0x1f | 0x7f..=0x9f))
        .collect::<String>()
        .into_bytes()
}

fn derive(kdf: &Module, password: &[u8]) -> Result<[u8; 32], KeystoreError> {
    let salt = hex_param(kdf, "salt")?;
    if num_param(kdf, "dklen")? != 32 {
        return Err(KeystoreError::Format("dklen must be 32".into()));
    }
    let mut key = [0u8; 32];
    match kdf.function.as_str() {
        "scrypt" => {
            let n = num_param(kdf, "n")?;
            if !n.is_power_of_two() || n < 2 {
                return Err(KeystoreError::Format(format!("scrypt n = {n}")));
            }
            let params = scrypt::Params::new(
                n.trailing_zeros() as u8,
                num_param(kdf, "r")? as u32,
                num_param(kdf, "p")? as u32,
            )
            .map_err(|e| KeystoreError::Format(format!("scrypt parameters: {e}")))?;
            scrypt::scrypt(password, &salt, &params, &mut key)
                .map_err(|e| KeystoreError::Format(format!("scrypt: {e}")))?;
        }
        "pbkdf2" => {
            if kdf.params.get("prf").and_then(|v| v.as_str()) != Some("hmac-sha256") {
                return Err(KeystoreError::Format("pbkdf2 prf must be hmac-sha256".into()));
            }
            let c = num_param(kdf, "c")? as u32;
            pbkdf2::pbkdf2_hmac::<Sha256>(password, &salt, c, &mut key);
        }
        other => return Err(KeystoreError::Format(format!("unknown kdf {other}"))),
    }
    Ok(key)
}

impl Keystore {
    /// Reads a keystore file.
    pub fn read(path: &Path) -> Result<Self, KeystoreError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| KeystoreError::Format(format!("{}: {e}", path.display())))?;
        Self::from_json(&text)
    }

    /// Parses keystore JSON.
    pub fn from_json(json: &str) -> Result<Self, KeystoreError> {
        let k: Self =
            serde_json::from_str(json).map_err(|e| KeystoreError::Format(e.to_string()))?;
        if k.version != 4 {
            return Err(KeystoreError::Format(format!("version {} (expected 4)", k.version)));
        }
        Ok(k)
    }

    /// Decrypts the BLS secret key.
    pub fn decrypt(&self, password: &str) -> Result<blst::min_pk::SecretKey, KeystoreError> {
        let c = &self.crypto;
        if c.checksum.function != "sha256" || c.cipher.function != "aes-128-ctr" {
            return Err(KeystoreError::Format(format!(
                "checksum {} / cipher {} (expected sha256 / aes-128-ctr)",
                c.checksum.function, c.cipher.function
            )));
        }
        let key = derive(&c.kdf, &normalize_password(password))?;
        let mut secret = alloy::hex::decode(&c.cipher.message)
            .map_err(|e| KeystoreError::Format(format!("cipher message: {e}")))?;
        let checksum = Sha256::new().chain_update(&key[16..]).chain_update(&secret).finalize();
        let expected = alloy::hex::decode(&c.checksum.message)
            .map_err(|e| KeystoreError::Format(format!("checksum message: {e}")))?;
        if checksum.as_slice() != expected.as_slice() {
            return Err(KeystoreError::WrongPassword);
        }
        let iv = hex_param(&c.cipher, "iv")?;
        Aes128Ctr::new_from_slices(&key[..16], &iv)
            .map_err(|e| KeystoreError::Format(format!("iv: {e}")))?
            .apply_keystream(&mut secret);
        let sk = blst::min_pk::SecretKey::from_bytes(&secret)
            .map_err(|e| KeystoreError::Secret(format!("{e:?}")))?;
        if let Some(pk) = &self.pubkey {
            let derived = alloy::hex::encode(sk.sk_to_pk().compress());
            if pk.trim_start_matches("0x") != derived {
                return Err(KeystoreError::Secret(format!(
                    "pubkey {pk} is not the key's ({derived})"
                )));
            }
        }
        Ok(sk)
    }

    /// Encrypts `sk` with PBKDF2 (`c` rounds; the EIP's examples use 262,144) and the given salt
    /// and IV.
    pub fn encrypt_pbkdf2(
        sk: &blst::min_pk::SecretKey,
        password: &str,
        c: u32,
        salt: [u8; 32],
        iv: [u8; 16],
    ) -> Self {
        let mut key = [0u8; 32];
        pbkdf2::pbkdf2_hmac::<Sha256>(&normalize_password(password), &salt, c, &mut key);
        let mut secret = sk.to_bytes().to_vec();
        Aes128Ctr::new_from_slices(&key[..16], &iv)
            .expect("16-byte key and IV")
            .apply_keystream(&mut secret);
        let checksum = Sha256::new().chain_update(&key[16..]).chain_update(&secret).finalize();
        let module = |function: &str, params: serde_json::Value, message: String| Module {
            function: function.into(),
            params: params.as_object().cloned().unwrap_or_default(),
            message,
        };
        Self {
            crypto: Crypto {
                kdf: module(
                    "pbkdf2",
                    serde_json::json!({"dklen": 32, "c": c, "prf": "hmac-sha256", "salt": alloy::hex::encode(salt)}),
                    String::new(),
                ),
                checksum: module("sha256", serde_json::json!({}), alloy::hex::encode(checksum)),
                cipher: module(
                    "aes-128-ctr",
                    serde_json::json!({"iv": alloy::hex::encode(iv)}),
                    alloy::hex::encode(secret),
                ),
            },
            pubkey: Some(alloy::hex::encode(sk.sk_to_pk().compress())),
            path: String::new(),
            version: 4,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The PBKDF2 test vector of EIP-2335.
    const EIP_PBKDF2: &str = r#"{
        "crypto": {
            "kdf": {"function": "pbkdf2", "params": {"dklen": 32, "c": 262144, "prf": "hmac-sha256",
                "salt": "d4e56740f876aef8c010b86a40d5f56745a118d0906a34e69aec8c0db1cb8fa3"}, "message": ""},
            "checksum": {"function": "sha256", "params": {},
                "message": "8a9f5d9912ed7e75ea794bc5a89bca5f193721d30868ade6f73043c6ea6febf1"},
            "cipher": {"function": "aes-128-ctr", "params": {"iv": "264daa3f303d7259501c93d997d84fe6"},
                "message": "cee03fde2af33149775b7223e7845e4fb2c8ae1792e5f99fe9ecf474cc8c16ad"}
        },
        "pubkey": "9612d7a727c9d0a22e185a1c768478dfe919cada9266988cb32359c11f2b7b27f4ae4040902382ae2910c15e2b420d07",
        "path": "m/12381/60/0/0",
        "uuid": "64625def-3331-4eea-ab6f-782f3ed16a83",
        "version": 4
    }"#;
    const EIP_PASSWORD: &str = "𝔱𝔢𝔰𝔱𝔭𝔞𝔰𝔰𝔴𝔬𝔯𝔡🔑";
    const EIP_SECRET: &str = "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f";

    #[test]
    fn eip_2335_vector_decrypts() {
        let k = Keystore::from_json(EIP_PBKDF2).unwrap();
        let sk = k.decrypt(EIP_PASSWORD).unwrap();
        assert_eq!(alloy::hex::encode(sk.to_bytes()), EIP_SECRET);
        assert_eq!(normalize_password(EIP_PASSWORD), "testpassword🔑".as_bytes());
        assert_eq!(k.decrypt("testpassword").unwrap_err(), KeystoreError::WrongPassword);
    }

    #[test]
    fn encrypt_then_decrypt_and_tampering() {
        let sk = blst::min_pk::SecretKey::key_gen(&[7u8; 32], &[]).unwrap();
        let k = Keystore::encrypt_pbkdf2(&sk, "pw\u{7}", 16, [1; 32], [2; 16]);
        let back = Keystore::from_json(&serde_json::to_string(&k).unwrap()).unwrap();
        assert_eq!(back.decrypt("pw").unwrap().to_bytes(), sk.to_bytes(), "control chars dropped");
        let mut wrong_pk = back.clone();
        wrong_pk.pubkey = Some("aa".repeat(48));
        assert!(matches!(wrong_pk.decrypt("pw"), Err(KeystoreError::Secret(_))));
        let mut v3 = serde_json::to_value(&k).unwrap();
        v3["version"] = 3.into();
        assert!(matches!(Keystore::from_json(&v3.to_string()), Err(KeystoreError::Format(_))));
    }
}
