//! Pool rules, one test per behaviour a user or the sequencer depends on.

use alloy::{
    consensus::{Header, SignableTransaction, TxEnvelope, TxLegacy, transaction::Recovered},
    primitives::{Address, B256, Bytes, TxKind, U256},
    signers::{SignerSync, local::PrivateKeySigner},
};
use parking_lot::RwLock;
use std::{collections::HashMap, sync::Arc};
use taiko_evm::testing::TxFactory;
use taiko_node_exex::{Chain, ExExNotification};
use taiko_pool::{
    AccountReader, AddOutcome, BestTransactionsAttributes, CanonicalStateUpdate, Pool, PoolConfig,
    PoolError, QueuedReason, SenderAccount, SubPool,
    TransactionOrigin::{External, Local},
};
use taiko_store::{ExecutedBlock, SealedBlock};

const CHAIN: u64 = 167_010;
const GWEI: u128 = 1_000_000_000;

#[derive(Default)]
struct State(RwLock<HashMap<Address, SenderAccount>>);

impl AccountReader for State {
    fn sender_account(&self, a: &Address) -> Result<SenderAccount, String> {
        Ok(self.0.read().get(a).copied().unwrap_or_default())
    }
}

impl State {
    fn fund(&self, a: Address, nonce: u64, eth: u64) {
        self.0.write().insert(
            a,
            SenderAccount {
                nonce,
                balance: U256::from(eth) * U256::from(10u64).pow(U256::from(18)),
                has_code: false,
            },
        );
    }
}

fn config() -> PoolConfig {
    PoolConfig {
        block_gas_limit: 30_000_000,
        ..PoolConfig::for_chain(&taiko_chainspec::ChainSpec::devnet())
    }
}

fn setup(n: usize) -> (Pool<State>, Arc<State>, TxFactory) {
    let keys: Vec<PrivateKeySigner> = (0..n).map(|_| PrivateKeySigner::random()).collect();
    let state = Arc::new(State::default());
    for k in &keys {
        state.fund(k.address(), 0, 100);
    }
    let mut f = TxFactory::new(CHAIN, keys);
    f.max_fee_per_gas = 10 * GWEI;
    f.max_priority_fee_per_gas = GWEI;
    (Pool::new(config(), state.clone(), GWEI as u64), state, f)
}

fn tx_with_fees(f: &mut TxFactory, from: usize, fee: u128, tip: u128) -> Recovered<TxEnvelope> {
    let (a, b) = (f.max_fee_per_gas, f.max_priority_fee_per_gas);
    f.max_fee_per_gas = fee;
    f.max_priority_fee_per_gas = tip;
    let tx = f.transfer(from, Address::repeat_byte(9), 1);
    f.max_fee_per_gas = a;
    f.max_priority_fee_per_gas = b;
    tx
}

#[test]
fn nonce_gap_is_queued_and_filling_it_promotes() {
    let (pool, _, mut f) = setup(1);
    let mut listener = pool.new_pending_transactions_listener();
    let t0 = f.transfer(0, Address::ZERO, 1);
    let t1 = f.transfer(0, Address::ZERO, 1);
    let t2 = f.transfer(0, Address::ZERO, 1);
    let r2 = pool.add_transaction(External, t2.clone()).unwrap();
    assert!(matches!(r2, AddOutcome::Queued { reason: QueuedReason::NonceGap, .. }));
    let r1 = pool.add_transaction(External, t1.clone()).unwrap();
    assert!(matches!(r1, AddOutcome::Queued { reason: QueuedReason::NonceGap, .. }));
    assert_eq!(pool.size().queued.count, 2);
    assert!(listener.try_recv().is_err(), "nothing pending yet");
    let r0 = pool.add_transaction(External, t0.clone()).unwrap();
    assert!(matches!(r0, AddOutcome::Pending { .. }));
    assert_eq!(pool.size().pending.count, 3, "the gap filled promotes both");
    assert_eq!(pool.size().queued.count, 0);
    let mut got: Vec<B256> = (0..3).map(|_| listener.try_recv().unwrap()).collect();
    got.sort();
    let mut want = vec![*t0.tx_hash(), *t1.tx_hash(), *t2.tx_hash()];
    want.sort();
    assert_eq!(got, want, "listeners hear about promoted transactions too");
    assert_eq!(pool.pending_nonce(&f.address(0)), Some(3));
    pool.check_invariants().unwrap();
}

