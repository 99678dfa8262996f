//! The whole devnet infrastructure, two epochs in manual-clock mode.

use std::time::Instant;

use alloy::{
    consensus::{
        BlobTransactionSidecar, SidecarBuilder, SignableTransaction, SimpleCoder, TxEip1559,
        TxEip4844, TxEip4844Variant, TxEip4844WithSidecar, TxEnvelope,
    },
    eips::eip2718::Encodable2718,
    primitives::{Address, B256, Bytes, Signature, TxKind, U256, address},
    signers::{SignerSync, local::PrivateKeySigner},
    sol_types::SolCall,
};
use serde_json::{Value, json};
use taiko_beacon::{ProposerProof, api};
use taiko_contracts::{BeaconProofVerifier, LibBeaconProof};
use taiko_devnet::{ClockMode, Devnet, DevnetConfig, anvil::BEACON_ROOTS, bolt::request_digest};

/// anvil's third and fourth default accounts: L1 users.
const USER_KEY: &str = "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a";
const BLOB_KEY: &str = "0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a";
const OTHER_KEY: &str = "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6";

fn transfer(chain_id: u64, key: &PrivateKeySigner, nonce: u64, to: Address) -> (B256, Vec<u8>) {
    let tx = TxEip1559 {
        chain_id,
        nonce,
        gas_limit: 21_000,
        max_fee_per_gas: 100_000_000_000,
        max_priority_fee_per_gas: 2_000_000_000,
        to: TxKind::Call(to),
        value: U256::from(1),
        input: Default::default(),
        access_list: Default::default(),
    };
    let sig = key.sign_hash_sync(&tx.signature_hash()).unwrap();
    let env = TxEnvelope::from(tx.into_signed(sig));
    (*env.tx_hash(), env.encoded_2718())
}

async fn bolt_request(
    url: &str,
    slot: u64,
    txs: &[Vec<u8>],
    header: Option<String>,
) -> (u16, Value) {
    let body = json!({
        "jsonrpc": "2.0", "id": 1, "method": "bolt_requestInclusion",
        "params": [{ "slot": slot, "txs": txs.iter().map(|t| Bytes::from(t.clone())).collect::<Vec<_>>() }]
    });
    let mut req = reqwest::Client::new().post(url).json(&body);
    if let Some(h) = header {
        req = req.header("X-Bolt-Signature", h);
    }
    let res = req.send().await.unwrap();
    (res.status().as_u16(), res.json().await.unwrap())
}

fn auth(key: &PrivateKeySigner, hashes: &[B256], slot: u64) -> String {
    let sig = key.sign_hash_sync(&request_digest(hashes, slot)).unwrap();
    format!("{}:{}", key.address(), alloy::hex::encode_prefixed(sig.as_bytes()))
}

fn code(v: &Value) -> i64 {
    v["error"]["code"].as_i64().unwrap_or_else(|| panic!("expected an error, got {v}"))
}

