//! The L1: anvil from the project's npm tools, Prague rules, on a free loopback port, with the
//! EIP-4788 beacon roots contract installed (anvil does not predeploy it) so that the beacon
//! simulator's roots can be read on chain exactly as on mainnet.

use std::process::Command;

use alloy::primitives::{Address, address};

use crate::{
    DevnetError,
    l1::L1Client,
    process::{ChildGuard, free_port, tool},
};

/// The EIP-4788 beacon roots contract address.
pub const BEACON_ROOTS: Address = address!("000F3df6D732807Ef1319fB7B8bB8522d0Beac02");

/// Runtime code of the EIP-4788 contract: `get(timestamp)` returns the root stored for that
/// timestamp (ring buffer of 8191, timestamps at `ts % 8191`, roots 8191 slots further) and
/// reverts on an unknown or zero timestamp; the system address writes.
pub const BEACON_ROOTS_CODE: &str = "3373fffffffffffffffffffffffffffffffffffffffe14604d57602036146024575f5ffd5b5f35801560495762001fff810690815414603c575f5ffd5b62001fff01545f5260205ff35b5f5ffd5b62001fff42064281555f359062001fff015500";

/// The ring-buffer length of the EIP-4788 contract.
pub const HISTORY_BUFFER_LENGTH: u64 = 8191;

/// A running anvil.
#[derive(Debug)]
pub struct Anvil {
    guard: ChildGuard,
    /// Its HTTP endpoint.
    pub url: String,
    /// Its port.
    pub port: u16,
}

impl Anvil {
    /// Starts anvil with automine on (setup transactions mine at once) and a genesis block at
    /// `genesis_timestamp`; the slot driver turns automine off when it takes over.
    pub async fn start(
        genesis_timestamp: u64,
        chain_id: u64,
    ) -> Result<(Self, L1Client), DevnetError> {
        let port = free_port()?;
        let mut cmd = Command::new(tool("anvil")?);
        cmd.args([
            "--hardfork",
            "prague",
            "--host",
            "127.0.0.1",
            "--port",
            &port.to_string(),
            "--timestamp",
            &genesis_timestamp.to_string(),
            "--chain-id",
            &chain_id.to_string(),
            "--order",
            "fifo",
            "--gas-limit",
            "36000000",
        ]);
        let guard = ChildGuard::spawn("anvil", cmd)?;
        let url = format!("http://127.0.0.1:{port}");
        let client = L1Client::connect(&url).await?;
        client.set_code(BEACON_ROOTS, &alloy::hex::decode(BEACON_ROOTS_CODE).expect("hex")).await?;
        Ok((Self { guard, url, port }, client))
    }

    /// The process id (for tests that check nothing is left behind).
    pub fn pid(&self) -> u32 {
        self.guard.pid()
    }
}
