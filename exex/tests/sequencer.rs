//! A preconfer node builds, protects, signs and commits a block from its pool; a follower node
//! validates and imports it with the same hash; an invalid execution imports nothing; a second
//! block at a signed height is refused.

mod common;

use std::sync::Arc;

use alloy::{
    primitives::{Address, B256},
    signers::SignerSync,
    sol_types::Eip712Domain,
};
use common::{node, preconfer_key, preconfirm_next, transfer};
use taiko_chainspec::devnet_accounts;
use taiko_contracts::wire;
use taiko_node::RunningNode;
use taiko_pool::TransactionOrigin;
use taiko_preconf_exex::{
    message::{PreconfMessage, ValidationContext},
    protection::{ProtectionDb, ProtectionError},
    sequencer::{FollowOutcome, commit, follow},
    signer::{CommitmentSigner, LocalSigner, SignerError},
};

const TASK_MANAGER: Address = Address::repeat_byte(0x7a);

struct Ctx {
    chain: u64,
    domain: Eip712Domain,
    preconfer: Address,
    head: (u64, B256),
}

impl ValidationContext for Ctx {
    fn l2_chain_id(&self) -> u64 {
        self.chain
    }
    fn domain(&self) -> &Eip712Domain {
        &self.domain
    }
    fn preconfer_at(&self, _timestamp: u64) -> Option<Address> {
        Some(self.preconfer)
    }
    fn head(&self) -> (u64, B256) {
        self.head
    }
}

fn ctx(n: &RunningNode, preconfer: Address) -> Ctx {
    let h = n.store.latest_header().unwrap();
    Ctx {
        chain: n.spec.chain_id,
        domain: wire::preconf_domain(31337, TASK_MANAGER),
        preconfer,
        head: (h.number, h.hash_slow()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preconfer_block_is_imported_by_a_follower() {
    let dir = tempfile::tempdir().unwrap();
    let a = node(&dir.path().join("a")).await;
    let b = node(&dir.path().join("b")).await;
    let chain = a.spec.chain_id;
    let key = preconfer_key("sequencer-test preconfer");
    let protection = Arc::new(ProtectionDb::open(&dir.path().join("protection.redb")).unwrap());
    let signer = CommitmentSigner::new(
        Arc::new(LocalSigner::from_signer(key.clone())),
        protection,
        31337,
        TASK_MANAGER,
    );
    let user = &devnet_accounts()[0];
    for nonce in 0..3 {
        a.pool.add_raw(TransactionOrigin::External, &transfer(chain, user, nonce)).unwrap();
    }

    // A: build → protect → sign; publish (the wire bytes); commit
    let msg = preconfirm_next(&a, &signer).await.unwrap();
    assert_eq!(msg.block.body.transactions.len(), 4, "anchor + 3 transfers");
    let wire_bytes = msg.encode();
    commit(&a.engine, msg.commitment.blockHash).await.unwrap();
    let a_head = a.store.latest_header().unwrap().hash_slow();
    assert_eq!(a_head, msg.commitment.blockHash, "A's latest is the signed block");

    // B: decode → validate → execute → latest, same hash
    let received = PreconfMessage::decode(&wire_bytes).unwrap();
    let outcome = follow(&b.engine, &received, &ctx(&b, key.address())).await.unwrap();
    assert_eq!(outcome, FollowOutcome::Imported);
    assert_eq!(b.store.latest_header().unwrap().hash_slow(), a_head, "identical block hashes");

    // A second, different block at the signed height is refused by slashing protection
    let again = b.store.latest_header().unwrap().number;
    a.pool.add_raw(TransactionOrigin::External, &transfer(chain, user, 3)).unwrap();
    let mut conflicting = msg.commitment.clone();
    conflicting.txListHash = B256::repeat_byte(0xee);
    assert!(matches!(
        signer.sign(&conflicting).await,
        Err(SignerError::Protection(ProtectionError::Conflict { height, .. })) if height == again
    ));

    // A relayer swaps the anchor of a genuine signed block: the signed commitment still holds
    // (the anchor is outside the tx-list hash), so the message passes follow's validation, but
    // the import checks the body against the header and refuses it before applying anything
    let genuine = preconfirm_next(&a, &signer).await.unwrap();
    let mut swapped = genuine.clone();
    let other: alloy::consensus::TxEnvelope = alloy::eips::eip2718::Decodable2718::decode_2718(
        &mut transfer(chain, &devnet_accounts()[1], 0).as_slice(),
    )
    .unwrap();
    swapped.block.body.transactions[0] = other;
    let before = b.store.latest_header().unwrap().hash_slow();
    let outcome = follow(&b.engine, &swapped, &ctx(&b, key.address())).await.unwrap();
    assert!(matches!(outcome, FollowOutcome::Invalid(_)), "{outcome:?}");
    assert_eq!(b.store.latest_header().unwrap().hash_slow(), before, "nothing imported");

    // An invalid execution: the preconfer signs a block whose state root is wrong
    let mut next = genuine.clone();
    next.block.header.state_root = B256::repeat_byte(0x66);
    next.commitment.blockHash = next.block.header.hash_slow();
    let digest =
        wire::preconf_signing_hash(&next.commitment, &wire::preconf_domain(31337, TASK_MANAGER));
    next.signature = key.sign_hash_sync(&digest).unwrap().as_bytes();
    let before = b.store.latest_header().unwrap().hash_slow();
    let outcome = follow(&b.engine, &next, &ctx(&b, key.address())).await.unwrap();
    assert!(matches!(outcome, FollowOutcome::Invalid(_)), "{outcome:?}");
    assert_eq!(b.store.latest_header().unwrap().hash_slow(), before, "nothing imported");

    // A block from someone who does not own the window is refused before execution
    let outcome = follow(&b.engine, &next, &ctx(&b, Address::repeat_byte(1))).await.unwrap();
    assert!(matches!(outcome, FollowOutcome::Rejected(_)));

    // and the genuine block, after all of these, imports with the preconfer's hash
    let outcome = follow(&b.engine, &genuine, &ctx(&b, key.address())).await.unwrap();
    assert_eq!(outcome, FollowOutcome::Imported);
    assert_eq!(b.store.latest_header().unwrap().hash_slow(), genuine.commitment.blockHash);
    a.shutdown().await.unwrap();
    b.shutdown().await.unwrap();
}
