//! A node that joins late with no peer at all syncs from L1 alone: the reconciler derives every
//! batch in the inbox from its calldata, block for block the preconfirmed chain (same hashes),
//! and marks them `safe`; with a peer it then follows gossip, catching up the blocks that are
//! preconfirmed but not yet on L1.

mod common;

use std::time::Duration;

use alloy::primitives::B256;
use common::{devnet_runtime, node, transfer, until_registered};
use taiko_chainspec::devnet_accounts;
use taiko_contracts::inbox::TaikoInbox;
use taiko_pool::TransactionOrigin;
use taiko_preconf_exex::service::{TickOutcome, WindowSchedule};

const BLOCK_MS: u64 = 1_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_node_without_peers_derives_the_chain_from_l1_then_follows_gossip() {
    let devnet = common::manual_devnet(4, 1, 4).await;
    let m = devnet.manifest().clone();
    let dir = tempfile::tempdir().unwrap();
    let na = node(&dir.path().join("a")).await;
    let k: B256 = m.preconfers[0].account.private_key;
    let a = devnet_runtime(
        &devnet,
        &na,
        &dir.path().join("pa"),
        Some(k),
        vec![],
        BLOCK_MS,
        Some(1_000),
    )
    .await;
    until_registered(&devnet, &a).await;
    let user = &devnet_accounts()[0];
    let mut nonce = 0;
    let mut proposed = 0;
    // every slot is a one-slot window of A's: one block, proposed at once
    while proposed < 5 {
        let now = devnet.clock.now();
        a.refresh(now).await.unwrap();
        for _ in 0..3 {
            na.pool
                .add_raw(TransactionOrigin::Local, &transfer(na.spec.chain_id, user, nonce))
                .unwrap();
            nonce += 1;
        }
        let tick = (now + 1) * 1000;
        if let TickOutcome::Preconfirmed { end_of_sequencing: true, .. } =
            a.service.on_tick(tick, tick + BLOCK_MS).await.unwrap()
        {
            let (_, end) = a.schedule.window_at(tick / 1000).unwrap();
            a.propose_turn(end).await.unwrap().expect("a turn to propose");
            proposed += 1;
        }
        devnet.advance_slot().await.unwrap();
    }
    let head = na.store.latest_header().unwrap().number;
    let inbox = m.contracts.inbox;
    assert_eq!(devnet.l1.call(inbox, TaikoInbox::nextBlockIdCall {}).await.unwrap(), head + 1);

    // C starts from genesis, with no peer: L1 is its only source
    let nc = node(&dir.path().join("c")).await;
    let c =
        devnet_runtime(&devnet, &nc, &dir.path().join("pc"), None, vec![], BLOCK_MS, None).await;
    c.refresh(devnet.clock.now()).await.unwrap();
    let report = c.reconcile().await.unwrap();
    assert_eq!(report.derived, proposed, "every batch derived: {report:?}");
    assert!(report.mismatches.is_empty());
    assert_eq!(report.safe, Some(head));
    for n in 0..=head {
        assert_eq!(
            nc.store.canonical_hash(n).unwrap(),
            na.store.canonical_hash(n).unwrap(),
            "block {n} derived from L1 is the preconfirmed block"
        );
    }
    assert_eq!(nc.store.heads().unwrap().safe.number, head);
    assert_eq!(c.service.digest(head), a.service.digest(head));
    assert_eq!(c.reconcile().await.unwrap(), Default::default(), "nothing new");
    drop(c);

    // with A as a peer, C follows gossip: A's next blocks (not yet proposed) reach it
    let c = devnet_runtime(
        &devnet,
        &nc,
        &dir.path().join("pc2"),
        None,
        vec![a.p2p.dial_addr()],
        BLOCK_MS,
        None,
    )
    .await;
    tokio::time::sleep(Duration::from_millis(1_500)).await; // gossipsub mesh
    let mut made = 0;
    while made < 2 {
        let now = devnet.clock.now();
        a.refresh(now).await.unwrap();
        c.refresh(now).await.unwrap();
        na.pool
            .add_raw(TransactionOrigin::Local, &transfer(na.spec.chain_id, user, nonce))
            .unwrap();
        nonce += 1;
        let tick = (now + 1) * 1000;
        if let TickOutcome::Preconfirmed { .. } =
            a.service.on_tick(tick, tick + BLOCK_MS).await.unwrap()
        {
            made += 1;
        }
        devnet.advance_slot().await.unwrap();
    }
    for _ in 0..300 {
        if c.service.latest() == a.service.latest() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(c.service.latest(), a.service.latest(), "C follows gossip past the L1 head");
    assert_eq!(nc.store.latest_header().unwrap().number, head + 2);
}
