//! Signing preconfirmations.
//!
//! [`PreconfSigner`] is what holds the key: [`LocalSigner`] from an encrypted keystore file
//! (the standard Ethereum JSON keystore), or a remote signer (web3signer) implementing the same
//! trait. [`CommitmentSigner`] is the only path from a commitment to a signature: it computes the
//! EIP-712 digest under the task manager's domain, asks the [`ProtectionDb`], and signs only
//! what is allowed — the record is durable before the signature exists.

use std::{path::Path, sync::Arc};

use alloy::{
    primitives::{Address, B256, Signature},
    signers::{SignerSync, local::PrivateKeySigner},
    sol_types::Eip712Domain,
};
use async_trait::async_trait;
use taiko_contracts::wire::{self, Preconfirmation};

use crate::protection::{ProtectionDb, ProtectionError, SignedRecord};

/// Why a signature could not be produced.
#[derive(Debug, thiserror::Error)]
pub enum SignerError {
    /// The keystore could not be read or decrypted.
    #[error("keystore {path}: {message}")]
    Keystore {
        /// The file.
        path: String,
        /// The cause.
        message: String,
    },
    /// The signer failed.
    #[error("signer: {0}")]
    Signing(String),
    /// The signature does not recover to the signer (a misbehaving remote signer).
    #[error("the signer returned a signature by {0}")]
    WrongSigner(Address),
    /// Slashing protection refused or failed.
    #[error(transparent)]
    Protection(#[from] ProtectionError),
}

/// Something that signs 32-byte digests with one ECDSA key.
#[async_trait]
pub trait PreconfSigner: Send + Sync + std::fmt::Debug {
    /// The key's address.
    fn address(&self) -> Address;
    /// Signs a digest (no prefix).
    async fn sign_hash(&self, hash: B256) -> Result<Signature, SignerError>;
}

/// A key held in this process.
#[derive(Debug)]
pub struct LocalSigner(PrivateKeySigner);

impl LocalSigner {
    /// Decrypts a JSON keystore file.
    pub fn from_keystore(path: &Path, password: &str) -> Result<Self, SignerError> {
        PrivateKeySigner::decrypt_keystore(path, password).map(Self).map_err(|e| {
            SignerError::Keystore { path: path.display().to_string(), message: e.to_string() }
        })
    }

    /// Wraps a key (tests, devnets).
    pub fn from_signer(signer: PrivateKeySigner) -> Self {
        Self(signer)
    }
}

#[async_trait]
impl PreconfSigner for LocalSigner {
    fn address(&self) -> Address {
        self.0.address()
    }

    async fn sign_hash(&self, hash: B256) -> Result<Signature, SignerError> {
        self.0.sign_hash_sync(&hash).map_err(|e| SignerError::Signing(e.to_string()))
    }
}

/// Signs commitments, through slashing protection.
#[derive(Debug)]
pub struct CommitmentSigner {
    signer: Arc<dyn PreconfSigner>,
    protection: Arc<ProtectionDb>,
    domain: Eip712Domain,
}

impl CommitmentSigner {
    /// Signs for the task manager `task_manager` on L1 chain `l1_chain_id`.
    pub fn new(
        signer: Arc<dyn PreconfSigner>,
        protection: Arc<ProtectionDb>,
        l1_chain_id: u64,
        task_manager: Address,
    ) -> Self {
        Self { signer, protection, domain: wire::preconf_domain(l1_chain_id, task_manager) }
    }

    /// The signer's address.
    pub fn address(&self) -> Address {
        self.signer.address()
    }

    /// The EIP-712 domain commitments are signed under.
    pub fn domain(&self) -> &Eip712Domain {
        &self.domain
    }

    /// Signs `c` unless a different commitment was signed at its height; returns the 65-byte
    /// `r ‖ s ‖ v` signature the contracts take.
    pub async fn sign(&self, c: &Preconfirmation) -> Result<[u8; 65], SignerError> {
        self.sign_inner(c, None).await
    }

    /// As [`Self::sign`], keeping `payload` (the unsigned message) with a new record, so a
    /// restart can re-sign and publish exactly this block.
    pub async fn sign_with_payload(
        &self,
        c: &Preconfirmation,
        payload: &[u8],
    ) -> Result<[u8; 65], SignerError> {
        self.sign_inner(c, Some(payload)).await
    }

    /// Signs a block fragment. No slashing-protection record: a fragment commits to nothing
    /// (only the block's commitment does), and its EIP-712 type differs from the commitment's,
    /// so its signature cannot pass for one.
    pub async fn sign_fragment(
        &self,
        fragment: &crate::fragment::Fragment,
    ) -> Result<[u8; 65], SignerError> {
        let digest = fragment.signing_hash(&self.domain);
        let sig = self.signer.sign_hash(digest).await?;
        if recover_canonical(digest, &sig.as_bytes()) != Some(self.signer.address()) {
            return Err(SignerError::Signing("fragment signature does not recover".into()));
        }
        Ok(sig.as_bytes())
    }

    /// The slashing-protection database.
    pub fn protection(&self) -> &ProtectionDb {
        &self.protection
    }

    async fn sign_inner(
        &self,
        c: &Preconfirmation,
        payload: Option<&[u8]>,
    ) -> Result<[u8; 65], SignerError> {
        let digest = wire::preconf_signing_hash(c, &self.domain);
        let record = SignedRecord {
            signing_root: digest,
            parent_digest: c.parentDigest,
            tx_list_hash: c.txListHash,
        };
        let (me, chain, height) = (self.signer.address(), c.l2ChainId, c.blockNumber);
        let started = std::time::Instant::now();
        // a durable write: off the runtime's workers, so gossip and RPC go on meanwhile
        taiko_node_exex::off_runtime(|| match payload {
            Some(p) => self.protection.authorize_with_payload(me, chain, height, record, p),
            None => self.protection.authorize(me, chain, height, record),
        })?;
        let recorded = started.elapsed();
        let sig = self.signer.sign_hash(digest).await?;
        tracing::debug!(target: "preconf::signer", height, payload_bytes = payload.map_or(0, <[u8]>::len), protection_ms = recorded.as_secs_f64() * 1e3, sign_ms = (started.elapsed() - recorded).as_secs_f64() * 1e3, "signed");
        let recovered = sig
            .recover_address_from_prehash(&digest)
            .map_err(|e| SignerError::Signing(e.to_string()))?;
        if recovered != self.signer.address() {
            return Err(SignerError::WrongSigner(recovered));
        }
        Ok(sig.as_bytes())
    }
}

/// The signer of a commitment under `domain`, or `None` for a malformed or non-canonical
/// signature. Canonical means what the contracts accept (OpenZeppelin `ECDSA`): 65 bytes,
/// `v` 27 or 28, `s` in the lower half of the curve order — so one commitment has exactly one
/// valid signature encoding, and gossip cannot carry the same block under two ids.
pub fn recover_commitment_signer(
    c: &Preconfirmation,
    domain: &Eip712Domain,
    signature: &[u8],
) -> Option<Address> {
    recover_canonical(wire::preconf_signing_hash(c, domain), signature)
}

/// The signer of `digest`, for a canonical signature only (see [`recover_commitment_signer`]).
pub fn recover_canonical(digest: B256, signature: &[u8]) -> Option<Address> {
    if signature.len() != 65 || !matches!(signature[64], 27 | 28) {
        return None;
    }
    let sig = Signature::from_raw(signature).ok()?;
    if sig.normalize_s().is_some() {
        return None; // high s
    }
    sig.recover_address_from_prehash(&digest).ok()
}
