//! Build on one node, import on another: execution rules, header checks and bad input.

use alloy::{
    consensus::{Header, Transaction, TxEnvelope, transaction::Recovered},
    primitives::{Address, B256, Bytes, U256},
    signers::local::PrivateKeySigner,
};
use std::sync::Arc;
use taiko_chainspec::{ChainSpec, GOLDEN_TOUCH_ADDRESS, devnet_accounts};
use taiko_evm::{
    AnchorInput, BlockAttributes, BuildLimits, ImportError, IterSource, SkipReason, build_block,
    import_block, testing::TxFactory,
};
use taiko_store::{SealedBlock, Store, StoreOptions};

struct Node {
    _dir: tempfile::TempDir,
    store: Store,
    spec: Arc<ChainSpec>,
}

fn node() -> Node {
    let dir = tempfile::tempdir().unwrap();
    let spec = Arc::new(ChainSpec::devnet());
    let store =
        Store::open(dir.path().join("db.redb"), spec.clone(), StoreOptions::default()).unwrap();
    Node { _dir: dir, store, spec }
}

const COINBASE: Address = Address::repeat_byte(0xc0);

fn attrs(ts: u64, l1: u64) -> BlockAttributes {
    BlockAttributes {
        timestamp: ts,
        coinbase: COINBASE,
        anchor: AnchorInput {
            l1_block_id: l1,
            l1_block_hash: B256::repeat_byte(0xaa),
            l1_state_root: B256::repeat_byte(0xbb),
        },
        parent_beacon_block_root: B256::repeat_byte(0x4b),
        extra_data: Bytes::from_static(b"taiko-preconf"),
    }
}

fn latest(n: &Node) -> (Header, B256) {
    let h = n.store.latest_header().unwrap();
    let hash = h.hash_slow();
    (h, hash)
}

/// Builds a block on `n` from `txs` and commits it; returns the block and its senders.
fn build_commit(
    n: &Node,
    ts: u64,
    txs: Vec<Recovered<TxEnvelope>>,
) -> (SealedBlock, Vec<Address>, Vec<taiko_evm::SkippedTx>) {
    let (parent, parent_hash) = latest(n);
    let built = build_block(
        &n.spec,
        &n.store,
        &parent,
        parent_hash,
        &attrs(ts, 1),
        &mut IterSource(txs.into_iter()),
        BuildLimits::from_spec(&n.spec),
    )
    .unwrap();
    let o = built.outcome;
    n.store.commit_block(&o.executed, &o.changes).unwrap();
    (o.executed.block.clone(), o.executed.senders.clone(), built.skipped)
}

fn import_commit(n: &Node, block: &SealedBlock) -> Result<(), ImportError> {
    let (parent, parent_hash) = latest(n);
    let o = import_block(&n.spec, &n.store, &parent, parent_hash, block, None)?;
    n.store.commit_block(&o.executed, &o.changes).unwrap();
    Ok(())
}

fn try_import(n: &Node, block: &SealedBlock) -> Result<(), ImportError> {
    let (parent, parent_hash) = latest(n);
    let root_before = n.store.trie_root();
    let head_before = n.store.heads().unwrap();
    let r = import_block(&n.spec, &n.store, &parent, parent_hash, block, None)
        .map(|o| n.store.undo_trie(o.trie_undo));
    // Whatever the outcome, nothing was written and the tries are back where they were.
    assert_eq!(n.store.heads().unwrap(), head_before);
    assert_eq!(n.store.trie_root(), root_before);
    r
}

/// Two nodes, a token deployed in block 1, then block 2 with 1,000 transfers and ERC-20 calls.
fn two_nodes_with_big_block() -> (Node, Node, SealedBlock, TxFactory, Address) {
    let a = node();
    let b = node();
    let mut f = TxFactory::new(a.spec.chain_id, devnet_accounts());
    let (deploy, token) = f.deploy_token(0, U256::from(10u64).pow(U256::from(30)));
    let mut txs = vec![deploy];
    for i in 1..f.len() {
        txs.push(f.token_transfer(0, token, f.address(i), 1_000_000));
    }
    let (b1, _, skipped) = build_commit(&a, 2, txs);
    assert!(skipped.is_empty(), "{skipped:?}");
    import_commit(&b, &b1).unwrap();

    let mut txs = Vec::new();
    for k in 0..1_000 {
        let from = k % f.len();
        let to = Address::with_last_byte((k % 200) as u8);
        txs.push(if k % 2 == 0 {
            f.transfer(from, to, 1 + k as u64)
        } else {
            f.token_transfer(from, token, to, 7)
        });
    }
    let (b2, _, skipped) = build_commit(&a, 4, txs);
    assert!(skipped.is_empty(), "{skipped:?}");
    (a, b, b2, f, token)
}

