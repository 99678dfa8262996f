//! Shared helpers: signed blocks, a validation context.
#![allow(dead_code, unreachable_pub)]

use alloy::{
    consensus::{BlockBody, Header, SignableTransaction, TxEip1559, TxEnvelope},
    primitives::{Address, B256, TxKind, U256},
    signers::{SignerSync, local::PrivateKeySigner},
    sol_types::Eip712Domain,
};
use std::sync::Arc;

use taiko_contracts::wire::{self, Preconfirmation};
use taiko_evm::AnchorInput;
use taiko_preconf_exex::message::{Block, PreconfMessage, ValidationContext, tx_list_hash};
use taiko_preconf_exex::{
    anchor::FixedAnchor,
    p2p::{P2p, P2pConfig, P2pHandle},
    protection::ProtectionDb,
    service::{PreconfService, ServiceParts, WindowSchedule},
    signer::{CommitmentSigner, LocalSigner},
};

pub const CHAIN: u64 = 167010;
pub const TASK_MANAGER: Address = Address::repeat_byte(0x7a);

pub fn key(name: &str) -> PrivateKeySigner {
    PrivateKeySigner::from_bytes(&alloy::primitives::keccak256(name)).unwrap()
}

pub fn tx(from: &PrivateKeySigner, nonce: u64) -> TxEnvelope {
    let t = TxEip1559 {
        chain_id: CHAIN,
        nonce,
        gas_limit: 21_000,
        max_fee_per_gas: 1_000_000_000,
        max_priority_fee_per_gas: 1,
        to: TxKind::Call(Address::repeat_byte(9)),
        value: U256::from(nonce),
        input: Default::default(),
        access_list: Default::default(),
    };
    let sig = from.sign_hash_sync(&t.signature_hash()).unwrap();
    TxEnvelope::from(t.into_signed(sig))
}

pub struct Ctx {
    pub domain: Eip712Domain,
    pub preconfer: Address,
    pub head: (u64, B256),
}

impl ValidationContext for Ctx {
    fn l2_chain_id(&self) -> u64 {
        CHAIN
    }
    fn domain(&self) -> &Eip712Domain {
        &self.domain
    }
    fn preconfer_at(&self, timestamp: u64) -> Option<Address> {
        (1_000..2_000).contains(&timestamp).then_some(self.preconfer)
    }
    fn head(&self) -> (u64, B256) {
        self.head
    }
}

pub fn block(number: u64, parent: B256, txs: usize) -> Block {
    let user = key("user");
    let mut transactions = vec![tx(&key("golden touch stand-in"), number)];
    transactions.extend((0..txs as u64).map(|n| tx(&user, n)));
    Block {
        header: Header {
            number,
            parent_hash: parent,
            timestamp: 1_500,
            beneficiary: Address::repeat_byte(0xc0),
            transactions_root: alloy::consensus::proofs::calculate_transaction_root(&transactions),
            ..Default::default()
        },
        body: BlockBody { transactions, ommers: vec![], withdrawals: None },
    }
}

pub fn sign(signer: &PrivateKeySigner, block: Block, chain: u64) -> PreconfMessage {
    let commitment = Preconfirmation {
        l2ChainId: chain,
        blockNumber: block.header.number,
        parentHash: block.header.parent_hash,
        blockHash: block.header.hash_slow(),
        parentDigest: B256::repeat_byte(0xd0),
        txListHash: tx_list_hash(&block),
        timestamp: block.header.timestamp,
        anchorBlockId: 7,
        coinbase: block.header.beneficiary,
        windowEnd: 1_999,
        endOfSequencing: false,
    };
    let digest =
        wire::preconf_signing_hash(&commitment, &wire::preconf_domain(31337, TASK_MANAGER));
    let signature = signer.sign_hash_sync(&digest).unwrap().as_bytes();
    PreconfMessage { commitment, signature, block }
}

pub fn ctx(head: (u64, B256)) -> Ctx {
    Ctx {
        domain: wire::preconf_domain(31337, TASK_MANAGER),
        preconfer: key("preconfer").address(),
        head,
    }
}

/// The key of the preconfer in the node tests.
pub fn preconfer_key(name: &str) -> PrivateKeySigner {
    key(name)
}

