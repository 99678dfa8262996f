//! The beacon-chain simulator: a deterministic validator set with real BLS keys, a proposer
//! schedule per epoch, and one beacon block per L1 slot whose state has the Electra shape, so
//! proposer proofs built here verify on chain against the roots written into EIP-4788.

use std::collections::BTreeMap;

use alloy::primitives::{B256, keccak256};
use blst::min_pk::SecretKey;
use taiko_beacon::{
    BeaconBlockHeader, ProposerProof,
    api::{BlobSidecar, SignedHeader},
    containers::{BeaconState, SLOTS_PER_HISTORICAL_ROOT, STATE_FIELDS, Validator},
    ssz::hash_pair,
};

use crate::{clock::SlotClock, l1::L1Block};

/// The fork version the simulator reports (Electra's on a devnet).
pub const FORK_VERSION: [u8; 4] = [0x05, 0x00, 0x00, 0x64];

/// A produced beacon block.
#[derive(Clone, Debug)]
pub struct BeaconBlock {
    /// Its header.
    pub header: BeaconBlockHeader,
    /// Its root.
    pub root: B256,
    /// The field roots of its post-state (enough to build proofs).
    pub state_fields: [B256; STATE_FIELDS],
    /// The L1 block it carries.
    pub execution: L1Block,
}

/// The simulated beacon chain.
#[derive(Debug)]
pub struct BeaconSim {
    /// Slot timing.
    pub clock: SlotClock,
    seed: B256,
    keys: Vec<SecretKey>,
    state: BeaconState,
    genesis_root: B256,
    blocks: BTreeMap<u64, BeaconBlock>,
    blobs: BTreeMap<u64, Vec<BlobSidecar>>,
    head_root: B256,
    head_slot: u64,
}

/// The BLS secret key of validator `index` under `seed` (IKM = keccak256(seed ‖ index)).
pub fn validator_key(seed: B256, index: u64) -> SecretKey {
    let ikm = keccak256([seed.as_slice(), &index.to_be_bytes()].concat());
    SecretKey::key_gen(ikm.as_slice(), &[]).expect("32-byte IKM")
}

impl BeaconSim {
    /// A chain of `validators` validators with keys derived from `seed`.
    pub fn new(clock: SlotClock, seed: B256, validators: usize) -> Self {
        let keys: Vec<SecretKey> = (0..validators as u64).map(|i| validator_key(seed, i)).collect();
        let vals: Vec<Validator> =
            keys.iter().map(|k| Validator::genesis(k.sk_to_pk().compress())).collect();
        let mut state = BeaconState {
            genesis_time: clock.genesis,
            slot: 0,
            fork_version: FORK_VERSION,
            block_roots: vec![B256::ZERO; SLOTS_PER_HISTORICAL_ROOT],
            validators: vals,
            ..Default::default()
        };
        state.genesis_validators_root = state.validators_root();
        let genesis_header = BeaconBlockHeader {
            state_root: state.hash_tree_root(),
            body_root: keccak256(b"taiko-devnet/genesis-body"),
            ..Default::default()
        };
        state.latest_block_header = BeaconBlockHeader { state_root: B256::ZERO, ..genesis_header };
        let genesis_root = genesis_header.hash_tree_root();
        Self {
            clock,
            seed,
            keys,
            state,
            genesis_root,
            blocks: BTreeMap::new(),
            blobs: BTreeMap::new(),
            head_root: genesis_root,
            head_slot: 0,
        }
    }

    /// Number of validators.
    pub fn validator_count(&self) -> usize {
        self.keys.len()
    }

    /// Validator `index`'s secret key.
    pub fn secret_key(&self, index: u64) -> &SecretKey {
        &self.keys[index as usize]
    }

    /// The validators.
    pub fn validators(&self) -> &[Validator] {
        &self.state.validators
    }

    /// Root of the genesis validators.
    pub fn genesis_validators_root(&self) -> B256 {
        self.state.genesis_validators_root
    }

    /// Root of the genesis block.
    pub fn genesis_root(&self) -> B256 {
        self.genesis_root
    }

    /// The latest block's root and slot.
    pub fn head(&self) -> (B256, u64) {
        (self.head_root, self.head_slot)
    }

