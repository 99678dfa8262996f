//! Every node's L1 follower: what the inbox accepted becomes `safe`, what L1 finalized becomes
//! `finalized`.
//!
//! [`Reconciler::poll`] reads the inbox's `BatchProposed` events since the last poll and compares
//! each batch's digest of its last block with the digest of that block in the node's chain. Equal
//! digests mean L1 holds exactly the preconfirmed blocks up to there: the block becomes `safe`,
//! and `finalized` once the L1 block that carried the batch is final. A batch the node has not
//! imported up to yet stops the scan until the next poll. A batch with a different digest means
//! L1 disagrees with the preconfirmed chain, and L1 wins: the node keeps every signed commitment
//! the batch broke as evidence, derives the batch's blocks from its calldata ([`crate::derive`]),
//! reverts to the batch's parent and builds them — then they are `safe`. A batch beyond the
//! node's head — a node syncing from scratch, or one that missed the gossip — is derived from L1
//! and built on top of the head ([`Reconciler::extend_from_l1`]), so a node with no peer at all
//! reaches the inbox's head from L1 alone, and gossip takes it on from there. A batch's tx list is
//! its calldata, or its blobs as the beacon API serves the sidecars of the slot that carried it
//! ([`Reconciler::tx_list`]).

use alloy::primitives::{Address, B256, Bytes};
use parking_lot::Mutex;
use serde_json::Value;
use taiko_beacon::clock::SlotClock;
use taiko_contracts::inbox::TaikoInbox;
use taiko_engine::ForkchoiceState;
use taiko_l1::{BeaconClient, L1Client, L1Error, execution::hex_u64};

use std::sync::Arc;

use taiko_contracts::{inbox::LibBatch::BatchInfo, wire};

use crate::{
    blob::{ServedBlob, tx_list_from_sidecars},
    derive::{DeriveError, derive_blocks},
    evidence::{BrokenCommitment, EvidenceDb},
    message::tx_list_hash_of,
    service::PreconfService,
};

/// A batch whose blocks differ from the node's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mismatch {
    /// The batch.
    pub batch_id: u64,
    /// Its last block.
    pub last_block: u64,
    /// L1's digest.
    pub l1_digest: B256,
    /// Ours, if we have the block.
    pub our_digest: Option<B256>,
}

/// What a poll found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReconcileReport {
    /// Batches that matched.
    pub matched: usize,
    /// The `safe` head after the poll, if it moved.
    pub safe: Option<u64>,
    /// The `finalized` head after the poll, if it moved.
    pub finalized: Option<u64>,
    /// Batches that differ.
    pub mismatches: Vec<Mismatch>,
    /// Batches whose blocks replaced ours.
    pub reorged: usize,
    /// Batches beyond our head, derived from L1 and built on top of it.
    pub derived: usize,
    /// Blocks dropped because their window closed without them on L1.
    pub orphaned: u64,
}

#[derive(Debug, Default)]
struct Cursor {
    /// Next L1 block to scan.
    from: u64,
    /// Matched batches: (L1 block that carried it, last L2 block), not yet final.
    unfinal: Vec<(u64, u64)>,
}

/// Follows the inbox.
#[derive(Debug)]
pub struct Reconciler {
    l1: L1Client,
    inbox: Address,
    cursor: Mutex<Cursor>,
    evidence: Option<Arc<EvidenceDb>>,
    /// Where blob batches are read from: the beacon API, and its slots.
    blobs: Option<(BeaconClient, SlotClock)>,
}

