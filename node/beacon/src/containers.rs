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
/// Size of the fixed part of an Electra `BeaconState` (mainnet preset).
pub const STATE_FIXED_SIZE: usize = 2_736_713;
/// Size of the fixed part of an `ExecutionPayloadHeader` (Deneb/Electra).
const PAYLOAD_HEADER_FIXED: usize = 584;
/// Where the `extra_data` offset sits in an `ExecutionPayloadHeader`.
const EXTRA_DATA_OFFSET_AT: usize = 436;
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
        // ExecutionPayloadHeader (17 fields): logs_bloom (field 4) is 8 chunks, extra_data
        // (field 10) an empty ByteList[32]; everything else a zero chunk.
        let mut payload_header = [B256::ZERO; 17];
        payload_header[4] = zero_hash(3);
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

    /// The SSZ encoding of the state (Electra, mainnet preset sizes), consistent with
    /// [`Self::hash_tree_root`]: the modelled fields carry their values, the others their
    /// defaults (empty lists, zero vectors).
    pub fn to_ssz(&self) -> Vec<u8> {
        let n = self.validators.len();
        // variable-size fields, in order: historical_roots, eth1_data_votes, validators,
        // balances, previous/current participation, inactivity_scores, payload header,
        // historical_summaries, pending deposits / partial withdrawals / consolidations
        let mut validators = Vec::with_capacity(n * 121);
        for v in &self.validators {
            validators.extend_from_slice(&v.pubkey);
            validators.extend_from_slice(v.withdrawal_credentials.as_slice());
            validators.extend_from_slice(&v.effective_balance.to_le_bytes());
            validators.push(v.slashed as u8);
            for e in [
                v.activation_eligibility_epoch,
                v.activation_epoch,
                v.exit_epoch,
                v.withdrawable_epoch,
            ] {
                validators.extend_from_slice(&e.to_le_bytes());
            }
        }
        let balances: Vec<u8> =
            self.validators.iter().flat_map(|v| v.effective_balance.to_le_bytes()).collect();
        let mut payload_header = vec![0u8; PAYLOAD_HEADER_FIXED];
        payload_header[EXTRA_DATA_OFFSET_AT..EXTRA_DATA_OFFSET_AT + 4]
            .copy_from_slice(&(PAYLOAD_HEADER_FIXED as u32).to_le_bytes());
        let variable: [Vec<u8>; 12] = [
            vec![],
            vec![],
            validators,
            balances,
            vec![],
            vec![],
            vec![],
            payload_header,
            vec![],
            vec![],
            vec![],
            vec![],
        ];

        let mut fixed = Vec::with_capacity(STATE_FIXED_SIZE);
        let mut offsets_at = Vec::with_capacity(12);
        let mut offset = |fixed: &mut Vec<u8>| {
            offsets_at.push(fixed.len());
            fixed.extend_from_slice(&[0u8; 4]);
        };
        let mut fork = [0u8; 16];
        fork[..4].copy_from_slice(&self.fork_version);
        fork[4..8].copy_from_slice(&self.fork_version);
        let h = &self.latest_block_header;
        fixed.extend_from_slice(&self.genesis_time.to_le_bytes());
        fixed.extend_from_slice(self.genesis_validators_root.as_slice());
        fixed.extend_from_slice(&self.slot.to_le_bytes());
        fixed.extend_from_slice(&fork);
        fixed.extend_from_slice(&h.slot.to_le_bytes());
        fixed.extend_from_slice(&h.proposer_index.to_le_bytes());
        fixed.extend_from_slice(h.parent_root.as_slice());
        fixed.extend_from_slice(h.state_root.as_slice());
        fixed.extend_from_slice(h.body_root.as_slice());
        for i in 0..SLOTS_PER_HISTORICAL_ROOT {
            let r = self.block_roots.get(i).copied().unwrap_or_default();
            fixed.extend_from_slice(r.as_slice());
        }
        fixed.resize(fixed.len() + SLOTS_PER_HISTORICAL_ROOT * 32, 0); // state_roots
        offset(&mut fixed); // historical_roots
        fixed.resize(fixed.len() + 72, 0); // eth1_data
        offset(&mut fixed); // eth1_data_votes
        fixed.extend_from_slice(&0u64.to_le_bytes()); // eth1_deposit_index
        offset(&mut fixed); // validators
        offset(&mut fixed); // balances
        fixed.resize(fixed.len() + 65536 * 32, 0); // randao_mixes
        fixed.resize(fixed.len() + 8192 * 8, 0); // slashings
        offset(&mut fixed); // previous_epoch_participation
        offset(&mut fixed); // current_epoch_participation
        fixed.push(0); // justification_bits
        fixed.resize(fixed.len() + 3 * 40, 0); // checkpoints
        offset(&mut fixed); // inactivity_scores
        fixed.resize(fixed.len() + 2 * (512 * 48 + 48), 0); // sync committees
        offset(&mut fixed); // latest_execution_payload_header
        fixed.resize(fixed.len() + 16, 0); // next withdrawal index / validator index
        offset(&mut fixed); // historical_summaries
        fixed.extend_from_slice(&u64::MAX.to_le_bytes()); // deposit_requests_start_index
        fixed.resize(fixed.len() + 5 * 8, 0); // balances to consume, exit / consolidation epochs
        offset(&mut fixed); // pending_deposits
        offset(&mut fixed); // pending_partial_withdrawals
        offset(&mut fixed); // pending_consolidations
        debug_assert_eq!(fixed.len(), STATE_FIXED_SIZE);

        let mut at = fixed.len();
        for (pos, part) in offsets_at.iter().zip(&variable) {
            fixed[*pos..*pos + 4].copy_from_slice(&(at as u32).to_le_bytes());
            at += part.len();
        }
        for part in variable {
            fixed.extend_from_slice(&part);
        }
        fixed
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
    fn ssz_encoding_matches_the_roots() {
        let st = BeaconState {
            genesis_time: 1234,
            slot: 77,
            validators: (0..5u8).map(|i| Validator::genesis([i + 1; 48])).collect(),
            block_roots: vec![B256::repeat_byte(4); SLOTS_PER_HISTORICAL_ROOT],
            ..Default::default()
        };
        let ssz = st.to_ssz();
        assert_eq!(ssz.len(), STATE_FIXED_SIZE + 5 * 121 + 5 * 8 + 584);
        let u64_at = |at: usize| u64::from_le_bytes(ssz[at..at + 8].try_into().unwrap());
        let u32_at = |at: usize| u32::from_le_bytes(ssz[at..at + 4].try_into().unwrap()) as usize;
        assert_eq!(u64_at(0), 1234, "genesis_time");
        assert_eq!(u64_at(40), 77, "slot");
        // validators: its offset follows eth1_deposit_index
        let validators_offset_at = 8 + 32 + 8 + 16 + 112 + 2 * 8192 * 32 + 4 + 72 + 4 + 8;
        let v_start = u32_at(validators_offset_at);
        let b_start = u32_at(validators_offset_at + 4);
        assert_eq!(v_start, STATE_FIXED_SIZE, "validators come first after empty lists");
        assert_eq!(b_start - v_start, 5 * 121);
        // decode the validators back and re-derive the validators root from the bytes
        let decoded: Vec<Validator> = ssz[v_start..b_start]
            .chunks(121)
            .map(|c| Validator {
                pubkey: c[..48].try_into().unwrap(),
                withdrawal_credentials: B256::from_slice(&c[48..80]),
                effective_balance: u64::from_le_bytes(c[80..88].try_into().unwrap()),
                slashed: c[88] == 1,
                activation_eligibility_epoch: u64::from_le_bytes(c[89..97].try_into().unwrap()),
                activation_epoch: u64::from_le_bytes(c[97..105].try_into().unwrap()),
                exit_epoch: u64::from_le_bytes(c[105..113].try_into().unwrap()),
                withdrawable_epoch: u64::from_le_bytes(c[113..121].try_into().unwrap()),
            })
            .collect();
        assert_eq!(decoded, st.validators);
        // the payload header is last: its extra_data offset points at its end
        let ph = ssz.len() - 584;
        assert_eq!(u32_at(ph + EXTRA_DATA_OFFSET_AT), 584);
    }

    #[test]
    fn default_header_root_is_zero_tree() {
        assert_eq!(BeaconBlockHeader::default().hash_tree_root(), zero_hash(3));
    }
}
