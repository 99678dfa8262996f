//! When the window's proposer does not run Bolt, the sidecar refuses the inclusion request and
//! the proposal goes through the public mempool — and still lands in the window.

mod common;

use std::time::Duration;

use alloy::primitives::B256;
use common::{devnet_runtime, node, transfer, until_registered};
use taiko_chainspec::devnet_accounts;
use taiko_contracts::inbox::TaikoInbox;
use taiko_devnet::{ClockMode, Devnet, DevnetConfig};
use taiko_pool::TransactionOrigin;
use taiko_preconf_exex::service::{TickOutcome, WindowSchedule};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_bolt_request_falls_back_to_the_mempool() {
    let devnet = Devnet::start(DevnetConfig {
        slot_secs: 2,
        slots_per_epoch: 4,
        validators: 4,
        preconfers: 1,
        validators_per_preconfer: 4,
        bolt_validators: Some(vec![]), // nobody runs Bolt
        mode: ClockMode::Manual,
        ..Default::default()
    })
    .await
    .unwrap();
    let m = devnet.manifest().clone();
    let dir = tempfile::tempdir().unwrap();
    let n = node(&dir.path().join("a")).await;
    let k: B256 = m.preconfers[0].account.private_key;
    let rt =
        devnet_runtime(&devnet, &n, &dir.path().join("pa"), Some(k), vec![], 1_000, Some(1_000))
            .await;
    until_registered(&devnet, &rt).await;
    let user = &devnet_accounts()[0];
    let mut proposal = None;
    for nonce in 0..8 {
        let now = devnet.clock.now();
        rt.refresh(now).await.unwrap();
        n.pool.add_raw(TransactionOrigin::Local, &transfer(n.spec.chain_id, user, nonce)).unwrap();
        let tick = (now + 1) * 1000;
        if let TickOutcome::Preconfirmed { end_of_sequencing: true, .. } =
            rt.service.on_tick(tick, tick + 1000).await.unwrap()
        {
            let (_, end) = rt.schedule.window_at(tick / 1000).unwrap();
            proposal = rt.propose_turn(end).await.unwrap();
            devnet.advance_slot().await.unwrap();
            break;
        }
        devnet.advance_slot().await.unwrap();
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let p = proposal.expect("a turn ended and was proposed");
    assert!(!p.via_bolt, "Bolt refused");
    let r = devnet.l1.receipt(p.tx).await.unwrap().expect("mined from the mempool");
    assert_eq!(r["status"], "0x1", "{r}");
    let last = devnet.l1.call(m.contracts.inbox, TaikoInbox::nextBlockIdCall {}).await.unwrap() - 1;
    assert_eq!(last, p.batch.last);
}
