//! `taiko-preconf devnet`: the whole system on one machine, with one command.
//!
//! The devnet infrastructure (anvil L1 driven slot by slot, beacon and Bolt simulators, the
//! contracts, registered preconfers), then — unless `--no-nodes` — three L2 nodes in this
//! process: A and B preconfirm with the devnet's two preconfer keys and propose their turns
//! (through Bolt), C follows; each serves JSON-RPC for wallets. Once the first block is
//! preconfirmed a spammer sends transfers and ERC-20 calls to C, and a status line is printed
//! every slot: slot, epoch, the current preconfer, each node's latest/safe/finalized, the
//! spammer's rate and latency, L1 batches and Bolt inclusions. Ctrl-C stops everything.

use std::{path::PathBuf, sync::Arc, time::Duration};

use alloy::primitives::Address;
use eyre::{Result, WrapErr};
use parking_lot::Mutex;
use taiko_contracts::inbox::TaikoInbox;
use taiko_node::{NodeConfig, RunningNode};
use taiko_preconf_exex::{
    clock::{Clock, SystemClock, TickSchedule},
    p2p::P2pConfig,
    runtime::{PreconfConfig, PreconfRuntime},
    service::WindowSchedule,
    signer::LocalSigner,
};
use tracing::info;

use crate::spam::{SpamArgs, SpamStats};

/// Options of `taiko-preconf devnet`.
#[derive(Debug, clap::Args)]
pub(crate) struct DevnetArgs {
    /// Seconds per L1 slot.
    #[arg(long, default_value_t = 4)]
    slot_secs: u64,
    /// Slots per epoch.
    #[arg(long, default_value_t = 8)]
    slots_per_epoch: u64,
    /// Beacon validators.
    #[arg(long, default_value_t = 8)]
    validators: usize,
    /// Registered preconfers.
    #[arg(long, default_value_t = 2)]
    preconfers: usize,
    /// Validators mapped onto each preconfer.
    #[arg(long, default_value_t = 2)]
    validators_per_preconfer: usize,
    /// Where to write the devnet manifest (addresses, endpoints, keys).
    #[arg(long, default_value = "devnet-manifest.json")]
    manifest: PathBuf,
    /// Only the infrastructure: no L2 nodes, no spammer.
    #[arg(long)]
    no_nodes: bool,
    /// L2 block time of the nodes, milliseconds.
    #[arg(long, default_value_t = 1_000)]
    block_time_ms: u64,
    /// JSON-RPC port of node A; B and C take the next two.
    #[arg(long, default_value_t = 9545)]
    rpc_port: u16,
    /// Spammer rate, transactions per second (0: no spammer).
    #[arg(long, default_value_t = 20)]
    spam_rate: u64,
    /// Node data directories (default: a temporary directory removed on exit).
    #[arg(long)]
    datadir: Option<PathBuf>,
}

struct L2Node {
    name: &'static str,
    node: RunningNode,
    rt: PreconfRuntime,
    rpc: String,
}

async fn start_node(
    name: &'static str,
    m: &taiko_devnet::Manifest,
    key: Option<alloy::signers::local::PrivateKeySigner>,
    dir: PathBuf,
    port: u16,
    peers: Vec<taiko_preconf_exex::p2p::PeerAddr>,
    block_ms: u64,
) -> Result<L2Node> {
    let node = taiko_node::launch(NodeConfig {
        datadir: dir.clone(),
        spec: Arc::new(taiko_chainspec::ChainSpec::devnet()),
        store: Default::default(),
        rpc: Some(taiko_rpc::RpcConfig {
            addr: ([127, 0, 0, 1], port).into(),
            ..Default::default()
        }),
        dev_block_time: None,
        dev_coinbase: Address::ZERO,
    })
    .await
    .wrap_err_with(|| format!("starting node {name}"))?;
    let mut rt = PreconfRuntime::start(
        &node,
        PreconfConfig {
            l1_rpc: m.l1_rpc.clone(),
            beacon_api: m.beacon_api.clone(),
            registry: m.contracts.registry,
            task_manager: m.contracts.task_manager,
            signer: key.clone().map(|k| Arc::new(LocalSigner::from_signer(k)) as _),
            datadir: dir.join("preconf"),
            p2p: P2pConfig {
                l2_chain_id: node.spec.chain_id,
                listen: "/ip4/127.0.0.1/tcp/0".parse()?,
                static_peers: peers,
                keypair: None,
            },
            ticks: TickSchedule::Uniform { block_time_ms: block_ms },
            coinbase: key.as_ref().map(|k| k.address()).unwrap_or_default(),
            anchor_lag: 1,
            skip_empty: false,
            handover_grace_ms: block_ms / 2,
            metrics_addr: None,
            inbox: Some(m.contracts.inbox),
            proposer: key.map(|k| (k, m.contracts.inbox)),
            proposal_margin_ms: 0, // automatic: before Bolt's deadline
            bolt_rpc: Some(m.bolt_rpc.clone()),
            tx: Default::default(),
            batch_data: Default::default(),
        },
    )
    .await
    .wrap_err_with(|| format!("starting the extension of node {name}"))?;
    rt.spawn_duties(Arc::new(SystemClock));
    let rpc = format!("http://{}", node.rpc_addr.expect("serving RPC"));
    Ok(L2Node { name, node, rt, rpc })
}

fn short(a: Address) -> String {
    let s = a.to_string();
    format!("{}…{}", &s[..6], &s[s.len() - 4..])
}