#[test]
fn base_fee_rise_parks_and_fall_unparks() {
    let (pool, _, mut f) = setup(2);
    let cheap = tx_with_fees(&mut f, 0, 2 * GWEI, GWEI);
    let after_cheap = tx_with_fees(&mut f, 0, 50 * GWEI, GWEI);
    let rich = tx_with_fees(&mut f, 1, 50 * GWEI, GWEI);
    for t in [&cheap, &after_cheap, &rich] {
        pool.add_transaction(External, t.clone()).unwrap();
    }
    assert_eq!(pool.size().pending.count, 3);
    pool.on_canonical_state_change(CanonicalStateUpdate {
        base_fee: 5 * GWEI as u64,
        ..Default::default()
    });
    assert_eq!(pool.sub_pool(cheap.tx_hash()), Some(SubPool::BaseFee));
    assert_eq!(
        pool.sub_pool(after_cheap.tx_hash()),
        Some(SubPool::BaseFee),
        "descendant parks with it"
    );
    assert_eq!(pool.sub_pool(rich.tx_hash()), Some(SubPool::Pending));
    pool.on_canonical_state_change(CanonicalStateUpdate {
        base_fee: GWEI as u64,
        ..Default::default()
    });
    assert_eq!(pool.size().pending.count, 3, "a fall unparks");
    // A new transaction below the base fee is filed under basefee.
    pool.on_canonical_state_change(CanonicalStateUpdate {
        base_fee: 5 * GWEI as u64,
        ..Default::default()
    });
    let low = tx_with_fees(&mut f, 1, 3 * GWEI, GWEI);
    assert!(matches!(
        pool.add_transaction(External, low).unwrap(),
        AddOutcome::Queued { reason: QueuedReason::FeeCapBelowBaseFee, .. }
    ));
    pool.check_invariants().unwrap();
}

#[test]
fn replacement_needs_ten_percent_more_fee_and_tip() {
    let (pool, _, mut f) = setup(1);
    let orig = tx_with_fees(&mut f, 0, 10 * GWEI, GWEI);
    pool.add_transaction(External, orig.clone()).unwrap();
    for (fee, tip) in [(10_900_000_000u128, 2 * GWEI), (20 * GWEI, 1_050_000_000)] {
        f.set_nonce(0, 0);
        let r = tx_with_fees(&mut f, 0, fee, tip);
        assert_eq!(pool.add_transaction(External, r), Err(PoolError::ReplacementUnderpriced));
    }
    f.set_nonce(0, 0);
    let better = tx_with_fees(&mut f, 0, 11 * GWEI, 1_100_000_000);
    let out = pool.add_transaction(External, better.clone()).unwrap();
    assert_eq!(
        out,
        AddOutcome::Pending { hash: *better.tx_hash(), replaced: Some(*orig.tx_hash()) }
    );
    assert!(!pool.contains(orig.tx_hash()));
    assert_eq!(pool.size().pending.count, 1);
    assert_eq!(pool.add_transaction(External, better), Err(PoolError::AlreadyKnown));
    pool.check_invariants().unwrap();
}

