//! What a preconfirmed L2 block costs on L1, measured on the devnet: 12-s slots, 2-s L2 blocks,
//! one turn per slot (five blocks), a whole epoch of turns (so the cost of posting the next
//! epoch's lookahead is shared as in real epochs) with the tx lists in calldata and another in
//! blobs, at three loads. Prints the table recorded in `docs/benchmarks.md`
//! (`cargo test --release -p taiko-preconf-exex --test l1_gas -- --nocapture`); asserts that
//! every proposal lands and that blobs carry the data the calldata batches pay execution gas for.

mod common;

use std::fmt::Write as _;

use alloy::primitives::B256;
use common::{devnet_runtime, node, transfer, until_registered};
use taiko_chainspec::devnet_accounts;
use taiko_l1::execution::hex_u64;
use taiko_pool::TransactionOrigin;
use taiko_preconf_exex::{
    batch::DataChoice,
    service::{TickOutcome, WindowSchedule},
};

const BLOCK_MS: u64 = 2_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gas_per_l2_block_in_calldata_and_in_blobs() {
    let devnet = common::manual_devnet_with_slots(12, 4, 1, 4).await;
    let m = devnet.manifest().clone();
    let dir = tempfile::tempdir().unwrap();
    let n = node(&dir.path().join("a")).await;
    let key: B256 = m.preconfers[0].account.private_key;
    // stop 2 s before the window's end: blocks at +2 … +10 s of each slot
    let mut rt = devnet_runtime(
        &devnet,
        &n,
        &dir.path().join("pa"),
        Some(key),
        vec![],
        BLOCK_MS,
        Some(2_000),
    )
    .await;
    until_registered(&devnet, &rt).await;
    let users = devnet_accounts();
    let mut nonces = [0u64; 10];
    let mut sent = 0usize;
    let mut table = String::new();
    let mut rows = Vec::new();
    let clock = m.clock;
    assert_eq!(
        devnet.clock.now(),
        clock.epoch_start(clock.epoch_of(clock.slot_at(devnet.clock.now())))
    );
    // (load, data) per epoch: the first (not recorded) warms up — it force-pushes the first
    // lookahead; each recorded epoch pays for posting the next one, as every real epoch does
    let configs = [(0, DataChoice::Calldata)].into_iter().chain(
        [0usize, 10, 100]
            .into_iter()
            .flat_map(|l| [(l, DataChoice::Calldata), (l, DataChoice::Blobs)]),
    );
    for (epoch, (per_block, data)) in configs.enumerate() {
        rt.proposer.as_mut().unwrap().data = data;
        let (mut gas, mut blob_gas, mut bytes, mut blocks) = (0u64, 0u64, 0usize, 0u64);
        for _turn in 0..4 {
            // one turn: the ticks of the slot ending the next window
            let start = devnet.clock.now();
            rt.refresh(start).await.unwrap();
            let mut proposal = None;
            for k in 1..=5u64 {
                for _ in 0..per_block {
                    let i = sent % nonces.len();
                    let raw = transfer(n.spec.chain_id, &users[i], nonces[i]);
                    n.pool.add_raw(TransactionOrigin::Local, &raw).unwrap();
                    nonces[i] += 1;
                    sent += 1;
                }
                let tick = (start + 2 * k) * 1000;
                let out = rt.service.on_tick(tick, tick + BLOCK_MS).await.unwrap();
                let TickOutcome::Preconfirmed { end_of_sequencing, .. } = out else {
                    panic!("tick {k} of the turn: {out:?}")
                };
                blocks += 1;
                if end_of_sequencing {
                    let (_, end) = rt.schedule.window_at(tick / 1000).unwrap();
                    proposal = rt.propose_turn(end).await.unwrap();
                }
            }
            devnet.advance_slot().await.unwrap();
            let p = proposal.expect("the turn ended and was proposed");
            assert_eq!(p.batch.in_blobs, data == DataChoice::Blobs);
            for tx in p.force_push.iter().chain([&p.tx]) {
                let r = devnet.l1.receipt(*tx).await.unwrap().expect("mined");
                assert_eq!(r["status"], "0x1", "{r}");
                gas += hex_u64(&r["gasUsed"]);
                blob_gas += hex_u64(&r["blobGasUsed"]);
            }
            assert_eq!(blob_gas > 0, p.batch.in_blobs);
            bytes += p.batch.tx_list.len();
        }
        if epoch == 0 {
            continue;
        }
        rows.push((per_block, data, gas, blob_gas));
        writeln!(
            table,
            "| {per_block} | {data:?} | {} | {} | {} | {} |",
            bytes / 4,
            gas / 4,
            gas / blocks,
            blob_gas / blocks,
        )
        .unwrap();
    }
    println!(
        "| transfers per L2 block | tx list in | tx list bytes per batch (5 blocks) | L1 gas per batch | L1 gas per L2 block | blob gas per L2 block |\n|---|---|---|---|---|---|\n{table}"
    );
    // with data to carry, blobs spend less execution gas than calldata for the same turn
    for load in [10, 100] {
        let gas = |d| rows.iter().find(|r| r.0 == load && r.1 == d).unwrap().2;
        assert!(gas(DataChoice::Blobs) < gas(DataChoice::Calldata), "{load} transfers per block");
    }
}
