//! The transaction manager of one L1 account: nonces, fees, funds, inclusion.
//!
//! A preconfer's proposals are the transactions it is slashed for not landing, so they go
//! through one manager that owns the account's nonces:
//!
//! - **Nonces.** [`TxManager::sign`] numbers a group of requests consecutively from the
//!   account's *mined* nonce, so a group always replaces whatever an abandoned earlier group left
//!   in the mempool at those nonces, never stacks behind it. It remembers the fees it last used
//!   at every nonce still open, and signs a replacement at least `bump_percent` above them (the
//!   mempool's replacement rule is 10%).
//! - **Fees.** EIP-1559: the tip is `priority_fee`, the fee cap covers the base fee growing by
//!   1/8 for every block until inclusion (at least twice the base fee), plus the tip. A fee above
//!   `max_fee_cap` is refused rather than paid.
//! - **Blobs.** A request with a sidecar becomes an EIP-4844 transaction (the network form,
//!   sidecar included, is what is sent); its blob fee cap is twice the current blob base fee
//!   and doubles on each replacement (the mempool's rule for blob transactions).
//! - **Funds.** Before signing, the balance must cover every transaction of the group at its fee
//!   cap: otherwise [`TxError::InsufficientFunds`] names the account, its balance and the amount
//!   needed — the caller must stop taking on duties it cannot pay for.
//! - **Inclusion.** [`TxManager::confirm`] polls receipts until every transaction is mined and
//!   `confirmations` deep; one still pending after `resubmit_after` is signed again with bumped
//!   fees (a *stuck* transaction) and broadcast; one whose block left the canonical chain (an L1
//!   reorg) is broadcast again; a revert is reported at once. It gives up when the caller's
//!   deadline passes.
//!
//! Sending goes through [`L1Client`], which fails over between the configured endpoints.

use std::{
    collections::BTreeMap,
    time::{Duration, Instant},
};

use alloy::{
    consensus::{
        SignableTransaction, Signed, TxEip1559, TxEip4844, TxEip4844Variant, TxEip4844WithSidecar,
        TxEnvelope,
    },
    eips::{
        eip2718::Encodable2718,
        eip4844::{BlobTransactionSidecar, DATA_GAS_PER_BLOB},
        eip7594::BlobTransactionSidecarVariant,
    },
    primitives::{Address, B256, Bytes, TxKind, U256},
    signers::{SignerSync, local::PrivateKeySigner},
};
use serde_json::Value;

use crate::{L1Client, L1Error, execution::hex_u64};

/// How the manager prices and watches transactions.
#[derive(Clone, Debug)]
pub struct TxConfig {
    /// The tip, in wei per gas.
    pub priority_fee: u128,
    /// Never offer a fee cap above this (wei per gas).
    pub max_fee_cap: u128,
    /// A replacement offers at least this many percent more than the transaction it replaces.
    pub bump_percent: u128,
    /// A transaction still pending after this long is re-signed with bumped fees.
    pub resubmit_after: Duration,
    /// Blocks on top of (and including) the one holding a transaction before it counts as
    /// confirmed.
    pub confirmations: u64,
    /// How often receipts are polled.
    pub poll: Duration,
}

impl Default for TxConfig {
    fn default() -> Self {
        Self {
            priority_fee: 1_000_000_000,
            max_fee_cap: 500_000_000_000,
            bump_percent: 13,
            resubmit_after: Duration::from_secs(12),
            confirmations: 1,
            poll: Duration::from_millis(250),
        }
    }
}

/// What a transaction should do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TxRequest {
    /// The callee.
    pub to: Address,
    /// Calldata.
    pub input: Bytes,
    /// Value sent.
    pub value: U256,
    /// Gas limit.
    pub gas_limit: u64,
    /// Blobs to carry (an EIP-4844 transaction), if any.
    pub sidecar: Option<BlobTransactionSidecar>,
}

impl TxRequest {
    /// A call without blobs.
    pub fn call(to: Address, input: impl Into<Bytes>, value: U256, gas_limit: u64) -> Self {
        Self { to, input: input.into(), value, gas_limit, sidecar: None }
    }

    /// The number of blobs carried.
    pub fn blobs(&self) -> u64 {
        self.sidecar.as_ref().map_or(0, |s| s.blobs.len() as u64)
    }

    /// The most this costs at these fee caps.
    fn max_cost(&self, max_fee: u128, max_blob_fee: u128) -> U256 {
        U256::from(self.gas_limit) * U256::from(max_fee)
            + U256::from(self.blobs() * DATA_GAS_PER_BLOB) * U256::from(max_blob_fee)
            + self.value
    }
}

