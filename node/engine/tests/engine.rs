//! Engine: appends, reverts, reorgs and the ExEx notifications they produce.

use alloy::{
    consensus::{TxEnvelope, transaction::Recovered},
    primitives::{Address, B256},
};
use std::sync::Arc;
use taiko_chainspec::{ChainSpec, devnet_accounts};
use taiko_engine::{Engine, EngineError, EngineHandle, ForkchoiceState, PayloadStatus};
use taiko_evm::{
    BuildLimits, IterSource,
    testing::{TxFactory, test_attributes},
};
use taiko_node_exex::{ExExContext, ExExEvent, ExExManager, ExExNotification, NodeComponents, Wal};
use taiko_store::{ExecutedBlock, Store, StoreOptions};
use tokio::sync::mpsc;

struct Node {
    _dir: tempfile::TempDir,
    store: Arc<Store>,
    engine: EngineHandle,
    notifications: mpsc::UnboundedReceiver<ExExNotification>,
}

#[derive(Clone)]
struct Components {
    store: Arc<Store>,
}

impl NodeComponents for Components {
    type Pool = ();
    type Provider = Arc<Store>;
    fn pool(&self) -> &() {
        &()
    }
    fn provider(&self) -> &Arc<Store> {
        &self.store
    }
}

/// A node whose only ExEx forwards every notification to the test and reports progress.
async fn node() -> Node {
    let dir = tempfile::tempdir().unwrap();
    let spec = Arc::new(ChainSpec::devnet());
    let store =
        Arc::new(Store::open(dir.path().join("db.redb"), spec, StoreOptions::default()).unwrap());
    let wal = Wal::open(dir.path().join("wal.redb")).unwrap();
    let head = store.heads().unwrap().latest;
    let mut manager = ExExManager::new(wal, Components { store: store.clone() }, head);
    let (tx, notifications) = mpsc::unbounded_channel();
    manager
        .install_exex("forward", move |mut ctx: ExExContext<Components>| async move {
            Ok(async move {
                while let Some(n) = ctx.notifications.recv().await {
                    if let Some(c) = n.committed_chain() {
                        ctx.events.send(ExExEvent::FinishedHeight(c.tip().num_hash())).unwrap();
                    }
                    let _ = tx.send(n);
                }
                Ok(())
            })
        })
        .await
        .unwrap();
    let (engine, handle) = Engine::new(store.clone(), Some(manager.handle())).unwrap();
    tokio::spawn(engine.run());
    tokio::spawn(manager.run());
    Node { _dir: dir, store, engine: handle, notifications }
}

async fn build_and_commit(n: &Node, ts: u64, txs: Vec<Recovered<TxEnvelope>>) -> ExecutedBlock {
    let spec = n.store.chain_spec().clone();
    let built = n
        .engine
        .build_payload(
            test_attributes(ts),
            Box::new(IterSource(txs.into_iter())),
            BuildLimits::from_spec(&spec),
        )
        .await
        .unwrap();
    let hash = built.block.block.hash();
    let heads = n
        .engine
        .fork_choice_updated(ForkchoiceState { head: hash, ..Default::default() })
        .await
        .unwrap();
    assert_eq!(heads.latest.hash, hash);
    built.block
}