#[test]
fn block_of_1000_transfers_and_calls_imports_with_identical_hash() {
    let (a, b, b2, _, _) = two_nodes_with_big_block();
    assert_eq!(b2.transactions().len(), 1_001, "anchor + 1,000");
    import_commit(&b, &b2).unwrap();
    assert_eq!(b.store.heads().unwrap().latest, a.store.heads().unwrap().latest);
    assert_eq!(b.store.latest_header().unwrap().hash_slow(), b2.hash());
    assert_eq!(b.store.trie_root(), b2.header().state_root);
    // The stored block reads back identically on both nodes.
    let stored = b.store.block_by_number(2).unwrap().unwrap();
    assert_eq!(stored.block, b2);
    assert_eq!(stored.receipts.len(), 1_001);
    let loc = b.store.transaction_location(*b2.transactions()[500].tx_hash()).unwrap().unwrap();
    assert_eq!((loc.block_number, loc.index), (2, 500));
}

#[test]
fn every_tampered_header_field_is_rejected() {
    let (_a, b, b2, _, _) = two_nodes_with_big_block();
    type Tamper = fn(&mut Header);
    let cases: Vec<(&str, Tamper)> = vec![
        ("state_root", |h| h.state_root = B256::repeat_byte(1)),
        ("receipts_root", |h| h.receipts_root = B256::repeat_byte(1)),
        ("transactions_root", |h| h.transactions_root = B256::repeat_byte(1)),
        ("gas_used", |h| h.gas_used += 1),
        ("logs_bloom", |h| h.logs_bloom = Default::default()),
        ("mix_hash", |h| h.mix_hash = B256::repeat_byte(1)),
        ("withdrawals_root", |h| h.withdrawals_root = None),
        ("requests_hash", |h| h.requests_hash = Some(B256::ZERO)),
        ("difficulty", |h| h.difficulty = U256::from(1)),
        ("ommers_hash", |h| h.ommers_hash = B256::ZERO),
    ];
    for (field, tamper) in cases {
        let mut block = b2.block().clone();
        tamper(&mut block.header);
        match try_import(&b, &SealedBlock::seal(block)) {
            Err(ImportError::HeaderMismatch { field: f, .. }) => assert_eq!(f, field),
            other => panic!("{field}: {other:?}"),
        }
    }
    let mut block = b2.block().clone();
    block.header.base_fee_per_gas = Some(block.header.base_fee_per_gas.unwrap() + 1);
    assert!(matches!(
        try_import(&b, &SealedBlock::seal(block)),
        Err(ImportError::WrongBaseFee { .. })
    ));
    let mut block = b2.block().clone();
    block.header.gas_limit -= 1;
    assert!(matches!(
        try_import(&b, &SealedBlock::seal(block)),
        Err(ImportError::WrongGasLimit { .. })
    ));
    // A header changed under the original hash.
    let mut block = b2.block().clone();
    block.header.beneficiary = Address::repeat_byte(9);
    assert!(matches!(
        try_import(&b, &SealedBlock::new_unchecked(block, b2.hash())),
        Err(ImportError::HashMismatch { .. })
    ));
    // And the untouched block still imports.
    import_commit(&b, &b2).unwrap();
}

#[test]
fn tampered_tx_lists_are_rejected() {
    let (_a, b, b2, _, _) = two_nodes_with_big_block();
    // Drop the last transaction: the state, roots and gas no longer match.
    let mut block = b2.block().clone();
    block.body.transactions.pop();
    assert!(matches!(
        try_import(&b, &SealedBlock::seal(block)),
        Err(ImportError::HeaderMismatch { .. })
    ));
    // Swap two transactions of different senders.
    let mut block = b2.block().clone();
    block.body.transactions.swap(1, 2);
    assert!(matches!(
        try_import(&b, &SealedBlock::seal(block)),
        Err(ImportError::HeaderMismatch { field: "transactions_root", .. })
    ));
    // Swap two of one sender: a nonce gap.
    let mut block = b2.block().clone();
    block.body.transactions.swap(1, 21);
    assert!(matches!(
        try_import(&b, &SealedBlock::seal(block)),
        Err(ImportError::InvalidTransaction { index: 1, .. })
    ));
}

