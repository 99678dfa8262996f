//! A JSON-RPC client of an L1 execution node: reads, typed calls, signed transactions, receipts.
//!
//! The client holds one or more endpoints (`connect("http://a,http://b")`). Requests go to the
//! active one; when it cannot be reached (transport error, timeout — not an error *answer*, which
//! any endpoint would give alike) the request is retried on the next, which becomes active. An
//! endpoint that answers for another chain is refused at connect time.

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use alloy::{
    consensus::{SignableTransaction, TxEip1559, TxEnvelope},
    eips::eip2718::Encodable2718,
    primitives::{Address, B256, Bytes, TxKind, U256},
    signers::{SignerSync, local::PrivateKeySigner},
    sol_types::SolCall,
};
use jsonrpsee::{
    core::{client::ClientT, params::ArrayParams},
    http_client::{HttpClient, HttpClientBuilder},
    rpc_params,
};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::L1Error;

/// An L1 block as the driver needs it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct L1Block {
    /// Number.
    pub number: u64,
    /// Timestamp.
    pub timestamp: u64,
    /// Hash.
    pub hash: B256,
    /// State root.
    pub state_root: B256,
}

/// JSON-RPC client of the L1, with failover across its endpoints.
#[derive(Clone, Debug)]
pub struct L1Client {
    endpoints: Arc<Endpoints>,
    chain_id: u64,
}

#[derive(Debug)]
struct Endpoints {
    urls: Vec<String>,
    clients: Vec<HttpClient>,
    /// Index of the endpoint requests go to first.
    active: AtomicUsize,
}

/// Whether `e` means the endpoint could not be reached or did not answer in time (so another
/// endpoint may do better), rather than an answer.
fn unreachable(e: &jsonrpsee::core::ClientError) -> bool {
    use jsonrpsee::core::ClientError as E;
    !matches!(e, E::Call(_) | E::ParseError(_))
}

/// A JSON-RPC quantity (`"0x1a"`) as a number; 0 when absent or malformed.
pub fn hex_u64(v: &Value) -> u64 {
    v.as_str().and_then(|s| u64::from_str_radix(s.trim_start_matches("0x"), 16).ok()).unwrap_or(0)
}

