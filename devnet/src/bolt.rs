//! The Bolt sidecar simulator: the real `bolt_requestInclusion` JSON-RPC API for the validators
//! configured as running Bolt. Requests are authenticated with the `X-Bolt-Signature:
//! <address>:<signature>` header over `keccak256(txhash_1 ‖ … ‖ txhash_n ‖ slot as u64 LE)` (no
//! EIP-191 prefix), checked like the sidecar checks them, and answered with the sidecar's own
//! signature over the same digest. At that slot the slot driver puts the committed transactions
//! at the top of the L1 block.
//!
//! Error codes, as Bolt's: -32000 rejected, -32001 duplicate, -32002 internal, -32003 missing
//! signature header, -32004 invalid signature, -32005 signer is not the header's address,
//! -32006 validation failure (slot not a Bolt validator's, deadline passed, nonce gap, fees,
//! balance, sender with code, size and per-slot limits), -32007 malformed header; -32600 and
//! -32601 for a malformed request or an unknown method.

use std::{
    collections::{BTreeMap, HashSet},
    sync::Arc,
};

use alloy::{
    consensus::{Transaction, TxEnvelope, transaction::SignerRecoverable},
    eips::eip2718::Decodable2718,
    primitives::{Address, B256, Bytes, Signature, U256},
    signers::{SignerSync, local::PrivateKeySigner},
};
use axum::{
    Json, Router,
    extract::State,
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::post,
};
use parking_lot::{Mutex, RwLock};
use serde_json::{Value, json};

use crate::{DevnetClock, beacon::BeaconSim, l1::L1Client};

/// The authentication header.
pub const SIGNATURE_HEADER: &str = "x-bolt-signature";
/// Largest accepted transaction.
pub const MAX_TX_BYTES: usize = 128 * 1024;
/// Most blobs one committed transaction may carry (Prague's per-block maximum).
pub const MAX_BLOBS_PER_TX: usize = 9;
/// A blob with its commitment, proof and encoding, at most.
const BLOB_WIRE_BYTES: usize = 131_072 + 2 * 48 + 16;
/// Most commitments per slot.
pub const MAX_COMMITMENTS_PER_SLOT: usize = 128;
/// Most committed gas per slot.
pub const MAX_COMMITTED_GAS_PER_SLOT: u64 = 10_000_000;
/// Smallest accepted priority fee.
pub const MIN_PRIORITY_FEE: u128 = 1_000_000_000;

/// A committed transaction.
#[derive(Clone, Debug)]
pub struct Committed {
    /// Its hash.
    pub hash: B256,
    /// Its EIP-2718 bytes.
    pub raw: Bytes,
    /// Its sender.
    pub sender: Address,
    /// Its gas limit.
    pub gas_limit: u64,
}

/// The sidecar's state, shared with the slot driver.
#[derive(Debug)]
pub struct BoltState {
    /// Validators running Bolt.
    pub validators: HashSet<u64>,
    /// The sidecar's commitment key.
    pub signer: PrivateKeySigner,
    commitments: Mutex<BTreeMap<u64, Vec<Committed>>>,
    accepted: std::sync::atomic::AtomicU64,
}

impl BoltState {
    /// Transactions committed since start.
    pub fn accepted(&self) -> u64 {
        self.accepted.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// A sidecar for `validators`, signing with `signer`.
    pub fn new(validators: HashSet<u64>, signer: PrivateKeySigner) -> Self {
        Self {
            validators,
            signer,
            commitments: Mutex::new(BTreeMap::new()),
            accepted: Default::default(),
        }
    }

    /// Takes the commitments of `slot` (the driver includes them).
    pub fn take(&self, slot: u64) -> Vec<Committed> {
        self.commitments.lock().remove(&slot).unwrap_or_default()
    }

    /// The commitments of `slot` so far.
    pub fn committed(&self, slot: u64) -> Vec<Committed> {
        self.commitments.lock().get(&slot).cloned().unwrap_or_default()
    }
}

pub use taiko_l1::bolt::request_digest;

/// A JSON-RPC error with Bolt's code.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct BoltError {
    /// The JSON-RPC error code.
    pub code: i64,
    /// The message.
    pub message: String,
}

fn err(code: i64, message: impl Into<String>) -> BoltError {
    BoltError { code, message: message.into() }
}

#[derive(Clone)]
struct Ctx {
    bolt: Arc<BoltState>,
    beacon: Arc<RwLock<BeaconSim>>,
    l1: L1Client,
    clock: Arc<DevnetClock>,
}

/// The sidecar's HTTP router (`POST /`).
pub fn router(
    bolt: Arc<BoltState>,
    beacon: Arc<RwLock<BeaconSim>>,
    l1: L1Client,
    clock: Arc<DevnetClock>,
) -> Router {
    Router::new().route("/", post(handle)).with_state(Ctx { bolt, beacon, l1, clock })
}