/// A node with its data under `dir` (no RPC, no dev blocks).
pub async fn node(dir: &std::path::Path) -> taiko_node::RunningNode {
    taiko_node::launch(taiko_node::NodeConfig {
        datadir: dir.to_path_buf(),
        spec: std::sync::Arc::new(taiko_chainspec::ChainSpec::devnet()),
        store: Default::default(),
        rpc: None,
        dev_block_time: None,
        dev_coinbase: Address::ZERO,
    })
    .await
    .unwrap()
}

/// A devnet transfer, EIP-2718 encoded.
pub fn transfer(chain_id: u64, from: &PrivateKeySigner, nonce: u64) -> Vec<u8> {
    use alloy::eips::eip2718::Encodable2718;
    let t = TxEip1559 {
        chain_id,
        nonce,
        gas_limit: 21_000,
        max_fee_per_gas: 10_000_000_000,
        max_priority_fee_per_gas: 1_000_000_000,
        to: TxKind::Call(Address::repeat_byte(0x42)),
        value: U256::from(1_000 + nonce),
        input: Default::default(),
        access_list: Default::default(),
    };
    let sig = from.sign_hash_sync(&t.signature_hash()).unwrap();
    TxEnvelope::from(t.into_signed(sig)).encoded_2718()
}

/// The next block's plan on top of the node's head.
pub fn plan(n: &taiko_node::RunningNode) -> taiko_preconf_exex::sequencer::BlockPlan {
    let parent = n.store.latest_header().unwrap();
    taiko_preconf_exex::sequencer::BlockPlan {
        attrs: taiko_evm::BlockAttributes {
            timestamp: parent.timestamp + 2,
            coinbase: Address::repeat_byte(0xc0),
            anchor: taiko_evm::AnchorInput {
                l1_block_id: parent.number + 1,
                l1_block_hash: B256::with_last_byte(1),
                l1_state_root: B256::with_last_byte(2),
            },
            ..Default::default()
        },
        parent_digest: B256::repeat_byte(0xd0),
        window_end: parent.timestamp + 100,
        end_of_sequencing: false,
    }
}

/// Preconfirms the next block from the node's pool.
pub async fn preconfirm_next(
    n: &taiko_node::RunningNode,
    s: &taiko_preconf_exex::signer::CommitmentSigner,
) -> Result<PreconfMessage, taiko_preconf_exex::sequencer::SequencerError> {
    taiko_preconf_exex::sequencer::preconfirm(
        &n.engine,
        Box::new(n.pool.best_transactions()),
        taiko_evm::BuildLimits::from_spec(&n.spec),
        s,
        n.spec.chain_id,
        plan(n),
    )
    .await
    .map(|signed| signed.message)
}

/// A devnet with a manual clock: 2-s slots, 4-slot epochs.
pub async fn manual_devnet(
    validators: usize,
    preconfers: usize,
    validators_per_preconfer: usize,
) -> taiko_devnet::Devnet {
    manual_devnet_with_slots(2, validators, preconfers, validators_per_preconfer).await
}

/// A devnet with a manual clock, `slot_secs`-s slots and 4-slot epochs.
pub async fn manual_devnet_with_slots(
    slot_secs: u64,
    validators: usize,
    preconfers: usize,
    validators_per_preconfer: usize,
) -> taiko_devnet::Devnet {
    taiko_devnet::Devnet::start(taiko_devnet::DevnetConfig {
        slot_secs,
        slots_per_epoch: 4,
        validators,
        preconfers,
        validators_per_preconfer,
        mode: taiko_devnet::ClockMode::Manual,
        ..Default::default()
    })
    .await
    .unwrap()
}

/// The extension's runtime on `node`, configured from the devnet's manifest: signing with `key`
/// (a follower when `None`), `block_ms` blocks, coinbase `0xc0…`, anchors one L1 block back,
/// metrics on a free port; with `propose_margin_ms`, it also proposes its turns to the inbox and
/// stops preconfirming that long before each window's end.
pub async fn devnet_runtime(
    devnet: &taiko_devnet::Devnet,
    node: &taiko_node::RunningNode,
    datadir: &std::path::Path,
    key: Option<B256>,
    peers: Vec<libp2p::Multiaddr>,
    block_ms: u64,
    propose_margin_ms: Option<u64>,
) -> taiko_preconf_exex::runtime::PreconfRuntime {
    let m = devnet.manifest();
    devnet_runtime_with(devnet, m, node, datadir, key, peers, block_ms, propose_margin_ms).await
}

