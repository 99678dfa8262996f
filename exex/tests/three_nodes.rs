//! Three nodes — two preconfers taking turns, one follower started late — over libp2p with a
//! manual clock: transactions sent to any node reach the window's owner, every block is
//! preconfirmed by that owner, marked end-of-sequencing at the end of a turn, and becomes
//! `latest` on all three with identical hashes; the late node catches up by request; no gaps, no
//! reorgs.

mod common;

use std::{sync::Arc, time::Duration};

use alloy::primitives::Address;
use common::{converge, preconfer_key, service_node, transfer};
use taiko_chainspec::devnet_accounts;
use taiko_node::RunningNode;
use taiko_pool::TransactionOrigin;
use taiko_preconf_exex::{
    p2p::P2pHandle,
    service::{PreconfService, TickOutcome, WindowSchedule},
};

const WINDOW: u64 = 4;

/// A owns `[g, g+3]`, B `[g+4, g+7]`, A `[g+8, g+11]`, …
#[derive(Debug)]
struct Alternating {
    a: Address,
    b: Address,
    genesis: u64,
}

impl WindowSchedule for Alternating {
    fn window_at(&self, ts: u64) -> Option<(Address, u64)> {
        let k = ts.checked_sub(self.genesis)? / WINDOW;
        let owner = if k.is_multiple_of(2) { self.a } else { self.b };
        Some((owner, self.genesis + k * WINDOW + WINDOW - 1))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_preconfers_and_a_late_follower_agree() {
    let dir = tempfile::tempdir().unwrap();
    let genesis_ts = taiko_chainspec::ChainSpec::devnet().genesis.timestamp + 10;
    let schedule = Arc::new(Alternating {
        a: preconfer_key("preconfer A").address(),
        b: preconfer_key("preconfer B").address(),
        genesis: genesis_ts,
    });
    let (a, sa, pa) =
        service_node(dir.path(), "a", Some("preconfer A"), vec![], schedule.clone()).await;
    let (b, sb, pb) =
        service_node(dir.path(), "b", Some("preconfer B"), vec![pa.dial_addr()], schedule.clone())
            .await;
    tokio::time::sleep(Duration::from_millis(1500)).await; // a gossipsub heartbeat or two

    let users = devnet_accounts();
    let chain = a.spec.chain_id;
    let mut c: Option<(RunningNode, Arc<PreconfService>, P2pHandle)> = None;
    let mut sent = 0usize;
    let ticks = 12u64;
    for i in 0..ticks {
        if i == 6 {
            c = Some(
                service_node(
                    dir.path(),
                    "c",
                    None,
                    vec![pa.dial_addr(), pb.dial_addr()],
                    schedule.clone(),
                )
                .await,
            );
            tokio::time::sleep(Duration::from_millis(1500)).await;
        }
        // a user sends a transaction to one node (in turn A, B, C); gossip takes it to the
        // preconfer whose window this is
        let raw = transfer(chain, &users[(i % 3) as usize], i / 3);
        let entry = match (i % 3, &c) {
            (2, Some((cn, _, _))) => cn,
            (1, _) => &b,
            _ => &a,
        };
        entry.pool.add_raw(TransactionOrigin::Local, &raw).unwrap();
        let hash = alloy::primitives::keccak256(&raw);
        let owner = if (i / WINDOW).is_multiple_of(2) { &a } else { &b };
        for _ in 0..200 {
            if owner.pool.get(&hash).is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(owner.pool.get(&hash).is_some(), "tick {i}: the transaction reached the preconfer");
        sent += 1;
        let now_ms = (genesis_ts + i) * 1000;
        let ra = sa.on_tick(now_ms, now_ms + 1000).await.unwrap();
        let rb = sb.on_tick(now_ms, now_ms + 1000).await.unwrap();
        let (producer, outcome) = match (&ra, &rb) {
            (TickOutcome::Preconfirmed { .. }, TickOutcome::NotOurTurn) => (&sa, ra),
            (TickOutcome::NotOurTurn, TickOutcome::Preconfirmed { .. }) => (&sb, rb),
            other => panic!("tick {i}: exactly one preconfer must act, got {other:?}"),
        };
        let expect_a = (i / WINDOW).is_multiple_of(2);
        assert_eq!(Arc::ptr_eq(producer, &sa), expect_a, "tick {i}: the window's owner acts");
        assert_eq!(
            outcome,
            TickOutcome::Preconfirmed {
                number: i + 1,
                end_of_sequencing: i % WINDOW == WINDOW - 1
            },
            "tick {i}"
        );
        let head = producer.latest();
        let mut all = vec![&sa, &sb];
        if let Some((_, sc, _)) = &c {
            all.push(sc);
        }
        converge(&all, head).await;
    }
    // every transaction made it into the chain, once
    let included: usize = (1..=ticks)
        .map(|n| {
            a.store.block_by_number(n).unwrap().unwrap().block.block().body.transactions.len() - 1
        })
        .sum();
    assert_eq!(included, sent, "all {sent} transactions preconfirmed exactly once");
    let (cn, sc, _) = c.unwrap();
    assert_eq!(sc.latest().0, ticks, "the late node caught up to the tip");
    for n in [a, b, cn] {
        n.shutdown().await.unwrap();
    }
}
