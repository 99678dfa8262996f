//! Preconfirmed blocks become an L1 batch that the contracts accept as the same chain: the
//! preconfer force-pushes the current epoch's lookahead, preconfirms three blocks, and proposes
//! them through `PreconfTaskManager` in its window with the next epoch's lookahead attached; the
//! inbox's digest of the last block equals the digest the preconfirmations chained.

mod common;

use alloy::{
    primitives::{Address, B256, U256},
    signers::local::PrivateKeySigner,
};
use common::{
    devnet_runtime, force_push, manual_devnet, node, propose, transfer, until_registered,
};
use taiko_chainspec::devnet_accounts;
use taiko_contracts::{PreconfTaskManager, inbox::TaikoInbox};
use taiko_pool::TransactionOrigin;
use taiko_preconf_exex::{anchor::anchor_of, batch::build_batch, service::TickOutcome};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preconfirmed_blocks_land_on_l1_with_the_same_digest() {
    let devnet = manual_devnet(4, 1, 4).await;
    let m = devnet.manifest().clone();
    let key = PrivateKeySigner::from_bytes(&m.preconfers[0].account.private_key).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let a = node(&dir.path().join("a")).await;
    let rt = devnet_runtime(
        &devnet,
        &a,
        &dir.path().join("a").join("preconf"),
        Some(m.preconfers[0].account.private_key),
        vec![],
        250,
        None,
    )
    .await;

    let epoch = until_registered(&devnet, &rt).await;
    // nobody posted this epoch's lookahead: force-push it
    force_push(&devnet, &rt, &key, epoch).await;
    let now = devnet.clock.now();
    assert!(rt.schedule.epoch(epoch).unwrap().posted, "the node reads the posted lookahead");

    // three blocks in the window that the next L1 block closes
    let users = devnet_accounts();
    for (i, u) in users.iter().take(3).enumerate() {
        a.pool.add_raw(TransactionOrigin::Local, &transfer(a.spec.chain_id, u, 0)).unwrap();
        let tick = (now + 1) * 1000 + i as u64 * 250;
        let out = rt.service.on_tick(tick, tick + 250).await.unwrap();
        assert!(matches!(out, TickOutcome::Preconfirmed { number, .. } if number == i as u64 + 1));
    }
    let blocks: Vec<_> = (1..=3)
        .map(|n| a.store.block_by_number(n).unwrap().unwrap().block.block().clone())
        .collect();
    let anchors: Vec<u64> = (1..=3).map(|n| anchor_of(&a.store, n).unwrap().l1_block_id).collect();
    assert!(anchors.iter().all(|&x| x > 0), "anchored to real L1 blocks: {anchors:?}");
    let batch = build_batch(&blocks, &anchors, key.address(), B256::ZERO).unwrap();
    assert_eq!(Some(batch.digest), rt.service.digest(3), "Rust's digest chain");

    // propose into the L1 block at the window's end, posting the next epoch's lookahead
    let receipt = propose(&devnet, &rt, &key, &batch, epoch).await;
    assert_eq!(receipt["status"], "0x1", "accepted: {receipt}");

    let inbox = m.contracts.inbox;
    assert_eq!(devnet.l1.call(inbox, TaikoInbox::lastDigestCall {}).await.unwrap(), batch.digest);
    assert_eq!(devnet.l1.call(inbox, TaikoInbox::nextBlockIdCall {}).await.unwrap(), 4);
    let posted = devnet
        .l1
        .call(
            m.contracts.task_manager,
            PreconfTaskManager::lookaheadCall { epoch: U256::from(epoch + 1) },
        )
        .await
        .unwrap();
    assert!(!posted.is_empty(), "the next epoch's lookahead was posted with the batch");
    assert_ne!(key.address(), Address::ZERO);

    // after a restart (a service with no memory of the blocks) the digests come from the store
    let fresh = taiko_preconf_exex::service::PreconfService::new(
        taiko_preconf_exex::service::ServiceParts::for_node(
            &a,
            rt.p2p.clone(),
            None,
            rt.schedule.clone(),
            taiko_contracts::wire::preconf_domain(31337, m.contracts.task_manager),
            rt.anchor.clone(),
        ),
    );
    assert_eq!(fresh.digest(3), Some(batch.digest), "recomputed from the store");
    assert_eq!(fresh.digest(2), rt.service.digest(2));
}
