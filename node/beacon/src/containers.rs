//! The Electra containers a proposer proof passes through, with their `hash_tree_root`.
//!
//! [`BeaconState`] models the fields a devnet needs (times, slot, fork, latest header,
//! validators, balances, block roots) and uses the SSZ default root of its type for every other
//! field, so the state root has the real shape: 37 fields merkleized at depth 6, `validators` at
//! field 11 (generalized index 75), which is what `LibBeaconProof.sol` assumes.

use alloy::primitives::B256;
use serde::{Deserialize, Serialize};

use crate::ssz::{
    bytes48_root, hash_pair, merkleize, mix_in_length, tree_with_branch, u64_chunk, zero_hash,
};

/// Number of fields of the Electra `BeaconState`.
pub const STATE_FIELDS: usize = 37;
/// Depth of the `BeaconState` field tree.
pub const STATE_DEPTH: usize = 6;
/// Index of `validators` among the state's fields.
pub const VALIDATORS_FIELD: usize = 11;
/// Depth of the validator list (limit 2^40).
pub const VALIDATOR_LIST_DEPTH: usize = 40;
/// `SLOTS_PER_HISTORICAL_ROOT` (length of `block_roots` / `state_roots`).
pub const SLOTS_PER_HISTORICAL_ROOT: usize = 8192;
/// `FAR_FUTURE_EPOCH`.
pub const FAR_FUTURE_EPOCH: u64 = u64::MAX;

/// A beacon block header. Its JSON form is the beacon API's (numbers as decimal strings).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BeaconBlockHeader {
    /// The slot.
    #[serde(with = "crate::api::quoted")]
    pub slot: u64,
    /// Index of the proposing validator.
    #[serde(with = "crate::api::quoted")]
    pub proposer_index: u64,
    /// Root of the parent block.
    pub parent_root: B256,
    /// Root of the post-state.
    pub state_root: B256,
    /// Root of the block body.
    pub body_root: B256,
}

impl BeaconBlockHeader {
    /// `hash_tree_root`: 5 fields at depth 3 (`proposer_index` at generalized index 9,
    /// `state_root` at 11).
    pub fn hash_tree_root(&self) -> B256 {
        merkleize(
            &[
                u64_chunk(self.slot),
                u64_chunk(self.proposer_index),
                self.parent_root,
                self.state_root,
                self.body_root,
            ],
            3,
        )
    }
}

/// A validator record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Validator {
    /// Compressed BLS public key.
    pub pubkey: [u8; 48],
    /// Withdrawal credentials.
    pub withdrawal_credentials: B256,
    /// Effective balance in Gwei.
    pub effective_balance: u64,
    /// Whether slashed.
    pub slashed: bool,
    /// Epoch it became eligible for activation.
    pub activation_eligibility_epoch: u64,
    /// Activation epoch.
    pub activation_epoch: u64,
    /// Exit epoch.
    pub exit_epoch: u64,
    /// Withdrawable epoch.
    pub withdrawable_epoch: u64,
}

impl Validator {
    /// An active genesis validator with 32 ETH.
    pub fn genesis(pubkey: [u8; 48]) -> Self {
        let mut creds = [0u8; 32];
        creds[0] = 0x01;
        Self {
            pubkey,
            withdrawal_credentials: B256::from(creds),
            effective_balance: 32_000_000_000,
            slashed: false,
            activation_eligibility_epoch: 0,
            activation_epoch: 0,
            exit_epoch: FAR_FUTURE_EPOCH,
            withdrawable_epoch: FAR_FUTURE_EPOCH,
        }
    }

    /// The 8 field roots (pubkey first).
    pub fn field_roots(&self) -> [B256; 8] {
        [
            bytes48_root(&self.pubkey),
            self.withdrawal_credentials,
            u64_chunk(self.effective_balance),
            u64_chunk(self.slashed as u64),
            u64_chunk(self.activation_eligibility_epoch),
            u64_chunk(self.activation_epoch),
            u64_chunk(self.exit_epoch),
            u64_chunk(self.withdrawable_epoch),
        ]
    }

    /// `hash_tree_root` (8 fields, depth 3).
    pub fn hash_tree_root(&self) -> B256 {
        merkleize(&self.field_roots(), 3)
    }
}

/// The part of an Electra `BeaconState` a devnet models.
#[derive(Clone, Debug, Default)]
pub struct BeaconState {
    /// Genesis time.
    pub genesis_time: u64,
    /// Root of the genesis validator list.
    pub genesis_validators_root: B256,
    /// Current slot.
    pub slot: u64,
    /// Current fork version.
    pub fork_version: [u8; 4],
    /// The latest block header (with `state_root` zero, as in the spec).
    pub latest_block_header: BeaconBlockHeader,
    /// The block roots of the last `SLOTS_PER_HISTORICAL_ROOT` slots, by `slot % 8192`.
    pub block_roots: Vec<B256>,
    /// The validators.
    pub validators: Vec<Validator>,
}

/// Root of an empty list whose chunk tree has the given depth.
fn empty_list(depth: usize) -> B256 {
    mix_in_length(&zero_hash(depth), 0)
}

impl BeaconState {
    /// The root of the `validators` list.
    pub fn validators_root(&self) -> B256 {
        let leaves: Vec<B256> = self.validators.iter().map(Validator::hash_tree_root).collect();
        mix_in_length(&merkleize(&leaves, VALIDATOR_LIST_DEPTH), self.validators.len() as u64)
    }

