//! `taiko-preconf bench preconf`: preconfirmation latency and throughput across three nodes.
//!
//! Three nodes run in this process, joined by libp2p over loopback: A preconfirms (it owns every
//! window), B and C follow. A client sends signed transfers to A's JSON-RPC at a fixed rate;
//! B and C record when each transaction appears in their `latest` block. For every transaction:
//!
//! - **latency** — sent to A's RPC → in `latest` on B;
//! - **tick wait** — the baseline, measured in the same run: sent → the first tick after A's
//!   RPC accepted it. No implementation can preconfirm before that tick;
//! - **overhead** — latency minus the tick wait: building, signing (slashing protection
//!   included), publishing, gossip, validation and import on B.
//!
//! The benchmark chain is the devnet chain with the senders funded and a tx-list budget of four
//! blobs per block, so 1,000 tx/s fit 2 s blocks.

use std::{
    collections::HashMap,
    sync::Arc,
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use alloy::{
    eips::eip2718::Encodable2718,
    primitives::{Address, B256, Bytes, keccak256},
    signers::local::PrivateKeySigner,
};
use eyre::{Result, WrapErr};
use parking_lot::Mutex;
use taiko_beacon::clock::SlotClock;
use taiko_chainspec::ChainSpec;
use taiko_evm::{AnchorInput, testing::TxFactory};
use taiko_node::{NodeConfig, RunningNode};
use taiko_preconf_exex::{
    anchor::FixedAnchor,
    clock::{SystemClock, TickSchedule},
    p2p::{P2p, P2pConfig, P2pHandle},
    protection::ProtectionDb,
    runtime::run_ticks,
    service::{PreconfService, ServiceParts, WindowSchedule},
    signer::{CommitmentSigner, LocalSigner},
};
use taiko_rpc::RpcConfig;

/// Options of `bench preconf`.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct PreconfBenchArgs {
    /// Seconds of sending per run.
    #[arg(long, default_value_t = 10)]
    secs: u64,
    /// Send rates to measure, transactions per second.
    #[arg(long, value_delimiter = ',', default_value = "100,1000")]
    rates: Vec<u64>,
    /// Block times to measure, milliseconds.
    #[arg(long, value_delimiter = ',', default_value = "2000,250")]
    block_times_ms: Vec<u64>,
    /// Sending accounts.
    #[arg(long, default_value_t = 500)]
    senders: usize,
}

const TASK_MANAGER: Address = Address::repeat_byte(0x7a);
const L1_CHAIN_ID: u64 = 31337;

/// One preconfer owns every window.
#[derive(Debug)]
struct SoleOwner(Address);

impl WindowSchedule for SoleOwner {
    fn window_at(&self, _timestamp: u64) -> Option<(Address, u64)> {
        Some((self.0, u64::from(u32::MAX)))
    }
}

fn now_ms() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs_f64() * 1000.0).unwrap_or(0.0)
}

struct BenchNode {
    node: RunningNode,
    service: Arc<PreconfService>,
    p2p: P2pHandle,
    _dir: tempfile::TempDir,
}

async fn start_node(
    spec: &Arc<ChainSpec>,
    key: Option<&PrivateKeySigner>,
    owner: Address,
    peers: Vec<taiko_preconf_exex::p2p::PeerAddr>,
) -> Result<BenchNode> {
    let dir = tempfile::tempdir()?;
    let node = taiko_node::launch(NodeConfig {
        datadir: dir.path().join("node"),
        spec: spec.clone(),
        store: Default::default(),
        rpc: Some(RpcConfig { addr: "127.0.0.1:0".parse()?, ..Default::default() }),
        dev_block_time: None,
        dev_coinbase: Address::ZERO,
    })
    .await?;
    let (p2p, events) = P2p::spawn(P2pConfig {
        l2_chain_id: spec.chain_id,
        listen: "/ip4/127.0.0.1/tcp/0".parse()?,
        static_peers: peers,
        keypair: None,
    })
    .await?;
    let signer = match key {
        Some(k) => Some(Arc::new(CommitmentSigner::new(
            Arc::new(LocalSigner::from_signer(k.clone())),
            Arc::new(ProtectionDb::open(&dir.path().join("protection.redb"))?),
            L1_CHAIN_ID,
            TASK_MANAGER,
        ))),
        None => None,
    };
    let anchor = FixedAnchor(AnchorInput {
        l1_block_id: 1,
        l1_block_hash: B256::with_last_byte(1),
        l1_state_root: B256::with_last_byte(2),
    });
    let service = Arc::new(PreconfService::new(ServiceParts {
        coinbase: Address::repeat_byte(0xc0),
        skip_empty: true,
        ..ServiceParts::for_node(
            &node,
            p2p.clone(),
            signer,
            Arc::new(SoleOwner(owner)),
            taiko_contracts::wire::preconf_domain(L1_CHAIN_ID, TASK_MANAGER),
            Arc::new(anchor),
        )
    }));
    tokio::spawn(service.clone().run_follower(events));
    tokio::spawn(service.clone().run_tx_forwarder());
    Ok(BenchNode { node, service, p2p, _dir: dir })
}