async fn handle(State(ctx): State<Ctx>, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    let req: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => return reply(Value::Null, Err(err(-32600, format!("invalid request: {e}")))),
    };
    let id = req.get("id").cloned().unwrap_or(Value::Null);
    let result = match req.get("method").and_then(Value::as_str) {
        Some("bolt_requestInclusion") => request_inclusion(&ctx, &headers, &req["params"]).await,
        Some("bolt_getVersion") => Ok(json!("taiko-devnet-bolt/0.3")),
        _ => Err(err(-32601, "unknown method")),
    };
    reply(id, result)
}

fn reply(id: Value, result: Result<Value, BoltError>) -> Response {
    match result {
        Ok(v) => Json(json!({ "jsonrpc": "2.0", "id": id, "result": v })).into_response(),
        Err(e) => {
            tracing::debug!(target: "devnet::bolt", code = e.code, %e, "request refused");
            (
                StatusCode::BAD_REQUEST,
                Json(json!({
                    "jsonrpc": "2.0", "id": id,
                    "error": { "code": e.code, "message": e.message }
                })),
            )
                .into_response()
        }
    }
}

fn parse_header(headers: &HeaderMap) -> Result<(Address, Signature), BoltError> {
    let raw = headers
        .get(SIGNATURE_HEADER)
        .ok_or_else(|| err(-32003, "missing 'x-bolt-signature' header"))?;
    let text = raw.to_str().map_err(|_| err(-32007, "malformed authentication header"))?;
    let (addr, sig) =
        text.split_once(':').ok_or_else(|| err(-32007, "malformed authentication header"))?;
    let addr: Address =
        addr.trim().parse().map_err(|_| err(-32007, "malformed authentication header"))?;
    let sig_bytes = alloy::hex::decode(sig.trim())
        .map_err(|_| err(-32007, "malformed authentication header"))?;
    let sig = Signature::from_raw(&sig_bytes)
        .map_err(|e| err(-32004, format!("invalid signature: {e}")))?;
    Ok((addr, sig))
}

