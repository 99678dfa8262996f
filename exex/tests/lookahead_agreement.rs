//! The Rust lookahead agrees with `PreconfTaskManager` on anvil, slot by slot, over several
//! epochs including fallback epochs.

use alloy::{
    primitives::{Address, B256, U256},
    signers::local::PrivateKeySigner,
};
use taiko_beacon::api::ProposerDuties;
use taiko_contracts::{PreconfRegistry, PreconfTaskManager};
use taiko_devnet::{ClockMode, Devnet, DevnetConfig, anvil::BEACON_ROOTS};
use taiko_preconf_exex::lookahead::{
    LookaheadParam, SlotProposer, Window, fallback_preconfer, lookahead_params, owner_at, windows,
};

async fn advance_until(devnet: &Devnet, next_slot: u64) {
    while devnet.next_slot().await < next_slot {
        devnet.advance_slot().await.unwrap();
    }
}

/// What the node computes for `epoch`: duties from the beacon API, resolved in the registry.
async fn rust_params(devnet: &Devnet, epoch: u64) -> Vec<LookaheadParam> {
    let m = devnet.manifest();
    let duties: ProposerDuties =
        reqwest::get(format!("{}/eth/v1/validator/duties/proposer/{epoch}", m.beacon_api))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    let mut proposers = Vec::new();
    for d in duties.data {
        let key_hash = m.validators[d.validator_index as usize].key_hash;
        let preconfer = devnet
            .l1
            .preconfer_of(m.contracts.registry, key_hash, m.clock.slot_time(d.slot))
            .await
            .unwrap();
        proposers.push(SlotProposer { slot: d.slot, validator_key_hash: key_hash, preconfer });
    }
    lookahead_params(&m.clock, &proposers)
}

/// The fallback the contract will pick for `epoch` if posted now.
async fn rust_fallback(devnet: &Devnet, epoch: u64) -> Option<Address> {
    let m = devnet.manifest();
    let active = devnet
        .l1
        .call(
            m.contracts.registry,
            PreconfRegistry::activePreconfersCall {
                timestamp: U256::from(m.clock.epoch_start(epoch)),
            },
        )
        .await
        .unwrap();
    let mut seed = devnet.l1.latest().await.unwrap().hash;
    let prev = m.clock.epoch_start(epoch - 1);
    for i in 1..=m.clock.slots_per_epoch {
        let ts = U256::from(prev + i * m.clock.slot_secs);
        if let Ok(root) = devnet.l1.call_raw(BEACON_ROOTS, ts.to_be_bytes::<32>().to_vec()).await
            && root.len() == 32
        {
            seed = B256::from_slice(&root);
            break;
        }
    }
    fallback_preconfer(seed, &active)
}

async fn contract_windows(devnet: &Devnet, epoch: u64) -> Vec<Window> {
    devnet
        .l1
        .call(
            devnet.manifest().contracts.task_manager,
            PreconfTaskManager::lookaheadCall { epoch: U256::from(epoch) },
        )
        .await
        .unwrap()
        .into_iter()
        .map(|e| Window {
            timestamp: e.timestamp.to::<u64>(),
            prev_timestamp: e.prevTimestamp.to::<u64>(),
            preconfer: e.preconfer,
            is_fallback: e.isFallback,
        })
        .collect()
}

async fn post(devnet: &Devnet, who: &PrivateKeySigner, epoch: u64, params: &[LookaheadParam]) {
    let m = devnet.manifest();
    let entries = params
        .iter()
        .map(|p| PreconfTaskManager::LookaheadParam {
            slotTimestamp: p.slot_timestamp,
            preconfer: p.preconfer,
            validatorKeyHash: p.validator_key_hash,
        })
        .collect();
    let hash = devnet
        .l1
        .send(
            who,
            m.contracts.task_manager,
            PreconfTaskManager::forcePushLookaheadCall { epoch: U256::from(epoch), entries },
            U256::ZERO,
        )
        .await
        .unwrap();
    devnet.advance_slot().await.unwrap();
    let receipt = devnet.l1.receipt(hash).await.unwrap().expect("mined in the slot");
    assert_eq!(receipt["status"], "0x1", "lookahead of epoch {epoch} accepted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_lookahead_matches_the_contract() {
    // One preconfer with one validator out of 8, 4-slot epochs: some epochs have no registered
    // proposer and fall back.
    let devnet = Devnet::start(DevnetConfig {
        slot_secs: 2,
        slots_per_epoch: 4,
        validators: 8,
        preconfers: 1,
        validators_per_preconfer: 1,
        mode: ClockMode::Manual,
        ..Default::default()
    })
    .await
    .unwrap();
    let m = devnet.manifest().clone();
    let clock = m.clock;
    let preconfer = PrivateKeySigner::from_bytes(&m.preconfers[0].account.private_key).unwrap();

    // Bootstrap: post epoch 1 from inside it, once the root of its first slot exists.
    advance_until(&devnet, clock.first_slot(1) + 2).await;
    let p1 = rust_params(&devnet, 1).await;
    let f1 = if p1.is_empty() { rust_fallback(&devnet, 1).await } else { None };
    post(&devnet, &preconfer, 1, &p1).await;
    let mut current = windows(&clock, 1, &p1, None, f1);
    assert_eq!(contract_windows(&devnet, 1).await, current);

    let (mut fallbacks, mut regular) = (0, 0);
    for e in 1..=6u64 {
        // post e+1 from epoch e, after e's first slot (whose EIP-4788 root seeds a fallback)
        advance_until(&devnet, clock.first_slot(e) + 2).await;
        let params = rust_params(&devnet, e + 1).await;
        let fallback = if params.is_empty() { rust_fallback(&devnet, e + 1).await } else { None };
        post(&devnet, &preconfer, e + 1, &params).await;
        let next = windows(&clock, e + 1, &params, current.last().map(|w| w.timestamp), fallback);
        assert_eq!(contract_windows(&devnet, e + 1).await, next, "epoch {} as stored", e + 1);
        if params.is_empty() {
            fallbacks += 1;
        } else {
            regular += 1;
        }
        // every second of epoch e: same owner and index
        for ts in clock.epoch_start(e)..clock.epoch_start(e + 1) {
            let (who, index) = devnet
                .l1
                .call(
                    m.contracts.task_manager,
                    PreconfTaskManager::preconferAtCall { timestamp: U256::from(ts) },
                )
                .await
                .map(|r| (r.preconfer, r.lookaheadIndex.to::<usize>()))
                .unwrap();
            assert_eq!(
                owner_at(ts, &current, &next),
                Some((who, index)),
                "timestamp {ts} of epoch {e}"
            );
        }
        current = next;
    }
    assert!(
        fallbacks > 0 && regular > 0,
        "both kinds of epoch occurred: {fallbacks} fallback, {regular} regular"
    );
}
