//! A preconfer killed in the middle of its turn — after signing, before publishing; or after
//! publishing, before importing — never signs a different block at that height when it comes
//! back, and resumes by publishing and importing exactly the block it signed.

mod common;

use std::{path::Path, process::Command, sync::Arc};

use alloy::primitives::{Address, B256};
use common::{node, preconfer_key, preconfirm_next, transfer};
use taiko_chainspec::devnet_accounts;
use taiko_pool::TransactionOrigin;
use taiko_preconf_exex::{
    message::PreconfMessage,
    protection::{ProtectionDb, ProtectionError},
    sequencer::{SequencerError, commit, resume},
    signer::{CommitmentSigner, LocalSigner, SignerError},
};

const TASK_MANAGER: Address = Address::repeat_byte(0x7a);

fn signer(dir: &Path) -> CommitmentSigner {
    let protection = Arc::new(ProtectionDb::open(&dir.join("protection.redb")).unwrap());
    CommitmentSigner::new(
        Arc::new(LocalSigner::from_signer(preconfer_key("crash-test preconfer"))),
        protection,
        31337,
        TASK_MANAGER,
    )
}

/// Runs in a child process: preconfirms block 1, optionally "publishes" it (writes the wire
/// bytes), then dies before importing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "helper run in a child process by the crash tests"]
async fn crash_child_sequencer() {
    let (Ok(dir), Ok(mode)) = (std::env::var("TAIKO_CRASH_DIR"), std::env::var("TAIKO_CRASH_MODE"))
    else {
        return;
    };
    let dir = Path::new(&dir);
    let n = node(&dir.join("node")).await;
    let s = signer(dir);
    let user = &devnet_accounts()[0];
    for nonce in 0..2 {
        n.pool
            .add_raw(TransactionOrigin::External, &transfer(n.spec.chain_id, user, nonce))
            .unwrap();
    }
    let msg = preconfirm_next(&n, &s).await.unwrap();
    std::fs::write(dir.join("signed-hash"), msg.commitment.blockHash.as_slice()).unwrap();
    if mode == "after-publish" {
        std::fs::write(dir.join("published.bin"), msg.encode()).unwrap();
    }
    std::process::abort();
}

async fn crash_and_resume(mode: &str) {
    let dir = tempfile::tempdir().unwrap();
    let status = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "crash_child_sequencer", "--include-ignored", "--test-threads", "1"])
        .env("TAIKO_CRASH_DIR", dir.path())
        .env("TAIKO_CRASH_MODE", mode)
        .status()
        .unwrap();
    assert!(!status.success(), "the child died");
    let signed = B256::from_slice(&std::fs::read(dir.path().join("signed-hash")).unwrap());

    // restart: the block was never imported
    let n = node(&dir.path().join("node")).await;
    let s = signer(dir.path());
    assert_eq!(
        n.store.latest_header().unwrap().number,
        0,
        "block 1 was not imported before the crash"
    );

    // building anything else at height 1 is refused (the pool is empty now: another block)
    let other = preconfirm_next(&n, &s).await;
    assert!(
        matches!(
            other,
            Err(SequencerError::Signer(SignerError::Protection(ProtectionError::Conflict {
                height: 1,
                ..
            })))
        ),
        "{mode}: a different block at the signed height must be refused, got {other:?}"
    );

    // resume: the very block signed before the crash, re-signed, published, imported
    let resumed = resume(&s, n.spec.chain_id, 1).await.unwrap().expect("the signed block is kept");
    assert_eq!(
        resumed.wire(),
        resumed.message.encode(),
        "{mode}: the wire bytes are the message's"
    );
    let msg = resumed.message;
    assert_eq!(msg.commitment.blockHash, signed, "{mode}: the same block");
    if mode == "after-publish" {
        let published =
            PreconfMessage::decode(&std::fs::read(dir.path().join("published.bin")).unwrap())
                .unwrap();
        assert_eq!(published, msg, "identical to what peers already have, signature included");
    }
    let status = n
        .engine
        .new_payload(taiko_store::SealedBlock::new_unchecked(msg.block.clone(), signed), None)
        .await
        .unwrap();
    assert_eq!(status, taiko_engine::PayloadStatus::Valid);
    commit(&n.engine, signed).await.unwrap();
    assert_eq!(
        n.store.latest_header().unwrap().hash_slow(),
        signed,
        "{mode}: imported after restart"
    );

    // and it goes on preconfirming
    let next = preconfirm_next(&n, &s).await.unwrap();
    assert_eq!(next.commitment.blockNumber, 2);
    n.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_between_signing_and_publishing() {
    crash_and_resume("after-sign").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_between_publishing_and_importing() {
    crash_and_resume("after-publish").await;
}
