//! Beacon-chain facts a preconfer needs, shared by the node and the devnet's beacon simulator.
//!
//! A preconfirmation lookahead names, for each slot, the L1 validator that proposes it; the
//! lookahead dispute proves such a claim wrong on L1 with an SSZ Merkle proof against the
//! EIP-4788 beacon block root. This crate holds what both sides of that need:
//!
//! - [`clock`]: [`clock::SlotClock`], slots and epochs from the beacon genesis;
//! - [`ssz`]: SHA-256 merkleization (`hash_tree_root`), zero hashes, proofs over sparse trees;
//! - [`containers`]: the Electra containers involved — [`BeaconBlockHeader`], [`Validator`] and
//!   the [`BeaconState`] field layout (37 fields, `validators` at generalized index 75), with
//!   default roots for the fields the simulator does not model;
//! - [`proof`]: [`ProposerProof`], "the proposer of this block has this pubkey", built from a
//!   state and checked exactly as `LibBeaconProof.sol` checks it on chain;
//! - [`api`]: the JSON types of the beacon API subset a preconfer uses (genesis, spec,
//!   proposer duties, headers, validators), numbers as decimal strings as the API has them.
//!
//! The same bytes are accepted in Solidity: `devnet`'s tests verify proofs built here in the
//! contract on anvil against roots the simulator wrote into the EIP-4788 contract.

#![warn(missing_docs, unreachable_pub)]

pub mod api;
pub mod clock;
pub mod containers;
pub mod proof;
pub mod ssz;

pub use containers::{BeaconBlockHeader, BeaconState, Validator};
pub use proof::{ProofError, ProposerProof};