fn block_with(b2: &SealedBlock, f: impl FnOnce(&mut Vec<TxEnvelope>)) -> SealedBlock {
    let mut block = b2.block().clone();
    f(&mut block.body.transactions);
    SealedBlock::seal(block)
}

#[test]
fn bad_blocks_get_distinct_errors_and_write_nothing() {
    let (_a, b, b2, mut f, _) = two_nodes_with_big_block();

    // Invalid signature: flip the signature's s.
    let bad_sig = block_with(&b2, |txs| {
        let TxEnvelope::Eip1559(s) = &txs[3] else { panic!() };
        let sig = s.signature();
        let forged = alloy::primitives::Signature::new(sig.r(), U256::from(1), sig.v());
        txs[3] =
            TxEnvelope::Eip1559(alloy::consensus::Signed::new_unhashed(s.tx().clone(), forged));
    });
    match try_import(&b, &bad_sig) {
        Err(ImportError::InvalidSignature { index: 3 })
        | Err(ImportError::InvalidTransaction { index: 3, .. }) => {}
        other => panic!("bad signature: {other:?}"),
    }

    // Wrong nonce: a fresh tx with a nonce far ahead.
    f.set_nonce(5, 10_000);
    let wrong_nonce = f.transfer(5, Address::repeat_byte(1), 1);
    let block = block_with(&b2, |txs| txs.push(wrong_nonce.into_inner()));
    assert!(matches!(
        try_import(&b, &block),
        Err(ImportError::InvalidTransaction { index: 1001, .. })
    ));

    // Gas over the block limit.
    f.set_nonce(6, 50);
    let huge = f.sign(
        6,
        alloy::primitives::TxKind::Call(Address::repeat_byte(1)),
        U256::ZERO,
        Bytes::new(),
        300_000_000,
    );
    let block = block_with(&b2, |txs| txs.push(huge.into_inner()));
    match try_import(&b, &block) {
        Err(ImportError::InvalidTransaction { index: 1001, reason, .. }) => {
            assert!(reason.contains("gas"), "{reason}")
        }
        other => panic!("gas over limit: {other:?}"),
    }

    // Missing anchor.
    let block = block_with(&b2, |txs| {
        txs.remove(0);
    });
    assert_eq!(try_import(&b, &block), Err(ImportError::MissingAnchor));
    let block = block_with(&b2, |txs| txs.clear());
    assert_eq!(try_import(&b, &block), Err(ImportError::MissingAnchor));

    // Misplaced anchor: the anchor moved to position 1.
    let block = block_with(&b2, |txs| txs.swap(0, 1));
    assert!(matches!(
        try_import(&b, &block),
        Err(ImportError::MissingAnchor) | Err(ImportError::MisplacedAnchor { .. })
    ));
    // A second golden-touch transaction later in the block.
    let block = block_with(&b2, |txs| {
        let a = txs[0].clone();
        txs.push(a);
    });
    assert_eq!(try_import(&b, &block), Err(ImportError::MisplacedAnchor { index: 1001 }));

    // An anchor with different inputs than this node derives (wrong parent gas used).
    let block = block_with(&b2, |txs| {
        txs[0] = taiko_evm::anchor::anchor_transaction(
            &b.spec,
            1,
            b2.header().base_fee_per_gas.unwrap(),
            &attrs(4, 1).anchor,
            12345,
        );
    });
    assert_eq!(try_import(&b, &block), Err(ImportError::InvalidAnchor));

    // Wrong parent.
    let mut block = b2.block().clone();
    block.header.parent_hash = B256::repeat_byte(7);
    assert!(matches!(
        try_import(&b, &SealedBlock::seal(block)),
        Err(ImportError::WrongParent { .. })
    ));
    let mut block = b2.block().clone();
    block.header.number = 5;
    assert!(matches!(
        try_import(&b, &SealedBlock::seal(block)),
        Err(ImportError::WrongNumber { expected: 2, got: 5 })
    ));
}

