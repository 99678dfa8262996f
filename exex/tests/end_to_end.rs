//! The whole loop on the devnet, over four epochs: two preconfers take turns (windows of every
//! length, fallback epochs included) and a follower watches; transactions are sent to all three
//! nodes. Every transaction is preconfirmed, every turn is proposed by the preconfer that signed
//! it, L1 holds every block with the same transactions in the same order, every node marks them
//! `safe` and ends on the same heads, at least one batch went through Bolt to the top of its slot,
//! and no dispute function can slash either preconfer for any block they signed.

mod common;

use std::{collections::BTreeMap, time::Duration};

use alloy::{
    primitives::{B256, Bytes, keccak256},
    sol_types::{SolCall, SolEvent, SolValue},
};
use common::{devnet_runtime, manual_devnet, node, transfer};
use serde_json::Value;
use taiko_chainspec::devnet_accounts;
use taiko_contracts::{LibBatch, PreconfTaskManager, inbox::TaikoInbox};
use taiko_pool::TransactionOrigin;
use taiko_preconf_exex::{
    derive::derive_blocks,
    message::PreconfMessage,
    service::{TickOutcome, WindowSchedule},
};

const BLOCK_MS: u64 = 1_000;

fn selector_hex(sig: &str) -> String {
    alloy::hex::encode(&keccak256(sig)[..4])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_epochs_of_turns_land_on_l1_as_preconfirmed() {
    // 8 validators, 2 of each preconfer's: windows of one to several slots, some epochs fallback
    let devnet = manual_devnet(8, 2, 2).await;
    let m = devnet.manifest().clone();
    let clock = m.clock;
    let dir = tempfile::tempdir().unwrap();
    let keys: Vec<B256> = m.preconfers.iter().map(|p| p.account.private_key).collect();
    let nodes = [
        node(&dir.path().join("a")).await,
        node(&dir.path().join("b")).await,
        node(&dir.path().join("c")).await,
    ];
    let [na, nb, nc] = &nodes;
    let a = devnet_runtime(
        &devnet,
        na,
        &dir.path().join("pa"),
        Some(keys[0]),
        vec![],
        BLOCK_MS,
        Some(1_000),
    )
    .await;
    let b = devnet_runtime(
        &devnet,
        nb,
        &dir.path().join("pb"),
        Some(keys[1]),
        vec![a.p2p.dial_addr()],
        BLOCK_MS,
        Some(1_000),
    )
    .await;
    let c = devnet_runtime(
        &devnet,
        nc,
        &dir.path().join("pc"),
        None,
        vec![a.p2p.dial_addr(), b.p2p.dial_addr()],
        BLOCK_MS,
        None,
    )
    .await;
    let rts = [&a, &b, &c];
    let first_epoch = common::until_registered(&devnet, &a).await;
    tokio::time::sleep(Duration::from_millis(1500)).await; // gossipsub mesh

    let users = devnet_accounts();
    let mut nonces = [0u64; 3];
    let mut sent = Vec::new(); // transaction hashes, in sending order
    // last block → (tx, proposer, via Bolt)
    let mut proposals: BTreeMap<u64, (B256, usize, bool)> = BTreeMap::new();
    let mut slot = clock.first_slot(first_epoch);
    let end = clock.first_slot(first_epoch + 4);
    let mut k_sent = 0usize;
    let mut checked = Vec::new(); // proposals checked against the dispute functions
    loop {
        let spamming = slot < end;
        if !spamming && proposals.keys().last().is_some_and(|&l| l == a.service.latest().0) {
            break; // every block is proposed
        }
        assert!(slot < end + 8, "the last turn is proposed within two epochs");
        if slot > clock.first_slot(first_epoch) {
            devnet.advance_slot().await.unwrap();
            for (tx, _, _) in proposals.values() {
                if !checked.contains(tx) && no_dispute_slashes(&devnet, &c, *tx).await {
                    checked.push(*tx);
                }
            }
        }
        let now = clock.slot_time(slot);
        for rt in rts {
            rt.refresh(now).await.unwrap();
        }
        for k in 0..2 {
            let tick = now * 1000 + k * BLOCK_MS;
            if spamming {
                // to A, B and C in turn, each from its own sender; forwarded to the owner
                let i = k_sent % 3;
                let raw = transfer(na.spec.chain_id, &users[i], nonces[i]);
                nodes[i].pool.add_raw(TransactionOrigin::Local, &raw).unwrap();
                sent.push(keccak256(&raw));
                nonces[i] += 1;
                k_sent += 1;
                tokio::time::sleep(Duration::from_millis(150)).await;
            }
            for (i, rt) in [&a, &b].into_iter().enumerate() {
                let out = rt.service.on_tick(tick, tick + BLOCK_MS).await.unwrap();
                if let TickOutcome::Preconfirmed { number, end_of_sequencing } = out {
                    for _ in 0..300 {
                        if rts.iter().all(|r| r.service.latest() == rt.service.latest()) {
                            break;
                        }
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                    for r in rts {
                        assert_eq!(
                            r.service.latest(),
                            rt.service.latest(),
                            "block {number} everywhere"
                        );
                    }
                    if end_of_sequencing {
                        let (_, end) = rt.schedule.window_at(tick / 1000).unwrap();
                        let p = rt.propose_turn(end).await.unwrap().expect("something to propose");
                        assert_eq!(p.batch.last, number);
                        proposals.insert(number, (p.tx, i, p.via_bolt));
                    }
                }
            }
        }
        slot += 1;
    }
    for _ in 0..2 {
        devnet.advance_slot().await.unwrap();
        for (tx, _, _) in proposals.values() {
            if !checked.contains(tx) && no_dispute_slashes(&devnet, &c, *tx).await {
                checked.push(*tx);
            }
        }
    }
    let last = *proposals.keys().last().unwrap();
    assert!(proposals.len() >= 4, "turns proposed: {}", proposals.len());
    assert!(proposals.values().any(|p| p.1 == 0) && proposals.values().any(|p| p.1 == 1));

    // every proposal was accepted; Bolt's at the top of their slot
    let mut via_bolt = 0;
    for (l, (tx, _, bolt)) in &proposals {
        let r = devnet.l1.receipt(*tx).await.unwrap().expect("mined");
        assert_eq!(r["status"], "0x1", "the batch ending at {l}: {r}");
        if *bolt {
            via_bolt += 1;
            let index = taiko_l1::execution::hex_u64(&r["transactionIndex"]);
            assert!(index <= 1, "Bolt's commitment tops its slot: index {index}");
        }
    }
    assert!(via_bolt >= 1, "at least one batch through Bolt");

    // L1's batches hold the preconfirmed blocks: same transactions, same order, same proposer
    let filter = serde_json::json!({
        "address": m.contracts.inbox, "fromBlock": "0x0", "toBlock": "latest",
        "topics": [TaikoInbox::BatchProposed::SIGNATURE_HASH],
    });
    let logs: Vec<Value> =
        devnet.l1.request("eth_getLogs", jsonrpsee::rpc_params![filter]).await.unwrap();
    let mut infos = Vec::new();
    let mut in_blobs = 0;
    let mut on_l1 = Vec::new();
    for log in &logs {
        let topics: Vec<B256> = serde_json::from_value(log["topics"].clone()).unwrap();
        let data: Bytes = serde_json::from_value(log["data"].clone()).unwrap();
        let ev = TaikoInbox::BatchProposed::decode_raw_log(topics, &data).unwrap();
        // calldata, or the blobs as the beacon API serves them
        in_blobs += usize::from(!ev.info.blobHashes.is_empty());
        let reconciler = c.reconciler.as_ref().unwrap();
        let list = reconciler.tx_list(&ev.info, &ev.txList).await.unwrap();
        for d in derive_blocks(&ev.info, &list).unwrap() {
            let ours = na.store.block_by_number(d.number).unwrap().unwrap().block.block().clone();
            let hashes: Vec<B256> = d.transactions.iter().map(|t| *t.tx_hash()).collect();
            let preconfirmed: Vec<B256> =
                ours.body.transactions[1..].iter().map(|t| *t.tx_hash()).collect();
            assert_eq!(
                hashes, preconfirmed,
                "block {}: L1 holds the preconfirmed transactions in order",
                d.number
            );
            assert_eq!(d.timestamp, ours.header.timestamp);
            assert_eq!(
                c.service.signer_of(d.number),
                Some(ev.info.proposer),
                "proposed by its signer"
            );
            on_l1.extend(hashes);
        }
        infos.push(ev.info);
    }
    assert_eq!(on_l1, sent, "every transaction sent is on L1, in the order sent");
    // the devnet's blob base fee is 1 wei: the proposers choose blobs over calldata
    assert!(in_blobs >= 1, "blob batches: {in_blobs} of {}", infos.len());

    // every node follows the inbox to the same heads
    for (rt, n) in rts.iter().zip(&nodes) {
        let report = rt.reconcile().await.unwrap();
        assert!(report.mismatches.is_empty(), "{report:?}");
        let heads = n.store.heads().unwrap();
        assert_eq!(heads.safe.number, last);
        assert_eq!(heads.latest.hash, na.store.heads().unwrap().latest.hash);
        assert_eq!(heads.safe.hash, na.store.heads().unwrap().safe.hash);
    }

    assert_eq!(
        checked.len(),
        proposals.len(),
        "every batch was checked against the dispute functions"
    );
}

/// Once the batch of proposal `tx` is mined and its window over: for every block in it, the
/// missed-proposal proof finds it proposed and the wrong-preconfirmation proof finds no fault
/// (each reverts with that reason, so nobody can slash its signer). `false` while not yet.
async fn no_dispute_slashes(
    devnet: &taiko_devnet::Devnet,
    watcher: &taiko_preconf_exex::runtime::PreconfRuntime,
    tx: B256,
) -> bool {
    let Some(r) = devnet.l1.receipt(tx).await.unwrap() else { return false };
    let log = r["logs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["topics"][0] == serde_json::json!(TaikoInbox::BatchProposed::SIGNATURE_HASH))
        .expect("BatchProposed in the proposal's receipt");
    let topics: Vec<B256> = serde_json::from_value(log["topics"].clone()).unwrap();
    let data: Bytes = serde_json::from_value(log["data"].clone()).unwrap();
    let ev = TaikoInbox::BatchProposed::decode_raw_log(topics, &data).unwrap();
    let now = devnet.l1.latest().await.unwrap().timestamp;
    let tm = devnet.manifest().contracts.task_manager;
    let info = LibBatch::BatchInfo::abi_decode(&ev.info.abi_encode()).unwrap();
    let mut messages = Vec::new();
    for n in info.firstBlockId..=info.lastBlockId {
        let msg = PreconfMessage::decode(&watcher.service.adopted_message(n).unwrap()).unwrap();
        if now <= msg.commitment.windowEnd {
            return false; // its window is not over yet
        }
        messages.push(msg);
    }
    for msg in messages {
        let n = msg.commitment.blockNumber;
        let sig: Bytes = msg.signature.to_vec().into();
        let wrong = PreconfTaskManager::proveWrongPreconfirmationCall {
            c: msg.commitment.clone(),
            signature: sig.clone(),
            info: info.clone(),
        };
        let e = devnet.l1.call_raw(tm, wrong.abi_encode()).await.unwrap_err().to_string();
        assert!(e.contains(&selector_hex("NoFault()")), "block {n}: {e}");
        let missed =
            PreconfTaskManager::proveMissedProposalCall { c: msg.commitment, signature: sig };
        let e = devnet.l1.call_raw(tm, missed.abi_encode()).await.unwrap_err().to_string();
        assert!(e.contains(&selector_hex("BlockWasProposed()")), "block {n}: {e}");
    }
    true
}
