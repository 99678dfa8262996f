//! The slot driver: anvil mines nothing by itself; the driver mines exactly one L1 block per
//! slot at the slot's timestamp (none for a missed slot), puts the Bolt-committed transactions
//! of a Bolt validator's slot at the top of it, writes the parent beacon root into the EIP-4788
//! contract for that block, and has the beacon simulator produce the slot's beacon block.

use std::{collections::HashSet, sync::Arc};

use alloy::primitives::{B256, U256};
use parking_lot::RwLock;

use crate::{
    DevnetClock, DevnetError,
    anvil::{BEACON_ROOTS, HISTORY_BUFFER_LENGTH},
    beacon::BeaconSim,
    bolt::BoltState,
    l1::{L1Block, L1Client},
};

/// What happened in a slot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SlotOutcome {
    /// The slot.
    pub slot: u64,
    /// The L1 block mined (none for a missed slot).
    pub l1_block: Option<L1Block>,
    /// The beacon block root produced.
    pub beacon_root: Option<B256>,
    /// The Bolt-committed transactions put at the top of the block.
    pub bolt_txs: Vec<B256>,
}

/// KZG commitment and proof of a blob (EIP-4844 trusted setup).
pub fn blob_commitment_and_proof(blob: &[u8]) -> Result<([u8; 48], [u8; 48]), DevnetError> {
    let settings = alloy::eips::eip4844::env_settings::EnvKzgSettings::Default.get();
    let blob =
        c_kzg::Blob::from_bytes(blob).map_err(|e| DevnetError::Driver(format!("blob: {e}")))?;
    let commitment = settings
        .blob_to_kzg_commitment(&blob)
        .map_err(|e| DevnetError::Driver(format!("kzg commitment: {e}")))?;
    let proof = settings
        .compute_blob_kzg_proof(&blob, &commitment.to_bytes())
        .map_err(|e| DevnetError::Driver(format!("kzg proof: {e}")))?;
    Ok((*commitment.to_bytes().as_ref(), *proof.to_bytes().as_ref()))
}

/// Mines slots.
#[derive(Debug)]
pub struct SlotDriver {
    l1: L1Client,
    beacon: Arc<RwLock<BeaconSim>>,
    bolt: Arc<BoltState>,
    clock: Arc<DevnetClock>,
    missed: HashSet<u64>,
    next_slot: u64,
}

impl SlotDriver {
    /// A driver starting at slot 1 (slot 0 is the beacon genesis).
    pub fn new(
        l1: L1Client,
        beacon: Arc<RwLock<BeaconSim>>,
        bolt: Arc<BoltState>,
        clock: Arc<DevnetClock>,
        missed: HashSet<u64>,
    ) -> Self {
        Self { l1, beacon, bolt, clock, missed, next_slot: 1 }
    }

    /// The slot `advance` will mine next.
    pub fn next_slot(&self) -> u64 {
        self.next_slot
    }

    /// Marks `slot` as missed (no L1 block, no beacon block).
    pub fn miss(&mut self, slot: u64) {
        self.missed.insert(slot);
    }

    /// The blobs carried by L1 block `number`, with their commitments and proofs, in order.
    async fn blobs_of(
        &self,
        number: u64,
    ) -> Result<Vec<(Vec<u8>, [u8; 48], [u8; 48])>, DevnetError> {
        let block: serde_json::Value = self
            .l1
            .request("eth_getBlockByNumber", jsonrpsee::rpc_params![format!("0x{number:x}"), true])
            .await?;
        let mut out = Vec::new();
        for tx in block["transactions"].as_array().into_iter().flatten() {
            if tx["type"] != "0x3" {
                continue;
            }
            let hash: B256 = serde_json::from_value(tx["hash"].clone())
                .map_err(|e| DevnetError::Driver(format!("block {number}: {e}")))?;
            let blobs: Vec<alloy::primitives::Bytes> = self
                .l1
                .request("anvil_getBlobsByTransactionHash", jsonrpsee::rpc_params![hash])
                .await?;
            for blob in blobs {
                let (commitment, proof) = blob_commitment_and_proof(&blob)?;
                out.push((blob.to_vec(), commitment, proof));
            }
        }
        Ok(out)
    }

    /// Runs the next slot.
    pub async fn advance(&mut self) -> Result<SlotOutcome, DevnetError> {
        let slot = self.next_slot;
        self.next_slot += 1;
        let clock = self.beacon.read().clock;
        let ts = clock.slot_time(slot);
        self.clock.set_manual(ts);
        if self.missed.contains(&slot) {
            // the commitments of a missed slot are lost with it
            let lost = self.bolt.take(slot);
            if !lost.is_empty() {
                tracing::warn!(target: "devnet::driver", slot, lost = lost.len(), "missed slot drops Bolt commitments");
            }
            tracing::info!(target: "devnet::driver", slot, "missed slot");
            return Ok(SlotOutcome { slot, l1_block: None, beacon_root: None, bolt_txs: vec![] });
        }

        let committed = self.bolt.take(slot);
        let bolt_txs: Vec<B256> = committed.iter().map(|c| c.hash).collect();
        if !committed.is_empty() {
            // Bolt's constraint: the committed transactions first. anvil orders its pool first
            // in, first out, so the others are taken out and sent again after them.
            let pending = self.l1.pending_hashes().await?;
            let mut others = Vec::new();
            for h in pending.iter().filter(|h| !bolt_txs.contains(h)) {
                others.push(self.l1.raw_transaction(*h).await?);
                self.l1.drop_transaction(*h).await?;
            }
            for c in &committed {
                if let Err(e) = self.l1.send_raw(c.raw.to_vec()).await {
                    tracing::warn!(target: "devnet::driver", slot, tx = %c.hash, %e, "committed tx refused by the L1");
                }
            }
            for raw in others {
                if let Err(e) = self.l1.send_raw(raw.to_vec()).await {
                    tracing::warn!(target: "devnet::driver", slot, %e, "re-queueing a pending tx failed");
                }
            }
        }

        // EIP-4788: the block at `ts` carries the latest beacon block's root as its parent root.
        let (parent_root, _) = self.beacon.read().head();
        let idx = ts % HISTORY_BUFFER_LENGTH;
        self.l1.set_storage(BEACON_ROOTS, U256::from(idx), B256::from(U256::from(ts))).await?;
        self.l1
            .set_storage(BEACON_ROOTS, U256::from(idx + HISTORY_BUFFER_LENGTH), parent_root)
            .await?;
        self.l1.mine_at(ts).await?;
        let block = self.l1.latest().await?;
        if block.timestamp != ts {
            return Err(DevnetError::Driver(format!(
                "slot {slot}: mined at {} not {ts}",
                block.timestamp
            )));
        }
        let root = self.beacon.write().produce(slot, block).root;
        let blobs = self.blobs_of(block.number).await?;
        if !blobs.is_empty() {
            self.beacon.write().set_blobs(slot, blobs);
        }
        tracing::info!(target: "devnet::driver", slot, l1 = block.number, beacon_root = %root, bolt = bolt_txs.len(), "slot");
        Ok(SlotOutcome { slot, l1_block: Some(block), beacon_root: Some(root), bolt_txs })
    }
}
