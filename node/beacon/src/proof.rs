//! Proposer proofs: "the proposer of this beacon block has this pubkey", checked against the
//! block root the EIP-4788 contract holds — the Rust twin of `LibBeaconProof.sol`.

use alloy::primitives::{B256, keccak256};
use serde::{Deserialize, Serialize};

use crate::{
    containers::{
        BeaconBlockHeader, BeaconState, STATE_DEPTH, VALIDATOR_LIST_DEPTH, VALIDATORS_FIELD,
    },
    ssz::{bytes48_root, root_from_branch},
};

/// Siblings from the pubkey leaf to the state root.
pub const BRANCH_LENGTH: usize = 3 + VALIDATOR_LIST_DEPTH + 1 + STATE_DEPTH;

/// Why a proof does not hold.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ProofError {
    /// The branch has the wrong number of siblings.
    #[error("branch has {0} siblings, expected {BRANCH_LENGTH}")]
    BranchLength(usize),
    /// The header does not hash to the beacon root.
    #[error("header root {found} is not the beacon root {expected}")]
    HeaderRoot {
        /// The root the header hashes to.
        found: B256,
        /// The beacon root it was checked against.
        expected: B256,
    },
    /// The branch does not lead from the pubkey to the state root.
    #[error("the branch does not lead to the header's state root")]
    Branch,
    /// The validator index is not in the state.
    #[error("no validator {0} in the state")]
    NoSuchValidator(u64),
}

/// A proof that `header.proposer_index` has `pubkey`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProposerProof {
    /// The proposed block's header.
    pub header: BeaconBlockHeader,
    /// The proposer's compressed pubkey.
    #[serde(with = "alloy::hex::serde")]
    pub pubkey: Vec<u8>,
    /// Siblings from the pubkey leaf to `header.state_root`.
    pub branch: Vec<B256>,
}

/// Generalized index of validator `index`'s pubkey leaf below the state root.
pub fn pubkey_gindex(index: u64) -> u128 {
    let validators = (1u128 << STATE_DEPTH) + VALIDATORS_FIELD as u128;
    (((validators * 2) << VALIDATOR_LIST_DEPTH) + index as u128) << 3
}

impl ProposerProof {
    /// Builds the proof for a block whose post-state is `state` (its `state_root` must be the
    /// header's).
    pub fn build(header: BeaconBlockHeader, state: &BeaconState) -> Result<Self, ProofError> {
        let index = header.proposer_index;
        let v = state.validators.get(index as usize).ok_or(ProofError::NoSuchValidator(index))?;
        Ok(Self { header, pubkey: v.pubkey.to_vec(), branch: state.pubkey_branch(index as usize) })
    }

    /// Builds the proof from the validators and the state's field roots.
    pub fn from_parts(
        header: BeaconBlockHeader,
        validators: &[crate::Validator],
        field_roots: &[B256; crate::containers::STATE_FIELDS],
    ) -> Result<Self, ProofError> {
        let index = header.proposer_index;
        let v = validators.get(index as usize).ok_or(ProofError::NoSuchValidator(index))?;
        Ok(Self {
            header,
            pubkey: v.pubkey.to_vec(),
            branch: crate::containers::pubkey_branch(validators, field_roots, index as usize),
        })
    }

    /// Checks the proof against a beacon block root; returns the registry's key hash of the
    /// proposer (`keccak256(16 zero bytes ‖ pubkey)`).
    pub fn verify(&self, beacon_root: B256) -> Result<B256, ProofError> {
        if self.branch.len() != BRANCH_LENGTH {
            return Err(ProofError::BranchLength(self.branch.len()));
        }
        let found = self.header.hash_tree_root();
        if found != beacon_root {
            return Err(ProofError::HeaderRoot { found, expected: beacon_root });
        }
        let pubkey: [u8; 48] = self.pubkey.as_slice().try_into().map_err(|_| ProofError::Branch)?;
        let root = root_from_branch(
            bytes48_root(&pubkey),
            &self.branch,
            pubkey_gindex(self.header.proposer_index),
        );
        if root != self.header.state_root {
            return Err(ProofError::Branch);
        }
        let mut buf = [0u8; 64];
        buf[16..].copy_from_slice(&pubkey);
        Ok(keccak256(buf))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::containers::Validator;

    fn state(n: usize) -> BeaconState {
        BeaconState {
            genesis_time: 100,
            slot: 5,
            validators: (0..n).map(|i| Validator::genesis([i as u8 + 1; 48])).collect(),
            block_roots: vec![B256::repeat_byte(9); 3],
            ..Default::default()
        }
    }

    #[test]
    fn proofs_verify_for_every_validator_and_fail_when_tampered() {
        let st = state(7);
        let state_root = st.hash_tree_root();
        for i in 0..7u64 {
            let header = BeaconBlockHeader {
                slot: 5,
                proposer_index: i,
                parent_root: B256::repeat_byte(1),
                state_root,
                body_root: B256::repeat_byte(2),
            };
            let p = ProposerProof::build(header, &st).unwrap();
            let root = header.hash_tree_root();
            assert!(p.verify(root).is_ok(), "validator {i}");
            let mut bad = p.clone();
            bad.pubkey[0] ^= 1;
            assert_eq!(bad.verify(root), Err(ProofError::Branch));
            let mut bad = p.clone();
            bad.header.proposer_index = (i + 1) % 7;
            assert!(bad.verify(bad.header.hash_tree_root()).is_err(), "another index");
            let mut bad = p.clone();
            bad.branch[45] = B256::ZERO;
            assert_eq!(bad.verify(root), Err(ProofError::Branch));
            assert!(matches!(p.verify(B256::ZERO), Err(ProofError::HeaderRoot { .. })));
        }
    }

    #[test]
    fn the_state_has_the_electra_shape() {
        let st = state(3);
        let fields = st.field_roots();
        assert_eq!(fields.len(), 37);
        // validators sits at generalized index 75 of the state tree
        let (_, branch) =
            crate::ssz::tree_with_branch(&fields, STATE_DEPTH, Some(VALIDATORS_FIELD));
        assert_eq!(crate::ssz::root_from_branch(fields[11], &branch, 75), st.hash_tree_root());
    }
}