#[test]
fn fees_are_shared_and_anchor_is_free() {
    let n = node();
    let mut f = TxFactory::new(n.spec.chain_id, devnet_accounts());
    let state0 = n.store.state().unwrap();
    let gt_before = state0.account(&GOLDEN_TOUCH_ADDRESS).unwrap();
    drop(state0);
    let txs =
        vec![f.transfer(0, Address::repeat_byte(1), 5), f.transfer(1, Address::repeat_byte(2), 5)];
    let (block, _, _) = build_commit(&n, 2, txs);
    let base_fee = block.header().base_fee_per_gas.unwrap() as u128;
    let user_gas = 2 * 21_000u128;
    let state = n.store.state().unwrap();
    let cfg = n.spec.base_fee_config();
    let (to_coinbase, to_treasury) = cfg.split_fee(U256::from(base_fee * 21_000));
    let tip = 2 * 21_000 * f.max_priority_fee_per_gas;
    let coinbase = state.account(&COINBASE).unwrap().unwrap();
    assert_eq!(
        coinbase.balance,
        to_coinbase * U256::from(2) + U256::from(tip),
        "coinbase: 75% of base fee + tips"
    );
    let treasury = state.account(&n.spec.treasury()).unwrap().unwrap();
    assert_eq!(treasury.balance, to_treasury * U256::from(2), "treasury: the rest of the base fee");
    assert_eq!(
        U256::from(base_fee * user_gas),
        (to_coinbase + to_treasury) * U256::from(2),
        "nothing burned"
    );
    let gt = state.account(&GOLDEN_TOUCH_ADDRESS).unwrap().unwrap();
    assert_eq!(
        gt.balance,
        gt_before.map(|a| a.balance).unwrap_or_default(),
        "anchor is not charged"
    );
    assert_eq!(gt.nonce, 1);
    // The anchor contract accepted the header's base fee, computed in Rust: it recorded the block.
    let slot0 = state.storage(&n.spec.anchor_address, &U256::ZERO).unwrap();
    assert_eq!((slot0 >> 192usize).to::<u64>(), 1, "lastAnchoredL2Block = 1");
}

#[test]
fn base_fee_follows_the_anchor_contract_over_many_blocks() {
    // Heavy blocks raise the excess; the contract checks every header's base fee.
    let n = node();
    let mut f = TxFactory::new(n.spec.chain_id, devnet_accounts());
    let mut last = 0;
    for i in 1..=5u64 {
        let txs: Vec<_> =
            (0..200).map(|k| f.transfer(k % 20, Address::repeat_byte(3), 1)).collect();
        let (block, _, skipped) = build_commit(&n, 2 * i, txs);
        assert!(skipped.is_empty());
        last = block.header().base_fee_per_gas.unwrap();
    }
    assert!(last > 0);
}

#[test]
fn builder_skips_and_reports_bad_candidates() {
    let n = node();
    let mut f = TxFactory::new(n.spec.chain_id, devnet_accounts());
    let good = f.transfer(0, Address::repeat_byte(1), 1);
    f.set_nonce(1, 99);
    let gap = f.transfer(1, Address::repeat_byte(1), 1);
    let too_big = f.sign(
        2,
        alloy::primitives::TxKind::Call(Address::repeat_byte(1)),
        U256::ZERO,
        Bytes::new(),
        250_000_000,
    );
    let gt_signer =
        PrivateKeySigner::from_bytes(&taiko_chainspec::GOLDEN_TOUCH_PRIVATE_KEY).unwrap();
    let mut gtf = TxFactory::new(n.spec.chain_id, vec![gt_signer]);
    let from_gt = gtf.transfer(0, Address::repeat_byte(1), 0);
    let (block, _, skipped) =
        build_commit(&n, 2, vec![good.clone(), gap.clone(), too_big.clone(), from_gt.clone()]);
    assert_eq!(block.transactions().len(), 2);
    assert_eq!(block.transactions()[1].tx_hash(), good.tx_hash());
    let reasons: Vec<_> = skipped.iter().map(|s| (s.hash, s.reason.clone())).collect();
    assert!(
        matches!(&reasons[0], (h, SkipReason::Invalid(r)) if h == gap.tx_hash() && r.contains("nonce")),
        "{reasons:?}"
    );
    assert_eq!(reasons[1], (*too_big.tx_hash(), SkipReason::ExceedsBlockGas));
    assert_eq!(reasons[2], (*from_gt.tx_hash(), SkipReason::GoldenTouchSender));
}