/// Records the wall time (ms) each block becomes `latest` on `node`, and nothing else: reading
/// the blocks' transactions here would put the benchmark's own work on the cores while the
/// other follower is still importing. [`inclusions`] maps them to transactions afterwards.
fn watch_heads(node: &RunningNode) -> Arc<Mutex<Vec<(u64, f64)>>> {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let out = seen.clone();
    let mut heads = node.engine.heads();
    // On a thread of its own, woken by the engine's head update itself: the time recorded is
    // when the head changed, not when a task on the runtime the three nodes share got to run.
    std::thread::spawn(move || {
        let Ok(rt) = tokio::runtime::Builder::new_current_thread().build() else { return };
        rt.block_on(async move {
            let mut last = heads.borrow().latest.number;
            while heads.changed().await.is_ok() {
                let at = now_ms();
                let tip = heads.borrow().latest.number;
                seen.lock().extend((last + 1..=tip).map(|n| (n, at)));
                last = tip.max(last);
            }
        });
    });
    out
}

/// The wall time (ms) each transaction first appeared in `node`'s `latest`, from the heads
/// [`watch_heads`] recorded.
fn inclusions(node: &RunningNode, heads: &[(u64, f64)]) -> HashMap<B256, f64> {
    let mut seen = HashMap::new();
    for (n, at) in heads {
        if let Ok(Some(b)) = node.store.block_by_number(*n) {
            for tx in b.block.transactions().iter().skip(1) {
                seen.entry(*tx.tx_hash()).or_insert(*at);
            }
        }
    }
    seen
}

/// The `p`-th percentile of sorted samples (NaN when empty).
pub(crate) fn pct(sorted: &[f64], p: usize) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[(sorted.len() * p / 100).min(sorted.len() - 1)]
}

struct RunResult {
    sent: usize,
    lat: Vec<f64>,
    wait: Vec<f64>,
    overhead: Vec<f64>,
    accept: Vec<f64>,
    included_c: usize,
    tail_c: f64,
    missing: usize,
}

