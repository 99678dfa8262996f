//! A client of Bolt's sidecar API: `bolt_requestInclusion`.
//!
//! A request asks the proposer of `slot` (a validator running Bolt) to include transactions at
//! the top of its block. It is authenticated with the `X-Bolt-Signature: <address>:<signature>`
//! header — an ECDSA signature, without prefix, over [`request_digest`]:
//! `keccak256(txhash_1 ‖ … ‖ txhash_n ‖ slot as u64 little-endian)`. The sidecar answers with its
//! own signature (the commitment) or a JSON-RPC error: -32000 rejected, -32001 duplicate, -32006
//! validation failure (not a Bolt slot, deadline passed, fees, …).

use std::time::Duration;

use alloy::{
    consensus::TxEnvelope,
    eips::eip2718::Decodable2718,
    primitives::{B256, Bytes, keccak256},
    signers::{SignerSync, local::PrivateKeySigner},
};
use serde_json::{Value, json};

use crate::L1Error;

/// The digest a request (and its commitment) signs.
pub fn request_digest(tx_hashes: &[B256], slot: u64) -> B256 {
    let mut buf = Vec::with_capacity(tx_hashes.len() * 32 + 8);
    for h in tx_hashes {
        buf.extend_from_slice(h.as_slice());
    }
    buf.extend_from_slice(&slot.to_le_bytes());
    keccak256(buf)
}

/// Bolt's answer to a refused request.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("Bolt refused ({code}): {message}")]
pub struct BoltRefusal {
    /// The JSON-RPC error code.
    pub code: i64,
    /// The message.
    pub message: String,
}

/// A Bolt sidecar.
#[derive(Clone, Debug)]
pub struct BoltClient {
    http: reqwest::Client,
    url: String,
}

impl BoltClient {
    /// A client of the sidecar at `url`.
    pub fn new(url: &str) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .expect("a TLS-less reqwest client builds");
        Self { http, url: url.to_string() }
    }

    /// Asks for `txs` (EIP-2718 bytes) at the top of `slot`, signed by `signer`. `Ok(Err(_))` is
    /// the sidecar's refusal; `Err(_)` a transport failure.
    pub async fn request_inclusion(
        &self,
        slot: u64,
        txs: &[Vec<u8>],
        signer: &PrivateKeySigner,
    ) -> Result<Result<Value, BoltRefusal>, L1Error> {
        let hashes = txs
            .iter()
            .map(|raw| {
                TxEnvelope::decode_2718(&mut raw.as_slice()).map(|t| *t.tx_hash()).map_err(|e| {
                    L1Error::Rpc { method: "bolt_requestInclusion", message: e.to_string() }
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let sig = signer.sign_hash_sync(&request_digest(&hashes, slot)).map_err(|e| {
            L1Error::Rpc { method: "bolt_requestInclusion", message: e.to_string() }
        })?;
        let header =
            format!("{}:{}", signer.address(), alloy::hex::encode_prefixed(sig.as_bytes()));
        let body = json!({
            "jsonrpc": "2.0", "id": 1, "method": "bolt_requestInclusion",
            "params": [{ "slot": slot, "txs": txs.iter().map(|t| Bytes::from(t.clone())).collect::<Vec<_>>() }]
        });
        let transport = |e: reqwest::Error| L1Error::Rpc {
            method: "bolt_requestInclusion",
            message: e.to_string(),
        };
        let resp: Value = self
            .http
            .post(&self.url)
            .header("X-Bolt-Signature", header)
            .json(&body)
            .send()
            .await
            .map_err(transport)?
            .json()
            .await
            .map_err(transport)?;
        if let Some(e) = resp.get("error") {
            return Ok(Err(BoltRefusal {
                code: e["code"].as_i64().unwrap_or(0),
                message: e["message"].as_str().unwrap_or_default().to_string(),
            }));
        }
        Ok(Ok(resp["result"].clone()))
    }
}