/// `count` transactions from the 20 devnet accounts, each with `bytes` of pseudo-random
/// (incompressible) calldata.
fn incompressible_txs(
    f: &mut TxFactory,
    count: u64,
    bytes: u64,
    gas: u64,
) -> Vec<Recovered<TxEnvelope>> {
    (0..count)
        .map(|k| {
            let data: Vec<u8> = (0..bytes)
                .map(|i| alloy::primitives::keccak256((k * 4096 + i).to_be_bytes())[0])
                .collect();
            f.sign(
                (k % 20) as usize,
                alloy::primitives::TxKind::Call(Address::repeat_byte(1)),
                U256::ZERO,
                data.into(),
                gas,
            )
        })
        .collect()
}

#[test]
fn builder_respects_the_compressed_tx_list_budget() {
    let n = node();
    let mut f = TxFactory::new(n.spec.chain_id, devnet_accounts());
    let txs = incompressible_txs(&mut f, 200, 2048, 200_000);
    let (parent, parent_hash) = latest(&n);
    let limits = BuildLimits { gas_limit: n.spec.block_gas_limit(), max_tx_list_bytes: 40_000 };
    let built = build_block(
        &n.spec,
        &n.store,
        &parent,
        parent_hash,
        &attrs(2, 1),
        &mut IterSource(txs.into_iter()),
        limits,
    )
    .unwrap();
    let o = &built.outcome;
    let list = taiko_evm::compress_tx_list(&o.executed.block.transactions()[1..]);
    assert!(list.len() <= 40_000, "{}", list.len());
    assert!(list.len() > 30_000, "the budget is used, not wasted: {}", list.len());
    assert!(built.skipped.iter().any(|s| s.reason == SkipReason::TxListFull));
    // Per sender, nonces stay in order.
    let mut last: std::collections::HashMap<Address, u64> = Default::default();
    for (tx, s) in o.executed.block.transactions().iter().zip(&o.executed.senders).skip(1) {
        if let Some(prev) = last.insert(*s, tx.nonce()) {
            assert!(tx.nonce() > prev);
        }
    }
}

#[test]
fn import_rejects_a_tx_list_over_the_chain_limit() {
    // Node A builds with a 100 kB budget; node B's chain allows 20 kB (same genesis state).
    let a = node();
    let mut genesis = ChainSpec::devnet().genesis;
    let mut taiko: taiko_chainspec::TaikoConfig =
        genesis.config.extra_fields.get_deserialized("taiko").unwrap().unwrap();
    taiko.max_tx_list_bytes = 20_000;
    genesis.config.extra_fields.insert_value("taiko".into(), taiko).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let spec_b = Arc::new(ChainSpec::from_genesis(genesis).unwrap());
    assert_eq!(spec_b.genesis_hash(), a.spec.genesis_hash());
    let b = Node {
        store: Store::open(dir.path().join("db"), spec_b.clone(), StoreOptions::default()).unwrap(),
        _dir: dir,
        spec: spec_b,
    };
    let mut f = TxFactory::new(a.spec.chain_id, devnet_accounts());
    let txs = incompressible_txs(&mut f, 40, 1024, 100_000);
    let (block, _, skipped) = build_commit(&a, 2, txs);
    assert!(skipped.is_empty());
    match try_import(&b, &block) {
        Err(ImportError::TxListTooLarge { size, max: 20_000 }) => assert!(size > 20_000),
        other => panic!("{other:?}"),
    }
}

#[test]
fn historical_state_comes_from_revert_records_within_the_window() {
    let dir = tempfile::tempdir().unwrap();
    let spec = Arc::new(ChainSpec::devnet());
    let store = Store::open(
        dir.path().join("db"),
        spec.clone(),
        StoreOptions { revert_window: 3, ..Default::default() },
    )
    .unwrap();
    let n = Node { _dir: dir, store, spec };
    let mut f = TxFactory::new(n.spec.chain_id, devnet_accounts());
    let to = Address::repeat_byte(0x42);
    let mut seen = vec![(U256::ZERO, 0u64)];
    for i in 1..=5u64 {
        build_commit(&n, 2 * i, vec![f.transfer(0, to, i)]);
        let s = n.store.state().unwrap();
        seen.push((
            s.account(&to).unwrap().unwrap().balance,
            s.account(&f.address(0)).unwrap().unwrap().nonce,
        ));
    }
    for (b, (balance, nonce)) in seen.iter().enumerate().skip(2) {
        let s = n.store.state_at(b as u64).unwrap();
        assert_eq!(s.header().number, b as u64);
        assert_eq!(s.account(&to).unwrap().unwrap().balance, *balance, "balance after block {b}");
        assert_eq!(
            s.account(&f.address(0)).unwrap().unwrap().nonce,
            *nonce,
            "nonce after block {b}"
        );
    }
    assert!(matches!(
        n.store.state_at(1),
        Err(taiko_store::StoreError::StateUnavailable { oldest: 2, .. })
    ));
    assert!(matches!(n.store.state_at(6), Err(taiko_store::StoreError::StateUnavailable { .. })));
}