#[test]
fn every_rejection_is_typed_and_maps_to_the_wallet_string() {
    let (pool, state, mut f) = setup(3);
    let a0 = f.address(0);
    // nonce too low
    state.fund(a0, 5, 100);
    let low = f.transfer(0, Address::ZERO, 1);
    let e = pool.add_transaction(External, low).unwrap_err();
    assert_eq!(
        (e.clone(), e.wallet_message().as_str()),
        (PoolError::NonceTooLow { state: 5, tx: 0 }, "nonce too low")
    );
    // insufficient funds
    state.fund(f.address(1), 0, 0);
    let e = pool.add_transaction(External, f.transfer(1, Address::ZERO, 1)).unwrap_err();
    assert!(matches!(e, PoolError::InsufficientFunds { .. }));
    assert_eq!(e.wallet_message(), "insufficient funds for gas * price + value");
    // exceeds block gas limit
    let e = pool
        .add_transaction(
            External,
            f.sign(2, TxKind::Call(Address::ZERO), U256::ZERO, Bytes::new(), 30_000_001),
        )
        .unwrap_err();
    assert_eq!(
        (e.clone(), e.wallet_message().as_str()),
        (PoolError::ExceedsBlockGasLimit, "exceeds block gas limit")
    );
    // oversized data
    let e = pool
        .add_transaction(
            External,
            f.sign(
                2,
                TxKind::Call(Address::ZERO),
                U256::ZERO,
                vec![1u8; 130 * 1024].into(),
                29_000_000,
            ),
        )
        .unwrap_err();
    assert!(matches!(e, PoolError::OversizedData { .. }));
    assert_eq!(e.wallet_message(), "oversized data");
    // intrinsic gas too low
    let e = pool
        .add_transaction(
            External,
            f.sign(2, TxKind::Call(Address::ZERO), U256::ZERO, vec![1u8; 100].into(), 21_000),
        )
        .unwrap_err();
    assert!(matches!(e, PoolError::IntrinsicGasTooLow { need: 25_000, have: 21_000 }), "{e:?}");
    // tip above fee cap
    let e = pool.add_transaction(External, tx_with_fees(&mut f, 2, GWEI, 2 * GWEI)).unwrap_err();
    assert_eq!(e, PoolError::TipAboveFeeCap);
    // invalid chain id
    let mut other = TxFactory::new(1, vec![PrivateKeySigner::random()]);
    let e = pool.add_transaction(External, other.transfer(0, Address::ZERO, 1)).unwrap_err();
    assert_eq!(
        (e.clone(), e.wallet_message().as_str()),
        (PoolError::InvalidChainId, "invalid chain id")
    );
    // legacy without EIP-155 chain id
    let key = PrivateKeySigner::random();
    let legacy = TxLegacy {
        chain_id: None,
        nonce: 0,
        gas_price: GWEI,
        gas_limit: 21_000,
        to: TxKind::Call(Address::ZERO),
        value: U256::ZERO,
        input: Bytes::new(),
    };
    let sig = key.sign_hash_sync(&legacy.signature_hash()).unwrap();
    let e = pool
        .add_transaction(
            External,
            Recovered::new_unchecked(legacy.into_signed(sig).into(), key.address()),
        )
        .unwrap_err();
    assert_eq!(e, PoolError::InvalidChainId);
    // underpriced (minimum tip)
    let mut cfg = config();
    cfg.min_tip = 2 * GWEI;
    let strict = Pool::new(cfg, state.clone(), GWEI as u64);
    let e = strict.add_transaction(External, tx_with_fees(&mut f, 2, 10 * GWEI, GWEI)).unwrap_err();
    assert!(matches!(e, PoolError::Underpriced { .. }));
    assert_eq!(e.wallet_message(), "transaction underpriced");
    // golden touch
    let gt = PrivateKeySigner::from_bytes(&taiko_chainspec::GOLDEN_TOUCH_PRIVATE_KEY).unwrap();
    let mut gtf = TxFactory::new(CHAIN, vec![gt]);
    assert!(matches!(
        pool.add_transaction(External, gtf.transfer(0, Address::ZERO, 0)),
        Err(PoolError::ReservedSender(_))
    ));
    // sender with code
    let coder = f.address(2);
    state.0.write().get_mut(&coder).unwrap().has_code = true;
    assert_eq!(
        pool.add_transaction(External, f.transfer(2, Address::ZERO, 1)),
        Err(PoolError::SenderHasCode(coder))
    );
    // malformed bytes and bad signatures through the raw path
    assert!(matches!(pool.add_raw(External, &[0x02, 0xc0]), Err(PoolError::Decode(_))));
    // nothing was admitted by any of the above
    assert_eq!(pool.size().pending.count + pool.size().queued.count + pool.size().basefee.count, 0);
}

