//! The beacon API subset a preconfer needs, served by the simulator:
//!
//! | path | |
//! |---|---|
//! | `GET /eth/v1/beacon/genesis` | genesis time, validators root, fork version |
//! | `GET /eth/v1/config/spec` | `SECONDS_PER_SLOT`, `SLOTS_PER_EPOCH`, … |
//! | `GET /eth/v1/validator/duties/proposer/{epoch}` | one duty per slot |
//! | `GET /eth/v1/beacon/headers/{block_id}` | `head`, `genesis`, a slot or a root |
//! | `GET /eth/v1/beacon/states/{state_id}/validators` | the validator set |
//! | `GET /eth/v2/debug/beacon/states/{state_id}` | the head state, SSZ (`head`, its slot or its block's state root) |
//! | `GET /eth/v1/beacon/blob_sidecars/{block_id}` | the blobs the slot's L1 block carried, with KZG commitments and proofs |
//! | `GET /taiko/v1/proposer_proof/{slot}` | devnet extension: the proposer proof of a slot and the L1 timestamp whose EIP-4788 root it verifies against |

use std::sync::Arc;

use alloy::primitives::B256;
use axum::{
    Json, Router,
    extract::{Path, State},
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::get,
};
use parking_lot::RwLock;
use serde_json::json;
use taiko_beacon::api::{
    Genesis, HeaderData, ProposerDuties, ProposerDuty, Response as ApiResponse, SignedHeader,
    ValidatorData,
};

use crate::beacon::{BeaconSim, FORK_VERSION};

type Shared = Arc<RwLock<BeaconSim>>;

/// The router.
pub fn router(sim: Shared) -> Router {
    Router::new()
        .route("/eth/v1/beacon/genesis", get(genesis))
        .route("/eth/v1/config/spec", get(spec))
        .route("/eth/v1/validator/duties/proposer/{epoch}", get(duties))
        .route("/eth/v1/beacon/headers/{block_id}", get(header))
        .route("/eth/v1/beacon/states/{state_id}/validators", get(validators))
        .route("/eth/v1/beacon/blob_sidecars/{block_id}", get(blob_sidecars))
        .route("/eth/v2/debug/beacon/states/{state_id}", get(state_ssz))
        .route("/taiko/v1/proposer_proof/{slot}", get(proof))
        .with_state(sim)
}

fn not_found(what: String) -> Response {
    error((StatusCode::NOT_FOUND, what))
}

fn bad_request(what: String) -> Response {
    error((StatusCode::BAD_REQUEST, what))
}

async fn genesis(State(sim): State<Shared>) -> Response {
    let s = sim.read();
    Json(ApiResponse::new(Genesis {
        genesis_time: s.clock.genesis,
        genesis_validators_root: s.genesis_validators_root(),
        genesis_fork_version: alloy::hex::encode_prefixed(FORK_VERSION),
    }))
    .into_response()
}

async fn spec(State(sim): State<Shared>) -> Response {
    let c = sim.read().clock;
    Json(json!({ "data": {
        "SECONDS_PER_SLOT": c.slot_secs.to_string(),
        "SLOTS_PER_EPOCH": c.slots_per_epoch.to_string(),
        "SLOTS_PER_HISTORICAL_ROOT": "8192",
        "ELECTRA_FORK_VERSION": alloy::hex::encode_prefixed(FORK_VERSION),
        "ELECTRA_FORK_EPOCH": "0",
        "GENESIS_FORK_VERSION": alloy::hex::encode_prefixed(FORK_VERSION),
    }}))
    .into_response()
}

async fn duties(State(sim): State<Shared>, Path(epoch): Path<String>) -> Response {
    let Ok(epoch) = epoch.parse::<u64>() else {
        return bad_request(format!("invalid epoch {epoch:?}"));
    };
    let s = sim.read();
    let first = s.clock.first_slot(epoch);
    let data = s
        .proposers(epoch)
        .into_iter()
        .enumerate()
        .map(|(i, index)| ProposerDuty {
            pubkey: alloy::hex::encode_prefixed(s.validators()[index as usize].pubkey),
            validator_index: index,
            slot: first + i as u64,
        })
        .collect();
    Json(ProposerDuties { dependent_root: s.genesis_root(), execution_optimistic: false, data })
        .into_response()
}

