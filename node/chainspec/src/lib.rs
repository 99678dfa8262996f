//! Taiko L2 chain specification.
//!
//! A [`ChainSpec`] is everything a node must agree on with its peers before the first block:
//! the chain id, the rules (Prague from genesis), the Taiko base-fee configuration, the
//! addresses of the anchor contract, the treasury and the golden-touch account, the block and
//! tx-list limits, and the genesis state. It loads from a geth-style genesis JSON file whose
//! `config.taiko` object carries the Taiko-specific parts:
//!
//! ```json
//! { "config": { "chainId": 167010, "pragueTime": 0, …,
//!               "taiko": { "baseFeeConfig": { … }, "treasury": "0x…", "maxTxListBytes": 126976 } },
//!   "timestamp": "0x0", "gasLimit": "0xe4e1c00", "alloc": { … } }
//! ```
//!
//! [`ChainSpec::devnet`] builds the embedded devnet chain: deterministic prefunded accounts,
//! the anchor contract predeployed at `0x{chainId}0000…10001` (bytecode from the committed
//! forge artifacts) and the EIP-4788 / EIP-2935 system contracts.

#![warn(missing_docs, unreachable_pub)]

pub mod basefee;
mod devnet;
mod hardforks;

pub use basefee::{BaseFee, BaseFeeConfig, BaseFeeConfigError};
pub use devnet::{DEVNET_CHAIN_ID, devnet_accounts};

use alloy::{
    consensus::{EMPTY_OMMER_ROOT_HASH, Header},
    eips::eip7685::EMPTY_REQUESTS_HASH,
    genesis::Genesis,
    primitives::{Address, B256, Bytes, U256, address, keccak256},
    signers::local::PrivateKeySigner,
    trie::{EMPTY_ROOT_HASH, root::state_root_ref_unhashed},
};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The golden-touch account: the sender of every anchor transaction. Its key is public by
/// design, so that every node can produce the identical anchor transaction.
pub const GOLDEN_TOUCH_ADDRESS: Address = address!("0x0000777735367b36bC9B61C50022d9D0700dB4Ec");

/// The golden-touch private key (public by design, see [`GOLDEN_TOUCH_ADDRESS`]).
pub const GOLDEN_TOUCH_PRIVATE_KEY: B256 =
    alloy::primitives::b256!("0x92954368afd3caa1f3ce3ead0069c1af414054aefe1ef9aeacc1bf426222ce38");

/// Gas limit of the anchor transaction.
pub const ANCHOR_GAS_LIMIT: u64 = 1_000_000;

/// Default cap on a block's compressed tx list: one blob (131,072 bytes) less room for framing.
pub const DEFAULT_MAX_TX_LIST_BYTES: usize = 126_976;

/// Taiko-specific genesis configuration (`config.taiko` in the genesis JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaikoConfig {
    /// Base-fee rule parameters.
    pub base_fee_config: BaseFeeConfig,
    /// Receives the share of base fees not paid to the coinbase.
    pub treasury: Address,
    /// Most bytes a block's zlib-compressed tx list may take.
    #[serde(default = "default_max_tx_list_bytes")]
    pub max_tx_list_bytes: usize,
}

fn default_max_tx_list_bytes() -> usize {
    DEFAULT_MAX_TX_LIST_BYTES
}

/// Why a chain specification could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ChainSpecError {
    /// The genesis file could not be read.
    #[error("reading genesis file {path}: {source}")]
    Io {
        /// File path.
        path: String,
        /// Underlying error.
        source: std::io::Error,
    },
    /// The genesis JSON is malformed.
    #[error("parsing genesis JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// `config.taiko` is missing.
    #[error("genesis config has no `taiko` section")]
    MissingTaikoConfig,
    /// The chain does not run Prague rules from genesis.
    #[error("only chains with every fork through Prague active at genesis are supported")]
    NotPragueFromGenesis,
    /// The base-fee configuration is unusable.
    #[error(transparent)]
    BaseFee(#[from] BaseFeeConfigError),
    /// The anchor contract is not deployed in the genesis allocation.
    #[error("genesis allocation has no code at the anchor address {0}")]
    MissingAnchor(Address),
}

