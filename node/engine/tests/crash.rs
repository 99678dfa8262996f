//! Kill-and-reopen: a writer process is SIGKILLed at arbitrary points while committing blocks;
//! every reopen must find a consistent head whose state root the rebuilt tries reproduce. Both
//! commit modes are killed: a block log synced before `latest` moves, and one synced right after
//! on the store's thread (the default) — a killed process must lose nothing in either.

use alloy::primitives::Address;
use std::{process::Command, sync::Arc, time::Duration};
use taiko_chainspec::{ChainSpec, devnet_accounts};
use taiko_evm::{
    BuildLimits, IterSource,
    testing::{TxFactory, test_attributes},
};
use taiko_store::{CommitSync, Store, StoreOptions};

const CHILD_ENV: &str = "TAIKO_CRASH_TEST_DIR";
/// Set (to anything) for a child that syncs each commit before `latest` moves.
const SYNC_ENV: &str = "TAIKO_CRASH_TEST_SYNC_BEFORE_LATEST";

/// The options of a child writer: the commit mode its parent chose.
fn child_options() -> StoreOptions {
    let commit_sync = if std::env::var(SYNC_ENV).is_ok() {
        CommitSync::BeforeLatest
    } else {
        CommitSync::Background
    };
    StoreOptions { commit_sync, ..Default::default() }
}

/// Opens the store and commits blocks of 200 transfers forever (until killed).
fn write_forever(dir: &str) {
    let spec = Arc::new(ChainSpec::devnet());
    let store = Store::open(format!("{dir}/db.redb"), spec.clone(), child_options()).unwrap();
    let mut f = TxFactory::new(spec.chain_id, devnet_accounts());
    let head = store.heads().unwrap().latest.number;
    // Resume nonces from the state.
    let state = store.state().unwrap();
    for i in 0..f.len() {
        f.set_nonce(i, state.account(&f.address(i)).unwrap().map(|a| a.nonce).unwrap_or(0));
    }
    drop(state);
    for n in head + 1.. {
        let txs: Vec<_> = (0..200)
            .map(|k| f.transfer(k % 20, Address::with_last_byte((n % 250) as u8), 1))
            .collect();
        build_and_commit(&store, n, txs);
    }
}

/// Builds block `n` from `txs` on the head and commits it.
fn build_and_commit(
    store: &Store,
    n: u64,
    txs: Vec<alloy::consensus::transaction::Recovered<alloy::consensus::TxEnvelope>>,
) {
    let spec = store.chain_spec();
    let parent = store.latest_header().unwrap();
    let built = taiko_evm::build_block(
        spec,
        store,
        &parent,
        parent.hash_slow(),
        &test_attributes(2 * n),
        &mut IterSource(txs.into_iter()),
        BuildLimits::from_spec(spec),
    )
    .unwrap();
    store.commit_block(&built.outcome.executed, &built.outcome.changes).unwrap();
}

#[test]
fn crash_child_writer() {
    // Only does something when started by `kill_and_reopen_yields_a_consistent_head`.
    if let Ok(dir) = std::env::var(CHILD_ENV) {
        write_forever(&dir);
    }
}