/// The slot a block id names: `head`, a slot number or a block root.
fn resolve(s: &BeaconSim, block_id: &str) -> Result<Option<u64>, (StatusCode, String)> {
    match block_id {
        "head" => Ok(Some(s.head().1)),
        "genesis" => {
            Err((StatusCode::NOT_FOUND, "the genesis block carries no L1 block here".into()))
        }
        id if id.starts_with("0x") => match id.parse::<B256>() {
            Ok(root) => Ok(s.block_by_root(root).map(|b| b.header.slot)),
            Err(_) => Err((StatusCode::BAD_REQUEST, format!("invalid block id {id:?}"))),
        },
        id => match id.parse::<u64>() {
            Ok(slot) => Ok(Some(slot)),
            Err(_) => Err((StatusCode::BAD_REQUEST, format!("invalid block id {id:?}"))),
        },
    }
}

fn error((code, message): (StatusCode, String)) -> Response {
    (code, Json(json!({ "code": code.as_u16(), "message": message }))).into_response()
}

async fn header(State(sim): State<Shared>, Path(block_id): Path<String>) -> Response {
    let s = sim.read();
    let slot = match resolve(&s, &block_id) {
        Ok(slot) => slot,
        Err(e) => return error(e),
    };
    match slot.and_then(|slot| s.block(slot)) {
        Some(b) => Json(ApiResponse::new(HeaderData {
            root: b.root,
            canonical: true,
            header: SignedHeader {
                message: b.header,
                signature: alloy::hex::encode_prefixed([0u8; 96]),
            },
        }))
        .into_response(),
        None => not_found(format!("no block {block_id}")),
    }
}

async fn blob_sidecars(State(sim): State<Shared>, Path(block_id): Path<String>) -> Response {
    let s = sim.read();
    let slot = match resolve(&s, &block_id) {
        Ok(slot) => slot,
        Err(e) => return error(e),
    };
    match slot.filter(|slot| s.block(*slot).is_some()) {
        Some(slot) => Json(ApiResponse::new(s.blob_sidecars(slot))).into_response(),
        None => not_found(format!("no block {block_id}")),
    }
}

async fn state_ssz(State(sim): State<Shared>, Path(state_id): Path<String>) -> Response {
    let s = sim.read();
    let (head_root, head_slot) = s.head();
    let head_state_root = s.block(head_slot).map(|b| b.header.state_root);
    let is_head = state_id == "head"
        || state_id.parse::<u64>().is_ok_and(|slot| slot == head_slot)
        || state_id.parse::<B256>().is_ok_and(|r| Some(r) == head_state_root || r == head_root);
    if !is_head {
        return not_found(format!("state {state_id}: the simulator keeps the head state only"));
    }
    (
        [
            (axum::http::header::CONTENT_TYPE, "application/octet-stream"),
            (axum::http::HeaderName::from_static("eth-consensus-version"), "electra"),
        ],
        s.state().to_ssz(),
    )
        .into_response()
}

async fn validators(State(sim): State<Shared>, Path(_state_id): Path<String>) -> Response {
    let s = sim.read();
    let data: Vec<ValidatorData> =
        s.validators().iter().enumerate().map(|(i, v)| ValidatorData::new(i as u64, v)).collect();
    Json(ApiResponse::new(data)).into_response()
}

async fn proof(State(sim): State<Shared>, Path(slot): Path<String>) -> Response {
    let Ok(slot) = slot.parse::<u64>() else {
        return bad_request(format!("invalid slot {slot:?}"));
    };
    match sim.read().proposer_proof(slot) {
        Some((proof, root_timestamp)) => {
            Json(json!({ "data": { "proof": proof, "root_timestamp": root_timestamp } }))
                .into_response()
        }
        None => not_found(format!("no block at slot {slot}")),
    }
}