/// [`devnet_runtime`] with the endpoints and contracts of `m` (e.g. the L1 behind a proxy).
#[allow(clippy::too_many_arguments)]
pub async fn devnet_runtime_with(
    _devnet: &taiko_devnet::Devnet,
    m: &taiko_devnet::Manifest,
    node: &taiko_node::RunningNode,
    datadir: &std::path::Path,
    key: Option<B256>,
    peers: Vec<libp2p::Multiaddr>,
    block_ms: u64,
    propose_margin_ms: Option<u64>,
) -> taiko_preconf_exex::runtime::PreconfRuntime {
    use std::sync::Arc;
    use taiko_preconf_exex::{p2p::P2pConfig, runtime::PreconfConfig, signer::LocalSigner};
    taiko_preconf_exex::runtime::PreconfRuntime::start(
        node,
        PreconfConfig {
            l1_rpc: m.l1_rpc.clone(),
            beacon_api: m.beacon_api.clone(),
            registry: m.contracts.registry,
            task_manager: m.contracts.task_manager,
            signer: key.map(|k| {
                Arc::new(LocalSigner::from_signer(PrivateKeySigner::from_bytes(&k).unwrap())) as _
            }),
            datadir: datadir.to_path_buf(),
            p2p: P2pConfig {
                l2_chain_id: node.spec.chain_id,
                listen: "/ip4/127.0.0.1/tcp/0".parse().unwrap(),
                static_peers: peers,
                keypair: None,
            },
            ticks: taiko_preconf_exex::clock::TickSchedule::Uniform { block_time_ms: block_ms },
            coinbase: Address::repeat_byte(0xc0),
            anchor_lag: 1,
            skip_empty: false,
            handover_grace_ms: 0,
            metrics_addr: Some("127.0.0.1:0".parse().unwrap()),
            inbox: Some(m.contracts.inbox),
            proposer: propose_margin_ms.and_then(|_| {
                key.map(|k| (PrivateKeySigner::from_bytes(&k).unwrap(), m.contracts.inbox))
            }),
            proposal_margin_ms: propose_margin_ms.unwrap_or(0),
            bolt_rpc: Some(m.bolt_rpc.clone()),
            tx: Default::default(),
            batch_data: Default::default(),
        },
    )
    .await
    .unwrap()
}

/// Advances the devnet until the registrations are active, at an epoch's first slot; returns
/// that epoch.
pub async fn until_registered(
    devnet: &taiko_devnet::Devnet,
    rt: &taiko_preconf_exex::runtime::PreconfRuntime,
) -> u64 {
    let clock = devnet.manifest().clock;
    loop {
        devnet.advance_slot().await.unwrap();
        let now = devnet.clock.now();
        rt.refresh(now).await.unwrap();
        let e = rt.schedule.epoch_at(now);
        if now == clock.epoch_start(e)
            && rt.schedule.epoch(e).is_some_and(|w| w.windows.iter().any(|w| !w.is_fallback))
        {
            return e;
        }
        assert!(e < 10, "registration active within 10 epochs");
    }
}

/// Force-pushes `epoch`'s lookahead (as computed) from `key` and mines it.
pub async fn force_push(
    devnet: &taiko_devnet::Devnet,
    rt: &taiko_preconf_exex::runtime::PreconfRuntime,
    key: &PrivateKeySigner,
    epoch: u64,
) {
    let clock = devnet.manifest().clock;
    let params = taiko_preconf_exex::lookahead::lookahead_params(
        &clock,
        &rt.lookahead.proposers(&clock, epoch).await.unwrap(),
    );
    let push = taiko_contracts::PreconfTaskManager::forcePushLookaheadCall {
        epoch: U256::from(epoch),
        entries: params.iter().map(taiko_preconf_exex::batch::to_param).collect(),
    };
    let tm = devnet.manifest().contracts.task_manager;
    let hash = devnet.l1.send(key, tm, push, U256::ZERO).await.unwrap();
    devnet.advance_slot().await.unwrap();
    assert_eq!(devnet.l1.receipt(hash).await.unwrap().unwrap()["status"], "0x1");
    rt.refresh(devnet.clock.now()).await.unwrap();
}

