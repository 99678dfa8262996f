//! The embedded devnet chain.

use crate::{BaseFeeConfig, DEFAULT_MAX_TX_LIST_BYTES, TaikoConfig, anchor_address};
use alloy::{
    eips::{eip2935, eip4788},
    genesis::{ChainConfig, Genesis, GenesisAccount},
    primitives::{Address, B256, U256, keccak256},
    signers::local::PrivateKeySigner,
};
use std::collections::BTreeMap;

/// Chain id of the embedded devnet.
pub const DEVNET_CHAIN_ID: u64 = 167_010;

/// Number of prefunded devnet accounts.
const DEVNET_ACCOUNTS: usize = 20;

/// Devnet block gas limit: 240M, Taiko's per-block cap.
const DEVNET_GAS_LIMIT: u64 = 240_000_000;

/// The deterministic devnet accounts: key `i` is `keccak256("taiko-preconf/devnet/account/{i}")`.
/// Each holds 1,000,000 ETH at genesis.
pub fn devnet_accounts() -> Vec<PrivateKeySigner> {
    (0..DEVNET_ACCOUNTS)
        .map(|i| {
            let key = keccak256(format!("taiko-preconf/devnet/account/{i}"));
            PrivateKeySigner::from_bytes(&key).expect("keccak output is a valid key")
        })
        .collect()
}

/// Treasury of a chain: the chain id's digits followed by zeros.
fn treasury_address(chain_id: u64) -> Address {
    let prefix = chain_id.to_string();
    format!("{prefix}{}", "0".repeat(40 - prefix.len())).parse().expect("valid hex")
}

pub(crate) fn devnet_genesis() -> Genesis {
    let chain_id = DEVNET_CHAIN_ID;
    let mut alloc: BTreeMap<Address, GenesisAccount> = BTreeMap::new();
    let funds = U256::from(1_000_000u64) * U256::from(10u64).pow(U256::from(18u64));
    for signer in devnet_accounts() {
        alloc.insert(signer.address(), GenesisAccount::default().with_balance(funds));
    }
    alloc.insert(
        anchor_address(chain_id),
        GenesisAccount::default()
            .with_code(Some(taiko_contracts::TaikoAnchor::DEPLOYED_BYTECODE.clone())),
    );
    alloc.insert(
        eip4788::BEACON_ROOTS_ADDRESS,
        GenesisAccount::default()
            .with_nonce(Some(1))
            .with_code(Some(eip4788::BEACON_ROOTS_CODE.clone())),
    );
    alloc.insert(
        eip2935::HISTORY_STORAGE_ADDRESS,
        GenesisAccount::default()
            .with_nonce(Some(1))
            .with_code(Some(eip2935::HISTORY_STORAGE_CODE.clone())),
    );

    let taiko = TaikoConfig {
        base_fee_config: BaseFeeConfig::default(),
        treasury: treasury_address(chain_id),
        max_tx_list_bytes: DEFAULT_MAX_TX_LIST_BYTES,
    };
    let mut config = ChainConfig {
        chain_id,
        homestead_block: Some(0),
        eip150_block: Some(0),
        eip155_block: Some(0),
        eip158_block: Some(0),
        byzantium_block: Some(0),
        constantinople_block: Some(0),
        petersburg_block: Some(0),
        istanbul_block: Some(0),
        berlin_block: Some(0),
        london_block: Some(0),
        merge_netsplit_block: Some(0),
        terminal_total_difficulty: Some(U256::ZERO),
        terminal_total_difficulty_passed: true,
        shanghai_time: Some(0),
        cancun_time: Some(0),
        prague_time: Some(0),
        ..Default::default()
    };
    config.extra_fields.insert_value("taiko".to_string(), taiko).expect("taiko config serializes");

    Genesis {
        config,
        nonce: 0,
        timestamp: 0,
        extra_data: Default::default(),
        gas_limit: DEVNET_GAS_LIMIT,
        difficulty: U256::ZERO,
        mix_hash: B256::ZERO,
        coinbase: Address::ZERO,
        alloc,
        ..Default::default()
    }
}