/// With the applier paused, committed blocks live only in memory and the block log: every read
/// must see them, state at older blocks must come out right, and reopening must replay them.
#[test]
fn reads_and_reopen_see_blocks_the_applier_has_not_written() {
    let (dir, crashed) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let spec = Arc::new(ChainSpec::devnet());
    let store =
        Store::open(dir.path().join("db.redb"), spec.clone(), StoreOptions::default()).unwrap();
    let n = Node { _dir: tempfile::tempdir().unwrap(), store, spec: spec.clone() };
    let mut f = TxFactory::new(spec.chain_id, devnet_accounts());
    let to = Address::repeat_byte(0x77);
    build_commit(&n, 2, vec![f.transfer(0, to, 1)]);
    n.store.flush().unwrap();

    let (mut blocks, mut balances) = (vec![], vec![]);
    {
        let _pause = n.store.pause_applier();
        for i in 2..=4u64 {
            let (block, _, skipped) = build_commit(&n, 2 * i, vec![f.transfer(0, to, i)]);
            assert!(skipped.is_empty());
            balances.push(n.store.state().unwrap().account(&to).unwrap().unwrap().balance);
            blocks.push(block);
        }
        assert_eq!(n.store.unapplied_blocks(), 3, "the paused applier wrote nothing");
        let heads = n.store.heads().unwrap();
        assert_eq!((heads.latest.number, heads.latest.hash), (4, blocks[2].hash()));
        assert_eq!(n.store.latest_header().unwrap().hash_slow(), blocks[2].hash());
        for b in &blocks {
            let num = b.number();
            assert_eq!(n.store.canonical_hash(num).unwrap(), Some(b.hash()));
            assert_eq!(n.store.block_number(b.hash()).unwrap(), Some(num));
            assert_eq!(n.store.header_by_number(num).unwrap().unwrap().hash_slow(), b.hash());
            let stored = n.store.block_by_number(num).unwrap().unwrap();
            assert_eq!(stored.block.hash(), b.hash());
            assert_eq!(stored.receipts.len(), 2);
            // one transaction, from memory
            for (i, tx) in b.transactions().iter().enumerate() {
                assert_eq!(n.store.transaction_by_index(num, i).unwrap().as_ref(), Some(tx));
            }
            assert_eq!(n.store.transaction_by_index(num, 2).unwrap(), None);
            let tx = b.transactions()[1].tx_hash();
            let loc = n.store.transaction_location(*tx).unwrap().unwrap();
            assert_eq!((loc.block_number, loc.index), (num, 1));
            // the state after each block, read from memory over the tables
            let s = n.store.state_at(num).unwrap();
            assert_eq!(s.header().number, num);
            assert_eq!(s.account(&to).unwrap().unwrap().balance, balances[(num - 2) as usize]);
        }
        // the applied block below them comes from the tables
        assert_eq!(
            n.store.state_at(1).unwrap().account(&to).unwrap().unwrap().balance,
            U256::from(1)
        );
        // building on an unapplied head works (reads go through memory)
        let (block5, _, skipped) = build_commit(&n, 10, vec![f.transfer(0, to, 5)]);
        assert!(skipped.is_empty());
        blocks.push(block5);

        // another node imports the whole chain while this one still has it in memory
        let other = node();
        for b in std::iter::once(n.store.block_by_number(1).unwrap().unwrap().block)
            .chain(blocks.iter().cloned())
        {
            import_commit(&other, &b).unwrap();
        }
        assert_eq!(other.store.trie_root(), n.store.trie_root());
        // a crash now: the files as they are on disk (blocks 2–5 only in the block log)
        for name in ["db.redb", "db.redb.blocklog"] {
            std::fs::copy(dir.path().join(name), crashed.path().join(name)).unwrap();
        }
    }
    let root = n.store.trie_root();

    let reopened =
        Store::open(crashed.path().join("db.redb"), spec, StoreOptions::default()).unwrap();
    let heads = reopened.heads().unwrap();
    assert_eq!((heads.latest.number, heads.latest.hash), (5, blocks[3].hash()));
    assert_eq!(reopened.trie_root(), root, "the block log was replayed into the tables");
    assert_eq!(reopened.unapplied_blocks(), 0);
    assert_eq!(
        reopened.state().unwrap().account(&to).unwrap().unwrap().balance,
        U256::from(1 + 2 + 3 + 4 + 5)
    );

    // one transaction, from the tables
    n.store.flush().unwrap();
    for b in &blocks {
        for (i, tx) in b.transactions().iter().enumerate() {
            assert_eq!(n.store.transaction_by_index(b.number(), i).unwrap().as_ref(), Some(tx));
        }
        assert_eq!(n.store.transaction_by_index(b.number(), 2).unwrap(), None);
    }
    assert_eq!(n.store.transaction_by_index(99, 0).unwrap(), None);

    // an unwind right after the pause ends: the applier catches up first, then the reverts
    let removed = n.store.unwind_to(3).unwrap();
    assert_eq!(removed.iter().map(|b| b.block.number()).collect::<Vec<_>>(), vec![4, 5]);
    assert_eq!(n.store.heads().unwrap().latest.number, 3);
    assert_eq!(n.store.trie_root(), blocks[1].header().state_root);
    assert_eq!(n.store.state().unwrap().account(&to).unwrap().unwrap().balance, U256::from(6));
    assert_eq!(std::fs::metadata(dir.path().join("db.redb.blocklog")).unwrap().len(), 0);
}