#[test]
fn sender_limit_and_eviction_prefer_keeping_local_and_expensive() {
    let (_, state, mut f) = setup(4);
    let mut cfg = config();
    cfg.max_txs_per_sender = 3;
    cfg.max_count_per_subpool = 5;
    let pool = Pool::new(cfg, state, GWEI as u64);
    for _ in 0..3 {
        pool.add_transaction(External, f.transfer(0, Address::ZERO, 1)).unwrap();
    }
    let e = pool.add_transaction(External, f.transfer(0, Address::ZERO, 1)).unwrap_err();
    assert_eq!(e, PoolError::SenderLimit(f.address(0)));
    // Sender 1 (local, cheap) and sender 2 (external, expensive) fill the pending pool.
    let local = tx_with_fees(&mut f, 1, 2 * GWEI, GWEI);
    pool.add_transaction(Local, local.clone()).unwrap();
    let rich = tx_with_fees(&mut f, 2, 90 * GWEI, GWEI);
    pool.add_transaction(External, rich.clone()).unwrap();
    assert_eq!(pool.size().pending.count, 5);
    // One more: the cheapest external tail goes (sender 0's nonce 2), never the local one.
    let extra = tx_with_fees(&mut f, 3, 50 * GWEI, GWEI);
    pool.add_transaction(External, extra.clone()).unwrap();
    assert_eq!(pool.size().pending.count, 5);
    assert!(pool.contains(local.tx_hash()), "local kept");
    assert!(pool.contains(rich.tx_hash()));
    assert_eq!(pool.pending_nonce(&f.address(0)), Some(2), "evicted from the tail: no gap");
    pool.check_invariants().unwrap();
}