async fn run_one(
    spec: &Arc<ChainSpec>,
    senders: &[PrivateKeySigner],
    block_ms: u64,
    rate: u64,
    secs: u64,
) -> Result<RunResult> {
    let preconfer = PrivateKeySigner::from_bytes(&keccak256("bench preconfer"))?;
    let a = start_node(spec, Some(&preconfer), preconfer.address(), vec![]).await?;
    let b = start_node(spec, None, preconfer.address(), vec![a.p2p.dial_addr()]).await?;
    let c = start_node(spec, None, preconfer.address(), vec![a.p2p.dial_addr(), b.p2p.dial_addr()])
        .await?;
    tokio::time::sleep(Duration::from_millis(1500)).await; // gossipsub meshes
    let slots =
        SlotClock { genesis: (now_ms() / 1000.0) as u64 - 1, slot_secs: 12, slots_per_epoch: 32 };
    let ticks = TickSchedule::Uniform { block_time_ms: block_ms };
    let ticker = tokio::spawn(run_ticks(
        a.service.clone(),
        ticks.clone(),
        slots,
        Arc::new(SystemClock),
        None,
    ));
    let heads_b = watch_heads(&b.node);
    let heads_c = watch_heads(&c.node);

    let total = (rate * secs) as usize;
    // sender i mod n, nonce i div n: the factory counts each sender's nonces
    let mut f = TxFactory::new(spec.chain_id, senders.to_vec());
    // far above the base fee: blocks of 1,000 tx/s are far above the chain's gas target, so
    // its base fee grows block after block, and a 10-gwei cap ran out after about 18 s
    f.max_fee_per_gas = 1_000_000_000_000_000;
    f.max_priority_fee_per_gas = 1_000_000_000;
    let txs: Vec<(B256, Vec<u8>)> = (0..total)
        .map(|i| {
            let raw = f.transfer(i % senders.len(), Address::repeat_byte(0x42), 1);
            let raw = raw.inner().encoded_2718();
            (keccak256(&raw), raw)
        })
        .collect();
    let url = format!("http://{}", a.node.rpc_addr.expect("A serves RPC"));
    let client = jsonrpsee::http_client::HttpClientBuilder::default().build(&url)?;
    let sent: Arc<Mutex<Vec<(B256, f64, f64)>>> = Arc::new(Mutex::new(Vec::with_capacity(total)));
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(total);
    for (i, (hash, raw)) in txs.into_iter().enumerate() {
        let due = start + Duration::from_secs_f64(i as f64 / rate as f64);
        tokio::time::sleep_until(due.into()).await;
        let (client, sent) = (client.clone(), sent.clone());
        tasks.push(tokio::spawn(async move {
            use jsonrpsee::core::client::ClientT;
            let t0 = now_ms();
            let r: Result<B256, _> = client
                .request("eth_sendRawTransaction", jsonrpsee::rpc_params![Bytes::from(raw)])
                .await;
            if r.is_ok() {
                sent.lock().push((hash, t0, now_ms()));
            }
        }));
    }
    for t in tasks {
        t.await?;
    }
    let send_end = now_ms();
    let sent = std::mem::take(&mut *sent.lock());
    // let the last blocks arrive: A's pool empties and B and C reach A's head
    let deadline = Instant::now() + Duration::from_secs(10) + Duration::from_millis(2 * block_ms);
    while Instant::now() < deadline {
        let size = a.node.pool.size();
        let head = |n: &BenchNode| n.node.engine.heads().borrow().latest.number;
        if size.pending.count + size.basefee.count + size.queued.count == 0
            && head(&b) == head(&a)
            && head(&c) == head(&a)
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    ticker.abort();
    let sb = inclusions(&b.node, &heads_b.lock());
    let sc = inclusions(&c.node, &heads_c.lock());
    let mut r = RunResult {
        sent: sent.len(),
        lat: vec![],
        wait: vec![],
        overhead: vec![],
        accept: vec![],
        included_c: 0,
        tail_c: 0.0,
        missing: 0,
    };
    let mut last_c = send_end;
    for (hash, t0, accepted) in &sent {
        let Some(at_b) = sb.get(hash) else {
            r.missing += 1;
            continue;
        };
        let tick = ticks.next_tick_ms(&slots, *accepted as u64) as f64;
        r.lat.push(at_b - t0);
        r.wait.push(tick - t0);
        r.overhead.push(at_b - tick);
        r.accept.push(accepted - t0);
        if let Some(at_c) = sc.get(hash) {
            last_c = last_c.max(*at_c);
        }
    }
    r.included_c = sent.iter().filter(|(h, ..)| sc.contains_key(h)).count();
    r.tail_c = last_c - send_end;
    for v in [&mut r.lat, &mut r.wait, &mut r.overhead, &mut r.accept] {
        v.sort_by(f64::total_cmp);
    }
    for n in [a, b, c] {
        n.node.shutdown().await?;
    }
    Ok(r)
}

pub(crate) fn run_preconf_bench(args: PreconfBenchArgs) -> Result<()> {
    tokio::runtime::Builder::new_multi_thread().enable_all().build()?.block_on(preconf_bench(args))
}

async fn preconf_bench(args: PreconfBenchArgs) -> Result<()> {
    let senders: Vec<PrivateKeySigner> = (0..args.senders)
        .map(|i| PrivateKeySigner::from_bytes(&keccak256(format!("bench sender {i}"))))
        .collect::<Result<_, _>>()?;
    let spec = crate::bench::spec_with(
        &[],
        &senders,
        Some(4 * taiko_chainspec::DEFAULT_MAX_TX_LIST_BYTES),
    )
    .wrap_err("benchmark chain")?;
    println!(
        "3 nodes (A preconfers, B and C follow) over libp2p on loopback; {} s of transfers to A's RPC per run; {} senders",
        args.secs, args.senders
    );
    println!();
    println!(
        "| block time | rate (tx/s) | sent | A→B latency p50 / p99 (ms) | tick wait p50 (ms) | overhead p50 / p99 (ms) | RPC accept p50 (ms) | included at C | last inclusion at C after the last send (ms) | latency ÷ tick wait (p50) |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    let mut worst = (0.0f64, 0.0f64);
    for &block_ms in &args.block_times_ms {
        for &rate in &args.rates {
            let r = run_one(&spec, &senders, block_ms, rate, args.secs).await?;
            let (o50, o99) = (pct(&r.overhead, 50), pct(&r.overhead, 99));
            worst = (worst.0.max(o50), worst.1.max(o99));
            println!(
                "| {block_ms} ms | {rate} | {}{} | {:.1} / {:.1} | {:.1} | {:.1} / {:.1} | {:.1} | {} | {:.0} | {:.2} |",
                r.sent,
                if r.missing > 0 { format!(" ({} not seen)", r.missing) } else { String::new() },
                pct(&r.lat, 50),
                pct(&r.lat, 99),
                pct(&r.wait, 50),
                o50,
                o99,
                pct(&r.accept, 50),
                r.included_c,
                r.tail_c,
                pct(&r.lat, 50) / pct(&r.wait, 50),
            );
        }
    }
    println!();
    println!(
        "worst overhead: p50 {:.1} ms (target ≤ 20), p99 {:.1} ms (target ≤ 50)",
        worst.0, worst.1
    );
    Ok(())
}
