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
        tracing::info!(target: "devnet::driver", slot, l1 = block.number, beacon_root = %root, bolt = bolt_txs.len(), "slot");
        Ok(SlotOutcome { slot, l1_block: Some(block), beacon_root: Some(root), bolt_txs })
    }
}