/// The specification of one Taiko L2 chain.
#[derive(Debug, Clone)]
pub struct ChainSpec {
    /// The L2 chain id.
    pub chain_id: u64,
    /// The genesis (allocation, gas limit, timestamp, extra data).
    pub genesis: Genesis,
    /// Taiko parameters.
    pub taiko: TaikoConfig,
    /// Address of the L2 anchor contract, derived from the chain id.
    pub anchor_address: Address,
    genesis_header: Header,
    genesis_hash: B256,
}

impl ChainSpec {
    /// Builds a chain spec from a parsed genesis.
    pub fn from_genesis(genesis: Genesis) -> Result<Self, ChainSpecError> {
        let config = &genesis.config;
        let taiko: TaikoConfig = config
            .extra_fields
            .get_deserialized("taiko")
            .ok_or(ChainSpecError::MissingTaikoConfig)??;
        taiko.base_fee_config.validate()?;
        if config.prague_time != Some(0) || config.cancun_time != Some(0) {
            return Err(ChainSpecError::NotPragueFromGenesis);
        }
        let chain_id = config.chain_id;
        let anchor_address = anchor_address(chain_id);
        if genesis.alloc.get(&anchor_address).and_then(|a| a.code.as_ref()).is_none() {
            return Err(ChainSpecError::MissingAnchor(anchor_address));
        }
        let genesis_header = genesis_header(&genesis, &taiko);
        let genesis_hash = genesis_header.hash_slow();
        Ok(Self { chain_id, genesis, taiko, anchor_address, genesis_header, genesis_hash })
    }

    /// Parses a genesis JSON text.
    pub fn from_json(json: &str) -> Result<Self, ChainSpecError> {
        Self::from_genesis(serde_json::from_str(json)?)
    }

    /// Loads a genesis JSON file.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, ChainSpecError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path)
            .map_err(|source| ChainSpecError::Io { path: path.display().to_string(), source })?;
        Self::from_json(&text)
    }

    /// The embedded devnet chain (chain id [`DEVNET_CHAIN_ID`]).
    pub fn devnet() -> Self {
        Self::from_genesis(devnet::devnet_genesis()).expect("the devnet genesis is valid")
    }

    /// The genesis block header.
    pub fn genesis_header(&self) -> &Header {
        &self.genesis_header
    }

    /// The genesis block hash.
    pub fn genesis_hash(&self) -> B256 {
        self.genesis_hash
    }

    /// The base-fee configuration.
    pub fn base_fee_config(&self) -> &BaseFeeConfig {
        &self.taiko.base_fee_config
    }

    /// The block gas limit (constant, from genesis).
    pub fn block_gas_limit(&self) -> u64 {
        self.genesis.gas_limit
    }

    /// The treasury address.
    pub fn treasury(&self) -> Address {
        self.taiko.treasury
    }

    /// Most bytes a block's compressed tx list may take.
    pub fn max_tx_list_bytes(&self) -> usize {
        self.taiko.max_tx_list_bytes
    }

    /// Taiko's `prevrandao` for a block: `keccak256(abi.encode("TAIKO_DIFFICULTY", number))`.
    pub fn difficulty(number: u64) -> B256 {
        use alloy::sol_types::SolValue;
        keccak256(("TAIKO_DIFFICULTY".to_string(), U256::from(number)).abi_encode_params())
    }
}

/// The anchor contract address of a chain: the decimal chain id read as hex digits, then zeros,
/// ending in `10001` (e.g. `0x1670000000000000000000000000000000010001` for 167000).
pub fn anchor_address(chain_id: u64) -> Address {
    let prefix = chain_id.to_string();
    let hex = format!("{prefix}{}10001", "0".repeat(40 - prefix.len() - 5));
    hex.parse().expect("chain id digits are valid hex")
}