#[test]
fn best_transactions_order_by_tip_and_keep_nonce_order() {
    let (pool, _, mut f) = setup(3);
    // Sender 0: low tip then high tip; sender 1: medium; sender 2: high then low.
    let a0 = tx_with_fees(&mut f, 0, 100 * GWEI, GWEI);
    let a1 = tx_with_fees(&mut f, 0, 100 * GWEI, 9 * GWEI);
    let b0 = tx_with_fees(&mut f, 1, 100 * GWEI, 5 * GWEI);
    let c0 = tx_with_fees(&mut f, 2, 100 * GWEI, 8 * GWEI);
    let c1 = tx_with_fees(&mut f, 2, 100 * GWEI, 2 * GWEI);
    for t in [&a1, &c1, &b0, &a0, &c0] {
        pool.add_transaction(External, t.clone()).unwrap();
    }
    let order: Vec<B256> = pool.best_transactions().map(|t| t.hash).collect();
    assert_eq!(
        order,
        vec![*c0.tx_hash(), *b0.tx_hash(), *c1.tx_hash(), *a0.tx_hash(), *a1.tx_hash()]
    );
    // At a higher base fee the effective tip changes: fee cap 100, base fee 95 → tip ≤ 5.
    let order: Vec<B256> = pool
        .best_transactions_with_attributes(BestTransactionsAttributes { basefee: 95 * GWEI as u64 })
        .map(|t| t.hash)
        .collect();
    assert_eq!(order.len(), 5);
    assert_eq!(order[0], *b0.tx_hash(), "b0 ties at tip 5 with c0 and arrived first");
    // mark_invalid drops the rest of that sender.
    let mut best = pool.best_transactions();
    let first = best.next().unwrap();
    assert_eq!(first.hash, *c0.tx_hash());
    best.mark_invalid(&first);
    let rest: Vec<B256> = best.map(|t| t.hash).collect();
    assert_eq!(rest, vec![*b0.tx_hash(), *a0.tx_hash(), *a1.tx_hash()], "c1 skipped");
    // a builder's next round passes over what its block holds, in the same order otherwise
    use taiko_evm::TxSource;
    let in_block = [*c0.tx_hash(), *a0.tx_hash()];
    let mut best = pool.best_transactions();
    let mut rest = vec![];
    while let Some(t) = best.next_tx_unless(&|h| in_block.contains(h)) {
        rest.push(*t.tx_hash());
    }
    assert_eq!(rest, vec![*b0.tx_hash(), *c1.tx_hash(), *a1.tx_hash()]);
    // … and jumps over a sender's nonces the block used, to the same order
    let next_nonce = |from: &[(Address, u64)]| {
        let from = from.to_vec();
        move |a: &Address| from.iter().find(|(s, _)| s == a).map(|(_, n)| *n)
    };
    let used = next_nonce(&[(a0.signer(), 1), (c0.signer(), 1)]);
    let mut best = pool.best_transactions();
    let mut rest = vec![];
    while let Some(t) = best.next_tx_from(&|h| in_block.contains(h), &used) {
        rest.push(*t.tx_hash());
    }
    assert_eq!(rest, vec![*b0.tx_hash(), *c1.tx_hash(), *a1.tx_hash()]);
    // past everything a sender has pooled: nothing more of that sender
    let used = next_nonce(&[(a0.signer(), 2)]);
    let mut best = pool.best_transactions();
    let mut rest = vec![];
    while let Some(t) = best.next_tx_from(&|_| false, &used) {
        rest.push(*t.tx_hash());
    }
    assert_eq!(rest, vec![*c0.tx_hash(), *b0.tx_hash(), *c1.tx_hash()]);
}

fn executed(number: u64, txs: Vec<Recovered<TxEnvelope>>, salt: u8) -> ExecutedBlock {
    let header = Header { number, extra_data: vec![salt].into(), ..Default::default() };
    let (txs, senders): (Vec<_>, Vec<_>) = txs
        .into_iter()
        .map(|t| {
            let s = t.signer();
            (t.into_inner(), s)
        })
        .unzip();
    ExecutedBlock { block: SealedBlock::from_parts(header, txs), senders, receipts: vec![] }
}

#[test]
fn mined_are_pruned_descendants_stay_and_reorgs_reinject_exactly_the_reverted() {
    let (pool, state, mut f) = setup(3);
    let anchor_like = f.transfer(2, Address::ZERO, 1); // stands in for the anchor at index 0
    let t: Vec<_> = (0..4).map(|_| f.transfer(0, Address::ZERO, 1)).collect();
    let u = f.transfer(1, Address::ZERO, 1);
    for x in t.iter().chain([&u]) {
        pool.add_transaction(External, x.clone()).unwrap();
    }
    // Block with t0, t1 and u is committed.
    state.fund(f.address(0), 2, 100);
    state.fund(f.address(1), 1, 100);
    let old = executed(1, vec![anchor_like.clone(), t[0].clone(), t[1].clone(), u.clone()], 1);
    pool.on_notification(&ExExNotification::ChainCommitted {
        new: Arc::new(Chain::new(vec![old.clone()])),
    });
    assert!(
        !pool.contains(t[0].tx_hash())
            && !pool.contains(t[1].tx_hash())
            && !pool.contains(u.tx_hash())
    );
    assert_eq!(pool.sub_pool(t[2].tx_hash()), Some(SubPool::Pending), "descendants stay pending");
    assert_eq!(pool.size().pending.count, 2);

    // Reorg: the new block 1 contains only t0. Re-injected: exactly t1 and u.
    state.fund(f.address(0), 1, 100);
    state.fund(f.address(1), 0, 100);
    let new = executed(1, vec![anchor_like, t[0].clone()], 2);
    pool.on_notification(&ExExNotification::ChainReorged {
        old: Arc::new(Chain::new(vec![old])),
        new: Arc::new(Chain::new(vec![new])),
    });
    assert!(pool.contains(t[1].tx_hash()) && pool.contains(u.tx_hash()), "reverted txs are back");
    assert!(!pool.contains(t[0].tx_hash()), "still mined in the new chain");
    assert_eq!(pool.size().pending.count, 4, "t1, t2, t3 and u");
    pool.check_invariants().unwrap();
}