/// Proposes `batch` from `key` into the next L1 block (which must close `key`'s window, in
/// `epoch`), posting the next epoch's lookahead; mines it and returns the receipt.
pub async fn propose(
    devnet: &taiko_devnet::Devnet,
    rt: &taiko_preconf_exex::runtime::PreconfRuntime,
    key: &PrivateKeySigner,
    batch: &taiko_preconf_exex::batch::Batch,
    epoch: u64,
) -> serde_json::Value {
    use taiko_preconf_exex::lookahead::{lookahead_params, owner_at};
    let clock = devnet.manifest().clock;
    let now = devnet.clock.now();
    let inclusion = clock.slot_time(clock.slot_at(now) + 1);
    let current = rt.schedule.epoch(epoch).unwrap().windows;
    let next = lookahead_params(&clock, &rt.lookahead.proposers(&clock, epoch + 1).await.unwrap());
    let (owner, index) = owner_at(inclusion, &current, &[]).expect("a window at the inclusion");
    assert_eq!(owner, key.address());
    let call = taiko_preconf_exex::batch::proposal_call(batch, index, &next);
    let tm = devnet.manifest().contracts.task_manager;
    let hash = devnet.l1.send(key, tm, call, U256::ZERO).await.unwrap();
    devnet.advance_slot().await.unwrap();
    assert_eq!(devnet.clock.now(), inclusion);
    devnet.l1.receipt(hash).await.unwrap().expect("mined in the slot")
}

/// A node with the preconfirmation service: libp2p on loopback, a signer when `signer_name` is
/// given (its protection db under `dir`), a fixed anchor; the follower and the transaction
/// forwarder running.
pub async fn service_node(
    dir: &std::path::Path,
    name: &str,
    signer_name: Option<&str>,
    peers: Vec<libp2p::Multiaddr>,
    schedule: Arc<dyn WindowSchedule>,
) -> (taiko_node::RunningNode, Arc<PreconfService>, P2pHandle) {
    let n = node(&dir.join(name)).await;
    let (p2p, events) = P2p::spawn(P2pConfig {
        l2_chain_id: n.spec.chain_id,
        listen: "/ip4/127.0.0.1/tcp/0".parse().unwrap(),
        static_peers: peers,
        keypair: None,
    })
    .await
    .unwrap();
    let signer = signer_name.map(|s| {
        let protection =
            Arc::new(ProtectionDb::open(&dir.join(format!("{name}-protection.redb"))).unwrap());
        Arc::new(CommitmentSigner::new(
            Arc::new(LocalSigner::from_signer(preconfer_key(s))),
            protection,
            31337,
            TASK_MANAGER,
        ))
    });
    let anchor = FixedAnchor(AnchorInput {
        l1_block_id: 1,
        l1_block_hash: B256::with_last_byte(1),
        l1_state_root: B256::with_last_byte(2),
    });
    let service = Arc::new(PreconfService::new(ServiceParts {
        coinbase: Address::repeat_byte(0xc0),
        ..ServiceParts::for_node(
            &n,
            p2p.clone(),
            signer,
            schedule,
            wire::preconf_domain(31337, TASK_MANAGER),
            Arc::new(anchor),
        )
    }));
    tokio::spawn(service.clone().run_follower(events));
    tokio::spawn(service.clone().run_tx_forwarder());
    (n, service, p2p)
}

/// Waits until every service's `latest` is `want` (5 s at most).
pub async fn converge(services: &[&Arc<PreconfService>], want: (u64, B256)) {
    for _ in 0..200 {
        if services.iter().all(|s| s.latest() == want) {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    let heads: Vec<_> = services.iter().map(|s| s.latest()).collect();
    panic!("nodes did not converge on {want:?}: {heads:?}");
}