    fn balances_root(&self) -> B256 {
        // List[Gwei, 2^40]: four u64 per chunk, 2^38 chunks.
        let chunks: Vec<B256> = self
            .validators
            .chunks(4)
            .map(|vs| {
                let mut c = [0u8; 32];
                for (i, v) in vs.iter().enumerate() {
                    c[i * 8..i * 8 + 8].copy_from_slice(&v.effective_balance.to_le_bytes());
                }
                B256::from(c)
            })
            .collect();
        mix_in_length(&merkleize(&chunks, 38), self.validators.len() as u64)
    }

    fn block_roots_root(&self) -> B256 {
        merkleize(&self.block_roots, 13)
    }

    /// The 37 field roots, in Electra order.
    pub fn field_roots(&self) -> [B256; STATE_FIELDS] {
        let checkpoint = hash_pair(&u64_chunk(0), &B256::ZERO);
        let eth1_data = merkleize(&[B256::ZERO, u64_chunk(0), B256::ZERO], 2);
        let mut fork_version = [0u8; 32];
        fork_version[..4].copy_from_slice(&self.fork_version);
        let fork =
            merkleize(&[B256::from(fork_version), B256::from(fork_version), u64_chunk(0)], 2);
        let sync_committee = hash_pair(&zero_hash(10), &zero_hash(1));
        // ExecutionPayloadHeader (17 fields): logs_bloom is 8 chunks, extra_data an empty
        // ByteList[32]; everything else a zero chunk.
        let mut payload_header = [B256::ZERO; 17];
        payload_header[5] = zero_hash(3);
        payload_header[10] = mix_in_length(&B256::ZERO, 0);
        let payload_header = merkleize(&payload_header, 5);
        [
            u64_chunk(self.genesis_time),
            self.genesis_validators_root,
            u64_chunk(self.slot),
            fork,
            self.latest_block_header.hash_tree_root(),
            self.block_roots_root(),
            zero_hash(13),  // state_roots
            empty_list(24), // historical_roots
            eth1_data,
            empty_list(11), // eth1_data_votes
            u64_chunk(0),   // eth1_deposit_index
            self.validators_root(),
            self.balances_root(),
            zero_hash(16),  // randao_mixes
            zero_hash(11),  // slashings
            empty_list(35), // previous_epoch_participation
            empty_list(35), // current_epoch_participation
            B256::ZERO,     // justification_bits
            checkpoint,
            checkpoint,
            checkpoint,
            empty_list(38), // inactivity_scores
            sync_committee,
            sync_committee,
            payload_header,
            u64_chunk(0),        // next_withdrawal_index
            u64_chunk(0),        // next_withdrawal_validator_index
            empty_list(24),      // historical_summaries
            u64_chunk(u64::MAX), // deposit_requests_start_index (UNSET)
            u64_chunk(0),
            u64_chunk(0),
            u64_chunk(0),
            u64_chunk(0),
            u64_chunk(0),
            empty_list(27), // pending_deposits
            empty_list(27), // pending_partial_withdrawals
            empty_list(18), // pending_consolidations
        ]
    }

    /// `hash_tree_root` of the state.
    pub fn hash_tree_root(&self) -> B256 {
        merkleize(&self.field_roots(), STATE_DEPTH)
    }

    /// The branch from validator `index`'s pubkey leaf to the state root: 3 + 40 + 1 + 6
    /// siblings (see `LibBeaconProof.sol`).
    pub fn pubkey_branch(&self, index: usize) -> Vec<B256> {
        pubkey_branch(&self.validators, &self.field_roots(), index)
    }
}

/// The pubkey branch of validator `index` for a state with these validators and field roots
/// (a simulator keeps the field roots of each block's state rather than whole states).
pub fn pubkey_branch(
    validators: &[Validator],
    field_roots: &[B256; STATE_FIELDS],
    index: usize,
) -> Vec<B256> {
    let (_, mut branch) = tree_with_branch(&validators[index].field_roots(), 3, Some(0));
    let leaves: Vec<B256> = validators.iter().map(Validator::hash_tree_root).collect();
    let (_, list_branch) = tree_with_branch(&leaves, VALIDATOR_LIST_DEPTH, Some(index));
    branch.extend(list_branch);
    branch.push(u64_chunk(validators.len() as u64));
    let (_, state_branch) = tree_with_branch(field_roots, STATE_DEPTH, Some(VALIDATORS_FIELD));
    branch.extend(state_branch);
    branch
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_root_matches_a_hand_merkleization() {
        let h = BeaconBlockHeader {
            slot: 7,
            proposer_index: 3,
            parent_root: B256::repeat_byte(1),
            state_root: B256::repeat_byte(2),
            body_root: B256::repeat_byte(3),
        };
        let a = hash_pair(&u64_chunk(7), &u64_chunk(3));
        let b = hash_pair(&B256::repeat_byte(1), &B256::repeat_byte(2));
        let c = hash_pair(&B256::repeat_byte(3), &B256::ZERO);
        let root = hash_pair(&hash_pair(&a, &b), &hash_pair(&c, &zero_hash(1)));
        assert_eq!(h.hash_tree_root(), root);
    }

    #[test]
    fn default_header_root_is_zero_tree() {
        assert_eq!(BeaconBlockHeader::default().hash_tree_root(), zero_hash(3));
    }
}
