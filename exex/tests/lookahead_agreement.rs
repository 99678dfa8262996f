//! The Rust lookahead agrees with `PreconfTaskManager` on anvil, slot by slot, over several
//! epochs including fallback epochs.

use alloy::{
    primitives::{Address, U256},
    signers::local::PrivateKeySigner,
};
use taiko_contracts::PreconfTaskManager;
use taiko_devnet::{ClockMode, Devnet, DevnetConfig};
use taiko_l1::BeaconClient;
use taiko_preconf_exex::{
    lookahead::{LookaheadParam, Window, lookahead_params, owner_at, windows},
    schedule::L1Lookahead,
};

async fn advance_until(devnet: &Devnet, next_slot: u64) {
    while devnet.next_slot().await < next_slot {
        devnet.advance_slot().await.unwrap();
    }
}

/// The node's view of the L1: what it computes and what the contract stores.
fn l1_lookahead(devnet: &Devnet) -> L1Lookahead {
    let m = devnet.manifest();
    L1Lookahead {
        l1: (*devnet.l1).clone(),
        beacon: BeaconClient::new(&m.beacon_api),
        registry: m.contracts.registry,
        task_manager: m.contracts.task_manager,
    }
}

/// What the node computes for `epoch`: duties from the beacon API, resolved in the registry.
async fn rust_params(devnet: &Devnet, epoch: u64) -> Vec<LookaheadParam> {
    let clock = devnet.manifest().clock;
    lookahead_params(&clock, &l1_lookahead(devnet).proposers(&clock, epoch).await.unwrap())
}

/// The fallback the contract will pick for `epoch` if posted now.
async fn rust_fallback(devnet: &Devnet, epoch: u64) -> Option<Address> {
    l1_lookahead(devnet).fallback(&devnet.manifest().clock, epoch).await.unwrap()
}

async fn contract_windows(devnet: &Devnet, epoch: u64) -> Vec<Window> {
    l1_lookahead(devnet).posted(epoch).await.unwrap()
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
