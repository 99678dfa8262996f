//! Preconfirmed blocks become an L1 batch that the contracts accept as the same chain: the
//! preconfer force-pushes the current epoch's lookahead, preconfirms three blocks, and proposes
//! them through `PreconfTaskManager` in its window with the next epoch's lookahead attached; the
//! inbox's digest of the last block equals the digest the preconfirmations chained.

mod common;

use alloy::{
    primitives::{Address, B256, U256},
    signers::local::PrivateKeySigner,
};
use common::{devnet_runtime, manual_devnet, node, transfer};
use taiko_chainspec::devnet_accounts;
use taiko_contracts::{PreconfTaskManager, inbox::TaikoInbox};
use taiko_pool::TransactionOrigin;
use taiko_preconf_exex::{
    anchor::anchor_of,
    batch::{build_batch, proposal_call, to_param},
    lookahead::{lookahead_params, owner_at},
    service::TickOutcome,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preconfirmed_blocks_land_on_l1_with_the_same_digest() {
    let devnet = manual_devnet(4, 1, 4).await;
    let m = devnet.manifest().clone();
    let clock = m.clock;
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

    // wait for the registration to activate, at an epoch's first slot
    let epoch = loop {
        devnet.advance_slot().await.unwrap();
        let now = devnet.clock.now();
        rt.refresh(now).await.unwrap();
        let e = rt.schedule.epoch_at(now);
        if now == clock.epoch_start(e)
            && rt.schedule.epoch(e).is_some_and(|w| w.windows.iter().any(|w| !w.is_fallback))
        {
            break e;
        }
        assert!(e < 10, "registration active within 10 epochs");
    };

    // nobody posted this epoch's lookahead: force-push it
    let params = lookahead_params(&clock, &rt.lookahead.proposers(&clock, epoch).await.unwrap());
    let push = PreconfTaskManager::forcePushLookaheadCall {
        epoch: U256::from(epoch),
        entries: params.iter().map(to_param).collect(),
    };
    let hash = devnet.l1.send(&key, m.contracts.task_manager, push, U256::ZERO).await.unwrap();
    devnet.advance_slot().await.unwrap();
    assert_eq!(devnet.l1.receipt(hash).await.unwrap().unwrap()["status"], "0x1");
    let now = devnet.clock.now();
    rt.refresh(now).await.unwrap();
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
    let inclusion = clock.slot_time(clock.slot_at(now) + 1);
    let current = rt.schedule.epoch(epoch).unwrap().windows;
    let next_params =
        lookahead_params(&clock, &rt.lookahead.proposers(&clock, epoch + 1).await.unwrap());
    let (owner, index) = owner_at(inclusion, &current, &[]).expect("a window at the inclusion");
    assert_eq!(owner, key.address());
    let call = proposal_call(&batch, index, &next_params);
    let hash = devnet.l1.send(&key, m.contracts.task_manager, call, U256::ZERO).await.unwrap();
    devnet.advance_slot().await.unwrap();
    assert_eq!(devnet.clock.now(), inclusion);
    let receipt = devnet.l1.receipt(hash).await.unwrap().expect("mined in the slot");
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
