//! Cross-language proof: what Rust signs, Solidity accepts — on a real L1 node.
//!
//! Starts anvil (Prague, so the EIP-2537 precompiles exist), deploys the L1 contracts with the
//! project's forge script, then:
//! - registers a validator with a BLS signature made by `blst` over the message built in Rust
//!   (and checks a tampered signature byte is rejected);
//! - proposes a batch through the task manager and checks the inbox's block digest equals the
//!   one computed in Rust;
//! - signs preconfirmations with an alloy signer, checks the EIP-712 digest matches the
//!   contract's, and slashes an equivocation with them (a tampered byte is rejected).

use alloy::{
    primitives::{B256, Bytes, U256},
    signers::{SignerSync, local::PrivateKeySigner},
    sol_types::{SolCall, SolEvent, SolValue},
};
use jsonrpsee::rpc_params;
use serde_json::Value;
use taiko_contracts::{
    LibBatch, NativeStaking, PreconfRegistry, PreconfTaskManager,
    inbox::{LibBatch as InboxBatch, TaikoInbox},
    wire::{self, Preconfirmation, ValidatorOp},
};
use taiko_devnet::{SlotClock, anvil::Anvil, setup};

const DEPLOYER_KEY: &str = setup::DEPLOYER_KEY;
const PRECONFER_KEY: &str = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";
const L1_CHAIN_ID: u64 = 31337;
const L2_CHAIN_ID: u64 = 167010;
const SLOT: u64 = 2;
const SLOTS_PER_EPOCH: u64 = 4;