impl L1Client {
    /// Connects to `urls` (one URL, or several separated by commas, tried in that order),
    /// waiting up to 10 s for one of them to answer. Every endpoint that answers must be on the
    /// same chain; those that do not answer yet are kept for failover.
    pub async fn connect(urls: &str) -> Result<Self, L1Error> {
        let urls: Vec<String> =
            urls.split(',').map(str::trim).filter(|u| !u.is_empty()).map(String::from).collect();
        if urls.is_empty() {
            return Err(L1Error::Rpc { method: "connect", message: "no L1 endpoint given".into() });
        }
        let clients = urls
            .iter()
            .map(|url| {
                HttpClientBuilder::default()
                    .request_timeout(Duration::from_secs(10))
                    .build(url)
                    .map_err(|e| L1Error::Rpc { method: "connect", message: format!("{url}: {e}") })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut last = String::new();
        for _ in 0..200 {
            let mut ids = Vec::new();
            for (url, rpc) in urls.iter().zip(&clients) {
                match rpc.request::<U256, _>("eth_chainId", rpc_params![]).await {
                    Ok(id) => ids.push((url, id.to::<u64>())),
                    Err(e) => last = format!("{url}: {e}"),
                }
            }
            if let Some(&(first_url, chain_id)) = ids.first() {
                if let Some((url, other)) = ids.iter().find(|(_, id)| *id != chain_id) {
                    return Err(L1Error::Rpc {
                        method: "eth_chainId",
                        message: format!(
                            "{url} is on chain {other} but {first_url} is on chain {chain_id}"
                        ),
                    });
                }
                let active = urls.iter().position(|u| u == first_url).unwrap_or(0);
                let endpoints = Endpoints { urls, clients, active: AtomicUsize::new(active) };
                return Ok(Self { endpoints: Arc::new(endpoints), chain_id });
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Err(L1Error::Rpc { method: "eth_chainId", message: format!("no L1 endpoint up: {last}") })
    }

    /// A client of `chain_id` that has no endpoint to reach (every request fails): for code
    /// that only needs the chain id.
    pub fn offline(chain_id: u64) -> Self {
        let endpoints = Endpoints { urls: vec![], clients: vec![], active: AtomicUsize::new(0) };
        Self { endpoints: Arc::new(endpoints), chain_id }
    }

    /// The URL requests go to first now (empty when offline).
    pub fn active_url(&self) -> &str {
        let e = &self.endpoints;
        e.urls.get(e.active.load(Ordering::Relaxed)).map_or("", String::as_str)
    }

    /// The chain id.
    pub fn chain_id(&self) -> u64 {
        self.chain_id
    }

    /// A raw request.
    pub async fn request<T: DeserializeOwned>(
        &self,
        method: &'static str,
        params: ArrayParams,
    ) -> Result<T, L1Error> {
        let e = &self.endpoints;
        let first = e.active.load(Ordering::Relaxed);
        let mut failures = Vec::new();
        for k in 0..e.clients.len() {
            let i = (first + k) % e.clients.len();
            match e.clients[i].request(method, params.clone()).await {
                Ok(v) => {
                    if i != first {
                        e.active.store(i, Ordering::Relaxed);
                        tracing::warn!(target: "l1::rpc", from = %e.urls[first], to = %e.urls[i], method, "L1 endpoint failover");
                    }
                    return Ok(v);
                }
                Err(err) if unreachable(&err) => failures.push(format!("{}: {err}", e.urls[i])),
                Err(err) => return Err(L1Error::Rpc { method, message: err.to_string() }),
            }
        }
        if failures.is_empty() {
            failures.push("no L1 endpoint".into());
        }
        Err(L1Error::Rpc { method, message: failures.join("; ") })
    }

    /// The latest block.
    pub async fn latest(&self) -> Result<L1Block, L1Error> {
        self.block_at("latest".to_string()).await?.ok_or_else(|| L1Error::Rpc {
            method: "eth_getBlockByNumber",
            message: "no latest block".into(),
        })
    }

    /// Block `number`, if it exists.
    pub async fn block(&self, number: u64) -> Result<Option<L1Block>, L1Error> {
        self.block_at(format!("0x{number:x}")).await
    }

    async fn block_at(&self, tag: String) -> Result<Option<L1Block>, L1Error> {
        let b: Value = self.request("eth_getBlockByNumber", rpc_params![tag, false]).await?;
        if b.is_null() {
            return Ok(None);
        }
        let field = |name: &str| serde_json::from_value(b[name].clone()).unwrap_or_default();
        Ok(Some(L1Block {
            number: hex_u64(&b["number"]),
            timestamp: hex_u64(&b["timestamp"]),
            hash: field("hash"),
            state_root: field("stateRoot"),
        }))
    }

    /// A block's transaction hashes, in order.
    pub async fn block_tx_hashes(&self, number: u64) -> Result<Vec<B256>, L1Error> {
        let b: Value = self
            .request("eth_getBlockByNumber", rpc_params![format!("0x{number:x}"), false])
            .await?;
        Ok(serde_json::from_value(b["transactions"].clone()).unwrap_or_default())
    }

    /// `eth_call` at latest; the revert message (with data) as the error.
    pub async fn call_raw(&self, to: Address, data: Vec<u8>) -> Result<Bytes, L1Error> {
        let req = serde_json::json!({ "to": to, "data": Bytes::from(data) });
        self.request("eth_call", rpc_params![req, "latest"]).await
    }

    /// A typed `eth_call`.
    pub async fn call<C: SolCall>(&self, to: Address, call: C) -> Result<C::Return, L1Error> {
        let out = self.call_raw(to, call.abi_encode()).await?;
        C::abi_decode_returns(&out)
            .map_err(|e| L1Error::Rpc { method: "eth_call", message: e.to_string() })
    }

    /// The preconfer a validator key maps onto at `timestamp` in `registry` (none if unmapped).
    pub async fn preconfer_of(
        &self,
        registry: Address,
        key_hash: B256,
        timestamp: u64,
    ) -> Result<Option<Address>, L1Error> {
        let p = self
            .call(
                registry,
                taiko_contracts::PreconfRegistry::preconferOfCall {
                    keyHash: key_hash,
                    timestamp: U256::from(timestamp),
                },
            )
            .await?;
        Ok((p != Address::ZERO).then_some(p))
    }

    /// The next nonce of `who`, counting pending transactions.
    pub async fn nonce(&self, who: Address) -> Result<u64, L1Error> {
        let n: U256 = self.request("eth_getTransactionCount", rpc_params![who, "pending"]).await?;
        Ok(n.to())
    }

    /// Signs an EIP-1559 transaction.
    pub fn sign_tx(
        &self,
        signer: &PrivateKeySigner,
        nonce: u64,
        to: Address,
        input: Vec<u8>,
        value: U256,
        gas_limit: u64,
    ) -> Vec<u8> {
        let tx = TxEip1559 {
            chain_id: self.chain_id,
            nonce,
            gas_limit,
            max_fee_per_gas: 100_000_000_000,
            max_priority_fee_per_gas: 1_000_000_000,
            to: TxKind::Call(to),
            value,
            input: input.into(),
            access_list: Default::default(),
        };
        let sig = signer.sign_hash_sync(&tx.signature_hash()).expect("local signing");
        TxEnvelope::from(tx.into_signed(sig)).encoded_2718()
    }

    /// Submits a raw transaction.
    pub async fn send_raw(&self, raw: Vec<u8>) -> Result<B256, L1Error> {
        self.request("eth_sendRawTransaction", rpc_params![Bytes::from(raw)]).await
    }

    /// Sends `call` from `signer` (10M gas) and returns its hash, without waiting.
    pub async fn send<C: SolCall>(
        &self,
        signer: &PrivateKeySigner,
        to: Address,
        call: C,
        value: U256,
    ) -> Result<B256, L1Error> {
        let nonce = self.nonce(signer.address()).await?;
        self.send_raw(self.sign_tx(signer, nonce, to, call.abi_encode(), value, 10_000_000)).await
    }

    /// The receipt of `hash`, if mined.
    pub async fn receipt(&self, hash: B256) -> Result<Option<Value>, L1Error> {
        self.request("eth_getTransactionReceipt", rpc_params![hash]).await
    }

    /// Waits (up to two minutes) for `hash` to be mined and checks it succeeded.
    pub async fn wait_success(&self, hash: B256, what: &str) -> Result<Value, L1Error> {
        let start = std::time::Instant::now();
        while start.elapsed() < Duration::from_secs(120) {
            if let Some(r) = self.receipt(hash).await? {
                if r["status"] != "0x1" {
                    return Err(L1Error::TxFailed(format!("{what} ({hash}) reverted")));
                }
                return Ok(r);
            }
            // automined devnets answer within milliseconds; real slots take seconds
            let pause = if start.elapsed() < Duration::from_secs(1) { 25 } else { 250 };
            tokio::time::sleep(Duration::from_millis(pause)).await;
        }
        Err(L1Error::TxFailed(format!("{what} ({hash}) not mined in 2 minutes")))
    }

    /// Sends and waits (automine must be on).
    pub async fn transact<C: SolCall>(
        &self,
        signer: &PrivateKeySigner,
        to: Address,
        call: C,
        value: U256,
    ) -> Result<Value, L1Error> {
        let hash = self.send(signer, to, call, value).await?;
        self.wait_success(hash, C::SIGNATURE).await
    }

    /// The raw bytes of a (pending or mined) transaction.
    pub async fn raw_transaction(&self, hash: B256) -> Result<Bytes, L1Error> {
        self.request("eth_getRawTransactionByHash", rpc_params![hash]).await
    }

    /// The code at `who`.
    pub async fn code(&self, who: Address) -> Result<Bytes, L1Error> {
        self.request("eth_getCode", rpc_params![who, "latest"]).await
    }

    /// The balance of `who`.
    pub async fn balance(&self, who: Address) -> Result<U256, L1Error> {
        self.request("eth_getBalance", rpc_params![who, "latest"]).await
    }

    /// The blob base fee of the next block.
    pub async fn blob_base_fee(&self) -> Result<u128, L1Error> {
        let fee: U256 = self.request("eth_blobBaseFee", rpc_params![]).await?;
        Ok(fee.to())
    }

    /// The base fee of the latest block.
    pub async fn base_fee(&self) -> Result<u128, L1Error> {
        let b: Value = self.request("eth_getBlockByNumber", rpc_params!["latest", false]).await?;
        Ok(hex_u64(&b["baseFeePerGas"]) as u128)
    }
}