/// A signed transaction of the manager's account.
#[derive(Clone, Debug)]
pub struct SignedTx {
    /// Its nonce.
    pub nonce: u64,
    /// What it does.
    pub request: TxRequest,
    /// Fee cap (wei per gas).
    pub max_fee: u128,
    /// Tip (wei per gas).
    pub tip: u128,
    /// Blob fee cap (wei per blob gas; 0 without blobs).
    pub max_blob_fee: u128,
    /// EIP-2718 bytes (a blob transaction's network form, with its sidecar).
    pub raw: Vec<u8>,
    /// Its hash.
    pub hash: B256,
}

impl SignedTx {
    fn offer(&self) -> Offer {
        Offer { max_fee: self.max_fee, tip: self.tip, max_blob_fee: self.max_blob_fee }
    }
}

/// A mined transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mined {
    /// The hash that was mined (a replacement's, after a bump).
    pub hash: B256,
    /// The block.
    pub block_number: u64,
    /// Its hash.
    pub block_hash: B256,
    /// Position in the block.
    pub index: u64,
    /// Gas used.
    pub gas_used: u64,
    /// Price paid per gas.
    pub effective_gas_price: u128,
    /// Blob gas used.
    pub blob_gas_used: u64,
    /// Price paid per blob gas.
    pub blob_gas_price: u128,
    /// How many times it was re-signed with higher fees.
    pub bumps: u32,
    /// How many times it was broadcast again after an L1 reorg dropped it.
    pub reorged: u32,
}

/// Why a transaction could not be sent or did not land.
#[derive(Debug, thiserror::Error)]
pub enum TxError {
    /// The L1 could not be reached, or refused the transaction.
    #[error(transparent)]
    L1(#[from] L1Error),
    /// The account cannot pay for the group at its fee cap.
    #[error("account {account} holds {balance} wei; the transactions need up to {needed} wei")]
    InsufficientFunds {
        /// The account.
        account: Address,
        /// Its balance.
        balance: U256,
        /// The group's cost at its fee caps.
        needed: U256,
    },
    /// The fee needed is above the configured cap.
    #[error("a fee cap of {needed} wei/gas is needed, above the configured {cap}")]
    FeeTooHigh {
        /// Needed.
        needed: u128,
        /// Configured cap.
        cap: u128,
    },
    /// A transaction was mined and reverted.
    #[error("transaction {hash} reverted in L1 block {block}")]
    Reverted {
        /// The transaction.
        hash: B256,
        /// The block.
        block: u64,
    },
    /// The deadline passed before every transaction was confirmed.
    #[error("transaction {hash} (nonce {nonce}) not confirmed before the deadline")]
    NotConfirmed {
        /// The last hash sent at that nonce.
        hash: B256,
        /// The nonce.
        nonce: u64,
    },
}

/// One account's transactions.
#[derive(Debug)]
pub struct TxManager {
    l1: L1Client,
    key: PrivateKeySigner,
    config: TxConfig,
    /// Fees last offered at each nonce not yet known to be mined.
    offered: parking_lot::Mutex<BTreeMap<u64, Offer>>,
}

/// The fees offered at one nonce.
#[derive(Clone, Copy, Debug)]
struct Offer {
    max_fee: u128,
    tip: u128,
    max_blob_fee: u128,
}

/// `fee` raised by `percent`, rounded up.
fn bump(fee: u128, percent: u128) -> u128 {
    (fee * (100 + percent)).div_ceil(100)
}

impl TxManager {
    /// A manager of `key`'s account on `l1`.
    pub fn new(l1: L1Client, key: PrivateKeySigner, config: TxConfig) -> Self {
        Self { l1, key, config, offered: Default::default() }
    }

    /// The account.
    pub fn address(&self) -> Address {
        self.key.address()
    }

    /// The key (Bolt requests are signed with it too).
    pub fn key(&self) -> &PrivateKeySigner {
        &self.key
    }

    /// The L1 client.
    pub fn l1(&self) -> &L1Client {
        &self.l1
    }

    /// The configuration.
    pub fn config(&self) -> &TxConfig {
        &self.config
    }

    /// The number of transactions of the account that are mined (its next nonce on chain).
    pub async fn mined_nonce(&self) -> Result<u64, L1Error> {
        let n: U256 = self
            .l1
            .request("eth_getTransactionCount", jsonrpsee::rpc_params![self.address(), "latest"])
            .await?;
        Ok(n.to())
    }