/// Why L1's version of a batch could not be adopted.
#[derive(Debug, thiserror::Error)]
pub enum AdoptError {
    /// The L1 failed.
    #[error(transparent)]
    L1(#[from] L1Error),
    /// The batch cannot be derived.
    #[error(transparent)]
    Derive(#[from] DeriveError),
    /// The chain diverged before this batch.
    #[error("the batch's parent digest is not ours at block {0}")]
    Parent(u64),
    /// The batch's blobs could not be fetched from the beacon API.
    #[error("blob sidecars: {0}")]
    Beacon(L1Error),
    /// A blob batch, and no beacon API to read it from.
    #[error("batch {0} is in blobs and no beacon API is configured")]
    NoBeacon(u64),
    /// The engine refused.
    #[error("engine: {0}")]
    Engine(String),
    /// A derived block's anchor is not an L1 block we can read.
    #[error("anchor block {0} unknown")]
    Anchor(u64),
}

impl Reconciler {
    /// A reconciler of `inbox` that scans from L1 block `from`.
    pub fn new(l1: L1Client, inbox: Address, from: u64, evidence: Option<Arc<EvidenceDb>>) -> Self {
        Self {
            l1,
            inbox,
            cursor: Mutex::new(Cursor { from, unfinal: Vec::new() }),
            evidence,
            blobs: None,
        }
    }

    /// Reads blob batches from `beacon`, whose slots are `clock`.
    pub fn with_beacon(mut self, beacon: BeaconClient, clock: SlotClock) -> Self {
        self.blobs = Some((beacon, clock));
        self
    }

    /// The compressed tx list of a batch: its calldata, or the data of its blobs as the beacon
    /// API serves the sidecars of the slot that carried it (each blob checked against its
    /// commitment and versioned hash).
    pub async fn tx_list(&self, info: &BatchInfo, calldata: &[u8]) -> Result<Vec<u8>, AdoptError> {
        if info.blobHashes.is_empty() {
            return Ok(calldata.to_vec());
        }
        let (beacon, clock) = self.blobs.as_ref().ok_or(AdoptError::NoBeacon(info.batchId))?;
        let slot = clock.slot_at(info.proposedAt);
        let served: Vec<ServedBlob> = beacon
            .blob_sidecars(slot)
            .await
            .map_err(AdoptError::Beacon)?
            .into_iter()
            .map(|s| ServedBlob { blob: s.blob, commitment: s.kzg_commitment, proof: s.kzg_proof })
            .collect();
        let list = tx_list_from_sidecars(
            &info.blobHashes,
            &served,
            info.byteOffset as usize,
            info.byteSize as usize,
        )
        .map_err(DeriveError::from)?;
        Ok(list)
    }

    /// Replaces our blocks of `info`'s range by L1's: keeps the broken commitments, reverts to
    /// the batch's parent, builds the derived blocks and makes them `latest`.
    pub async fn adopt_l1_batch(
        &self,
        service: &PreconfService,
        info: &BatchInfo,
        tx_list: &[u8],
    ) -> Result<(), AdoptError> {
        let first = info.firstBlockId;
        let parent = first - 1;
        if service.digest(parent) != Some(info.parentDigest) {
            return Err(AdoptError::Parent(parent));
        }
        let derived = derive_blocks(info, tx_list)?;
        let store = service.store();
        let chain_id = store.chain_spec().chain_id;
        // the evidence: each of our signed blocks from the first one L1 disagrees with
        let mut theirs = info.parentDigest;
        let mut diverged = false;
        for b in &derived {
            theirs = wire::block_digest(
                theirs,
                b.number,
                tx_list_hash_of(&b.transactions),
                b.timestamp,
                b.anchor_block_id,
                b.coinbase,
            );
            let ours = service.digest(b.number).unwrap_or_default();
            diverged |= ours != theirs;
            if diverged
                && let (Some(db), Some(message)) =
                    (&self.evidence, service.adopted_message(b.number))
                && let Err(e) = db.record_broken(&BrokenCommitment {
                    chain_id,
                    height: b.number,
                    batch_id: info.batchId,
                    message,
                })
            {
                tracing::error!(target: "preconf::reconcile", %e, "recording a broken commitment");
            }
        }
        let engine = service.engine();
        let parent_hash = store
            .canonical_hash(parent)
            .ok()
            .flatten()
            .ok_or(AdoptError::Engine(format!("block {parent} missing")))?;
        let fcu = |head: B256| ForkchoiceState { head, ..Default::default() };
        engine
            .fork_choice_updated(fcu(parent_hash))
            .await
            .map_err(|e| AdoptError::Engine(e.to_string()))?;
        service.forget_from(first);
        self.build_derived(service, derived).await?;
        tracing::warn!(target: "preconf::reconcile", batch = info.batchId, first, last = info.lastBlockId, "reorged to L1's blocks");
        Ok(())
    }

    /// Makes `info`'s blocks ours from L1 (its calldata, or its blobs): replacing ours
    /// (`replace`), or building those beyond our head.
    async fn take_from_l1(
        &self,
        service: &PreconfService,
        info: &BatchInfo,
        calldata: &[u8],
        replace: bool,
    ) -> Result<(), AdoptError> {
        let list = self.tx_list(info, calldata).await?;
        if replace {
            self.adopt_l1_batch(service, info, &list).await
        } else {
            self.extend_from_l1(service, info, &list).await
        }
    }

    /// Builds the blocks of a batch that lie beyond our head on top of it (the blocks of the
    /// batch we already have must be the batch's; otherwise L1 wins, as in
    /// [`Self::adopt_l1_batch`]).
    pub async fn extend_from_l1(
        &self,
        service: &PreconfService,
        info: &BatchInfo,
        tx_list: &[u8],
    ) -> Result<(), AdoptError> {
        let head = service.latest().0;
        let first = info.firstBlockId;
        if head + 1 < first {
            return Err(AdoptError::Parent(first - 1));
        }
        let derived = derive_blocks(info, tx_list)?;
        let mut digest = info.parentDigest;
        for b in derived.iter().take_while(|b| b.number <= head) {
            digest = wire::block_digest(
                digest,
                b.number,
                tx_list_hash_of(&b.transactions),
                b.timestamp,
                b.anchor_block_id,
                b.coinbase,
            );
        }
        let have_up_to = head.min(info.lastBlockId).max(first - 1);
        if service.digest(have_up_to) != Some(digest) {
            return self.adopt_l1_batch(service, info, tx_list).await;
        }
        let fresh: Vec<_> = derived.into_iter().filter(|b| b.number > head).collect();
        let count = fresh.len();
        self.build_derived(service, fresh).await?;
        tracing::info!(target: "preconf::reconcile", batch = info.batchId, blocks = count, last = info.lastBlockId, "derived from L1");
        Ok(())
    }

    /// Builds `derived` in order on top of the head, each becoming `latest`.
    async fn build_derived(
        &self,
        service: &PreconfService,
        derived: Vec<crate::derive::DerivedBlock>,
    ) -> Result<(), AdoptError> {
        let engine = service.engine();
        let store = service.store();
        let fcu = |head: B256| ForkchoiceState { head, ..Default::default() };
        let limits = taiko_evm::BuildLimits::from_spec(store.chain_spec());
        for b in derived {
            let l1_block = self
                .l1
                .block(b.anchor_block_id)
                .await?
                .ok_or(AdoptError::Anchor(b.anchor_block_id))?;
            if l1_block.hash != b.anchor_block_hash {
                return Err(AdoptError::Anchor(b.anchor_block_id));
            }
            let txs: Vec<_> = b
                .transactions
                .into_iter()
                .filter_map(|tx| {
                    use alloy::consensus::transaction::SignerRecoverable;
                    let sender = tx.recover_signer().ok()?;
                    Some(alloy::consensus::transaction::Recovered::new_unchecked(tx, sender))
                })
                .collect();
            let attrs = taiko_evm::BlockAttributes {
                timestamp: b.timestamp,
                coinbase: b.coinbase,
                anchor: taiko_evm::AnchorInput {
                    l1_block_id: b.anchor_block_id,
                    l1_block_hash: l1_block.hash,
                    l1_state_root: l1_block.state_root,
                },
                ..Default::default()
            };
            let built = engine
                .build_payload(attrs, Box::new(taiko_evm::IterSource(txs.into_iter())), limits)
                .await
                .map_err(|e| AdoptError::Engine(e.to_string()))?;
            engine
                .fork_choice_updated(fcu(built.block.block.hash()))
                .await
                .map_err(|e| AdoptError::Engine(e.to_string()))?;
        }
        Ok(())
    }

    /// Reads new batches and moves `safe` and `finalized`.
    pub async fn poll(&self, service: &PreconfService) -> Result<ReconcileReport, L1Error> {
        use alloy::sol_types::SolEvent;
        let l1_head = self.l1.latest().await?;
        let latest = l1_head.number;
        let from = self.cursor.lock().from;
        let mut report = ReconcileReport::default();
        if from > latest {
            return Ok(report);
        }
        let filter = serde_json::json!({
            "address": self.inbox,
            "fromBlock": format!("0x{from:x}"),
            "toBlock": format!("0x{latest:x}"),
            "topics": [TaikoInbox::BatchProposed::SIGNATURE_HASH],
        });
        let logs: Vec<Value> =
            self.l1.request("eth_getLogs", jsonrpsee::rpc_params![filter]).await?;
        let mut next_from = latest + 1;
        let mut safe = None;
        let mut matched = Vec::new();
        for log in logs {
            let topics: Vec<B256> =
                serde_json::from_value(log["topics"].clone()).unwrap_or_default();
            let data: Bytes = serde_json::from_value(log["data"].clone()).unwrap_or_default();
            let Ok(ev) = TaikoInbox::BatchProposed::decode_raw_log(topics, &data) else {
                continue;
            };
            let info = ev.info;
            let ours = service.digest(info.lastBlockId);
            let l1_block = hex_u64(&log["blockNumber"]);
            match ours {
                Some(d) if d == info.digest => {
                    report.matched += 1;
                    safe = Some(info.lastBlockId);
                    matched.push((l1_block, info.lastBlockId));
                }
                ours => {
                    // beyond our head (a syncing node, or missed gossip), or different: L1 is
                    // the source
                    if let Some(d) = ours {
                        tracing::error!(target: "preconf::reconcile", batch = info.batchId, last = info.lastBlockId, l1 = %info.digest, ours = %d, "L1 batch differs from the preconfirmed chain");
                        service.metrics().l1_mismatches.inc();
                        report.mismatches.push(Mismatch {
                            batch_id: info.batchId,
                            last_block: info.lastBlockId,
                            l1_digest: info.digest,
                            our_digest: Some(d),
                        });
                    }
                    let replace = ours.is_some();
                    match self.take_from_l1(service, &info, &ev.txList, replace).await {
                        Ok(()) if service.digest(info.lastBlockId) == Some(info.digest) => {
                            if replace {
                                report.reorged += 1;
                            } else {
                                report.derived += 1;
                            }
                            safe = Some(info.lastBlockId);
                            matched.push((l1_block, info.lastBlockId));
                        }
                        outcome => {
                            if replace {
                                tracing::error!(target: "preconf::reconcile", batch = info.batchId, ?outcome, "could not adopt L1's blocks");
                            } else {
                                tracing::warn!(target: "preconf::reconcile", batch = info.batchId, ?outcome, "could not derive the batch from L1; trying again next poll");
                            }
                            next_from = l1_block;
                            break;
                        }
                    }
                }
            }
        }
        let finalized_l1 = match self
            .l1
            .request::<Value>("eth_getBlockByNumber", jsonrpsee::rpc_params!["finalized", false])
            .await
        {
            Ok(b) if !b.is_null() => Some(hex_u64(&b["number"])),
            _ => None,
        };
        let finalized = {
            let mut c = self.cursor.lock();
            c.from = next_from;
            c.unfinal.extend(matched);
            let mut fin = None;
            if let Some(f) = finalized_l1 {
                c.unfinal.retain(|&(l1_block, last)| {
                    if l1_block <= f {
                        fin = Some(fin.map_or(last, |x: u64| x.max(last)));
                        false
                    } else {
                        true
                    }
                });
            }
            fin
        };
        let store = service.store();
        let heads =
            store.heads().map_err(|e| L1Error::Rpc { method: "store", message: e.to_string() })?;
        let safe = safe.filter(|s| *s > heads.safe.number);
        let finalized = finalized.filter(|f| *f > heads.finalized.number);
        if safe.is_some() || finalized.is_some() {
            let hash = |n: Option<u64>| {
                n.and_then(|n| store.canonical_hash(n).ok().flatten()).unwrap_or_default()
            };
            let state = ForkchoiceState {
                head: heads.latest.hash,
                safe: if safe.is_some() { hash(safe) } else { heads.safe.hash },
                finalized: hash(finalized),
            };
            service.engine().fork_choice_updated(state).await.map_err(|e| L1Error::Rpc {
                method: "fork_choice_updated",
                message: e.to_string(),
            })?;
            report.safe = safe;
            report.finalized = finalized;
            if let Some(f) = finalized {
                service.prune_signed_payloads(f);
            }
        }
        report.orphaned = self.drop_unproposed(service, l1_head.timestamp).await?;
        Ok(report)
    }

    /// The first block the inbox does not have, if the L1 has passed the end of its window
    /// (`l1_time`, the L1 head's timestamp, is at or after it): nobody can propose it any more,
    /// so it and every block on top of it are dead. The node goes back to the inbox's last block
    /// — the pool takes their transactions back, and the next preconfer builds on what L1 holds.
    /// (Their signer is slashable for the missed proposal; blocks built on them are not, as their
    /// commitments name a parent the inbox never had.) Returns how many blocks were dropped.
    pub async fn drop_unproposed(
        &self,
        service: &PreconfService,
        l1_time: u64,
    ) -> Result<u64, L1Error> {
        let head = service.latest().0;
        let next = self.l1.call(self.inbox, TaikoInbox::nextBlockIdCall {}).await?;
        if next == 0 || next > head {
            return Ok(0);
        }
        let store = service.store();
        let Some(block) = store.block_by_number(next).ok().flatten() else { return Ok(0) };
        let timestamp = block.block.block().header.timestamp;
        let Some((owner, end)) = service.schedule().window_at(timestamp) else { return Ok(0) };
        if l1_time < end {
            return Ok(0); // its window's last L1 block is not out yet
        }
        let l1_digest = self.l1.call(self.inbox, TaikoInbox::lastDigestCall {}).await?;
        if service.digest(next - 1) != Some(l1_digest) {
            return Ok(0); // our chain differs below: the batches' reconciliation comes first
        }
        let Some(parent) = store.canonical_hash(next - 1).ok().flatten() else { return Ok(0) };
        service
            .engine()
            .fork_choice_updated(ForkchoiceState { head: parent, ..Default::default() })
            .await
            .map_err(|e| L1Error::Rpc { method: "fork_choice_updated", message: e.to_string() })?;
        service.forget_from(next);
        let dropped = head - next + 1;
        service.metrics().orphaned_blocks.inc_by(dropped);
        tracing::error!(target: "preconf::reconcile", first = next, last = head, %owner, window_end = end, "window closed without these blocks on L1: dropped, back to the inbox's head");
        Ok(dropped)
    }
}