async fn get(url: String) -> Value {
    reqwest::get(url).await.unwrap().json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devnet_two_epochs() {
    let started = Instant::now();
    let dir = std::env::temp_dir().join(format!("taiko-devnet-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = DevnetConfig {
        slot_secs: 2,
        slots_per_epoch: 8,
        mode: ClockMode::Manual,
        missed_slots: vec![5],
        manifest_path: Some(dir.join("manifest.json")),
        ..Default::default()
    };
    let spe = cfg.slots_per_epoch;
    let devnet = Devnet::start(cfg).await.expect("devnet up");
    let m = devnet.manifest().clone();
    assert_eq!(
        taiko_devnet::Manifest::read(&dir.join("manifest.json")).unwrap(),
        m,
        "manifest written"
    );
    assert_eq!(m.preconfers.len(), 2);
    assert!(m.preconfers.iter().all(|p| p.validators.len() == 2));
    assert_eq!(m.validators.iter().filter(|v| v.preconfer.is_none()).count(), 4, "4 unregistered");

    // ---- duties match the schedule
    for epoch in 0..2u64 {
        let duties: api::ProposerDuties = serde_json::from_value(
            get(format!("{}/eth/v1/validator/duties/proposer/{epoch}", m.beacon_api)).await,
        )
        .unwrap();
        let schedule = devnet.beacon.read().proposers(epoch);
        assert_eq!(duties.data.len() as u64, spe);
        for (k, d) in duties.data.iter().enumerate() {
            assert_eq!(d.slot, epoch * spe + k as u64);
            assert_eq!(d.validator_index, schedule[k], "epoch {epoch} slot {k}");
            assert_eq!(d.pubkey, m.validators[d.validator_index as usize].pubkey);
        }
    }
    let genesis: Value = get(format!("{}/eth/v1/beacon/genesis", m.beacon_api)).await;
    assert_eq!(genesis["data"]["genesis_time"], m.clock.genesis.to_string());

    // ---- Bolt: pick a Bolt validator's slot and a slot of a validator without Bolt
    let (bolt_slot, plain_slot) = {
        let b = devnet.beacon.read();
        let future: Vec<u64> = (2..2 * spe).filter(|s| *s != 5).collect();
        let bolt = *future
            .iter()
            .find(|s| m.validators[b.proposer(**s) as usize].bolt)
            .expect("a Bolt slot");
        let plain = *future
            .iter()
            .find(|s| !m.validators[b.proposer(**s) as usize].bolt)
            .expect("a plain slot");
        (bolt, plain)
    };
    let user: PrivateKeySigner = USER_KEY.parse().unwrap();
    let other: PrivateKeySigner = OTHER_KEY.parse().unwrap();
    let nonce = devnet.l1.nonce(user.address()).await.unwrap();
    let (hash, raw) =
        transfer(m.l1_chain_id, &user, nonce, address!("00000000000000000000000000000000000b0175"));

    let (status, r) = bolt_request(
        &m.bolt_rpc,
        plain_slot,
        std::slice::from_ref(&raw),
        Some(auth(&user, &[hash], plain_slot)),
    )
    .await;
    assert_eq!((status, code(&r)), (400, -32006), "validator without Bolt: {r}");
    let (_, r) = bolt_request(&m.bolt_rpc, bolt_slot, std::slice::from_ref(&raw), None).await;
    assert_eq!(code(&r), -32003, "missing signature: {r}");
    let (_, r) =
        bolt_request(&m.bolt_rpc, bolt_slot, std::slice::from_ref(&raw), Some("nonsense".into()))
            .await;
    assert_eq!(code(&r), -32007, "malformed header: {r}");
    let (_, r) = bolt_request(
        &m.bolt_rpc,
        bolt_slot,
        std::slice::from_ref(&raw),
        Some(
            auth(&other, &[hash], bolt_slot)
                .replace(&other.address().to_string(), &user.address().to_string()),
        ),
    )
    .await;
    assert_eq!(code(&r), -32005, "signature by someone else: {r}");
    let (_, r) = bolt_request(
        &m.bolt_rpc,
        bolt_slot,
        std::slice::from_ref(&raw),
        Some(auth(&user, &[hash], bolt_slot + 1)),
    )
    .await;
    assert_eq!(code(&r), -32005, "signature over another slot: {r}");
    let (gap_hash, gap_raw) = transfer(m.l1_chain_id, &user, nonce + 1, Address::ZERO);
    let (_, r) =
        bolt_request(&m.bolt_rpc, bolt_slot, &[gap_raw], Some(auth(&user, &[gap_hash], bolt_slot)))
            .await;
    assert_eq!(code(&r), -32006, "nonce gap: {r}");
    assert!(r["error"]["message"].as_str().unwrap().contains("nonce"), "{r}");

    let (status, r) = bolt_request(
        &m.bolt_rpc,
        bolt_slot,
        std::slice::from_ref(&raw),
        Some(auth(&user, &[hash], bolt_slot)),
    )
    .await;
    assert_eq!(status, 200, "accepted: {r}");
    let commitment: Bytes = serde_json::from_value(r["result"]["signature"].clone()).unwrap();
    let sig = Signature::from_raw(&commitment).unwrap();
    assert_eq!(
        sig.recover_address_from_prehash(&request_digest(&[hash], bolt_slot)).unwrap(),
        m.bolt_signer,
        "the sidecar signed the commitment"
    );
    let (_, r) = bolt_request(
        &m.bolt_rpc,
        bolt_slot,
        std::slice::from_ref(&raw),
        Some(auth(&user, &[hash], bolt_slot)),
    )
    .await;
    assert_eq!(code(&r), -32001, "duplicate: {r}");

    // another user's transaction waits in anvil's pool before the Bolt slot
    let other_nonce = devnet.l1.nonce(other.address()).await.unwrap();
    let (other_hash, other_raw) = transfer(m.l1_chain_id, &other, other_nonce, Address::ZERO);

    // a blob transaction, posted in slot 3
    let blob_key: PrivateKeySigner = BLOB_KEY.parse().unwrap();
    let sidecar: BlobTransactionSidecar =
        SidecarBuilder::<SimpleCoder>::from_slice(b"taiko-preconf devnet blob").build().unwrap();
    let blob_tx = TxEip4844 {
        chain_id: m.l1_chain_id,
        nonce: devnet.l1.nonce(blob_key.address()).await.unwrap(),
        gas_limit: 100_000,
        max_fee_per_gas: 100_000_000_000,
        max_priority_fee_per_gas: 2_000_000_000,
        to: Address::repeat_byte(0xb1),
        value: U256::ZERO,
        access_list: Default::default(),
        blob_versioned_hashes: sidecar.versioned_hashes().collect(),
        max_fee_per_blob_gas: 1_000_000_000,
        input: Default::default(),
    };
    let blob_tx =
        TxEip4844Variant::TxEip4844WithSidecar(TxEip4844WithSidecar::from_tx_and_sidecar(
            blob_tx,
            alloy::eips::eip7594::BlobTransactionSidecarVariant::Eip4844(sidecar.clone()),
        ));
    let blob_sig = blob_key.sign_hash_sync(&blob_tx.signature_hash()).unwrap();
    let blob_raw = TxEnvelope::Eip4844(blob_tx.into_signed(blob_sig)).encoded_2718();

    // ---- two epochs
    let mut mined = Vec::new();
    while devnet.next_slot().await < 2 * spe {
        let slot = devnet.next_slot().await;
        if slot == 3 {
            devnet.l1.send_raw(blob_raw.clone()).await.expect("blob tx accepted");
        }
        if slot == bolt_slot {
            devnet.l1.send_raw(other_raw.clone()).await.unwrap();
        }
        let out = devnet.advance_slot().await.unwrap();
        if slot == bolt_slot {
            let block = out.l1_block.unwrap();
            let txs = devnet.l1.block_tx_hashes(block.number).await.unwrap();
            assert_eq!(txs.first(), Some(&hash), "the committed tx tops slot {slot}'s block");
            assert!(txs.contains(&other_hash), "the other tx is in it too, after");
            assert_eq!(out.bolt_txs, vec![hash]);
        }
        if slot == 5 {
            assert!(out.l1_block.is_none() && out.beacon_root.is_none(), "slot 5 is missed");
        }
        mined.push(out);
    }

    // an expired deadline: "now" past 2/3 of the slot before the next Bolt slot
    let from = devnet.next_slot().await + 1;
    let target = {
        let b = devnet.beacon.read();
        (from..from + spe)
            .find(|s| m.validators[b.proposer(*s) as usize].bolt)
            .expect("a Bolt slot ahead")
    };
    let clock = m.clock;
    devnet.clock_set(clock.slot_time(target - 1) + clock.slot_secs * 2 / 3);
    let (h2, r2) = transfer(m.l1_chain_id, &user, nonce + 1, Address::ZERO);
    let (_, r) = bolt_request(
        &m.bolt_rpc,
        target,
        std::slice::from_ref(&r2),
        Some(auth(&user, &[h2], target)),
    )
    .await;
    assert_eq!(code(&r), -32006, "expired deadline: {r}");
    assert!(r["error"]["message"].as_str().unwrap().contains("deadline"), "{r}");
    // just before the deadline the same request is accepted
    devnet.clock_set(clock.slot_time(target - 1));
    let (status, r) =
        bolt_request(&m.bolt_rpc, target, &[r2], Some(auth(&user, &[h2], target))).await;
    assert_eq!(status, 200, "before the deadline: {r}");

    // ---- the blob is served as a sidecar of slot 3's block
    let sidecars: Vec<api::BlobSidecar> = serde_json::from_value(
        get(format!("{}/eth/v1/beacon/blob_sidecars/3", m.beacon_api)).await["data"].clone(),
    )
    .unwrap();
    assert_eq!(sidecars.len(), 1, "one blob in slot 3");
    assert_eq!(sidecars[0].blob.as_ref(), sidecar.blobs[0].as_slice(), "the posted blob");
    assert_eq!(
        sidecars[0].kzg_commitment.as_ref(),
        sidecar.commitments[0].as_slice(),
        "its commitment"
    );
    assert_eq!(sidecars[0].kzg_proof.as_ref(), sidecar.proofs[0].as_slice(), "its proof");
    assert_eq!(sidecars[0].signed_block_header.message.slot, 3);
    let none: Value = get(format!("{}/eth/v1/beacon/blob_sidecars/4", m.beacon_api)).await;
    assert_eq!(none["data"], json!([]), "no blobs in slot 4");

    // ---- the head state, SSZ
    let res =
        reqwest::get(format!("{}/eth/v2/debug/beacon/states/head", m.beacon_api)).await.unwrap();
    assert_eq!(res.headers()["content-type"], "application/octet-stream");
    let ssz = res.bytes().await.unwrap();
    let n = m.validators.len();
    assert_eq!(ssz.len(), taiko_beacon::containers::STATE_FIXED_SIZE + n * 121 + n * 8 + 584);
    let head_slot = devnet.beacon.read().head().1;
    assert_eq!(u64::from_le_bytes(ssz[40..48].try_into().unwrap()), head_slot, "the head slot");
    let old = reqwest::get(format!("{}/eth/v2/debug/beacon/states/1", m.beacon_api)).await.unwrap();
    assert_eq!(old.status().as_u16(), 404, "only the head state is kept");

    // ---- every EIP-4788 root on anvil is the simulator's
    let mut previous_root = devnet.beacon.read().genesis_root();
    for out in &mined {
        let Some(block) = out.l1_block else { continue };
        let on_chain = devnet
            .l1
            .call_raw(BEACON_ROOTS, U256::from(block.timestamp).to_be_bytes::<32>().to_vec())
            .await
            .unwrap();
        assert_eq!(B256::from_slice(&on_chain), previous_root, "root at slot {}", out.slot);
        previous_root = out.beacon_root.unwrap();
    }

    // ---- proposer proofs verify on chain, registered and unregistered
    let verifier = m.contracts.beacon_proof_verifier;
    let mut seen_registered = false;
    let mut seen_unregistered = false;
    for out in mined.iter().filter(|o| o.l1_block.is_some()).take(2 * spe as usize - 3) {
        let v: Value = get(format!("{}/taiko/v1/proposer_proof/{}", m.beacon_api, out.slot)).await;
        let proof: ProposerProof = serde_json::from_value(v["data"]["proof"].clone()).unwrap();
        let root_ts = v["data"]["root_timestamp"].as_u64().expect("a later block exists");
        let index = proof.header.proposer_index as usize;
        let call = |p: &ProposerProof| BeaconProofVerifier::verifyProposerCall {
            proof: LibBeaconProof::ProposerProof {
                header: LibBeaconProof::BeaconBlockHeader {
                    slot: p.header.slot,
                    proposerIndex: p.header.proposer_index,
                    parentRoot: p.header.parent_root,
                    stateRoot: p.header.state_root,
                    bodyRoot: p.header.body_root,
                },
                pubkey: p.pubkey.clone().into(),
                branch: p.branch.clone(),
            },
            rootTimestamp: root_ts,
        };
        let key_hash =
            devnet.l1.call(verifier, call(&proof)).await.expect("proof verifies on chain");
        assert_eq!(key_hash, m.validators[index].key_hash, "slot {}", out.slot);
        assert_eq!(proof.verify(out.beacon_root.unwrap()).unwrap(), key_hash, "Rust agrees");
        let preconfer = devnet
            .l1
            .preconfer_of(m.contracts.registry, key_hash, out.l1_block.unwrap().timestamp)
            .await
            .unwrap()
            .unwrap_or(Address::ZERO);
        match m.validators[index].preconfer {
            Some(p) => {
                assert_eq!(preconfer, p);
                seen_registered = true;
            }
            None => {
                assert_eq!(preconfer, Address::ZERO);
                seen_unregistered = true;
            }
        }
        let mut bad = proof.clone();
        bad.branch[20] = B256::repeat_byte(7);
        let err =
            devnet.l1.call_raw(verifier, call(&bad).abi_encode()).await.unwrap_err().to_string();
        assert!(
            err.contains(&alloy::hex::encode(&alloy::primitives::keccak256("InvalidProof()")[..4])),
            "{err}"
        );
        let mut bad = proof.clone();
        bad.header.proposer_index += 1;
        let err =
            devnet.l1.call_raw(verifier, call(&bad).abi_encode()).await.unwrap_err().to_string();
        assert!(
            err.contains(&alloy::hex::encode(
                &alloy::primitives::keccak256("HeaderRootMismatch()")[..4]
            )),
            "{err}"
        );
    }
    assert!(seen_registered && seen_unregistered, "both kinds of proposer were proven");
    assert!(
        started.elapsed().as_secs() < 60,
        "two epochs in under a minute: {:?}",
        started.elapsed()
    );

    // ---- nothing left behind
    let pid = devnet.anvil_pid();
    drop(devnet);
    assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists(), "anvil stopped");
    let _ = std::fs::remove_dir_all(dir);
}