    /// The fee cap for inclusion within `blocks_ahead` blocks at `base_fee`: the base fee can
    /// grow by 1/8 a block; at least twice the base fee; plus the tip.
    pub fn fee_cap(&self, base_fee: u128, blocks_ahead: u32) -> u128 {
        let mut grown = base_fee;
        for _ in 0..blocks_ahead.min(64) {
            grown += grown.div_ceil(8); // ×1.125, rounded up
        }
        grown.max(2 * base_fee) + self.config.priority_fee
    }

    /// What `requests` cost at most at the current base fee (for a funds check before a duty).
    pub async fn max_cost(
        &self,
        requests: &[TxRequest],
        blocks_ahead: u32,
    ) -> Result<U256, L1Error> {
        let cap = self.fee_cap(self.l1.base_fee().await?, blocks_ahead);
        let blob_cap = self.blob_cap_for(requests).await?;
        Ok(requests.iter().map(|r| r.max_cost(cap, blob_cap)).fold(U256::ZERO, |a, b| a + b))
    }

    /// The blob fee cap for `requests` now: 0 when none carries blobs (no blob base fee read).
    async fn blob_cap_for(&self, requests: &[TxRequest]) -> Result<u128, L1Error> {
        if requests.iter().any(|r| r.sidecar.is_some()) {
            Ok(self.blob_fee_cap(self.l1.blob_base_fee().await?))
        } else {
            Ok(0)
        }
    }

    /// The blob fee cap at `blob_base_fee`: twice it (at least 1 wei).
    pub fn blob_fee_cap(&self, blob_base_fee: u128) -> u128 {
        (2 * blob_base_fee).max(1)
    }

    /// Signs `requests` with consecutive nonces from the account's mined nonce, priced for
    /// inclusion within `blocks_ahead` blocks (and above anything offered before at those
    /// nonces), after checking the account can pay for all of them. Nothing is sent.
    pub async fn sign(
        &self,
        requests: &[TxRequest],
        blocks_ahead: u32,
    ) -> Result<Vec<SignedTx>, TxError> {
        let base_fee = self.l1.base_fee().await?;
        let nonce = self.mined_nonce().await?;
        let cap = self.fee_cap(base_fee, blocks_ahead);
        let blob_cap = self.blob_cap_for(requests).await?;
        let out = {
            let mut offered = self.offered.lock();
            offered.retain(|n, _| *n >= nonce);
            let mut out = Vec::with_capacity(requests.len());
            for (i, r) in requests.iter().enumerate() {
                let n = nonce + i as u64;
                let blob = if r.sidecar.is_some() { blob_cap } else { 0 };
                let mut offer =
                    Offer { max_fee: cap, tip: self.config.priority_fee, max_blob_fee: blob };
                if let Some(old) = offered.get(&n) {
                    offer = self.replacing(old, offer);
                }
                out.push(self.sign_one(n, r.clone(), offer)?);
            }
            out
        };
        self.check_funds(&out).await?;
        let mut offered = self.offered.lock();
        for t in &out {
            offered.insert(t.nonce, t.offer());
        }
        Ok(out)
    }

    /// Fees that replace `old`: at least `bump_percent` more (the blob fee doubled), and no
    /// less than `at_least`.
    fn replacing(&self, old: &Offer, at_least: Offer) -> Offer {
        let b = self.config.bump_percent;
        let blob = if at_least.max_blob_fee > 0 || old.max_blob_fee > 0 {
            at_least.max_blob_fee.max(old.max_blob_fee * 2).max(1)
        } else {
            0
        };
        Offer {
            max_fee: at_least.max_fee.max(bump(old.max_fee, b)),
            tip: at_least.tip.max(bump(old.tip, b)),
            max_blob_fee: blob,
        }
    }