#[test]
fn kill_and_reopen_yields_a_consistent_head() {
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let mut last = 0;
    for (round, delay_ms) in [700u64, 1100, 450, 1600].into_iter().enumerate() {
        let mut child = Command::new(&exe);
        child
            .args(["--exact", "crash_child_writer", "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, dir.path());
        if round % 2 == 1 {
            child.env(SYNC_ENV, "1");
        }
        let mut child = child.spawn().unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        child.kill().unwrap(); // SIGKILL, mid-write or not
        child.wait().unwrap();

        // Reopening rebuilds the tries from the flat state and checks them against the head.
        let spec = Arc::new(ChainSpec::devnet());
        let store = Store::open(dir.path().join("db.redb"), spec, StoreOptions::default())
            .unwrap_or_else(|e| panic!("round {round}: reopen failed: {e}"));
        let head = store.heads().unwrap().latest;
        let header = store.latest_header().unwrap();
        assert_eq!(header.hash_slow(), head.hash);
        assert_eq!(store.trie_root(), header.state_root, "round {round}");
        let block = store.block_by_number(head.number).unwrap().expect("head block stored whole");
        assert_eq!(block.receipts.len(), block.block.transactions().len());
        for tx in block.block.transactions() {
            assert_eq!(
                store.transaction_location(*tx.tx_hash()).unwrap().map(|l| l.block_number),
                Some(head.number)
            );
        }
        assert!(store.block_by_number(head.number + 1).unwrap().is_none(), "nothing past the head");
        assert!(head.number >= last, "committed blocks survive");
        last = head.number;
    }
    assert!(last > 0, "the writer committed blocks before being killed");
}

const ABORT_ENV: &str = "TAIKO_CRASH_TEST_ABORT_DIR";

/// Commits 8 blocks of 300 transfers, prints the head's hash, and aborts at once: the
/// applier has not written them all to the tables yet.
fn commit_then_abort(dir: &str) {
    let spec = Arc::new(ChainSpec::devnet());
    let store = Store::open(format!("{dir}/db.redb"), spec.clone(), child_options()).unwrap();
    let mut f = TxFactory::new(spec.chain_id, devnet_accounts());
    for n in 1..=8u64 {
        let txs: Vec<_> = (0..300)
            .map(|k| f.transfer(k % 20, Address::with_last_byte((k % 250) as u8 + 1), 1))
            .collect();
        build_and_commit(&store, n, txs);
    }
    let head = store.heads().unwrap().latest;
    println!("HEAD {} {} unapplied={}", head.number, head.hash, store.unapplied_blocks());
    std::process::abort();
}

#[test]
fn abort_child_writer() {
    // Only does something when started by `every_returned_commit_survives_an_abort`.
    if let Ok(dir) = std::env::var(ABORT_ENV) {
        commit_then_abort(&dir);
    }
}

#[test]
fn every_returned_commit_survives_an_abort() {
    every_returned_commit_survives_an_abort_in(CommitSync::Background);
    every_returned_commit_survives_an_abort_in(CommitSync::BeforeLatest);
}

fn every_returned_commit_survives_an_abort_in(mode: CommitSync) {
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let mut child = Command::new(&exe);
    child
        .args(["--exact", "abort_child_writer", "--nocapture", "--test-threads=1"])
        .env(ABORT_ENV, dir.path());
    if mode == CommitSync::BeforeLatest {
        child.env(SYNC_ENV, "1");
    }
    let out = child.output().unwrap();
    assert!(!out.status.success(), "the child aborts");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout.lines().find_map(|l| l.find("HEAD ").map(|i| &l[i..])).unwrap_or_else(|| {
        panic!("child printed no head: {stdout}\n{}", String::from_utf8_lossy(&out.stderr))
    });
    let mut parts = line.split_whitespace().skip(1);
    let number: u64 = parts.next().unwrap().parse().unwrap();
    let hash: alloy::primitives::B256 = parts.next().unwrap().parse().unwrap();
    assert_eq!(number, 8);
    let log = dir.path().join("db.redb.blocklog");
    println!("{line}; block log at the abort: {} bytes", std::fs::metadata(&log).unwrap().len());

    let spec = Arc::new(ChainSpec::devnet());
    let store = Store::open(dir.path().join("db.redb"), spec, StoreOptions::default()).unwrap();
    let head = store.heads().unwrap().latest;
    assert_eq!(
        (head.number, head.hash),
        (number, hash),
        "{mode:?}: the head the child saw is back"
    );
    let header = store.latest_header().unwrap();
    assert_eq!(store.trie_root(), header.state_root);
    assert_eq!(store.unapplied_blocks(), 0, "replayed into the tables at open");
    assert_eq!(std::fs::metadata(&log).unwrap().len(), 0, "and the log emptied");
    for n in 1..=number {
        let b = store.block_by_number(n).unwrap().expect("every block is back");
        assert_eq!(b.block.transactions().len(), 301);
        let last = b.block.transactions().last().unwrap();
        assert_eq!(
            store.transaction_location(*last.tx_hash()).unwrap().map(|l| l.block_number),
            Some(n)
        );
    }
}
