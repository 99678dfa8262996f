//! Three nodes on loopback: gossip is validated before it is forwarded, a rejected block does
//! not travel and costs its sender score, and a late node fetches blocks by request.

mod common;

use std::{collections::BTreeMap, sync::Arc, time::Duration};

use alloy::primitives::B256;
use common::*;
use parking_lot::Mutex;
use taiko_preconf_exex::{
    message::{PreconfMessage, Verdict, validate},
    p2p::{Acceptance, BlocksRequest, BlocksResponse, P2p, P2pConfig, P2pEvent, P2pHandle},
};

/// A node's application side: validates what arrives, remembers accepted blocks, serves them.
fn app(
    handle: P2pHandle,
    mut events: tokio::sync::mpsc::UnboundedReceiver<P2pEvent>,
    head: (u64, B256),
) -> Arc<Mutex<BTreeMap<u64, Vec<u8>>>> {
    let accepted = Arc::new(Mutex::new(BTreeMap::new()));
    let store = accepted.clone();
    tokio::spawn(async move {
        while let Some(ev) = events.recv().await {
            match ev {
                P2pEvent::Message { id, source, data } => {
                    let verdict =
                        PreconfMessage::decode(&data).map(|m| (validate(&m, &ctx(head)), m));
                    let acceptance = match verdict {
                        Ok((Verdict::Accept { .. }, m)) => {
                            store.lock().insert(m.block.header.number, data);
                            Acceptance::Accept
                        }
                        Ok((Verdict::Ignore { .. }, _)) => Acceptance::Ignore,
                        _ => Acceptance::Reject,
                    };
                    handle.report(id, source, acceptance);
                }
                P2pEvent::BlocksRequested { request, reply, .. } => {
                    let s = store.lock();
                    let blocks = (request.from..request.from + request.count as u64)
                        .map_while(|n| s.get(&n).cloned())
                        .collect();
                    let _ = reply.send(BlocksResponse { blocks });
                }
                P2pEvent::Transaction { id, source, .. }
                | P2pEvent::Fragment { id, source, .. } => {
                    handle.report(id, source, Acceptance::Ignore)
                }
                P2pEvent::PeerJoined(_) => {}
            }
        }
    });
    accepted
}

async fn node(
    peers: Vec<libp2p::Multiaddr>,
) -> (P2pHandle, tokio::sync::mpsc::UnboundedReceiver<P2pEvent>) {
    P2p::spawn(P2pConfig {
        l2_chain_id: CHAIN,
        listen: "/ip4/127.0.0.1/tcp/0".parse().unwrap(),
        static_peers: peers,
        keypair: None,
    })
    .await
    .unwrap()
}

async fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    for _ in 0..200 {
        if f() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gossip_is_validated_before_forwarding() {
    let parent = B256::repeat_byte(4);
    let head = (4, parent);
    let (b, b_events) = node(vec![]).await;
    let b_addr = b.dial_addr();
    let (a, a_events) = node(vec![b_addr.clone()]).await;
    let (c, c_events) = node(vec![b_addr]).await;
    let _a_store = app(a.clone(), a_events, head);
    let b_store = app(b.clone(), b_events, head);
    let c_store = app(c.clone(), c_events, head);
    for _ in 0..200 {
        if b.topic_peers().await.len() == 2
            && !a.topic_peers().await.is_empty()
            && !c.topic_peers().await.is_empty()
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(b.topic_peers().await.len(), 2, "A and C joined B's topic");
    // let a heartbeat build the mesh
    tokio::time::sleep(Duration::from_millis(1200)).await;

    // a valid block from A reaches C through B
    let good = sign(&key("preconfer"), block(5, parent, 2), CHAIN);
    a.publish(good.encode()).await.unwrap();
    eventually("C to import block 5", || c_store.lock().contains_key(&5)).await;
    assert!(b_store.lock().contains_key(&5), "B accepted it first");

    // a block signed by someone else: B rejects it, C never sees it, A loses score at B
    let bad = sign(&key("intruder"), block(6, parent, 1), CHAIN);
    a.publish(bad.encode()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(!c_store.lock().contains_key(&6), "the rejected block was not forwarded");
    let score = b.peer_score(a.peer_id).await.expect("A is scored at B");
    assert!(score < -80.0, "A was penalised below the graylist threshold at B: {score}");

    // catch-up by request: C asks B for blocks 5..
    let response = c.request_blocks(b.peer_id, BlocksRequest { from: 5, count: 10 }).await.unwrap();
    assert_eq!(response.blocks.len(), 1);
    assert_eq!(PreconfMessage::decode(&response.blocks[0]).unwrap(), good);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relaying_a_publishers_own_block_back_costs_nothing() {
    // a triangle: B and C both dial A, C also dials B; every block of A's reaches C directly
    // and through B, and both relay it back towards A
    let parent = B256::repeat_byte(4);
    let head = (4, parent);
    let (a, a_events) = node(vec![]).await;
    let (b, b_events) = node(vec![a.dial_addr()]).await;
    let (c, c_events) = node(vec![a.dial_addr(), b.dial_addr()]).await;
    let _a_store = app(a.clone(), a_events, head);
    let b_store = app(b.clone(), b_events, head);
    let c_store = app(c.clone(), c_events, head);
    for _ in 0..200 {
        if a.topic_peers().await.len() == 2 && c.topic_peers().await.len() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(1200)).await; // a heartbeat builds the mesh
    let preconfer = key("preconfer");
    for i in 0..5u8 {
        // the apps accept any block on `head`: five different blocks at height 5
        let blk = block(5, parent, 1 + i as usize);
        a.publish(sign(&preconfer, blk, CHAIN).encode()).await.unwrap();
        let n = 5;
        eventually("B and C to accept", || {
            b_store.lock().contains_key(&n) && c_store.lock().contains_key(&n)
        })
        .await;
        b_store.lock().clear();
        c_store.lock().clear();
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_millis(600)).await; // a heartbeat refreshes the scores
    for (name, peer) in [("B", b.peer_id), ("C", c.peer_id)] {
        let score = a.peer_score(peer).await.expect("scored at A");
        assert!(score >= 0.0, "{name} relayed honestly yet its score at A is {score}");
    }
}