    /// The proposer schedule of `epoch`: a permutation of the validators seeded by
    /// `keccak256(seed ‖ "proposers" ‖ epoch)`, one proposer per slot.
    pub fn proposers(&self, epoch: u64) -> Vec<u64> {
        let n = self.keys.len() as u64;
        let mut perm: Vec<u64> = (0..n).collect();
        let mut rnd =
            keccak256([self.seed.as_slice(), b"proposers", &epoch.to_be_bytes()].concat());
        for i in (1..perm.len()).rev() {
            rnd = keccak256(rnd);
            let j = (u64::from_be_bytes(rnd[..8].try_into().expect("8 bytes")) % (i as u64 + 1))
                as usize;
            perm.swap(i, j);
        }
        (0..self.clock.slots_per_epoch).map(|k| perm[(k % n) as usize]).collect()
    }

    /// The proposer of `slot`.
    pub fn proposer(&self, slot: u64) -> u64 {
        self.proposers(self.clock.epoch_of(slot))[(slot % self.clock.slots_per_epoch) as usize]
    }

    /// Produces the beacon block of `slot` carrying L1 block `execution`, and returns it. Slots
    /// in between that had no block are skipped (their block roots repeat the head, as in the
    /// spec's `process_slots`).
    pub fn produce(&mut self, slot: u64, execution: L1Block) -> &BeaconBlock {
        assert!(slot > self.head_slot, "slots only move forward");
        for s in self.head_slot..slot {
            self.state.block_roots[(s as usize) % SLOTS_PER_HISTORICAL_ROOT] = self.head_root;
        }
        self.state.slot = slot;
        let proposer = self.proposer(slot);
        let body_root = hash_pair(&execution.hash, &keccak256(slot.to_be_bytes()));
        self.state.latest_block_header = BeaconBlockHeader {
            slot,
            proposer_index: proposer,
            parent_root: self.head_root,
            state_root: B256::ZERO,
            body_root,
        };
        let state_fields = self.state.field_roots();
        let header = BeaconBlockHeader {
            state_root: taiko_beacon::ssz::merkleize(&state_fields, 6),
            ..self.state.latest_block_header
        };
        let root = header.hash_tree_root();
        self.head_root = root;
        self.head_slot = slot;
        self.blocks.insert(slot, BeaconBlock { header, root, state_fields, execution });
        &self.blocks[&slot]
    }

    /// The head state (after the latest block).
    pub fn state(&self) -> &BeaconState {
        &self.state
    }

    /// Records the blobs the L1 block of `slot` carried, as `(blob, commitment, proof)`.
    pub fn set_blobs(&mut self, slot: u64, blobs: Vec<(Vec<u8>, [u8; 48], [u8; 48])>) {
        let Some(block) = self.blocks.get(&slot) else { return };
        let header = SignedHeader {
            message: block.header,
            signature: alloy::hex::encode_prefixed([0u8; 96]),
        };
        let sidecars = blobs
            .into_iter()
            .enumerate()
            .map(|(i, (blob, commitment, proof))| BlobSidecar {
                index: i as u64,
                blob: blob.into(),
                kzg_commitment: commitment.to_vec().into(),
                kzg_proof: proof.to_vec().into(),
                signed_block_header: header.clone(),
                kzg_commitment_inclusion_proof: vec![B256::ZERO; 17],
            })
            .collect();
        self.blobs.insert(slot, sidecars);
    }

    /// The blob sidecars of `slot`'s block (empty if it carried none).
    pub fn blob_sidecars(&self, slot: u64) -> Vec<BlobSidecar> {
        self.blobs.get(&slot).cloned().unwrap_or_default()
    }

    /// The block of `slot`, if one was produced.
    pub fn block(&self, slot: u64) -> Option<&BeaconBlock> {
        self.blocks.get(&slot)
    }

    /// The block with root `root`.
    pub fn block_by_root(&self, root: B256) -> Option<&BeaconBlock> {
        self.blocks.values().find(|b| b.root == root)
    }

    /// The proof that the proposer of `slot`'s block has its pubkey, and the L1 timestamp at
    /// which EIP-4788 returns that block's root (the next L1 block's), once it exists.
    pub fn proposer_proof(&self, slot: u64) -> Option<(ProposerProof, Option<u64>)> {
        let block = self.blocks.get(&slot)?;
        let proof =
            ProposerProof::from_parts(block.header, &self.state.validators, &block.state_fields)
                .ok()?;
        let root_timestamp =
            self.blocks.range(slot + 1..).next().map(|(_, b)| b.execution.timestamp);
        Some((proof, root_timestamp))
    }
}
