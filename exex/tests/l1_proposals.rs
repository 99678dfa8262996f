//! Two preconfers propose their own turns to L1 as they go: each turn's last block is marked
//! end-of-sequencing before the proposal margin, the batch is sent into the window's closing L1
//! block through the window proposer's Bolt sidecar, at the top of the block (force-pushing the
//! epoch's lookahead and posting the next one on the way), every
//! proposal is accepted, the inbox's chain is the preconfirmed chain, block for block, and
//! every node marks the proposed blocks `safe`.

mod common;

use std::{collections::BTreeMap, time::Duration};

use alloy::primitives::B256;
use common::{devnet_runtime, manual_devnet, node, transfer};
use taiko_chainspec::devnet_accounts;
use taiko_contracts::inbox::TaikoInbox;
use taiko_pool::TransactionOrigin;
use taiko_preconf_exex::service::{TickOutcome, WindowSchedule};

const BLOCK_MS: u64 = 1_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preconfers_propose_their_turns_and_l1_agrees() {
    let devnet = manual_devnet(4, 2, 2).await;
    let m = devnet.manifest().clone();
    let clock = m.clock;
    let dir = tempfile::tempdir().unwrap();
    let keys: Vec<B256> = m.preconfers.iter().map(|p| p.account.private_key).collect();
    let (na, nb) = (node(&dir.path().join("a")).await, node(&dir.path().join("b")).await);
    let a = devnet_runtime(
        &devnet,
        &na,
        &dir.path().join("pa"),
        Some(keys[0]),
        vec![],
        BLOCK_MS,
        Some(1_000),
    )
    .await;
    let b = devnet_runtime(
        &devnet,
        &nb,
        &dir.path().join("pb"),
        Some(keys[1]),
        vec![a.p2p.dial_addr()],
        BLOCK_MS,
        Some(1_000),
    )
    .await;
    // registrations active, at an epoch's first slot
    let first_epoch = loop {
        devnet.advance_slot().await.unwrap();
        let now = devnet.clock.now();
        a.refresh(now).await.unwrap();
        let e = a.schedule.epoch_at(now);
        if now == clock.epoch_start(e)
            && a.schedule
                .epoch(e)
                .is_some_and(|w| !w.windows.is_empty() && w.windows.iter().all(|w| !w.is_fallback))
        {
            break e;
        }
        assert!(e < 10);
    };
    tokio::time::sleep(Duration::from_millis(1500)).await; // gossipsub mesh

    let users = devnet_accounts();
    let mut nonce = 0;
    // last block → (tx, proposer index, via Bolt)
    let mut proposals: BTreeMap<u64, (B256, u64, bool)> = BTreeMap::new();
    let mut slot = clock.first_slot(first_epoch);
    while slot < clock.first_slot(first_epoch + 3) {
        if slot > clock.first_slot(first_epoch) {
            devnet.advance_slot().await.unwrap();
        }
        let now = clock.slot_time(slot);
        for rt in [&a, &b] {
            rt.refresh(now).await.unwrap();
        }
        for k in 0..2 {
            let tick = now * 1000 + k * BLOCK_MS;
            na.pool
                .add_raw(TransactionOrigin::Local, &transfer(na.spec.chain_id, &users[0], nonce))
                .unwrap();
            nonce += 1;
            tokio::time::sleep(Duration::from_millis(150)).await; // the transaction reaches B too
            for (i, rt) in [&a, &b].into_iter().enumerate() {
                let out = rt.service.on_tick(tick, tick + BLOCK_MS).await.unwrap();
                if let TickOutcome::Preconfirmed { number, end_of_sequencing } = out {
                    // wait until the other node has it too
                    for _ in 0..200 {
                        if a.service.latest() == b.service.latest() {
                            break;
                        }
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                    assert_eq!(a.service.latest(), b.service.latest(), "block {number} on both");
                    if end_of_sequencing {
                        let (_, end) = rt.schedule.window_at(tick / 1000).unwrap();
                        let p = rt.propose_turn(end).await.unwrap().expect("something to propose");
                        assert_eq!(p.batch.last, number);
                        proposals.insert(number, (p.tx, i as u64, p.via_bolt));
                    }
                }
            }
        }
        slot += 1;
    }
    devnet.advance_slot().await.unwrap();

    assert!(proposals.len() >= 4, "several turns proposed: {}", proposals.len());
    assert!(
        proposals.values().any(|p| p.1 == 0) && proposals.values().any(|p| p.1 == 1),
        "both preconfers proposed"
    );
    for (last, (tx, _, via_bolt)) in &proposals {
        let r = devnet.l1.receipt(*tx).await.unwrap().expect("mined");
        assert_eq!(r["status"], "0x1", "the batch ending at block {last} was accepted: {r}");
        // every window ends at a registered validator's slot, and the devnet's run Bolt: the
        // proposal is committed to the top of that slot's block (after a force push, if any)
        assert!(via_bolt, "batch ending at {last} went through Bolt");
        let index = u64::from_str_radix(
            r["transactionIndex"].as_str().unwrap().trim_start_matches("0x"),
            16,
        )
        .unwrap();
        assert!(index <= 1, "top of the slot: index {index}");
    }
    let last = *proposals.keys().last().unwrap();
    let inbox = m.contracts.inbox;
    assert_eq!(devnet.l1.call(inbox, TaikoInbox::nextBlockIdCall {}).await.unwrap(), last + 1);
    assert_eq!(
        Some(devnet.l1.call(inbox, TaikoInbox::lastDigestCall {}).await.unwrap()),
        b.service.digest(last),
        "the inbox's chain is the preconfirmed chain"
    );

    // every node follows the inbox: the proposed blocks become `safe`
    for (rt, n) in [(&a, &na), (&b, &nb)] {
        let report = rt.reconcile().await.unwrap();
        assert_eq!(report.matched, proposals.len());
        assert!(report.mismatches.is_empty());
        assert_eq!(report.safe, Some(last));
        let heads = n.store.heads().unwrap();
        assert_eq!(heads.safe.number, last);
        assert!(heads.finalized.number <= heads.safe.number);
        assert!(heads.latest.number >= last);
        // nothing new: nothing moves
        assert_eq!(rt.reconcile().await.unwrap(), Default::default());
    }
}