async fn next(n: &mut Node) -> ExExNotification {
    tokio::time::timeout(std::time::Duration::from_secs(10), n.notifications.recv())
        .await
        .unwrap()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reorg_of_three_blocks_restores_state_and_notifies_both_chains() {
    let mut a = node().await;
    let mut b = node().await;
    let accounts = devnet_accounts();
    let mut fa = TxFactory::new(167_010, accounts.clone());
    let mut fb = TxFactory::new(167_010, accounts);

    // Shared history: blocks 1 and 2, built on A and imported by B.
    for ts in [2, 4] {
        let txs = vec![fa.transfer(0, Address::repeat_byte(9), 1)];
        fb.transfer(0, Address::repeat_byte(9), 1);
        let blk = build_and_commit(&a, ts, txs).await;
        assert_eq!(
            b.engine.new_payload(blk.block.clone(), None).await.unwrap(),
            PayloadStatus::Valid
        );
        b.engine
            .fork_choice_updated(ForkchoiceState { head: blk.block.hash(), ..Default::default() })
            .await
            .unwrap();
        assert!(matches!(next(&mut a).await, ExExNotification::ChainCommitted { .. }));
        assert!(matches!(next(&mut b).await, ExExNotification::ChainCommitted { .. }));
    }
    let fork_root = a.store.trie_root();
    assert_eq!(fork_root, b.store.trie_root());

    // A continues with 3, 4, 5; B with 3', 4', 5' (different transactions).
    let mut old = Vec::new();
    let mut new = Vec::new();
    for ts in [6, 8, 10] {
        old.push(build_and_commit(&a, ts, vec![fa.transfer(1, Address::repeat_byte(1), 1)]).await);
        new.push(
            build_and_commit(
                &b,
                ts,
                vec![
                    fb.transfer(2, Address::repeat_byte(2), 2),
                    fb.transfer(3, Address::repeat_byte(2), 2),
                ],
            )
            .await,
        );
        next(&mut a).await;
        next(&mut b).await;
    }
    assert_ne!(a.store.trie_root(), b.store.trie_root());

    // A learns B's branch: its blocks are accepted (parent not head), then chosen.
    for blk in &new {
        assert_eq!(
            a.engine.new_payload(blk.block.clone(), None).await.unwrap(),
            PayloadStatus::Accepted
        );
    }
    let heads = a
        .engine
        .fork_choice_updated(ForkchoiceState { head: new[2].block.hash(), ..Default::default() })
        .await
        .unwrap();
    assert_eq!(heads.latest, new[2].num_hash());
    assert_eq!(a.store.trie_root(), b.store.trie_root());
    assert_eq!(a.store.latest_header().unwrap().state_root, new[2].block.header().state_root);
    match next(&mut a).await {
        ExExNotification::ChainReorged { old: o, new: n } => {
            assert_eq!(
                o.blocks().iter().map(|b| b.block.hash()).collect::<Vec<_>>(),
                old.iter().map(|b| b.block.hash()).collect::<Vec<_>>()
            );
            assert_eq!(
                n.blocks().iter().map(|b| b.block.hash()).collect::<Vec<_>>(),
                new.iter().map(|b| b.block.hash()).collect::<Vec<_>>()
            );
        }
        other => panic!("expected a reorg, got {other:?}"),
    }
    // Receipts of the dropped transactions are gone, the new ones are indexed.
    assert!(
        a.store.transaction_location(*old[0].block.transactions()[1].tx_hash()).unwrap().is_none()
    );
    assert!(
        a.store.transaction_location(*new[0].block.transactions()[1].tx_hash()).unwrap().is_some()
    );

    // Back to the fork point: the exact pre-fork state root.
    let fork = a.store.canonical_hash(2).unwrap().unwrap();
    a.engine
        .fork_choice_updated(ForkchoiceState { head: fork, ..Default::default() })
        .await
        .unwrap();
    assert_eq!(a.store.trie_root(), fork_root);
    assert_eq!(a.store.latest_header().unwrap().state_root, fork_root);
    assert!(
        matches!(next(&mut a).await, ExExNotification::ChainReverted { old } if old.range() == (3..=5))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_heads_invalid_payloads_and_invalid_branches() {
    let a = node().await;
    let b = node().await;
    let mut fa = TxFactory::new(167_010, devnet_accounts());
    let blk1 = build_and_commit(&a, 2, vec![fa.transfer(0, Address::repeat_byte(1), 1)]).await;
    b.engine.new_payload(blk1.block.clone(), None).await.unwrap();
    b.engine
        .fork_choice_updated(ForkchoiceState { head: blk1.block.hash(), ..Default::default() })
        .await
        .unwrap();

    let unknown = B256::repeat_byte(0x77);
    assert!(matches!(
        a.engine.fork_choice_updated(ForkchoiceState { head: unknown, ..Default::default() }).await,
        Err(EngineError::UnknownBlock(h)) if h == unknown
    ));

    // A tampered child of the head is reported invalid and nothing changes.
    let blk2 = build_and_commit(&a, 4, vec![fa.transfer(0, Address::repeat_byte(1), 1)]).await;
    let mut bad = blk2.block.block().clone();
    bad.header.gas_used += 1;
    let bad = taiko_store::SealedBlock::seal(bad);
    assert!(matches!(
        b.engine.new_payload(bad.clone(), None).await.unwrap(),
        PayloadStatus::Invalid(_)
    ));
    assert!(matches!(
        b.engine
            .fork_choice_updated(ForkchoiceState { head: bad.hash(), ..Default::default() })
            .await,
        Err(EngineError::UnknownBlock(_))
    ));

    // A branch whose second block is invalid: the old chain is restored.
    let head_before = a.store.heads().unwrap();
    let root_before = a.store.trie_root();
    let bad3 = taiko_store::SealedBlock::seal({
        let mut blk = blk2.block.block().clone();
        blk.header.number = 3;
        blk.header.parent_hash = blk2.block.hash();
        blk
    });
    // B (at 1) learns 2 (valid) and a bogus 3.
    b.engine.new_payload(blk2.block.clone(), None).await.unwrap();
    assert_eq!(b.engine.new_payload(bad3.clone(), None).await.unwrap(), PayloadStatus::Accepted);
    let err = b
        .engine
        .fork_choice_updated(ForkchoiceState { head: bad3.hash(), ..Default::default() })
        .await
        .unwrap_err();
    assert!(matches!(err, EngineError::InvalidBranch { hash, .. } if hash == bad3.hash()), "{err}");
    assert_eq!(b.store.heads().unwrap().latest, blk1.num_hash(), "old chain kept");
    assert_eq!(a.store.heads().unwrap(), head_before);
    assert_eq!(a.store.trie_root(), root_before);

    // Safe and finalized move forward only, and never past the head.
    let heads = a
        .engine
        .fork_choice_updated(ForkchoiceState {
            head: blk2.block.hash(),
            safe: blk2.block.hash(),
            finalized: blk1.block.hash(),
        })
        .await
        .unwrap();
    assert_eq!((heads.safe, heads.finalized), (blk2.num_hash(), blk1.num_hash()));
    assert!(matches!(
        a.engine
            .fork_choice_updated(ForkchoiceState {
                head: blk2.block.hash(),
                safe: blk2.block.hash(),
                finalized: B256::repeat_byte(3)
            })
            .await,
        Err(EngineError::InvalidSafeOrFinalized(_))
    ));
    // A revert below finalized is refused.
    let genesis = a.store.canonical_hash(0).unwrap().unwrap();
    assert!(matches!(
        a.engine.fork_choice_updated(ForkchoiceState { head: genesis, ..Default::default() }).await,
        Err(EngineError::BelowFinalized { .. })
    ));
}

/// The pool feeds the builder directly and the maintenance ExEx prunes what was mined.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocks_built_from_the_pool_prune_it_through_notifications() {
    use taiko_pool::{Pool, PoolConfig, TransactionOrigin};
    let dir = tempfile::tempdir().unwrap();
    let spec = Arc::new(ChainSpec::devnet());
    let store = Arc::new(
        Store::open(dir.path().join("db.redb"), spec.clone(), StoreOptions::default()).unwrap(),
    );
    let base_fee = store.latest_header().unwrap().base_fee_per_gas.unwrap();
    let pool = Pool::new(PoolConfig::for_chain(&spec), store.clone(), base_fee);
    let wal = Wal::open(dir.path().join("wal.redb")).unwrap();
    let mut manager =
        ExExManager::new(wal, Components { store: store.clone() }, store.heads().unwrap().latest);
    let (done_tx, mut done) = mpsc::unbounded_channel();
    let maint = pool.clone();
    manager
        .install_exex("pool-maintenance", move |mut ctx: ExExContext<Components>| async move {
            Ok(async move {
                while let Some(n) = ctx.notifications.recv().await {
                    maint.on_notification(&n);
                    let _ = done_tx.send(());
                }
                Ok(())
            })
        })
        .await
        .unwrap();
    let (engine, handle) = Engine::new(store.clone(), Some(manager.handle())).unwrap();
    tokio::spawn(engine.run());
    tokio::spawn(manager.run());

    let mut f = TxFactory::new(spec.chain_id, devnet_accounts());
    let txs: Vec<_> = (0..30).map(|k| f.transfer(k % 3, Address::repeat_byte(5), 1)).collect();
    f.set_nonce(4, 7);
    let gapped = f.transfer(4, Address::repeat_byte(5), 1);
    for t in txs.iter().chain([&gapped]) {
        pool.add_transaction(TransactionOrigin::Local, t.clone()).unwrap();
    }
    assert_eq!(pool.size().pending.count, 30);
    let built = handle
        .build_payload(
            test_attributes(2),
            Box::new(pool.best_transactions()),
            BuildLimits::from_spec(&spec),
        )
        .await
        .unwrap();
    assert_eq!(built.block.block.transactions().len(), 31, "anchor + every pending tx");
    handle
        .fork_choice_updated(ForkchoiceState {
            head: built.block.block.hash(),
            ..Default::default()
        })
        .await
        .unwrap();
    tokio::time::timeout(std::time::Duration::from_secs(10), done.recv()).await.unwrap().unwrap();
    assert_eq!(pool.size().pending.count, 0, "mined transactions pruned");
    assert!(pool.contains(gapped.tx_hash()), "the queued one stays");
    assert_eq!(pool.size().queued.count, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn competing_payloads_at_one_height_commit_with_their_own_state_root() {
    // The last validated payload stays applied to the trie until a fork choice selects it;
    // validating another one in between, or selecting the other, must not mix their changes.
    let a = node().await;
    let b = node().await;
    let spec = a.store.chain_spec().clone();
    let mut f = TxFactory::new(167_010, devnet_accounts());
    let genesis_root = a.store.trie_root();
    let build = |txs: Vec<Recovered<TxEnvelope>>, ts: u64| {
        let engine = a.engine.clone();
        let spec = spec.clone();
        async move {
            engine
                .build_payload(
                    test_attributes(ts),
                    Box::new(IterSource(txs.into_iter())),
                    BuildLimits::from_spec(&spec),
                )
                .await
                .unwrap()
                .block
        }
    };
    let x = build(vec![f.transfer(0, Address::repeat_byte(1), 5)], 2).await;
    let y = build(vec![f.transfer(1, Address::repeat_byte(2), 7)], 2).await;
    assert_eq!(a.store.trie_root(), y.block.header().state_root, "the last payload is applied");
    // selecting the earlier one re-applies it alone
    let heads = a
        .engine
        .fork_choice_updated(ForkchoiceState { head: x.block.hash(), ..Default::default() })
        .await
        .unwrap();
    assert_eq!(heads.latest.hash, x.block.hash());
    assert_eq!(a.store.trie_root(), x.block.header().state_root);
    // a follower validates y, then is told to take x: x's root, not y's
    assert_eq!(b.engine.new_payload(y.block.clone(), None).await.unwrap(), PayloadStatus::Valid);
    assert_eq!(b.engine.new_payload(x.block.clone(), None).await.unwrap(), PayloadStatus::Valid);
    b.engine
        .fork_choice_updated(ForkchoiceState { head: y.block.hash(), ..Default::default() })
        .await
        .unwrap();
    assert_eq!(b.store.trie_root(), y.block.header().state_root);
    // and reverting to genesis takes every change out
    b.engine
        .fork_choice_updated(ForkchoiceState {
            head: b.store.canonical_hash(0).unwrap().unwrap(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(b.store.trie_root(), genesis_root);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_block_built_in_rounds_is_the_block_one_build_makes() {
    let a = node().await;
    let c = node().await;
    let spec = a.store.chain_spec().clone();
    let limits = BuildLimits::from_spec(&spec);
    let mut f = TxFactory::new(167_010, devnet_accounts());
    let txs = vec![
        f.transfer(0, Address::repeat_byte(1), 1),
        f.transfer(1, Address::repeat_byte(2), 2),
        f.transfer(0, Address::repeat_byte(3), 3),
        f.transfer(2, Address::repeat_byte(4), 4),
        f.transfer(0, Address::repeat_byte(5), 5),
    ];
    // a transaction that can never run (a nonce far ahead): reported once, not once per round
    let mut gap = TxFactory::new(167_010, devnet_accounts());
    gap.set_nonce(3, 7);
    let stuck = gap.transfer(3, Address::repeat_byte(6), 6);
    let source = |v: Vec<Recovered<TxEnvelope>>| Box::new(IterSource(v.into_iter()));

    // A: the block starts early and takes candidates in rounds; each round repeats what the
    // earlier ones already put in the block, as the pool's best-first view does
    a.engine.start_build(test_attributes(2), limits, None).await.unwrap();
    a.engine.append_build(source(vec![txs[0].clone(), stuck.clone()])).unwrap();
    a.engine.append_build(source([&txs[..3], std::slice::from_ref(&stuck)].concat())).unwrap();
    let rounds =
        a.engine.build_payload(test_attributes(2), source(txs.clone()), limits).await.unwrap();
    // C: one build from all of them
    let once =
        c.engine.build_payload(test_attributes(2), source(txs.clone()), limits).await.unwrap();
    assert_eq!(rounds.block.block.hash(), once.block.block.hash());
    assert_eq!(rounds.block.block.transactions().len(), 1 + txs.len());
    assert_eq!(rounds.skipped.len(), 1, "{:?}", rounds.skipped);
    assert_eq!(rounds.skipped[0].hash, *stuck.tx_hash());
    let head = rounds.block.block.hash();
    a.engine.fork_choice_updated(ForkchoiceState { head, ..Default::default() }).await.unwrap();
    assert_eq!(a.store.trie_root(), rounds.block.block.header().state_root);

    // a session whose attributes differ from the tick's is not used
    let late = f.transfer(4, Address::repeat_byte(7), 7);
    a.engine.start_build(test_attributes(4), limits, None).await.unwrap();
    a.engine.append_build(source(vec![late.clone()])).unwrap();
    let other =
        a.engine.build_payload(test_attributes(6), source(vec![]), limits).await.unwrap().block;
    assert_eq!(other.block.transactions().len(), 1, "built afresh: the anchor only");
    assert_eq!(other.block.header().timestamp, 6);

    // a session whose parent is no longer `latest` is dropped: the tick builds on the new head
    a.engine.start_build(test_attributes(4), limits, None).await.unwrap();
    a.engine.append_build(source(vec![late.clone()])).unwrap();
    assert_eq!(
        c.engine.new_payload(rounds.block.block.clone(), None).await.unwrap(),
        PayloadStatus::Valid
    );
    c.engine.fork_choice_updated(ForkchoiceState { head, ..Default::default() }).await.unwrap();
    let rival = c
        .engine
        .build_payload(
            test_attributes(4),
            source(vec![f.transfer(5, Address::repeat_byte(8), 8)]),
            limits,
        )
        .await
        .unwrap()
        .block;
    assert_eq!(
        a.engine.new_payload(rival.block.clone(), None).await.unwrap(),
        PayloadStatus::Valid
    );
    let rival_hash = rival.block.hash();
    a.engine
        .fork_choice_updated(ForkchoiceState { head: rival_hash, ..Default::default() })
        .await
        .unwrap();
    let fresh =
        a.engine.build_payload(test_attributes(4), source(vec![]), limits).await.unwrap().block;
    assert_eq!(fresh.block.header().parent_hash, rival_hash);
    assert_eq!(
        fresh.block.transactions().len(),
        1,
        "the early block's transaction is gone with it"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_finishes_a_block_whose_transactions_it_executed_ahead() {
    let a = node().await;
    let b = node().await;
    let spec = a.store.chain_spec().clone();
    let limits = BuildLimits::from_spec(&spec);
    let mut f = TxFactory::new(167_010, devnet_accounts());
    let txs: Vec<_> =
        (0..6).map(|i| f.transfer(i % 3, Address::repeat_byte(i as u8 + 1), 1)).collect();
    let source = |v: Vec<Recovered<TxEnvelope>>| Box::new(IterSource(v.into_iter()));
    let genesis_root = b.store.trie_root();

    // the preconfer's block
    let block =
        a.engine.build_payload(test_attributes(2), source(txs.clone()), limits).await.unwrap();
    let block = block.block.block;
    let head = block.hash();
    a.engine.fork_choice_updated(ForkchoiceState { head, ..Default::default() }).await.unwrap();

    // B executed the first four ahead (two streamed rounds), then gets the block
    b.engine.start_build(test_attributes(2), limits, None).await.unwrap();
    b.engine.append_build(source(txs[..2].to_vec())).unwrap();
    b.engine.append_build(source(txs[2..4].to_vec())).unwrap();
    // a tampered copy (another state root) is not the session's block: imported in full and
    // found invalid, and the session is gone with it
    let mut header = block.header().clone();
    header.state_root = B256::repeat_byte(7);
    let tampered = taiko_store::SealedBlock::from_parts(header, block.transactions().to_vec());
    let status = b.engine.new_payload(tampered, None).await.unwrap();
    assert!(matches!(status, PayloadStatus::Invalid(_)), "{status:?}");
    assert_eq!(b.store.trie_root(), genesis_root, "nothing of the invalid block stays applied");
    assert_eq!(b.engine.session_imports(), 0);

    // the real header over a body whose anchor is swapped (same hash, since the hash is the
    // header's): the session compares every transaction, the anchor included, so it is not
    // used, and the full import finds the body is not the header's
    b.engine.start_build(test_attributes(2), limits, None).await.unwrap();
    b.engine.append_build(source(txs[..2].to_vec())).unwrap();
    let mut body = block.transactions().to_vec();
    body[0] = txs[5].inner().clone();
    let swapped = taiko_store::SealedBlock::new_unchecked(
        alloy::consensus::Block {
            header: block.header().clone(),
            body: alloy::consensus::BlockBody {
                transactions: body,
                ommers: vec![],
                withdrawals: block.block().body.withdrawals.clone(),
            },
        },
        block.hash(),
    );
    let status = b.engine.new_payload(swapped, None).await.unwrap();
    assert!(matches!(status, PayloadStatus::Invalid(_)), "{status:?}");
    assert_eq!(b.store.trie_root(), genesis_root, "nothing of the swapped block stays applied");
    assert_eq!(b.engine.session_imports(), 0);

    // again, and now the real block: finished through the session
    b.engine.start_build(test_attributes(2), limits, None).await.unwrap();
    b.engine.append_build(source(txs[..2].to_vec())).unwrap();
    b.engine.append_build(source(txs[2..4].to_vec())).unwrap();
    assert_eq!(b.engine.new_payload(block.clone(), None).await.unwrap(), PayloadStatus::Valid);
    assert_eq!(b.engine.session_imports(), 1);
    let head = block.hash();
    let heads =
        b.engine.fork_choice_updated(ForkchoiceState { head, ..Default::default() }).await.unwrap();
    assert_eq!(heads.latest.hash, head);
    assert_eq!(b.store.trie_root(), block.header().state_root);

    // a session that executed something the block does not hold is not used: full import
    let next = a
        .engine
        .build_payload(test_attributes(4), source(vec![f.transfer(4, Address::ZERO, 1)]), limits)
        .await
        .unwrap()
        .block
        .block;
    b.engine.start_build(test_attributes(4), limits, None).await.unwrap();
    b.engine.append_build(source(vec![f.transfer(5, Address::ZERO, 1)])).unwrap();
    assert_eq!(b.engine.new_payload(next.clone(), None).await.unwrap(), PayloadStatus::Valid);
    assert_eq!(b.engine.session_imports(), 1, "imported in full");
    let head = next.hash();
    b.engine.fork_choice_updated(ForkchoiceState { head, ..Default::default() }).await.unwrap();
    assert_eq!(b.store.trie_root(), next.header().state_root);
}

/// A session applies each round's state changes to the tries as it goes (so the seal hashes
/// only the last round's). Rounds that create a contract, write fresh storage slots, zero one
/// (a deletion) and move balances must seal to exactly the block one build makes, on the
/// preconfer and on a follower that executed the rounds ahead; a session that turns out not to
/// be the received block puts every round back before the block is imported in full; and a
/// session abandoned by a new head leaves nothing behind either.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rounds_applied_to_the_tries_seal_to_the_single_build_root() {
    let a = node().await; // preconfer, builds in rounds
    let b = node().await; // follower, executes the rounds ahead
    let c = node().await; // builds the same block at once
    let d = node().await; // follower whose session went another way
    let spec = a.store.chain_spec().clone();
    let limits = BuildLimits::from_spec(&spec);
    let genesis_root = a.store.trie_root();
    let mut f = TxFactory::new(167_010, devnet_accounts());
    let (one, two, three) = (f.address(1), f.address(2), f.address(3));
    let (deploy, token) = f.deploy_token(0, alloy::primitives::U256::from(1_000u64));
    let rounds: Vec<Vec<Recovered<TxEnvelope>>> = vec![
        vec![deploy],
        // fresh slots for 1, a plain transfer
        vec![f.token_transfer(0, token, one, 5), f.transfer(1, Address::repeat_byte(9), 1)],
        // 1's slot back to zero (deleted), a fresh slot for 3
        vec![f.token_transfer(1, token, two, 5), f.token_transfer(0, token, three, 7)],
    ];
    // (1's slot stays deleted: nothing after round 3 writes it)
    let last = vec![
        f.token_transfer(2, token, Address::repeat_byte(0x33), 2),
        f.transfer(3, Address::repeat_byte(9), 2),
    ];
    let all: Vec<_> = rounds.iter().flatten().chain(&last).cloned().collect();
    let source = |v: Vec<Recovered<TxEnvelope>>| Box::new(IterSource(v.into_iter()));

    a.engine.start_build(test_attributes(2), limits, None).await.unwrap();
    b.engine.start_build(test_attributes(2), limits, None).await.unwrap();
    for round in &rounds {
        a.engine.append_build(source(round.clone())).unwrap();
        b.engine.append_build(source(round.clone())).unwrap();
    }
    let built = a.engine.build_payload(test_attributes(2), source(last), limits).await.unwrap();
    let once =
        c.engine.build_payload(test_attributes(2), source(all.clone()), limits).await.unwrap();
    let block = built.block.block.clone();
    assert_eq!(block.hash(), once.block.block.hash(), "rounds seal to the single build's block");
    assert_eq!(block.transactions().len(), 1 + all.len(), "every transaction went in");
    for (i, r) in built.block.receipts.iter().enumerate() {
        assert!(alloy::consensus::TxReceipt::status(r), "transaction {i} succeeded");
    }
    assert_ne!(block.header().state_root, genesis_root);

    // the follower that executed the rounds ahead finishes through its session
    assert_eq!(b.engine.new_payload(block.clone(), None).await.unwrap(), PayloadStatus::Valid);
    assert_eq!(b.engine.session_imports(), 1);

    // a follower whose session executed something else: not a prefix, so the session puts its
    // rounds back and the block is imported in full, from clean tries
    d.engine.start_build(test_attributes(2), limits, None).await.unwrap();
    d.engine.append_build(source(rounds[0].clone())).unwrap();
    let mut g = TxFactory::new(167_010, devnet_accounts());
    g.set_nonce(0, 1); // after the deploy: a token transfer the block does not hold
    d.engine.append_build(source(vec![g.token_transfer(0, token, three, 99)])).unwrap();
    assert_eq!(d.engine.new_payload(block.clone(), None).await.unwrap(), PayloadStatus::Valid);
    assert_eq!(d.engine.session_imports(), 0, "imported in full");

    let head = block.hash();
    for n in [&a, &b, &c, &d] {
        n.engine.fork_choice_updated(ForkchoiceState { head, ..Default::default() }).await.unwrap();
        assert_eq!(n.store.trie_root(), block.header().state_root);
    }

    // a session on the new head, with storage rounds, abandoned when the head goes back: the
    // revert finds the tries holding the head's state, and genesis comes back exactly
    d.engine.start_build(test_attributes(4), limits, None).await.unwrap();
    d.engine.append_build(source(vec![f.token_transfer(0, token, two, 1)])).unwrap();
    d.engine.append_build(source(vec![f.token_transfer(3, token, one, 7)])).unwrap();
    let genesis = d.store.canonical_hash(0).unwrap().unwrap();
    d.engine
        .fork_choice_updated(ForkchoiceState { head: genesis, ..Default::default() })
        .await
        .unwrap();
    assert_eq!(d.store.trie_root(), genesis_root);
    // and a session started on that head can be built on as usual
    d.engine.start_build(test_attributes(2), limits, None).await.unwrap();
    let again =
        d.engine.build_payload(test_attributes(2), source(all), limits).await.unwrap().block.block;
    assert_eq!(again.hash(), head, "the same block again, from the same state");
}

/// Waits (up to 10 s) until `n`'s tries hold `root`: a session sealing on its own thread.
async fn wait_for_trie_root(n: &Node, root: B256) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while n.store.trie_root() != root {
        assert!(std::time::Instant::now() < deadline, "the tries never held {root}");
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_seals_ahead_once_the_last_round_is_known() {
    let a = node().await; // preconfer: its hook reports the rounds and the last one
    let b = node().await; // follower: seals ahead, then the block comes
    let c = node().await; // follower: seals ahead, then another block comes
    let d = node().await; // follower: seals ahead, then the head moves on without it
    let spec = a.store.chain_spec().clone();
    let limits = BuildLimits::from_spec(&spec);
    let genesis_root = a.store.trie_root();
    let mut f = TxFactory::new(167_010, devnet_accounts());
    let (deploy, token) = f.deploy_token(0, alloy::primitives::U256::from(1_000u64));
    let rounds: Vec<Vec<Recovered<TxEnvelope>>> = vec![
        vec![deploy],
        vec![
            f.token_transfer(0, token, f.address(1), 5),
            f.transfer(1, Address::repeat_byte(9), 1),
        ],
    ];
    let last = vec![f.transfer(2, Address::repeat_byte(9), 2)];
    let source = |v: Vec<Recovered<TxEnvelope>>| Box::new(IterSource(v.into_iter()));

    let seen: Arc<std::sync::Mutex<Vec<(usize, bool)>>> = Default::default();
    let hook = {
        let seen = seen.clone();
        Box::new(move |txs: &[TxEnvelope], last: bool| seen.lock().unwrap().push((txs.len(), last)))
    };
    a.engine.start_build(test_attributes(2), limits, Some(hook)).await.unwrap();
    for round in &rounds {
        a.engine.append_build(source(round.clone())).unwrap();
    }
    let built = a.engine.build_payload(test_attributes(2), source(last.clone()), limits).await;
    let block = built.unwrap().block.block;
    // the hook saw each round, then the last one marked as such before the seal
    assert_eq!(*seen.lock().unwrap(), vec![(1, false), (2, false), (1, true)]);

    let follow_and_seal = |n: &Node| {
        let (engine, rounds, last) = (n.engine.clone(), rounds.clone(), last.clone());
        async move {
            engine.start_build(test_attributes(2), limits, None).await.unwrap();
            for round in rounds.into_iter().chain([last]) {
                engine.append_build(source(round)).unwrap();
            }
            engine.seal_build().unwrap();
        }
    };
    // b seals before the block comes: its tries hold the block's state already, and the
    // block then only has to match
    follow_and_seal(&b).await;
    wait_for_trie_root(&b, block.header().state_root).await;
    assert_eq!(b.engine.new_payload(block.clone(), None).await.unwrap(), PayloadStatus::Valid);
    assert_eq!(b.engine.session_imports(), 1, "imported through the sealed session");

    // c sealed the same, but the block that comes is another one (the first round only): the
    // sealed block leaves the tries and the other one is imported in full
    let other = {
        let e = node().await;
        let built = e.engine.build_payload(test_attributes(2), source(rounds[0].clone()), limits);
        built.await.unwrap().block.block
    };
    follow_and_seal(&c).await;
    wait_for_trie_root(&c, block.header().state_root).await;
    assert_eq!(c.engine.new_payload(other.clone(), None).await.unwrap(), PayloadStatus::Valid);
    assert_eq!(c.engine.session_imports(), 0, "imported in full");
    c.engine
        .fork_choice_updated(ForkchoiceState { head: other.hash(), ..Default::default() })
        .await
        .unwrap();
    assert_eq!(c.store.trie_root(), other.header().state_root);

    // d sealed, and its own build replaces the session: the sealed block leaves the tries
    follow_and_seal(&d).await;
    wait_for_trie_root(&d, block.header().state_root).await;
    d.engine.start_build(test_attributes(2), limits, None).await.unwrap();
    assert_eq!(d.store.trie_root(), genesis_root, "the sealed session put the tries back");
    let again = d.engine.build_payload(test_attributes(2), source(rounds[0].clone()), limits);
    assert_eq!(again.await.unwrap().block.block.hash(), other.hash());

    // a and b commit the block and agree
    for n in [&a, &b] {
        let head = block.hash();
        n.engine.fork_choice_updated(ForkchoiceState { head, ..Default::default() }).await.unwrap();
        assert_eq!(n.store.trie_root(), block.header().state_root);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payload_adopted_as_head_in_one_call() {
    let a = node().await;
    let b = node().await;
    let mut f = TxFactory::new(167_010, devnet_accounts());
    let blk1 = build_and_commit(&a, 2, vec![f.transfer(0, Address::repeat_byte(1), 1)]).await;
    let blk2 = build_and_commit(&a, 4, vec![f.transfer(0, Address::repeat_byte(1), 1)]).await;
    let genesis = b.store.heads().unwrap().latest;

    // a child of an unknown parent waits, and the head stays
    assert_eq!(
        b.engine.new_payload_as_head(blk2.block.clone(), None).await.unwrap(),
        PayloadStatus::Accepted
    );
    assert_eq!(b.store.heads().unwrap().latest, genesis);
    // a tampered block is invalid, and the head stays
    let mut bad = blk1.block.block().clone();
    bad.header.gas_used += 1;
    let bad = taiko_store::SealedBlock::seal(bad);
    assert!(matches!(
        b.engine.new_payload_as_head(bad, None).await.unwrap(),
        PayloadStatus::Invalid(_)
    ));
    assert_eq!(b.store.heads().unwrap().latest, genesis);
    // a valid one is `latest` when the call returns, with its state
    assert_eq!(
        b.engine.new_payload_as_head(blk1.block.clone(), None).await.unwrap(),
        PayloadStatus::Valid
    );
    let heads = b.engine.heads().borrow().latest;
    assert_eq!(heads.hash, blk1.block.hash());
    assert_eq!(b.store.heads().unwrap().latest.hash, blk1.block.hash());
    assert_eq!(b.store.trie_root(), blk1.block.header().state_root);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aborting_the_engine_task_stops_its_thread_and_lets_the_store_go() {
    let dir = tempfile::tempdir().unwrap();
    let spec = Arc::new(ChainSpec::devnet());
    let store =
        Arc::new(Store::open(dir.path().join("db.redb"), spec, StoreOptions::default()).unwrap());
    let (engine, handle) = Engine::new(store.clone(), None).unwrap();
    let task = tokio::spawn(engine.run());
    // the engine serves from its thread
    let head = store.heads().unwrap().latest.hash;
    handle.fork_choice_updated(ForkchoiceState { head, ..Default::default() }).await.unwrap();
    assert_eq!(Arc::strong_count(&store), 2, "the engine holds the store");
    // a node's shutdown aborts the task while handles still exist: once the abort is through,
    // the engine is gone, and calls are refused
    task.abort();
    assert!(task.await.unwrap_err().is_cancelled());
    assert_eq!(Arc::strong_count(&store), 1, "the engine let the store go");
    assert!(matches!(
        handle.fork_choice_updated(ForkchoiceState { head, ..Default::default() }).await,
        Err(EngineError::Stopped)
    ));
}