/// The selector of a custom error, as it appears in a revert's data.
fn selector_hex(signature: &str) -> String {
    alloy::hex::encode(&alloy::primitives::keccak256(signature)[..4])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_signatures_are_accepted_on_l1() {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let (anvil, l1) = Anvil::start(now, L1_CHAIN_ID).await.unwrap();
    let clock = SlotClock { genesis: now, slot_secs: SLOT, slots_per_epoch: SLOTS_PER_EPOCH };
    let d =
        setup::deploy(&anvil.url, &clock, L2_CHAIN_ID, &format!("xlang-{}", std::process::id()))
            .unwrap();
    let genesis = clock.genesis;
    let deployer: PrivateKeySigner = DEPLOYER_KEY.parse().unwrap();
    let preconfer: PrivateKeySigner = PRECONFER_KEY.parse().unwrap();
    let me = preconfer.address();

    // Stake and register the preconfer.
    let one_eth = U256::from(10).pow(U256::from(18));
    l1.transact(&preconfer, d.restaking, NativeStaking::depositCall {}, one_eth).await.unwrap();
    l1.transact(&preconfer, d.registry, PreconfRegistry::registerPreconferCall {}, U256::ZERO)
        .await
        .unwrap();
    l1.transact(&preconfer, d.inbox, TaikoInbox::depositBondCall {}, one_eth).await.unwrap();

    // ---- BLS registration signed with blst over the message built in Rust.
    let sk = blst::min_pk::SecretKey::key_gen(&[7u8; 32], &[]).unwrap();
    let pk = sk.sk_to_pk();
    let expiry = 4_000_000_000u64;
    let message =
        wire::validator_op_message(L1_CHAIN_ID, d.registry, ValidatorOp::Add, me, expiry, 0);
    let on_chain = l1
        .call(
            d.registry,
            PreconfRegistry::validatorOpMessageCall {
                op: ValidatorOp::Add as u8,
                preconfer: me,
                expiry,
                nonce: 0,
            },
        )
        .await
        .unwrap();
    assert_eq!(on_chain.as_ref(), message.as_slice(), "validator message bytes agree");
    let sig = sk.sign(&message, wire::BLS_DST, &[]).serialize();
    let add = |sig: Vec<u8>| PreconfRegistry::addValidatorCall {
        pubkey: pk.serialize().to_vec().into(),
        signature: sig.into(),
        preconfer: me,
        expiry,
    };
    for i in [0usize, 50, 100, 191] {
        let mut bad = sig.to_vec();
        bad[i] ^= 0x01;
        let err = l1.call(d.registry, add(bad)).await.unwrap_err().to_string();
        assert!(
            err.contains(&selector_hex("InvalidBLSSignature()"))
                || err.contains(&selector_hex("InvalidSignatureEncoding()")),
            "tampered byte {i} must be rejected with a BLS error, got {err}"
        );
    }
    let other =
        wire::validator_op_message(L1_CHAIN_ID, d.registry, ValidatorOp::Add, me, expiry, 1);
    let err = l1
        .call(d.registry, add(sk.sign(&other, wire::BLS_DST, &[]).serialize().to_vec()))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains(&selector_hex("InvalidBLSSignature()")), "wrong nonce: {err}");
    l1.transact(&deployer, d.registry, add(sig.to_vec()), U256::ZERO).await.unwrap();
    let key_hash = wire::validator_key_hash(&pk.compress());
    let v =
        l1.call(d.registry, PreconfRegistry::validatorsCall { keyHash: key_hash }).await.unwrap();
    assert_eq!(v.preconfer, me, "the blst-signed registration mapped the key");

    // ---- A batch through the task manager; the inbox's digest equals Rust's.
    let epoch = SLOT * SLOTS_PER_EPOCH;
    let now = l1.latest().await.unwrap().timestamp;
    // Past the activation delay (2 epochs), at the first slot of an epoch.
    let e = (now + 3 * epoch - genesis) / epoch + 1;
    let start = genesis + e * epoch;
    l1.mine_at(start).await.unwrap();
    let last_slot = start + epoch - SLOT;
    let entry = PreconfTaskManager::LookaheadParam {
        slotTimestamp: last_slot,
        preconfer: me,
        validatorKeyHash: key_hash,
    };
    l1.transact(
        &preconfer,
        d.task_manager,
        PreconfTaskManager::forcePushLookaheadCall { epoch: U256::from(e), entries: vec![entry] },
        U256::ZERO,
    )
    .await
    .unwrap();
    let number = l1.latest().await.unwrap().number;
    let propose_at = start + 3;
    let blocks: Vec<LibBatch::BlockParams> = (0..3u8)
        .map(|i| LibBatch::BlockParams {
            numTransactions: 1,
            timeShift: if i == 0 { 0 } else { 1 },
            anchorBlockId: number,
            txListHash: alloy::primitives::keccak256([i]),
        })
        .collect();
    let params = LibBatch::BatchParams {
        proposer: me,
        coinbase: me,
        parentMetaHash: B256::ZERO,
        lastBlockTimestamp: propose_at,
        blobParams: LibBatch::BlobParams::default(),
        blocks: blocks.clone(),
    };
    let _: Value = l1.request("evm_setNextBlockTimestamp", rpc_params![propose_at]).await.unwrap();
    let receipt = l1
        .transact(
            &preconfer,
            d.task_manager,
            PreconfTaskManager::proposeBatchCall {
                params,
                txList: vec![0x01].into(),
                lookaheadIndex: U256::ZERO,
                nextLookahead: vec![],
            },
            U256::ZERO,
        )
        .await
        .unwrap();
    let mut digest = B256::ZERO;
    for (i, b) in blocks.iter().enumerate() {
        let ts = propose_at - (blocks.len() - 1 - i) as u64;
        digest = wire::block_digest(digest, 1 + i as u64, b.txListHash, ts, number, me);
    }
    let on_chain = l1.call(d.inbox, TaikoInbox::lastDigestCall {}).await.unwrap();
    assert_eq!(on_chain, digest, "block digest chain agrees");
    let log = receipt["logs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| {
            l["topics"][0].as_str() == Some(&TaikoInbox::BatchProposed::SIGNATURE_HASH.to_string())
        })
        .expect("BatchProposed emitted");
    let data: Bytes = serde_json::from_value(log["data"].clone()).unwrap();
    let topics: Vec<B256> = serde_json::from_value(log["topics"].clone()).unwrap();
    let event = TaikoInbox::BatchProposed::decode_raw_log(topics, &data).unwrap();
    assert_eq!(event.info.digest, digest, "the event carries the digest");

    // ---- Preconfirmations signed with an alloy signer.
    let domain = wire::preconf_domain(L1_CHAIN_ID, d.task_manager);
    let commit = |tx_list_hash: B256| Preconfirmation {
        l2ChainId: L2_CHAIN_ID,
        blockNumber: 4,
        parentHash: B256::repeat_byte(0x11),
        blockHash: B256::repeat_byte(0x12),
        parentDigest: digest,
        txListHash: tx_list_hash,
        timestamp: propose_at + 2,
        anchorBlockId: number,
        coinbase: me,
        windowEnd: last_slot,
        endOfSequencing: false,
    };
    let a = commit(B256::repeat_byte(0xaa));
    let b = commit(B256::repeat_byte(0xbb));
    let hash_a = wire::preconf_signing_hash(&a, &domain);
    let contract_hash = l1
        .call(d.task_manager, PreconfTaskManager::hashPreconfirmationCall { c: a.clone() })
        .await
        .unwrap();
    assert_eq!(contract_hash, hash_a, "EIP-712 digest agrees");
    let sig_a: Bytes = preconfer.sign_hash_sync(&hash_a).unwrap().as_bytes().to_vec().into();
    let sig_b: Bytes = preconfer
        .sign_hash_sync(&wire::preconf_signing_hash(&b, &domain))
        .unwrap()
        .as_bytes()
        .to_vec()
        .into();
    let signer = l1
        .call(
            d.task_manager,
            PreconfTaskManager::signerOfCall { c: a.clone(), signature: sig_a.clone() },
        )
        .await
        .unwrap();
    assert_eq!(signer, me, "the contract recovers the Rust signer");

    // Tampered: one byte of the commitment, or of the signature.
    let mut tampered = a.clone();
    tampered.timestamp += 1;
    let other = l1
        .call(
            d.task_manager,
            PreconfTaskManager::signerOfCall { c: tampered, signature: sig_a.clone() },
        )
        .await
        .unwrap();
    assert_ne!(other, me, "a changed commitment does not recover the signer");
    let mut bad_sig = sig_b.to_vec();
    bad_sig[10] ^= 0x01;
    let equivocation = |sig_b: Bytes| PreconfTaskManager::proveEquivocationCall {
        a: a.clone(),
        sigA: sig_a.clone(),
        b: b.clone(),
        sigB: sig_b,
    };
    let err = l1
        .call_raw(d.task_manager, equivocation(bad_sig.into()).abi_encode())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(&selector_hex("NotConflicting()"))
            || err.contains(&selector_hex("InvalidSignature()")),
        "tampered signature must not slash: {err}"
    );

    // Accepted: the equivocation slashes the preconfer's whole stake.
    l1.transact(&deployer, d.task_manager, equivocation(sig_b), U256::ZERO).await.unwrap();
    let stake = l1.call(d.restaking, NativeStaking::stakeOfCall { operator: me }).await.unwrap();
    assert_eq!(stake, U256::ZERO, "slashed");
    let slashed = l1
        .call(d.task_manager, PreconfTaskManager::slashedAtCall { signer: me, blockNumber: 4 })
        .await
        .unwrap();
    assert!(slashed);

    // The event's BatchInfo is what a wrong-preconfirmation dispute takes.
    let info = LibBatch::BatchInfo::abi_decode(&event.info.abi_encode()).unwrap();
    let _: &InboxBatch::BatchInfo = &event.info;
    assert_eq!(info.lastBlockId, 3);
}
