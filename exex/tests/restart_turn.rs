//! A preconfer restarted in the middle of its turn (node and extension stopped, reopened from
//! their data directories) picks the turn up where it was: the blocks it signed before the
//! restart are still known as its own, it goes on preconfirming in the window, and the turn's
//! proposal carries every block of the turn — before and after the restart — into the window.

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
async fn a_preconfer_restarted_mid_turn_proposes_the_whole_turn() {
    // one preconfer with one of four validators: windows of several slots
    let devnet = common::manual_devnet(4, 1, 1).await;
    let m = devnet.manifest().clone();
    let clock = m.clock;
    let dir = tempfile::tempdir().unwrap();
    let key: B256 = m.preconfers[0].account.private_key;
    let (node_dir, ext_dir) = (dir.path().join("a"), dir.path().join("pa"));
    let mut n = node(&node_dir).await;
    let mut rt =
        devnet_runtime(&devnet, &n, &ext_dir, Some(key), vec![], BLOCK_MS, Some(1_000)).await;
    let first_epoch = until_registered(&devnet, &rt).await;
    let user = &devnet_accounts()[0];
    let mut nonce = 0u64;
    let mut restarted_at = None; // (last block before, window end)
    let mut proposal = None;
    let mut slot = clock.slot_at(devnet.clock.now());
    while proposal.is_none() {
        assert!(slot < clock.first_slot(first_epoch + 6), "a long window comes");
        let now = clock.slot_time(slot);
        rt.refresh(now).await.unwrap();
        for k in 0..2 {
            let tick = now * 1000 + k * BLOCK_MS;
            n.pool
                .add_raw(TransactionOrigin::Local, &transfer(n.spec.chain_id, user, nonce))
                .unwrap();
            nonce += 1;
            let out = rt.service.on_tick(tick, tick + BLOCK_MS).await.unwrap();
            let TickOutcome::Preconfirmed { number, end_of_sequencing } = out else { continue };
            let (_, end) = rt.schedule.window_at(tick / 1000).unwrap();
            if end_of_sequencing {
                let p = rt.propose_turn(end).await.unwrap().expect("a turn to propose");
                if restarted_at.is_some() {
                    proposal = Some(p);
                }
                break;
            }
            // mid-turn, at least two slots before the window's end: restart
            if restarted_at.is_none() && tick / 1000 + 2 * clock.slot_secs < end {
                let before = rt.service.signer_of(number);
                assert_eq!(before, Some(m.preconfers[0].account.address));
                drop(rt);
                n.shutdown().await.unwrap();
                tokio::time::sleep(Duration::from_millis(300)).await;
                n = node(&node_dir).await;
                rt =
                    devnet_runtime(&devnet, &n, &ext_dir, Some(key), vec![], BLOCK_MS, Some(1_000))
                        .await;
                rt.refresh(tick / 1000).await.unwrap();
                assert_eq!(n.store.latest_header().unwrap().number, number, "the head survives");
                assert_eq!(rt.service.signer_of(number), before, "still known as ours");
                // the rest of the pool comes back too (local transactions are journaled)
                restarted_at = Some((number, end));
            }
        }
        devnet.advance_slot().await.unwrap();
        slot += 1;
    }
    let p = proposal.unwrap();
    let (before, end) = restarted_at.unwrap();
    assert!(p.batch.first <= before && p.batch.last > before, "the turn spans the restart: {p:?}");
    let r = devnet.l1.receipt(p.tx).await.unwrap().expect("mined");
    assert_eq!(r["status"], "0x1", "{r}");
    assert!(devnet.l1.latest().await.unwrap().timestamp <= end, "inside the window");
    let head = n.store.latest_header().unwrap().number;
    let inbox = m.contracts.inbox;
    assert_eq!(devnet.l1.call(inbox, TaikoInbox::nextBlockIdCall {}).await.unwrap(), head + 1);
    assert_eq!(
        Some(devnet.l1.call(inbox, TaikoInbox::lastDigestCall {}).await.unwrap()),
        rt.service.digest(head)
    );
}