    fn sign_one(&self, nonce: u64, request: TxRequest, offer: Offer) -> Result<SignedTx, TxError> {
        let Offer { max_fee, tip, max_blob_fee } = offer;
        if max_fee > self.config.max_fee_cap {
            return Err(TxError::FeeTooHigh { needed: max_fee, cap: self.config.max_fee_cap });
        }
        let tip = tip.min(max_fee);
        let (raw, hash) = match &request.sidecar {
            None => {
                let tx = TxEip1559 {
                    chain_id: self.l1.chain_id(),
                    nonce,
                    gas_limit: request.gas_limit,
                    max_fee_per_gas: max_fee,
                    max_priority_fee_per_gas: tip,
                    to: TxKind::Call(request.to),
                    value: request.value,
                    input: request.input.clone(),
                    access_list: Default::default(),
                };
                let sig = self.key.sign_hash_sync(&tx.signature_hash()).expect("local signing");
                let env = TxEnvelope::from(tx.into_signed(sig));
                (env.encoded_2718(), *env.tx_hash())
            }
            Some(sidecar) => {
                let tx = TxEip4844 {
                    chain_id: self.l1.chain_id(),
                    nonce,
                    gas_limit: request.gas_limit,
                    max_fee_per_gas: max_fee,
                    max_priority_fee_per_gas: tip,
                    to: request.to,
                    value: request.value,
                    access_list: Default::default(),
                    blob_versioned_hashes: sidecar.versioned_hashes().collect(),
                    max_fee_per_blob_gas: max_blob_fee,
                    input: request.input.clone(),
                };
                let sig = self.key.sign_hash_sync(&tx.signature_hash()).expect("local signing");
                let hash = *tx.clone().into_signed(sig).hash();
                let with = TxEip4844WithSidecar::from_tx_and_sidecar(
                    tx,
                    BlobTransactionSidecarVariant::Eip4844(sidecar.clone()),
                );
                let env = TxEnvelope::Eip4844(Signed::new_unchecked(
                    TxEip4844Variant::TxEip4844WithSidecar(with),
                    sig,
                    hash,
                ));
                (env.encoded_2718(), hash)
            }
        };
        Ok(SignedTx { nonce, request, max_fee, tip, max_blob_fee, raw, hash })
    }

    async fn check_funds(&self, txs: &[SignedTx]) -> Result<(), TxError> {
        let needed = txs
            .iter()
            .map(|t| t.request.max_cost(t.max_fee, t.max_blob_fee))
            .fold(U256::ZERO, |a, b| a + b);
        let balance = self.l1.balance(self.address()).await?;
        if balance < needed {
            return Err(TxError::InsufficientFunds { account: self.address(), balance, needed });
        }
        Ok(())
    }

