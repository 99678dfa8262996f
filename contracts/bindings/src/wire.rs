//! Byte formats shared by the node and the L1 contracts.
//!
//! Each function here mirrors one piece of Solidity exactly; `devnet/tests/cross_language.rs` deploys
//! the contracts on anvil and checks that what Rust produces is what Solidity accepts:
//! - [`validator_op_message`]: the bytes a validator signs with its BLS key to map itself onto a
//!   preconfer (`PreconfRegistry.validatorOpMessage`), signed under [`BLS_DST`];
//! - [`Preconfirmation`] under [`preconf_domain`]: the EIP-712 commitment a preconfer signs for
//!   each L2 block (`PreconfTaskManager.hashPreconfirmation`);
//! - [`block_digest`]: the L1-visible chain digest (`LibBatch.digest`) a commitment names as its
//!   parent;
//! - [`validator_key_hash`]: how the registry keys a BLS public key.

use alloy::{
    primitives::{Address, B256, U256, keccak256},
    sol_types::{Eip712Domain, SolStruct, SolValue, eip712_domain},
};

pub use crate::PreconfTaskManager::Preconfirmation;

/// Ethereum's proof-of-possession BLS ciphersuite, under which validator operations are signed.
pub const BLS_DST: &[u8] = b"BLS_SIG_BLS12381G2_XMD:SHA-256_SSWU_RO_POP_";

/// The domain tag hashed into every validator-operation message.
pub const VALIDATOR_OP_DOMAIN_TAG: &[u8] = b"taiko-preconf/registry/validator-op/v1";

/// What a validator signature authorises (numbered as in the contract).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum ValidatorOp {
    /// End the key's mapping.
    Remove = 0,
    /// Map the key onto a preconfer.
    Add = 1,
}

/// The exact bytes a validator signs to authorise `op`: `abi.encode(keccak256(tag), l1ChainId,
/// registry, op, preconfer, expiry, nonce)`.
pub fn validator_op_message(
    l1_chain_id: u64,
    registry: Address,
    op: ValidatorOp,
    preconfer: Address,
    expiry: u64,
    nonce: u64,
) -> Vec<u8> {
    (
        keccak256(VALIDATOR_OP_DOMAIN_TAG),
        U256::from(l1_chain_id),
        registry,
        U256::from(op as u8),
        preconfer,
        expiry,
        nonce,
    )
        .abi_encode()
}

/// The registry's key hash of a compressed (48-byte) BLS public key:
/// `keccak256(16 zero bytes ‖ pubkey)`.
pub fn validator_key_hash(compressed_pubkey: &[u8; 48]) -> B256 {
    let mut buf = [0u8; 64];
    buf[16..].copy_from_slice(compressed_pubkey);
    keccak256(buf)
}

/// The EIP-712 domain of preconfirmations: bound to the L1 chain and the task manager.
pub fn preconf_domain(l1_chain_id: u64, task_manager: Address) -> Eip712Domain {
    eip712_domain! {
        name: "TaikoPreconf",
        version: "1",
        chain_id: l1_chain_id,
        verifying_contract: task_manager,
    }
}

/// The digest a preconfer signs for `commitment`.
pub fn preconf_signing_hash(commitment: &Preconfirmation, domain: &Eip712Domain) -> B256 {
    commitment.eip712_signing_hash(domain)
}

/// The digest of L2 block `block_id` (`LibBatch.digest`): chains the parent's digest with what
/// L1 knows about the block.
pub fn block_digest(
    parent_digest: B256,
    block_id: u64,
    tx_list_hash: B256,
    timestamp: u64,
    anchor_block_id: u64,
    coinbase: Address,
) -> B256 {
    keccak256(
        (parent_digest, block_id, tx_list_hash, timestamp, anchor_block_id, coinbase).abi_encode(),
    )
}