/// The golden-touch signer (for anchor transactions).
pub fn golden_touch_signer() -> PrivateKeySigner {
    PrivateKeySigner::from_bytes(&GOLDEN_TOUCH_PRIVATE_KEY).expect("valid key")
}

fn genesis_header(genesis: &Genesis, taiko: &TaikoConfig) -> Header {
    let state_root = state_root_ref_unhashed(&genesis.alloc);
    let base_fee = taiko.base_fee_config.calculate(0, 0, 0, genesis.timestamp).base_fee;
    Header {
        parent_hash: B256::ZERO,
        ommers_hash: EMPTY_OMMER_ROOT_HASH,
        beneficiary: genesis.coinbase,
        state_root,
        transactions_root: EMPTY_ROOT_HASH,
        receipts_root: EMPTY_ROOT_HASH,
        logs_bloom: Default::default(),
        difficulty: U256::ZERO,
        number: 0,
        gas_limit: genesis.gas_limit,
        gas_used: 0,
        timestamp: genesis.timestamp,
        extra_data: genesis.extra_data.clone(),
        mix_hash: ChainSpec::difficulty(0),
        nonce: Default::default(),
        base_fee_per_gas: Some(base_fee),
        withdrawals_root: Some(EMPTY_ROOT_HASH),
        blob_gas_used: Some(0),
        excess_blob_gas: Some(0),
        parent_beacon_block_root: Some(B256::ZERO),
        requests_hash: Some(EMPTY_REQUESTS_HASH),
        ..Default::default()
    }
}

/// Empty extra data, used by the devnet genesis.
pub const EMPTY_EXTRA_DATA: Bytes = Bytes::new();

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anchor_address_follows_taiko_convention() {
        assert_eq!(anchor_address(167000), address!("0x1670000000000000000000000000000000010001"));
        assert_eq!(anchor_address(167010), address!("0x1670100000000000000000000000000000010001"));
    }

    #[test]
    fn golden_touch_key_matches_address() {
        assert_eq!(golden_touch_signer().address(), GOLDEN_TOUCH_ADDRESS);
    }

    #[test]
    fn devnet_round_trips_through_json() {
        let spec = ChainSpec::devnet();
        let json = serde_json::to_string_pretty(&spec.genesis).unwrap();
        let again = ChainSpec::from_json(&json).unwrap();
        assert_eq!(again.genesis_hash(), spec.genesis_hash());
        assert_eq!(again.taiko, spec.taiko);
        assert_eq!(again.chain_id, DEVNET_CHAIN_ID);
    }

    #[test]
    fn genesis_errors_are_specific() {
        let mut g = ChainSpec::devnet().genesis;
        g.alloc.remove(&anchor_address(DEVNET_CHAIN_ID));
        assert!(matches!(ChainSpec::from_genesis(g), Err(ChainSpecError::MissingAnchor(_))));

        let mut g = ChainSpec::devnet().genesis;
        g.config.extra_fields.remove("taiko");
        assert!(matches!(ChainSpec::from_genesis(g), Err(ChainSpecError::MissingTaikoConfig)));

        let mut g = ChainSpec::devnet().genesis;
        g.config.prague_time = None;
        assert!(matches!(ChainSpec::from_genesis(g), Err(ChainSpecError::NotPragueFromGenesis)));

        assert!(matches!(ChainSpec::from_json("{"), Err(ChainSpecError::Json(_))));
    }

    #[test]
    fn difficulty_is_taiko_formula() {
        // keccak256(abi.encode("TAIKO_DIFFICULTY", 1)): a dynamic string then a word.
        let d = ChainSpec::difficulty(1);
        assert_ne!(d, ChainSpec::difficulty(2));
        assert_ne!(d, B256::ZERO);
    }
}