#[test]
fn preconf_selection_respects_gas_bytes_tip_and_nonce_order() {
    let (pool, _, mut f) = setup(20);
    for round in 0..10 {
        for s in 0..20 {
            let data: Vec<u8> = (0..300u32)
                .map(|i| (i as u8).wrapping_mul(31).wrapping_add(s as u8 * 7 + round))
                .collect();
            let tip = GWEI * (1 + (s as u128 % 5));
            let (a, b) = (f.max_fee_per_gas, f.max_priority_fee_per_gas);
            f.max_priority_fee_per_gas = tip;
            f.max_fee_per_gas = 100 * GWEI;
            let tx = f.sign(s, TxKind::Call(Address::ZERO), U256::ZERO, data.into(), 40_000);
            f.max_fee_per_gas = a;
            f.max_priority_fee_per_gas = b;
            pool.add_transaction(External, tx).unwrap();
        }
    }
    for (gas, bytes, min_tip) in [
        (400_000u64, 1_000_000usize, 0u128),
        (10_000_000, 8_000, 0),
        (10_000_000, 1_000_000, 3 * GWEI),
    ] {
        let sel = pool.select_for_preconf(GWEI as u64, gas, bytes, min_tip);
        assert!(!sel.is_empty());
        let used: u64 =
            sel.iter().map(|t| alloy::consensus::Transaction::gas_limit(t.inner())).sum();
        assert!(used <= gas, "gas {used} > {gas}");
        let list =
            taiko_evm::compress_tx_list(&sel.iter().map(|t| t.inner().clone()).collect::<Vec<_>>());
        assert!(list.len() <= bytes, "bytes {} > {bytes}", list.len());
        let mut next: HashMap<Address, u64> = HashMap::new();
        for t in &sel {
            let n = alloy::consensus::Transaction::nonce(t.inner());
            assert_eq!(*next.entry(t.signer()).or_insert(n), n, "nonce order kept, no gaps");
            next.insert(t.signer(), n + 1);
            assert!(
                alloy::consensus::Transaction::max_priority_fee_per_gas(t.inner()).unwrap()
                    >= min_tip
            );
        }
    }
}

#[test]
fn local_transactions_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("local-txs.bin");
    let (pool, state, mut f) = setup(2);
    let l0 = f.transfer(0, Address::ZERO, 1);
    let l1 = f.transfer(0, Address::ZERO, 1);
    let ext = f.transfer(1, Address::ZERO, 1);
    pool.add_transaction(Local, l0.clone()).unwrap();
    pool.add_transaction(Local, l1.clone()).unwrap();
    pool.add_transaction(External, ext.clone()).unwrap();
    assert_eq!(pool.save_local(&path).unwrap(), 2);
    // Meanwhile l0 was mined: on reload it is revalidated away.
    state.fund(f.address(0), 1, 100);
    let fresh = Pool::new(config(), state, GWEI as u64);
    assert_eq!(fresh.load_local(&path).unwrap(), 1);
    assert!(
        fresh.contains(l1.tx_hash())
            && !fresh.contains(l0.tx_hash())
            && !fresh.contains(ext.tx_hash())
    );
    assert_eq!(fresh.get(l1.tx_hash()).unwrap().origin, Local);
    assert_eq!(
        Pool::new(config(), Arc::new(State::default()), 1)
            .load_local(&dir.path().join("missing"))
            .unwrap(),
        0
    );
}

