//! A preconfer building its next block ahead of the tick streams it as fragments, and a
//! follower executes them as they arrive: when the signed block comes, the follower finishes it
//! through its build session (only what came after the last fragment executes) and ends on the
//! same hash as the preconfer; a block the fragments did not announce is imported in full.
//! A streamed block is published in compact form (naming its fragments); a node that joined
//! mid-block cannot rebuild it, so it fetches the blocks it lacks in full and agrees.

mod common;

use std::{sync::Arc, time::Duration};

use alloy::primitives::Address;
use common::{converge, preconfer_key, service_node, transfer};
use taiko_chainspec::devnet_accounts;
use taiko_pool::TransactionOrigin;
use taiko_preconf_exex::service::{TickOutcome, WindowSchedule};

/// `owner` holds one long window from `genesis`.
#[derive(Debug)]
struct OneWindow {
    owner: Address,
    genesis: u64,
}

impl WindowSchedule for OneWindow {
    fn window_at(&self, ts: u64) -> Option<(Address, u64)> {
        (ts >= self.genesis).then_some((self.owner, self.genesis + 1_000))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_finishes_the_block_it_followed_in_fragments() {
    let dir = tempfile::tempdir().unwrap();
    let genesis = taiko_chainspec::ChainSpec::devnet().genesis.timestamp + 10;
    let schedule = Arc::new(OneWindow { owner: preconfer_key("preconfer A").address(), genesis });
    let (a, sa, pa) =
        service_node(dir.path(), "a", Some("preconfer A"), vec![], schedule.clone()).await;
    let (b, sb, _pb) =
        service_node(dir.path(), "b", None, vec![pa.dial_addr()], schedule.clone()).await;
    tokio::time::sleep(Duration::from_millis(1500)).await; // a gossipsub heartbeat or two

    let chain = a.spec.chain_id;
    let users = devnet_accounts();
    // the preconfer's tick `i` makes block `number`, and the follower adopts it
    let preconfirm = async |i: u64, number: u64| {
        let (now, next) = ((genesis + i) * 1000, (genesis + i + 1) * 1000);
        assert_eq!(
            sa.on_tick(now, next).await.unwrap(),
            TickOutcome::Preconfirmed { number, end_of_sequencing: false }
        );
        converge(&[&sa, &sb], sa.latest()).await;
    };
    let mut sent = 0u64;
    let mut send = |n: u64| {
        for _ in 0..n {
            // ten senders in turn (the pool holds at most 16 per sender)
            let (user, nonce) = ((sent % 10) as usize, sent / 10);
            let raw = transfer(chain, &users[user], nonce);
            a.pool.add_raw(TransactionOrigin::Local, &raw).unwrap();
            sent += 1;
        }
    };

    // block 1: not ours to build ahead while the tick is not in our window (or the head does
    // not hand over), built ahead once the tick loop announces our tick
    assert!(schedule.window_at(genesis - 1).is_none());
    sa.prepare((genesis - 1) * 1000, 1000).await; // a tick before the window: nothing starts
    send(8);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(sa.metrics().blocks_compact.get(), 0);
    sa.prepare(genesis * 1000, 1000).await;
    send(6);
    tokio::time::sleep(Duration::from_millis(300)).await;
    preconfirm(0, 1).await;
    let block = b.store.block_by_number(1).unwrap().unwrap().block;
    assert_eq!(block.block().body.transactions.len(), 1 + 14, "anchor and every transfer");
    assert_eq!(b.engine.session_imports(), 1, "block 1 was streamed from the announced tick on");
    assert_eq!(sa.metrics().blocks_compact.get(), 1);

    // block 2 is started at once; transactions arrive in three bursts, the last one right
    // before the tick (executed by the preconfer's last round, which goes out as the block's
    // last fragment: the follower seals its copy on it, before the signed block comes)
    for burst in [20, 15] {
        send(burst);
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    send(5);
    preconfirm(1, 2).await;
    let block = b.store.block_by_number(2).unwrap().unwrap().block;
    assert_eq!(block.block().body.transactions.len(), 1 + 40, "anchor and every transfer");
    assert_eq!(b.engine.session_imports(), 2, "block 2 finished through the fragments");
    assert_eq!(
        sb.metrics().blocks_sealed_ahead.get(),
        2,
        "blocks 1 and 2, on their last fragments"
    );
    assert_eq!(sa.metrics().blocks_compact.get(), 2, "block 2 was published in compact form");
    assert_eq!(sb.metrics().compact_fetches.get(), 0);

    // block 3: the preconfer streams it, but the block at the tick is built afresh from
    // other attributes (a skipped tick moves its timestamp): the follower's session does not
    // match, so it imports the block in full and still agrees
    send(10);
    tokio::time::sleep(Duration::from_millis(300)).await;
    preconfirm(3, 3).await;
    let block = b.store.block_by_number(3).unwrap().unwrap().block;
    assert_eq!(block.block().body.transactions.len(), 1 + 10);
    assert_eq!(b.engine.session_imports(), 2, "a block the fragments did not announce");
    assert_eq!(sb.metrics().blocks_sealed_ahead.get(), 2, "its stream had no last fragment");
    // its transactions are still the fragments' (then none after them), so it too went out
    // in compact form, and B rebuilt it from the fragments it had
    assert_eq!(sa.metrics().blocks_compact.get(), 3);

    // block 4, streamed while a new node C joins: B rebuilds the compact block from the
    // fragments; C, at genesis and following none of them, fetches blocks 1 to 4 in full
    let (c, sc, _pc) = service_node(dir.path(), "c", None, vec![pa.dial_addr()], schedule).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    send(12);
    tokio::time::sleep(Duration::from_millis(300)).await;
    preconfirm(4, 4).await;
    converge(&[&sa, &sb, &sc], sa.latest()).await;
    assert_eq!(sa.metrics().blocks_compact.get(), 4);
    assert_eq!(b.engine.session_imports(), 3, "block 4 rebuilt and finished from the fragments");
    assert_eq!(sb.metrics().blocks_sealed_ahead.get(), 3);
    assert_eq!(sc.metrics().compact_fetches.get(), 1, "C could not rebuild it");
    for n in 1..=4 {
        let hash = |node: &taiko_node::RunningNode| node.store.canonical_hash(n).unwrap();
        assert_eq!(hash(&c), hash(&a), "block {n}");
        // the full message is served for it, from the stored block
        let full = sb.adopted_message(n).unwrap();
        let msg = taiko_preconf_exex::message::PreconfMessage::decode(&full).unwrap();
        assert_eq!(Some(msg.commitment.blockHash), hash(&a));
    }
    for n in [a, b, c] {
        n.shutdown().await.unwrap();
    }
}
