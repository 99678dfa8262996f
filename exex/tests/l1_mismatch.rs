//! L1 wins: the window's owner proposes a batch that differs from what it preconfirmed (block 2
//! without its transaction). Every node sees the inbox's digest differ, keeps the signed
//! commitments the batch broke as evidence, re-derives the batch's blocks from its calldata,
//! reorgs to them and marks them `safe`; the untouched block 1 stays.

mod common;

use alloy::signers::local::PrivateKeySigner;
use common::{
    devnet_runtime, force_push, manual_devnet, node, propose, transfer, until_registered,
};
use std::time::Duration;
use taiko_chainspec::devnet_accounts;
use taiko_contracts::inbox::TaikoInbox;
use taiko_pool::TransactionOrigin;
use taiko_preconf_exex::{
    anchor::anchor_of, batch::build_batch, message::PreconfMessage, service::TickOutcome,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_l1_batch_that_differs_replaces_the_preconfirmed_blocks() {
    let devnet = manual_devnet(4, 1, 4).await;
    let m = devnet.manifest().clone();
    let k = m.preconfers[0].account.private_key;
    let key = PrivateKeySigner::from_bytes(&k).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (na, nb) = (node(&dir.path().join("a")).await, node(&dir.path().join("b")).await);
    let a = devnet_runtime(&devnet, &na, &dir.path().join("pa"), Some(k), vec![], 250, None).await;
    let b = devnet_runtime(
        &devnet,
        &nb,
        &dir.path().join("pb"),
        None,
        vec![a.p2p.dial_addr()],
        250,
        None,
    )
    .await;
    let epoch = until_registered(&devnet, &a).await;
    force_push(&devnet, &a, &key, epoch).await;
    b.refresh(devnet.clock.now()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await; // gossipsub mesh

    let now = devnet.clock.now();
    for (i, u) in devnet_accounts().iter().take(3).enumerate() {
        na.pool.add_raw(TransactionOrigin::Local, &transfer(na.spec.chain_id, u, 0)).unwrap();
        let tick = (now + 1) * 1000 + i as u64 * 250;
        let out = a.service.on_tick(tick, tick + 250).await.unwrap();
        assert!(matches!(out, TickOutcome::Preconfirmed { .. }));
    }
    for _ in 0..200 {
        if b.service.latest() == a.service.latest() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(b.service.latest().0, 3, "the follower has the preconfirmed blocks");
    let before: Vec<_> = (1..=3).map(|n| nb.store.canonical_hash(n).unwrap().unwrap()).collect();

    // the owner proposes something else: block 2 without its transaction
    let mut blocks: Vec<_> = (1..=3)
        .map(|n| na.store.block_by_number(n).unwrap().unwrap().block.block().clone())
        .collect();
    blocks[1].body.transactions.truncate(1);
    let anchors: Vec<u64> = (1..=3).map(|n| anchor_of(&na.store, n).unwrap().l1_block_id).collect();
    let batch = build_batch(&blocks, &anchors, key.address(), Default::default()).unwrap();
    let receipt = propose(&devnet, &a, &key, &batch, epoch).await;
    assert_eq!(receipt["status"], "0x1", "{receipt}");
    let l1_digest = devnet.l1.call(m.contracts.inbox, TaikoInbox::lastDigestCall {}).await.unwrap();
    assert_eq!(l1_digest, batch.digest);

    for (rt, n) in [(&a, &na), (&b, &nb)] {
        let report = rt.reconcile().await.unwrap();
        assert_eq!(report.mismatches.len(), 1, "{report:?}");
        assert_eq!((report.reorged, report.safe), (1, Some(3)), "{report:?}");
        assert_eq!(n.store.heads().unwrap().safe.number, 3);
        assert_eq!(rt.service.digest(3), Some(l1_digest), "the chain is L1's now");
        let block2 = n.store.block_by_number(2).unwrap().unwrap();
        assert_eq!(block2.block.transactions().len(), 1, "block 2 is L1's: the anchor only");
        assert_eq!(n.store.canonical_hash(1).unwrap(), Some(before[0]), "block 1 untouched");
        assert_ne!(n.store.canonical_hash(3).unwrap(), Some(before[2]));
        // the broken commitments, heights 2 and 3, as signed
        let broken = rt.evidence.broken().unwrap();
        assert_eq!(broken.iter().map(|x| x.height).collect::<Vec<_>>(), vec![2, 3]);
        for (x, old) in broken.iter().zip(&before[1..]) {
            let msg = PreconfMessage::decode(&x.message).unwrap();
            assert_eq!(msg.commitment.blockHash, *old);
        }
    }
    assert_eq!(na.store.canonical_hash(3).unwrap(), nb.store.canonical_hash(3).unwrap());
}