    /// Sends `txs` to the public mempool, in order. A transaction the node already has counts
    /// as sent.
    pub async fn broadcast(&self, txs: &[SignedTx]) -> Result<(), TxError> {
        for t in txs {
            match self.l1.send_raw(t.raw.clone()).await {
                Ok(_) => {}
                Err(L1Error::Rpc { message, .. }) if already_known(&message) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// Signs, broadcasts and confirms `requests` (two minutes at most).
    pub async fn send(&self, requests: &[TxRequest]) -> Result<Vec<Mined>, TxError> {
        let txs = self.sign(requests, 3).await?;
        self.broadcast(&txs).await?;
        let until = Instant::now() + Duration::from_secs(120);
        self.confirm(txs, &|| Instant::now() >= until).await
    }

    /// Waits until every transaction of `txs` (already handed to Bolt or the mempool) is mined
    /// and `confirmations` deep, bumping the fees of one still pending every `resubmit_after`
    /// and broadcasting again one that an L1 reorg dropped; an L1 that cannot be reached for a
    /// while is waited out. Stops with an error when `expired()` says the deadline has passed,
    /// or when one reverts.
    pub async fn confirm(
        &self,
        txs: Vec<SignedTx>,
        expired: &(dyn Fn() -> bool + Sync),
    ) -> Result<Vec<Mined>, TxError> {
        let mut watches: Vec<Watch> = txs
            .into_iter()
            .map(|t| Watch { sent: vec![t], mined: None, bumps: 0, reorged: 0 })
            .collect();
        let mut last_sent = Instant::now();
        loop {
            match self.poll(&mut watches, &mut last_sent).await {
                Ok(true) => {
                    return Ok(watches.into_iter().map(|w| w.mined.expect("confirmed")).collect());
                }
                Ok(false) => {}
                Err(TxError::L1(e)) => {
                    tracing::warn!(target: "l1::txmgr", %e, "L1 unreachable while confirming; waiting");
                }
                Err(e) => return Err(e),
            }
            if expired() {
                let w = watches.iter().find(|w| w.mined.is_none()).unwrap_or(&watches[0]);
                let newest = w.sent.last().expect("one version sent");
                return Err(TxError::NotConfirmed { hash: newest.hash, nonce: newest.nonce });
            }
            tokio::time::sleep(self.config.poll).await;
        }
    }

    /// One round of [`Self::confirm`]: whether all are confirmed now.
    async fn poll(&self, watches: &mut [Watch], last_sent: &mut Instant) -> Result<bool, TxError> {
        let head = self.l1.latest().await?.number;
        let mut confirmed = true;
        for w in watches.iter_mut() {
            // a mined version still in the canonical chain?
            if let Some(m) = &w.mined {
                let canonical = self.l1.block(m.block_number).await?.map(|b| b.hash);
                if canonical != Some(m.block_hash) {
                    tracing::warn!(target: "l1::txmgr", hash = %m.hash, block = m.block_number, "transaction reorged out of the L1; sending it again");
                    w.mined = None;
                    w.reorged += 1;
                    let newest = w.sent.last().expect("one version sent");
                    self.broadcast(std::slice::from_ref(newest)).await?;
                }
            }
            if w.mined.is_none() {
                for version in w.sent.iter().rev() {
                    if let Some(r) = self.l1.receipt(version.hash).await? {
                        let m = mined_from(&r, version.hash, w.bumps, w.reorged);
                        if r["status"] != "0x1" {
                            return Err(TxError::Reverted {
                                hash: version.hash,
                                block: m.block_number,
                            });
                        }
                        w.mined = Some(m);
                        break;
                    }
                }
            }
            match &w.mined {
                Some(m) if head + 1 >= m.block_number + self.config.confirmations => {}
                _ => confirmed = false,
            }
        }
        if confirmed {
            return Ok(true);
        }
        if last_sent.elapsed() >= self.config.resubmit_after {
            let base_fee = self.l1.base_fee().await?;
            let mut again = Vec::new();
            for w in watches.iter_mut().filter(|w| w.mined.is_none()) {
                let old = w.sent.last().expect("one version sent").clone();
                let floor = Offer { max_fee: self.fee_cap(base_fee, 1), tip: 0, max_blob_fee: 0 };
                let offer = self.replacing(&old.offer(), floor);
                let new = self.sign_one(old.nonce, old.request.clone(), offer)?;
                tracing::warn!(target: "l1::txmgr", nonce = old.nonce, old = %old.hash, new = %new.hash, max_fee = offer.max_fee, tip = offer.tip, "transaction stuck; replacing it with higher fees");
                self.offered.lock().insert(new.nonce, offer);
                w.bumps += 1;
                w.sent.push(new.clone());
                again.push(new);
            }
            if !again.is_empty() {
                self.check_funds(&again).await?;
                self.broadcast(&again).await?;
            }
            *last_sent = Instant::now();
        }
        Ok(false)
    }
}

/// The versions of one transaction sent so far, and where it was mined.
struct Watch {
    /// Every version sent at this nonce, the newest last.
    sent: Vec<SignedTx>,
    mined: Option<Mined>,
    bumps: u32,
    reorged: u32,
}

/// Whether a node's refusal means it already has the transaction (geth, reth, anvil wording).
fn already_known(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    m.contains("already known") || m.contains("alreadyknown") || m.contains("already imported")
}

fn mined_from(r: &Value, hash: B256, bumps: u32, reorged: u32) -> Mined {
    Mined {
        hash,
        block_number: hex_u64(&r["blockNumber"]),
        block_hash: serde_json::from_value(r["blockHash"].clone()).unwrap_or_default(),
        index: hex_u64(&r["transactionIndex"]),
        gas_used: hex_u64(&r["gasUsed"]),
        effective_gas_price: hex_u64(&r["effectiveGasPrice"]) as u128,
        blob_gas_used: hex_u64(&r["blobGasUsed"]),
        blob_gas_price: hex_u64(&r["blobGasPrice"]) as u128,
        bumps,
        reorged,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bumps_round_up_and_meet_the_replacement_rule() {
        assert_eq!(bump(100, 13), 113);
        assert_eq!(bump(1, 13), 2);
        for fee in [1u128, 7, 1_000_000_000, 123_456_789_011] {
            assert!(bump(fee, 13) * 100 >= fee * 110, "≥ 10% more than {fee}");
        }
    }

    #[tokio::test]
    async fn fee_cap_covers_base_fee_growth() {
        // no endpoint is contacted to price
        let l1 = L1Client::offline(1);
        let m = TxManager::new(l1, PrivateKeySigner::random(), TxConfig::default());
        let tip = m.config().priority_fee;
        assert_eq!(m.fee_cap(1_000, 0), 2_000 + tip);
        // 1.125^6 ≈ 2.03: from six blocks ahead the growth exceeds the doubling
        assert_eq!(m.fee_cap(1_000, 5), 2_000 + tip);
        let mut g = 1_000u128;
        for _ in 0..8 {
            g += g.div_ceil(8);
        }
        assert_eq!(m.fee_cap(1_000, 8), g + tip);
        assert!(g as f64 >= 1_000.0 * 1.125f64.powi(8));
    }
}