pub(crate) async fn run(args: DevnetArgs) -> Result<()> {
    taiko_devnet::process::ensure_tools().wrap_err("installing the tools")?;
    let cfg = taiko_devnet::DevnetConfig {
        slot_secs: args.slot_secs,
        slots_per_epoch: args.slots_per_epoch,
        validators: args.validators,
        preconfers: args.preconfers,
        validators_per_preconfer: args.validators_per_preconfer,
        mode: taiko_devnet::ClockMode::Wall,
        manifest_path: Some(args.manifest.clone()),
        ..Default::default()
    };
    if cfg.preconfers * cfg.validators_per_preconfer > cfg.validators {
        eyre::bail!(
            "{} preconfers × {} validators need more than {} validators",
            cfg.preconfers,
            cfg.validators_per_preconfer,
            cfg.validators
        );
    }
    let devnet = taiko_devnet::Devnet::start(cfg).await.wrap_err("starting the devnet")?;
    let m = devnet.manifest().clone();
    println!("L1 JSON-RPC     {}", m.l1_rpc);
    println!("beacon API      {}", m.beacon_api);
    println!("Bolt sidecar    {}", m.bolt_rpc);
    println!("task manager    {}", m.contracts.task_manager);
    println!("inbox           {}", m.contracts.inbox);
    println!("registry        {}", m.contracts.registry);
    println!(
        "beacon genesis  {} ({} s slots, {} slots per epoch)",
        m.clock.genesis, m.clock.slot_secs, m.clock.slots_per_epoch
    );
    for p in &m.preconfers {
        println!("preconfer       {} validators {:?}", p.account.address, p.validators);
    }
    println!("manifest        {}", args.manifest.display());
    if args.no_nodes {
        tokio::signal::ctrl_c().await?;
        info!(target: "devnet", "Ctrl-C: shutting down");
        return Ok(());
    }

    let tmp = tempfile::tempdir()?;
    let base = args.datadir.clone().unwrap_or_else(|| tmp.path().to_path_buf());
    let key = |i: usize| {
        m.preconfers.get(i).map(|p| {
            alloy::signers::local::PrivateKeySigner::from_bytes(&p.account.private_key)
                .expect("devnet keys are valid")
        })
    };
    let bt = args.block_time_ms;
    let a = start_node("A", &m, key(0), base.join("a"), args.rpc_port, vec![], bt).await?;
    let b = start_node(
        "B",
        &m,
        key(1),
        base.join("b"),
        args.rpc_port + 1,
        vec![a.rt.p2p.dial_addr()],
        bt,
    )
    .await?;
    let peers = vec![a.rt.p2p.dial_addr(), b.rt.p2p.dial_addr()];
    let c = start_node("C", &m, None, base.join("c"), args.rpc_port + 2, peers, bt).await?;
    let nodes = [a, b, c];
    for n in &nodes {
        let role = n.rt.service.p2p().peer_id;
        println!(
            "L2 node {}       {}  (chain {}, p2p {role})",
            n.name, n.rpc, n.node.spec.chain_id
        );
    }
    println!(
        "wallets: add network {} with chain id {}; devnet accounts: `taiko-preconf genesis`",
        nodes[2].rpc, nodes[2].node.spec.chain_id
    );
    println!("preconfirmations start once the registrations are active (two epochs)");

    let stats = Arc::new(Mutex::new(SpamStats::default()));
    let mut spammer: Option<tokio::task::JoinHandle<()>> = None;
    let clock = m.clock;
    let mut ticker = tokio::time::interval(Duration::from_secs(args.slot_secs));
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = tokio::signal::ctrl_c() => break,
        }
        let now = SystemClock.now_ms() / 1000;
        let slot = clock.slot_at(now);
        let owner =
            nodes[0].rt.schedule.window_at(now).map(|(o, _)| short(o)).unwrap_or("—".into());
        let heads: Vec<String> = nodes
            .iter()
            .map(|n| {
                let h = *n.node.engine.heads().borrow();
                format!("{} {}/{}/{}", n.name, h.latest.number, h.safe.number, h.finalized.number)
            })
            .collect();
        let batches = devnet
            .l1
            .call(m.contracts.inbox, TaikoInbox::headCall {})
            .await
            .map(|h| h.nextBatchId.saturating_sub(1))
            .unwrap_or_default();
        let s = *stats.lock();
        println!(
            "slot {slot:>5} epoch {:>4} | preconfer {owner} | {} | spam {:>4.0} tx/s, {}/{} in latest, p50 {:>5.0} ms p99 {:>5.0} ms | L1 batches {batches} | Bolt {}",
            clock.epoch_of(slot),
            heads.join("  "),
            s.rate,
            s.included,
            s.sent,
            s.p50,
            s.p99,
            devnet.bolt.accepted(),
        );
        if spammer.is_none()
            && args.spam_rate > 0
            && nodes[0].node.engine.heads().borrow().latest.number > 0
        {
            let spam = SpamArgs {
                rpc: nodes[2].rpc.clone(),
                rate: args.spam_rate,
                secs: 0,
                calls_percent: 20,
                accounts: 10,
            };
            let stats = stats.clone();
            spammer = Some(tokio::spawn(async move {
                if let Err(e) = crate::spam::run_with(spam, Some(stats)).await {
                    tracing::error!(target: "devnet", %e, "spammer stopped");
                }
            }));
        }
    }
    info!(target: "devnet", "Ctrl-C: shutting down");
    if let Some(s) = spammer {
        s.abort();
    }
    for n in nodes {
        drop(n.rt);
        n.node.shutdown().await?;
    }
    drop(devnet);
    Ok(())
}