mod props {
    use super::*;
    use proptest::prelude::*;

    #[derive(Debug, Clone)]
    enum Op {
        Add { sender: usize, nonce: u64, fee: u8, tip: u8 },
        Mine { sender: usize, upto: u64 },
        BaseFee(u8),
        Remove { sender: usize, nonce: u64 },
        Reorg { sender: usize, back: u64 },
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            6 => (0..6usize, 0..20u64, 1..60u8, 0..10u8).prop_map(|(sender, nonce, fee, tip)| Op::Add { sender, nonce, fee, tip }),
            1 => (0..6usize, 0..20u64).prop_map(|(sender, upto)| Op::Mine { sender, upto }),
            1 => (1..40u8).prop_map(Op::BaseFee),
            1 => (0..6usize, 0..20u64).prop_map(|(sender, nonce)| Op::Remove { sender, nonce }),
            1 => (0..6usize, 0..5u64).prop_map(|(sender, back)| Op::Reorg { sender, back }),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, .. ProptestConfig::default() })]
        #[test]
        fn random_operations_keep_the_invariants(ops in proptest::collection::vec(op(), 1..120)) {
            let keys: Vec<PrivateKeySigner> = (0..6).map(|i| PrivateKeySigner::from_bytes(&alloy::primitives::keccak256([i as u8; 4])).unwrap()).collect();
            let state = Arc::new(State::default());
            for k in &keys { state.fund(k.address(), 0, 1); }
            let mut cfg = config();
            cfg.max_txs_per_sender = 8;
            cfg.max_count_per_subpool = 20;
            let pool = Pool::new(cfg, state.clone(), GWEI as u64);
            let mut f = TxFactory::new(CHAIN, keys.clone());
            for op in ops {
                match op {
                    Op::Add { sender, nonce, fee, tip } => {
                        f.set_nonce(sender, nonce);
                        let fee = fee as u128 * GWEI;
                        let tx = tx_with_fees(&mut f, sender, fee, (tip as u128 * GWEI / 10).min(fee));
                        let _ = pool.add_transaction(if sender == 0 { Local } else { External }, tx);
                    }
                    Op::Mine { sender, upto } => {
                        let a = keys[sender].address();
                        let cur = state.sender_account(&a).unwrap();
                        if upto > cur.nonce {
                            state.fund(a, upto, 1);
                            pool.on_canonical_state_change(CanonicalStateUpdate { base_fee: pool.base_fee(), senders: vec![a], ..Default::default() });
                        }
                    }
                    Op::BaseFee(b) => pool.on_canonical_state_change(CanonicalStateUpdate { base_fee: b as u64 * GWEI as u64, ..Default::default() }),
                    Op::Remove { sender, nonce } => {
                        let hashes: Vec<B256> = pool.transactions_in(SubPool::Queued).into_iter()
                            .chain(pool.transactions_in(SubPool::Pending)).chain(pool.transactions_in(SubPool::BaseFee))
                            .filter(|t| t.sender() == keys[sender].address() && t.nonce() == nonce).map(|t| t.hash).collect();
                        pool.remove_transactions(&hashes);
                    }
                    Op::Reorg { sender, back } => {
                        let a = keys[sender].address();
                        let cur = state.sender_account(&a).unwrap();
                        state.fund(a, cur.nonce.saturating_sub(back), 1);
                        pool.on_canonical_state_change(CanonicalStateUpdate { base_fee: pool.base_fee(), senders: vec![a], ..Default::default() });
                    }
                }
                prop_assert_eq!(pool.check_invariants(), Ok(()));
                // The best iterator never breaks a sender's nonce order.
                let mut seen: HashMap<Address, u64> = HashMap::new();
                for t in pool.best_transactions() {
                    if let Some(prev) = seen.insert(t.sender(), t.nonce()) {
                        prop_assert_eq!(t.nonce(), prev + 1);
                    }
                }
            }
        }
    }
}

