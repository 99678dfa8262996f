//! A preconfer building its next block ahead of the tick streams it as fragments, and a
//! follower executes them as they arrive: when the signed block comes, the follower finishes it
//! through its build session (only what came after the last fragment executes) and ends on the
//! same hash as the preconfer; a block the fragments did not announce is imported in full.

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

    // block 1: nothing built ahead (no block before it was ours)
    preconfirm(0, 1).await;
    assert_eq!(b.engine.session_imports(), 0);

    // block 2 is started at once; transactions arrive in three bursts, the last one right
    // before the tick (executed by the preconfer's last round, not announced in a fragment)
    for burst in [20, 15] {
        send(burst);
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    send(5);
    preconfirm(1, 2).await;
    let block = b.store.block_by_number(2).unwrap().unwrap().block;
    assert_eq!(block.block().body.transactions.len(), 1 + 40, "anchor and every transfer");
    assert_eq!(b.engine.session_imports(), 1, "block 2 finished through the fragments");

    // block 3: the preconfer streams it, but the block at the tick is built afresh from
    // other attributes (a skipped tick moves its timestamp): the follower's session does not
    // match, so it imports the block in full and still agrees
    send(10);
    tokio::time::sleep(Duration::from_millis(300)).await;
    preconfirm(3, 3).await;
    let block = b.store.block_by_number(3).unwrap().unwrap().block;
    assert_eq!(block.block().body.transactions.len(), 1 + 10);
    assert_eq!(b.engine.session_imports(), 1, "a block the fragments did not announce");
    for n in [a, b] {
        n.shutdown().await.unwrap();
    }
}