/// The applier leaves a committed block in memory while the chain is quiet for less than
/// `apply_after` (the table writes stay out of the gossip and import work that follows a
/// commit), writes it after that, writes at once when `APPLY_AT_ONCE` blocks wait, and never
/// holds up someone waiting for the tables (`flush`).
#[test]
fn the_applier_writes_after_a_quiet_period_and_at_once_when_needed() {
    use std::time::{Duration, Instant};
    let apply_after = Duration::from_millis(400);
    let dir = tempfile::tempdir().unwrap();
    let spec = Arc::new(ChainSpec::devnet());
    let store = Store::open(
        dir.path().join("db"),
        spec.clone(),
        StoreOptions { apply_after, ..Default::default() },
    )
    .unwrap();
    let n = Node { _dir: dir, store, spec };
    let mut f = TxFactory::new(n.spec.chain_id, devnet_accounts());
    let to = Address::repeat_byte(0x42);
    let wait_applied = |what: &str| {
        let deadline = Instant::now() + Duration::from_secs(5);
        while n.store.unapplied_blocks() > 0 {
            assert!(Instant::now() < deadline, "{what}: never applied");
            std::thread::sleep(Duration::from_millis(5));
        }
    };

    // one block: still in memory well inside the quiet period, in the tables after it
    let committed = Instant::now();
    build_commit(&n, 2, vec![f.transfer(0, to, 1)]);
    std::thread::sleep(Duration::from_millis(100));
    if committed.elapsed() < apply_after {
        assert_eq!(n.store.unapplied_blocks(), 1, "written during the quiet period");
    }
    wait_applied("after the quiet period");
    assert!(committed.elapsed() >= apply_after, "written before the quiet period ended");

    // flush does not wait out the quiet period
    build_commit(&n, 4, vec![f.transfer(0, to, 2)]);
    let flushing = Instant::now();
    n.store.flush().unwrap();
    assert_eq!(n.store.unapplied_blocks(), 0);
    assert!(flushing.elapsed() < apply_after, "flush waited {:?}", flushing.elapsed());

    // a node committing back to back has its blocks written in batches as they come
    for i in 0..taiko_store::APPLY_AT_ONCE as u64 {
        build_commit(&n, 6 + 2 * i, vec![f.transfer(0, to, 3 + i)]);
    }
    let full = Instant::now();
    wait_applied("a full batch");
    assert!(full.elapsed() < apply_after, "a full batch waited {:?}", full.elapsed());
}
