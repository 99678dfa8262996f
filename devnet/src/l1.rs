//! The devnet's L1 client: [`taiko_l1::L1Client`] plus the anvil methods the slot driver and the
//! simulators use.

use std::ops::Deref;

use alloy::primitives::{Address, B256, Bytes, U256};
use jsonrpsee::{core::params::ArrayParams, rpc_params};
use serde::de::DeserializeOwned;
use serde_json::Value;

pub use taiko_l1::L1Block;

use crate::DevnetError;

/// The L1 client with anvil's extra methods.
#[derive(Clone, Debug)]
pub struct L1Client(taiko_l1::L1Client);

impl Deref for L1Client {
    type Target = taiko_l1::L1Client;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl L1Client {
    /// Connects, waiting up to 10 s for the endpoint to answer.
    pub async fn connect(url: &str) -> Result<Self, DevnetError> {
        Ok(Self(taiko_l1::L1Client::connect(url).await?))
    }

    /// A raw request.
    pub async fn request<T: DeserializeOwned>(
        &self,
        method: &'static str,
        params: ArrayParams,
    ) -> Result<T, DevnetError> {
        Ok(self.0.request(method, params).await?)
    }

    /// Mines one block with the given timestamp (anvil).
    pub async fn mine_at(&self, timestamp: u64) -> Result<(), DevnetError> {
        let _: Value = self
            .request("evm_mine", rpc_params![serde_json::json!({ "timestamp": timestamp })])
            .await?;
        Ok(())
    }

    /// Turns anvil's automine on or off.
    pub async fn set_automine(&self, on: bool) -> Result<(), DevnetError> {
        let _: Value = self.request("evm_setAutomine", rpc_params![on]).await?;
        Ok(())
    }

    /// Writes a storage slot (anvil).
    pub async fn set_storage(
        &self,
        who: Address,
        slot: U256,
        value: B256,
    ) -> Result<(), DevnetError> {
        let _: Value =
            self.request("anvil_setStorageAt", rpc_params![who, B256::from(slot), value]).await?;
        Ok(())
    }

    /// Sets an account's code (anvil).
    pub async fn set_code(&self, who: Address, code: &[u8]) -> Result<(), DevnetError> {
        let _: Value =
            self.request("anvil_setCode", rpc_params![who, Bytes::copy_from_slice(code)]).await?;
        Ok(())
    }

    /// Sets an account's balance (anvil).
    pub async fn set_balance(&self, who: Address, wei: U256) -> Result<(), DevnetError> {
        let _: Value = self.request("anvil_setBalance", rpc_params![who, wei]).await?;
        Ok(())
    }

    /// Hashes of the transactions waiting in anvil's pool.
    pub async fn pending_hashes(&self) -> Result<Vec<B256>, DevnetError> {
        let content: Value = self.request("txpool_content", rpc_params![]).await?;
        let mut out = Vec::new();
        if let Some(pending) = content["pending"].as_object() {
            for by_nonce in pending.values() {
                let mut txs: Vec<(u64, B256)> = by_nonce
                    .as_object()
                    .into_iter()
                    .flat_map(|m| m.iter())
                    .filter_map(|(n, tx)| {
                        Some((n.parse().ok()?, serde_json::from_value(tx["hash"].clone()).ok()?))
                    })
                    .collect();
                txs.sort();
                out.extend(txs.into_iter().map(|(_, h)| h));
            }
        }
        Ok(out)
    }

    /// Drops a pending transaction (anvil).
    pub async fn drop_transaction(&self, hash: B256) -> Result<(), DevnetError> {
        let _: Value = self.request("anvil_dropTransaction", rpc_params![hash]).await?;
        Ok(())
    }
}
