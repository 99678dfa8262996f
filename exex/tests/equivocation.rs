//! A preconfer that signs two different blocks at one height: the follower keeps the first,
//! records both signed messages as evidence (durability: the `evidence` unit test) and counts it,
//! and does not take the second as its head; the same block delivered again is not evidence.

mod common;

use std::{sync::Arc, time::Duration};

use alloy::primitives::{Address, B256};
use common::{node, preconfer_key, preconfirm_next, transfer};
use taiko_chainspec::devnet_accounts;
use taiko_contracts::wire;
use taiko_evm::AnchorInput;
use taiko_pool::TransactionOrigin;
use taiko_preconf_exex::{
    anchor::FixedAnchor,
    evidence::EvidenceDb,
    message::PreconfMessage,
    p2p::{P2p, P2pConfig, P2pEvent},
    protection::ProtectionDb,
    service::{PreconfService, ServiceParts, WindowSchedule},
    signer::{CommitmentSigner, LocalSigner},
};

const TASK_MANAGER: Address = Address::repeat_byte(0x7a);

#[derive(Debug)]
struct Always(Address);

impl WindowSchedule for Always {
    fn window_at(&self, _: u64) -> Option<(Address, u64)> {
        Some((self.0, u64::MAX))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_signed_blocks_at_one_height_become_evidence() {
    let dir = tempfile::tempdir().unwrap();
    let key = preconfer_key("two-faced");
    // the preconfer runs two nodes with two protection databases — exactly what protection
    // exists to prevent — and signs a different block at height 1 on each
    let signer = |db: &str| {
        CommitmentSigner::new(
            Arc::new(LocalSigner::from_signer(key.clone())),
            Arc::new(ProtectionDb::open(&dir.path().join(db)).unwrap()),
            31337,
            TASK_MANAGER,
        )
    };
    let (a1, a2) = (node(&dir.path().join("a1")).await, node(&dir.path().join("a2")).await);
    let users = devnet_accounts();
    a1.pool.add_raw(TransactionOrigin::Local, &transfer(a1.spec.chain_id, &users[0], 0)).unwrap();
    a2.pool.add_raw(TransactionOrigin::Local, &transfer(a2.spec.chain_id, &users[1], 0)).unwrap();
    let x = preconfirm_next(&a1, &signer("p1.redb")).await.unwrap();
    let y = preconfirm_next(&a2, &signer("p2.redb")).await.unwrap();
    assert_eq!(x.commitment.blockNumber, y.commitment.blockNumber);
    assert_ne!(x.commitment.blockHash, y.commitment.blockHash);

    // the follower
    let b = node(&dir.path().join("b")).await;
    let (p2p, _events) = P2p::spawn(P2pConfig {
        l2_chain_id: b.spec.chain_id,
        listen: "/ip4/127.0.0.1/tcp/0".parse().unwrap(),
        static_peers: vec![],
        keypair: None,
    })
    .await
    .unwrap();
    let evidence = Arc::new(EvidenceDb::open(&dir.path().join("evidence.redb")).unwrap());
    let anchor = FixedAnchor(AnchorInput {
        l1_block_id: 1,
        l1_block_hash: B256::with_last_byte(1),
        l1_state_root: B256::with_last_byte(2),
    });
    let service = Arc::new(PreconfService::new(ServiceParts {
        evidence: Some(evidence.clone()),
        ..ServiceParts::for_node(
            &b,
            p2p,
            None,
            Arc::new(Always(key.address())),
            wire::preconf_domain(31337, TASK_MANAGER),
            Arc::new(anchor),
        )
    }));
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(service.clone().run_follower(rx));
    let deliver = |m: &PreconfMessage, n: u8| {
        tx.send(P2pEvent::Message {
            id: libp2p::gossipsub::MessageId::new(&[n]),
            source: libp2p::PeerId::random(),
            data: m.encode(),
        })
        .unwrap();
    };
    let settle = || tokio::time::sleep(Duration::from_millis(300));

    deliver(&x, 1);
    settle().await;
    assert_eq!(service.latest(), (1, x.commitment.blockHash), "the first valid block wins");
    deliver(&x, 2);
    settle().await;
    assert!(evidence.all().unwrap().is_empty(), "the same block again is not evidence");

    deliver(&y, 3);
    settle().await;
    assert_eq!(service.latest(), (1, x.commitment.blockHash), "the second does not replace it");
    let records = evidence.all().unwrap();
    assert_eq!(records.len(), 1);
    let e = &records[0];
    assert_eq!((e.signer, e.chain_id, e.height), (key.address(), b.spec.chain_id, 1));
    assert_eq!(PreconfMessage::decode(&e.first).unwrap().commitment, x.commitment);
    assert_eq!(PreconfMessage::decode(&e.second).unwrap().commitment, y.commitment);
    assert_eq!(service.metrics().equivocations.get(), 1);
}
