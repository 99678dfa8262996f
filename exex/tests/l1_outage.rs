//! The preconfer's L1 endpoint goes down for two slots at the end of a turn: preconfirmations go
//! on (the lookahead and the anchor are kept), the turn's proposal fails while the L1 is away
//! and is retried until it lands — still inside its window — with every block and every
//! transaction of the turn; the node then marks them `safe`. Nothing is lost. And a preconfer
//! whose account cannot pay for a proposal halts before its next turn instead of signing blocks
//! it could not propose, and resumes once funded.

mod common;

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use alloy::primitives::{B256, U256};
use common::{devnet_runtime, node, transfer, until_registered};
use taiko_chainspec::devnet_accounts;
use taiko_contracts::inbox::TaikoInbox;
use taiko_devnet::Devnet;
use taiko_pool::TransactionOrigin;
use taiko_preconf_exex::{
    clock::{Clock, ManualClock},
    service::{TickOutcome, WindowSchedule},
};
use tokio::{
    io::copy_bidirectional,
    net::{TcpListener, TcpStream},
    sync::Notify,
};

/// A TCP proxy to the L1 that can be cut: while down, open connections are closed and new ones
/// are accepted and closed at once.
struct Proxy {
    url: String,
    down: Arc<AtomicBool>,
    cut: Arc<Notify>,
    task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    async fn start(target: &str) -> Self {
        let target = target.trim_start_matches("http://").to_string();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let down = Arc::new(AtomicBool::new(false));
        let cut = Arc::new(Notify::new());
        let (d, c) = (down.clone(), cut.clone());
        let task = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if d.load(Ordering::SeqCst) {
                    continue; // dropped: connection closed
                }
                let (target, c) = (target.clone(), c.clone());
                tokio::spawn(async move {
                    let Ok(mut outbound) = TcpStream::connect(&target).await else { return };
                    tokio::select! {
                        _ = copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = c.notified() => {}
                    }
                });
            }
        });
        Self { url, down, cut, task }
    }

    fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
        if down {
            self.cut.notify_waiters();
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

const BLOCK_MS: u64 = 1_000;

/// Waits until a proposal for `slot` is committed by Bolt or waits in the L1's mempool.
async fn until_sent(devnet: &Devnet, slot: u64) {
    for _ in 0..200 {
        if !devnet.bolt.committed(slot).is_empty()
            || !devnet.l1.pending_hashes().await.unwrap().is_empty()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no proposal sent for slot {slot} within 10 s");
}

/// One preconfer owning one of four validators: every window is its own, of varying length.
async fn devnet() -> Devnet {
    common::manual_devnet(4, 1, 1).await
}

/// The preconfer's node and extension, its L1 behind a proxy that can be cut.
struct Proxied {
    proxy: Proxy,
    node: taiko_node::RunningNode,
    rt: taiko_preconf_exex::runtime::PreconfRuntime,
    _dir: tempfile::TempDir,
}

async fn proxied(devnet: &Devnet) -> Proxied {
    let m = devnet.manifest();
    let proxy = Proxy::start(&m.l1_rpc).await;
    let mut through_proxy = m.clone();
    through_proxy.l1_rpc = proxy.url.clone();
    let dir = tempfile::tempdir().unwrap();
    let node = node(&dir.path().join("a")).await;
    let key: B256 = m.preconfers[0].account.private_key;
    let rt = common::devnet_runtime_with(
        devnet,
        &through_proxy,
        &node,
        &dir.path().join("pa"),
        Some(key),
        vec![],
        BLOCK_MS,
        Some(1_000),
    )
    .await;
    Proxied { proxy, node, rt, _dir: dir }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proposals_catch_up_after_two_slots_without_l1() {
    let devnet = devnet().await;
    let m = devnet.manifest().clone();
    let clock = m.clock;
    let Proxied { proxy, node: n, rt, _dir } = proxied(&devnet).await;
    let first_epoch = until_registered(&devnet, &rt).await;
    let mclock = Arc::new(ManualClock::new(devnet.clock.now() * 1000));
    let user = &devnet_accounts()[0];
    let mut nonce = 0u64;
    let mut outage: Option<(u64, u64)> = None; // the slots without L1
    let mut proposal = None;
    let mut during_outage = Vec::new();
    let mut slot = clock.slot_at(devnet.clock.now());
    while slot < clock.first_slot(first_epoch + 4) && proposal.is_none() {
        let now = clock.slot_time(slot);
        assert_eq!(devnet.clock.now(), now);
        mclock.set_ms(now * 1000);
        // a window of three slots or more, after this slot: cut the L1 for the two slots
        // before its last
        if outage.is_none()
            && let Some((owner, end)) = rt.schedule.window_at(now + 1)
        {
            let w = rt.schedule.epoch(rt.schedule.epoch_at(end)).unwrap();
            let win = w.windows.iter().find(|w| w.timestamp == end).unwrap();
            let end_slot = clock.slot_at(end);
            if owner == rt.service.address().unwrap()
                && end - win.prev_timestamp >= 3 * clock.slot_secs
                && end_slot >= slot + 3
            {
                outage = Some((end_slot - 2, end_slot - 1));
            }
        }
        let down = outage.is_some_and(|(a, b)| (a..=b).contains(&slot));
        proxy.set_down(down);
        let refreshed = rt.refresh(now).await;
        assert_eq!(refreshed.is_err(), down, "the L1 refresh fails exactly while it is down");
        let mut task = None;
        for k in 0..2 {
            let tick = now * 1000 + k * BLOCK_MS;
            mclock.set_ms(tick);
            n.pool
                .add_raw(TransactionOrigin::Local, &transfer(n.spec.chain_id, user, nonce))
                .unwrap();
            nonce += 1;
            match rt.service.on_tick(tick, tick + BLOCK_MS).await.unwrap() {
                TickOutcome::Preconfirmed { number, end_of_sequencing } => {
                    if down {
                        during_outage.push(number);
                    }
                    if end_of_sequencing {
                        let (_, end) = rt.schedule.window_at(tick / 1000).unwrap();
                        let (rt, c) = (&rt, mclock.clone());
                        task = Some((end, async move {
                            rt.propose_in_window(end, c.as_ref() as &dyn Clock).await
                        }));
                    }
                }
                // a window's last second is inside the proposal margin
                TickOutcome::NotOurTurn => {}
                other => panic!("our window at {tick}: {other:?}"),
            }
        }
        if let Some((end, propose)) = task {
            if down {
                // the L1 comes back at the next slot: the proposal has been failing till then
                let proposing = async {
                    let until_back = async {
                        tokio::time::sleep(Duration::from_millis(1_500)).await;
                        assert!(rt.metrics.proposal_retries.get() >= 1, "retried while down");
                        proxy.set_down(false);
                        let target = clock.slot_at(end);
                        until_sent(&devnet, target).await;
                        assert_eq!(devnet.next_slot().await, target);
                        devnet.advance_slot().await.unwrap();
                        mclock.set_ms(clock.slot_time(target) * 1000);
                    };
                    let (r, ()) = tokio::join!(propose, until_back);
                    r
                };
                let (p, mined) = proposing.await.unwrap().expect("a turn to propose");
                assert_eq!(
                    mined.last().unwrap().block_number,
                    devnet.l1.latest().await.unwrap().number
                );
                let landed = devnet.l1.latest().await.unwrap().timestamp;
                assert!(landed <= end, "landed at {landed}, inside the window ending {end}");
                proposal = Some(p);
                slot = clock.slot_at(end);
                continue;
            }
            // L1 up: it is sent now and lands in the next block
            let advance = async {
                until_sent(&devnet, slot + 1).await;
                devnet.advance_slot().await.unwrap();
                mclock.set_ms(clock.slot_time(slot + 1) * 1000);
            };
            let (r, ()) = tokio::join!(propose, advance);
            r.unwrap().expect("a turn to propose");
            slot += 1;
            continue;
        }
        devnet.advance_slot().await.unwrap();
        slot += 1;
    }
    let p = proposal.expect("the outage hit a turn's end");
    assert!(!during_outage.is_empty(), "blocks were preconfirmed without the L1");
    assert!(p.batch.first <= during_outage[0] && p.batch.last >= *during_outage.last().unwrap());
    let inbox = m.contracts.inbox;
    let next = devnet.l1.call(inbox, TaikoInbox::nextBlockIdCall {}).await.unwrap();
    let head = n.store.latest_header().unwrap().number;
    assert_eq!(next, head + 1, "every preconfirmed block is on L1");
    assert_eq!(
        Some(devnet.l1.call(inbox, TaikoInbox::lastDigestCall {}).await.unwrap()),
        rt.service.digest(head)
    );
    // every transaction sent is in a block
    let mut included = 0;
    for b in 1..=head {
        included +=
            n.store.block_by_number(b).unwrap().unwrap().block.block().body.transactions.len() - 1;
    }
    assert_eq!(included as u64, nonce, "no transaction lost");
    let report = rt.reconcile().await.unwrap();
    assert!(report.mismatches.is_empty());
    assert_eq!(n.store.heads().unwrap().safe.number, head);
    assert_eq!(rt.metrics.proposal_failures.get(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_preconfer_that_cannot_pay_halts_before_its_turn() {
    let devnet = devnet().await;
    let m = devnet.manifest().clone();
    let dir = tempfile::tempdir().unwrap();
    let n = node(&dir.path().join("a")).await;
    let key: B256 = m.preconfers[0].account.private_key;
    let rt = devnet_runtime(
        &devnet,
        &n,
        &dir.path().join("pa"),
        Some(key),
        vec![],
        BLOCK_MS,
        Some(1_000),
    )
    .await;
    until_registered(&devnet, &rt).await;
    let me = m.preconfers[0].account.address;
    let funded = devnet.l1.balance(me).await.unwrap();
    devnet.l1.set_balance(me, U256::from(1_000_000u64)).await.unwrap();
    let now = devnet.clock.now();
    rt.refresh(now).await.unwrap();
    let tick = (now + 1) * 1000; // inside a window of ours, before its margin
    let reason = rt.service.halted().expect("halted");
    assert!(reason.contains(&format!("{me}")) && reason.contains("1000000 wei"), "{reason}");
    assert_eq!(rt.metrics.halted.get(), 1);
    let user = &devnet_accounts()[0];
    n.pool.add_raw(TransactionOrigin::Local, &transfer(n.spec.chain_id, user, 0)).unwrap();
    assert_eq!(rt.service.on_tick(tick, tick + BLOCK_MS).await.unwrap(), TickOutcome::Halted);
    assert_eq!(n.store.latest_header().unwrap().number, 0, "nothing signed");
    assert!(rt.metrics.encode().contains("preconf_halted 1"));

    devnet.l1.set_balance(me, funded).await.unwrap();
    rt.refresh(now).await.unwrap();
    assert_eq!(rt.service.halted(), None);
    let out = rt.service.on_tick(tick, tick + BLOCK_MS).await.unwrap();
    assert!(matches!(out, TickOutcome::Preconfirmed { number: 1, .. }), "{out:?}");
}

/// Proposes the turn ending at `end` (L1 up) and mines slots up to the window's last, which
/// carries it.
async fn propose_and_mine(
    rt: &taiko_preconf_exex::runtime::PreconfRuntime,
    devnet: &Devnet,
    mclock: &ManualClock,
    end: u64,
) {
    let clock = devnet.manifest().clock;
    let propose = rt.propose_in_window(end, mclock as &dyn Clock);
    let advance = async {
        until_sent(devnet, clock.slot_at(end)).await;
        while devnet.next_slot().await <= clock.slot_at(end) {
            devnet.advance_slot().await.unwrap();
        }
        mclock.set_ms(end * 1000);
    };
    let (r, ()) = tokio::join!(propose, advance);
    let (_, mined) = r.unwrap().expect("a turn to propose");
    assert_eq!(mined.last().unwrap().block_number, devnet.l1.latest().await.unwrap().number);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_turn_that_misses_its_window_is_dropped_and_its_transactions_come_back() {
    let devnet = devnet().await;
    let m = devnet.manifest().clone();
    let clock = m.clock;
    let Proxied { proxy, node: n, rt, _dir } = proxied(&devnet).await;
    let first_epoch = until_registered(&devnet, &rt).await;
    let mclock = ManualClock::new(devnet.clock.now() * 1000);
    let user = &devnet_accounts()[0];
    let mut nonce = 0u64;
    let mut missed: Option<u64> = None; // blocks dropped
    let mut after_miss = 0; // turns proposed after the miss
    let mut orphaned_hashes = Vec::new();
    let mut slot = clock.slot_at(devnet.clock.now());
    while after_miss < 1 {
        assert!(slot < clock.first_slot(first_epoch + 8), "the turns come");
        let now = clock.slot_time(slot);
        mclock.set_ms(now * 1000);
        rt.refresh(now).await.unwrap();
        let mut eos = None;
        for k in 0..2 {
            let tick = now * 1000 + k * BLOCK_MS;
            mclock.set_ms(tick);
            n.pool
                .add_raw(TransactionOrigin::Local, &transfer(n.spec.chain_id, user, nonce))
                .unwrap();
            nonce += 1;
            if let TickOutcome::Preconfirmed { end_of_sequencing: true, .. } =
                rt.service.on_tick(tick, tick + BLOCK_MS).await.unwrap()
            {
                eos = rt.schedule.window_at(tick / 1000).map(|(_, end)| end);
            }
        }
        let Some(end) = eos else {
            devnet.advance_slot().await.unwrap();
            slot += 1;
            continue;
        };
        if missed.is_none() && n.store.latest_header().unwrap().number >= 3 {
            // the L1 is away from the turn's end until its window's last block is mined
            proxy.set_down(true);
            let propose = rt.propose_in_window(end, &mclock as &dyn Clock);
            let advance = async {
                tokio::time::sleep(Duration::from_millis(700)).await;
                devnet.advance_slot().await.unwrap(); // the window's last L1 block, without it
                mclock.set_ms((end + 1) * 1000);
            };
            let (r, ()) = tokio::join!(propose, advance);
            assert!(r.is_err(), "the window closed: {r:?}");
            assert_eq!(rt.metrics.proposal_failures.get(), 1);
            proxy.set_down(false);
            let before = n.store.latest_header().unwrap().number;
            let inbox_next =
                devnet.l1.call(m.contracts.inbox, TaikoInbox::nextBlockIdCall {}).await.unwrap();
            for b in inbox_next..=before {
                let blk = n.store.block_by_number(b).unwrap().unwrap().block.block().clone();
                orphaned_hashes.extend(blk.body.transactions[1..].iter().map(|t| *t.tx_hash()));
            }
            let orphan_txs = orphaned_hashes.len();
            assert!(orphan_txs > 0);
            let report = rt.reconcile().await.unwrap();
            assert_eq!(report.orphaned, before - inbox_next + 1, "{report:?}");
            assert_eq!(
                n.store.latest_header().unwrap().number,
                inbox_next - 1,
                "back to L1's head"
            );
            assert_eq!(rt.service.latest().0, inbox_next - 1);
            for _ in 0..200 {
                if n.pool.size().pending.count == orphan_txs {
                    break; // the pool follows the revert through its ExEx
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            assert_eq!(n.pool.size().pending.count, orphan_txs, "their transactions are back");
            assert_eq!(rt.metrics.orphaned_blocks.get(), before - inbox_next + 1);
            missed = Some(before - inbox_next + 1);
            slot = clock.slot_at(end) + 1;
            continue;
        }
        propose_and_mine(&rt, &devnet, &mclock, end).await;
        if missed.is_some() {
            after_miss += 1;
        }
        slot = clock.slot_at(end) + 1;
    }
    assert!(missed.is_some());
    // every transaction sent made it to L1 in the end, once
    let head = n.store.latest_header().unwrap().number;
    let next = devnet.l1.call(m.contracts.inbox, TaikoInbox::nextBlockIdCall {}).await.unwrap();
    assert_eq!(next, head + 1);
    let mut included = Vec::new();
    for b in 1..=head {
        let blk = n.store.block_by_number(b).unwrap().unwrap().block.block().clone();
        included.extend(blk.body.transactions[1..].iter().map(|t| *t.tx_hash()));
    }
    for h in &orphaned_hashes {
        assert!(included.contains(h), "{h}, dropped with its block, is on L1 again");
    }
    let pending = n.pool.size().pending.count;
    assert_eq!(included.len() + pending, nonce as usize, "no transaction lost: on L1 or pending");
}