async fn request_inclusion(
    ctx: &Ctx,
    headers: &HeaderMap,
    params: &Value,
) -> Result<Value, BoltError> {
    let p = params.get(0).unwrap_or(params);
    let slot = p["slot"].as_u64().ok_or_else(|| err(-32600, "params: missing slot"))?;
    let txs: Vec<Bytes> = serde_json::from_value(p["txs"].clone())
        .map_err(|_| err(-32600, "params: txs must be hex strings"))?;
    if txs.is_empty() {
        return Err(err(-32006, "validation failed: no transactions"));
    }
    let (claimed, signature) = parse_header(headers)?;
    let mut decoded = Vec::with_capacity(txs.len());
    for raw in &txs {
        // the limit is on the transaction; a blob transaction's sidecar comes on top
        let too_big =
            || err(-32006, format!("validation failed: transaction over {MAX_TX_BYTES} bytes"));
        if raw.len() > MAX_TX_BYTES + MAX_BLOBS_PER_TX * BLOB_WIRE_BYTES {
            return Err(too_big());
        }
        let tx = TxEnvelope::decode_2718(&mut raw.as_ref())
            .map_err(|e| err(-32006, format!("validation failed: undecodable transaction: {e}")))?;
        let blobs = tx.blob_versioned_hashes().map_or(0, |h| h.len());
        if blobs > MAX_BLOBS_PER_TX {
            return Err(err(
                -32006,
                format!("validation failed: {blobs} blobs in one transaction"),
            ));
        }
        if raw.len().saturating_sub(blobs * BLOB_WIRE_BYTES) > MAX_TX_BYTES {
            return Err(too_big());
        }
        if blobs > 0
            && let TxEnvelope::Eip4844(signed) = &tx
            && signed.tx().sidecar().is_none()
        {
            return Err(err(-32006, "validation failed: blob transaction without its sidecar"));
        }
        decoded.push(tx);
    }
    let hashes: Vec<B256> = decoded.iter().map(|t| *t.tx_hash()).collect();
    let digest = request_digest(&hashes, slot);
    let signer = signature
        .recover_address_from_prehash(&digest)
        .map_err(|e| err(-32004, format!("invalid signature: {e}")))?;
    if signer != claimed {
        return Err(err(-32005, format!("signature by {signer}, header names {claimed}")));
    }

    // Consensus: a future slot, in this or the next epoch, of a validator running Bolt, before
    // the deadline (2/3 into the previous slot).
    let clock = ctx.beacon.read().clock;
    let now = ctx.clock.now();
    let current = clock.slot_at(now);
    if slot <= current || clock.epoch_of(slot) > clock.epoch_of(current) + 1 {
        return Err(err(
            -32006,
            format!("validation failed: slot {slot} is not ahead in this or the next epoch"),
        ));
    }
    let proposer = ctx.beacon.read().proposer(slot);
    if !ctx.bolt.validators.contains(&proposer) {
        return Err(err(
            -32006,
            format!("validation failed: slot {slot}'s proposer {proposer} does not run Bolt"),
        ));
    }
    let deadline = clock.slot_time(slot - 1) + clock.slot_secs * 2 / 3;
    if now >= deadline {
        return Err(err(
            -32006,
            format!("validation failed: deadline {deadline} for slot {slot} passed"),
        ));
    }

    // Transactions: fees, nonces, balances, limits.
    let base_fee = ctx.l1.base_fee().await.map_err(|e| err(-32002, e.to_string()))?;
    let slots_ahead = slot - current;
    let mut min_fee = base_fee as f64;
    for _ in 0..slots_ahead {
        min_fee *= 1.125;
    }
    let existing = ctx.bolt.committed(slot);
    let mut gas: u64 = existing.iter().map(|c| c.gas_limit).sum();
    let mut count = existing.len();
    let mut next_nonce: BTreeMap<Address, u64> = BTreeMap::new();
    let mut new = Vec::with_capacity(decoded.len());
    for (tx, raw) in decoded.iter().zip(&txs) {
        let hash = *tx.tx_hash();
        if existing.iter().any(|c| c.hash == hash) || new.iter().any(|c: &Committed| c.hash == hash)
        {
            return Err(err(-32001, "duplicate request"));
        }
        let sender = tx.recover_signer().map_err(|e| {
            err(-32006, format!("validation failed: bad transaction signature: {e}"))
        })?;
        let fee_cap = tx.max_fee_per_gas();
        let tip = tx.max_priority_fee_per_gas().unwrap_or(fee_cap);
        if tip > fee_cap {
            return Err(err(-32006, "validation failed: priority fee above fee cap"));
        }
        if tip < MIN_PRIORITY_FEE {
            return Err(err(-32006, "validation failed: priority fee below 1 gwei"));
        }
        if (fee_cap as f64) < min_fee {
            return Err(err(
                -32006,
                format!(
                    "validation failed: fee cap {fee_cap} below {min_fee:.0} for {slots_ahead} slots ahead"
                ),
            ));
        }
        let expected = match next_nonce.get(&sender) {
            Some(n) => *n,
            None => {
                let on_chain =
                    ctx.l1.nonce(sender).await.map_err(|e| err(-32002, e.to_string()))?;
                on_chain + existing.iter().filter(|c| c.sender == sender).count() as u64
            }
        };
        if tx.nonce() != expected {
            return Err(err(
                -32006,
                format!("validation failed: nonce {} but the next is {expected}", tx.nonce()),
            ));
        }
        next_nonce.insert(sender, expected + 1);
        let code = ctx.l1.code(sender).await.map_err(|e| err(-32002, e.to_string()))?;
        if !code.is_empty() {
            return Err(err(-32006, "validation failed: sender has code"));
        }
        let balance = ctx.l1.balance(sender).await.map_err(|e| err(-32002, e.to_string()))?;
        let blob_gas = tx.blob_versioned_hashes().map_or(0, |h| h.len() as u64) * 131_072;
        let cost = U256::from(tx.gas_limit()) * U256::from(fee_cap)
            + U256::from(blob_gas) * U256::from(tx.max_fee_per_blob_gas().unwrap_or(0))
            + tx.value();
        if balance < cost {
            return Err(err(-32006, "validation failed: insufficient balance"));
        }
        gas += tx.gas_limit();
        count += 1;
        if count > MAX_COMMITMENTS_PER_SLOT || gas > MAX_COMMITTED_GAS_PER_SLOT {
            return Err(err(-32006, "validation failed: slot commitment limits reached"));
        }
        new.push(Committed { hash, raw: raw.clone(), sender, gas_limit: tx.gas_limit() });
    }
    ctx.bolt.accepted.fetch_add(new.len() as u64, std::sync::atomic::Ordering::Relaxed);
    ctx.bolt.commitments.lock().entry(slot).or_default().extend(new);
    let commitment =
        ctx.bolt.signer.sign_hash_sync(&digest).map_err(|e| err(-32002, e.to_string()))?;
    tracing::info!(target: "devnet::bolt", slot, txs = txs.len(), "inclusion committed");
    Ok(json!({
        "slot": slot,
        "txs": txs,
        "signature": Bytes::from(commitment.as_bytes().to_vec()),
    }))
}