#[test]
fn blob_transactions_and_oversized_init_code_are_refused() {
    use alloy::consensus::{TxEip4844, TxEip4844Variant};
    let (pool, _, mut f) = setup(1);
    let key = PrivateKeySigner::random();
    let blob = TxEip4844 {
        chain_id: CHAIN,
        nonce: 0,
        gas_limit: 21_000,
        max_fee_per_gas: 10 * GWEI,
        max_priority_fee_per_gas: GWEI,
        to: Address::ZERO,
        value: U256::ZERO,
        access_list: Default::default(),
        blob_versioned_hashes: vec![B256::repeat_byte(1)],
        max_fee_per_blob_gas: 1,
        input: Bytes::new(),
    };
    let sig = key.sign_hash_sync(&blob.signature_hash()).unwrap();
    let env = TxEnvelope::Eip4844(TxEip4844Variant::TxEip4844(blob).into_signed(sig));
    let e =
        pool.add_transaction(External, Recovered::new_unchecked(env, key.address())).unwrap_err();
    assert_eq!(e, PoolError::BlobNotSupported);
    assert_eq!(e.wallet_message(), "transaction type not supported");

    let init = vec![0x60u8; 49_153];
    let e = pool
        .add_transaction(External, f.sign(0, TxKind::Create, U256::ZERO, init.into(), 29_000_000))
        .unwrap_err();
    assert_eq!(e, PoolError::InitCodeTooLarge);
}

/// Against the real store: code blocks a sender, an EIP-7702 delegation does not.
#[test]
fn senders_with_code_are_refused_unless_delegated() {
    use alloy::genesis::GenesisAccount;
    let dir = tempfile::tempdir().unwrap();
    let delegated = PrivateKeySigner::random();
    let contract = PrivateKeySigner::random();
    let mut genesis = taiko_chainspec::ChainSpec::devnet().genesis;
    let eth = U256::from(10u64).pow(U256::from(18));
    let mut delegation = vec![0xef, 0x01, 0x00];
    delegation.extend_from_slice(Address::repeat_byte(7).as_slice());
    genesis.alloc.insert(
        delegated.address(),
        GenesisAccount::default().with_balance(eth).with_code(Some(delegation.into())),
    );
    genesis.alloc.insert(
        contract.address(),
        GenesisAccount::default().with_balance(eth).with_code(Some(vec![0x60, 0x00].into())),
    );
    let spec = Arc::new(taiko_chainspec::ChainSpec::from_genesis(genesis).unwrap());
    let store = Arc::new(
        taiko_store::Store::open(dir.path().join("db"), spec.clone(), Default::default()).unwrap(),
    );
    let pool = Pool::new(PoolConfig::for_chain(&spec), store.clone(), GWEI as u64);
    let mut f = TxFactory::new(spec.chain_id, vec![delegated.clone(), contract.clone()]);
    assert!(matches!(
        pool.add_transaction(External, f.transfer(0, Address::ZERO, 1)),
        Ok(AddOutcome::Pending { .. })
    ));
    assert_eq!(
        pool.add_transaction(External, f.transfer(1, Address::ZERO, 1)),
        Err(PoolError::SenderHasCode(contract.address()))
    );
    // the batch read (one state view for a block's senders) answers as the single reads do
    let addresses = [delegated.address(), contract.address(), Address::repeat_byte(0x99)];
    let batch = store.sender_accounts(&addresses);
    assert_eq!(batch.len(), 3);
    for (a, got) in addresses.iter().zip(batch) {
        assert_eq!(got.unwrap(), store.sender_account(a).unwrap(), "{a}");
    }
    assert!(store.sender_accounts(&addresses).iter().any(|a| a.as_ref().unwrap().has_code));
    assert_eq!(store.sender_accounts(&addresses)[2].as_ref().unwrap(), &Default::default());
}
