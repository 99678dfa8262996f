//! `taiko-preconf bench import`: block import throughput against raw revm measured in the same
//! run, and per-block import cost against the size of the state.
//!
//! Import here is the whole path a received block takes: re-execution with the Taiko rules
//! (anchor, fee sharing), every header check, the incremental state root, the durable append to
//! the block log, and the write to redb's tables on the store's applier thread: a throughput
//! run ends only when the tables hold every block. The baseline executes the same user transactions with
//! plain revm over an in-memory database (no anchor, no roots, no persistence).

use alloy::{
    consensus::{TxEnvelope, transaction::Recovered},
    genesis::GenesisAccount,
    primitives::{Address, U256},
    signers::local::PrivateKeySigner,
};
use alloy_evm::{Evm, EvmEnv, EvmFactory, FromRecoveredTx, eth::EthEvmFactory};
use eyre::{Result, WrapErr, ensure};
use rand::{Rng, SeedableRng, rngs::StdRng};
use revm::{
    context::{BlockEnv, CfgEnv, TxEnv},
    database::{CacheDB, EmptyDB},
    primitives::{KECCAK_EMPTY, hardfork::SpecId},
    state::{AccountInfo, Bytecode},
};
use std::{sync::Arc, time::Instant};
use taiko_chainspec::ChainSpec;
use taiko_evm::{
    BuildLimits, IterSource, PhaseTimings,
    testing::{TxFactory, test_attributes},
};
use taiko_store::{SealedBlock, Store, StoreOptions};

/// Options of `bench import`.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct ImportBenchArgs {
    /// Measured blocks per workload.
    #[arg(long, default_value_t = 5)]
    blocks: usize,
    /// Transfers per block (21,000 gas each). About 1,300 signed transfers fill the default
    /// compressed tx-list budget of one blob; raise `--max-tx-list-bytes` for bigger blocks.
    #[arg(long, default_value_t = 1_200)]
    transfers_per_block: usize,
    /// ERC-20 transfers per block.
    #[arg(long, default_value_t = 1_000)]
    erc20_per_block: usize,
    /// Compressed tx-list budget of the benchmark chain (default: the devnet's, one blob).
    #[arg(long)]
    max_tx_list_bytes: Option<usize>,
    /// Sending accounts.
    #[arg(long, default_value_t = 200)]
    senders: usize,
    /// State sizes to compare (pre-existing accounts).
    #[arg(long, value_delimiter = ',', default_value = "10000,1000000")]
    state_sizes: Vec<usize>,
    /// Transfers per block in the state-size comparison.
    #[arg(long, default_value_t = 1_000)]
    scaling_txs: usize,
    /// Blocks imported per state size.
    #[arg(long, default_value_t = 10)]
    scaling_blocks: usize,
}

struct Node {
    _dir: tempfile::TempDir,
    store: Store,
    spec: Arc<ChainSpec>,
}

pub(crate) fn spec_with(
    extra: &[(Address, U256)],
    senders: &[PrivateKeySigner],
    max_tx_list: Option<usize>,
) -> Result<Arc<ChainSpec>> {
    let mut genesis = ChainSpec::devnet().genesis;
    if let Some(max) = max_tx_list {
        let mut taiko: taiko_chainspec::TaikoConfig =
            genesis.config.extra_fields.get_deserialized("taiko").expect("devnet has it")?;
        taiko.max_tx_list_bytes = max;
        genesis.config.extra_fields.insert_value("taiko".into(), taiko)?;
    }
    let funds = U256::from(10u64).pow(U256::from(24u64));
    for s in senders {
        genesis.alloc.insert(s.address(), GenesisAccount::default().with_balance(funds));
    }
    for (a, b) in extra {
        genesis.alloc.insert(*a, GenesisAccount::default().with_balance(*b));
    }
    Ok(Arc::new(ChainSpec::from_genesis(genesis)?))
}

fn open(spec: &Arc<ChainSpec>) -> Result<Node> {
    let dir = tempfile::tempdir()?;
    let store = Store::open(dir.path().join("db.redb"), spec.clone(), StoreOptions::default())?;
    Ok(Node { _dir: dir, store, spec: spec.clone() })
}

/// Builds and commits a block on `node`; returns it with its senders.
///
/// The block comes at least 2 s after its parent, and late enough that the L2 time since the
/// parent issues the parent's gas: the benchmark's blocks are far above Taiko's gas target, and
/// at a fixed 2-s spacing the base fee would grow about 1.5× per block until no transaction's fee
/// cap covers it.
fn build(node: &Node, txs: Vec<Recovered<TxEnvelope>>) -> Result<(SealedBlock, Vec<Address>)> {
    let parent = node.store.latest_header()?;
    let issuance = u64::from(node.spec.base_fee_config().gas_issuance_per_second).max(1);
    let ts = parent.timestamp + parent.gas_used.div_ceil(issuance).max(2);
    let hash = parent.hash_slow();
    let n = txs.len();
    let built = taiko_evm::build_block(
        &node.spec,
        &node.store,
        &parent,
        hash,
        &test_attributes(ts),
        &mut IterSource(txs.into_iter()),
        BuildLimits::from_spec(&node.spec),
    )?;
    ensure!(
        built.skipped.is_empty(),
        "builder skipped {} of {n}: {:?}",
        built.skipped.len(),
        built.skipped.first()
    );
    let o = built.outcome;
    node.store.commit_block(&o.executed, &o.changes)?;
    Ok((o.executed.block, o.executed.senders))
}

/// Imports and commits `block` on `node` (until it is `latest`: durable in the block log, the
/// tables written later by the applier); returns the seconds it took and the phase split.
fn import(node: &Node, block: &SealedBlock, senders: Option<&[Address]>) -> Result<(f64, Phases)> {
    let started = Instant::now();
    let parent = node.store.latest_header()?;
    let o = taiko_evm::import_block(
        &node.spec,
        &node.store,
        &parent,
        parent.hash_slow(),
        block,
        senders,
    )?;
    let before_commit = Instant::now();
    node.store.commit_block(&o.executed, &o.changes)?;
    let commit = before_commit.elapsed();
    Ok((started.elapsed().as_secs_f64(), Phases { evm: o.timings, commit }))
}

/// Imports `blocks` in order and waits until the tables hold them all; returns the seconds
/// from the first import to that point and the phase split.
fn import_all(
    node: &Node,
    blocks: &[(SealedBlock, Vec<Address>)],
    senders_known: bool,
) -> Result<(f64, Phases)> {
    let started = Instant::now();
    let mut phases = Phases::default();
    for (b, s) in blocks {
        phases += import(node, b, senders_known.then_some(s.as_slice()))?.1;
    }
    node.store.flush()?;
    Ok((started.elapsed().as_secs_f64(), phases))
}

/// Import time by phase.
#[derive(Debug, Default, Clone, Copy)]
struct Phases {
    evm: PhaseTimings,
    commit: std::time::Duration,
}

impl std::ops::AddAssign for Phases {
    fn add_assign(&mut self, o: Self) {
        self.evm += o.evm;
        self.commit += o.commit;
    }
}

/// In-memory revm over the genesis allocation: the baseline.
struct RawRevm {
    db: CacheDB<EmptyDB>,
    chain_id: u64,
}

impl RawRevm {
    fn new(spec: &ChainSpec) -> Self {
        let mut db = CacheDB::new(EmptyDB::default());
        for (addr, acc) in &spec.genesis.alloc {
            let (code_hash, code) = match &acc.code {
                Some(c) if !c.is_empty() => {
                    (alloy::primitives::keccak256(c), Bytecode::new_raw(c.clone()))
                }
                _ => (KECCAK_EMPTY, Bytecode::default()),
            };
            db.insert_account_info(
                *addr,
                AccountInfo::new(acc.balance, acc.nonce.unwrap_or(0), code_hash, code),
            );
        }
        Self { db, chain_id: spec.chain_id }
    }

    /// Executes the block's user transactions (senders given); returns seconds.
    fn execute(&mut self, block: &SealedBlock, senders: &[Address]) -> Result<f64> {
        let h = block.header();
        let block_env = BlockEnv {
            number: U256::from(h.number),
            beneficiary: h.beneficiary,
            timestamp: U256::from(h.timestamp),
            gas_limit: h.gas_limit,
            basefee: h.base_fee_per_gas.unwrap_or_default(),
            prevrandao: Some(h.mix_hash),
            ..Default::default()
        };
        let cfg = CfgEnv::new_with_spec(SpecId::PRAGUE).with_chain_id(self.chain_id);
        let envs: Vec<TxEnv> = block
            .transactions()
            .iter()
            .zip(senders)
            .skip(1)
            .map(|(tx, s)| TxEnv::from_recovered_tx(tx, *s))
            .collect();
        let db = std::mem::take(&mut self.db);
        let mut evm = EthEvmFactory::default().create_evm(db, EvmEnv::new(cfg, block_env));
        let started = Instant::now();
        for tx in envs {
            let r =
                evm.transact_commit(tx).map_err(|e| eyre::eyre!("baseline execution: {e:?}"))?;
            ensure!(r.is_success(), "baseline tx failed: {r:?}");
        }
        let secs = started.elapsed().as_secs_f64();
        self.db = evm.into_db();
        Ok(secs)
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn user_gas(block: &SealedBlock) -> u64 {
    // The anchor's gas is in the header; the baseline runs user transactions only.
    block.header().gas_used
}

struct Workload {
    name: &'static str,
    blocks: Vec<(SealedBlock, Vec<Address>)>,
    setup: Vec<(SealedBlock, Vec<Address>)>,
}

fn workloads(
    args: &ImportBenchArgs,
    builder: &Node,
    senders: &[PrivateKeySigner],
) -> Result<Vec<Workload>> {
    let mut f = TxFactory::new(builder.spec.chain_id, senders.to_vec());
    f.max_fee_per_gas = 100_000_000_000;
    let mut rng = StdRng::seed_from_u64(1);
    // Setup: deploy the token and give every sender a balance.
    let (deploy, token) = f.deploy_token(0, U256::from(10u64).pow(U256::from(30u64)));
    let mut txs = vec![deploy];
    for i in 1..f.len() {
        txs.push(f.token_transfer(0, token, f.address(i), 1_000_000_000));
    }
    let setup = vec![build(builder, txs)?];

    let mut transfers = Vec::new();
    for _ in 0..args.blocks {
        let txs: Vec<_> = (0..args.transfers_per_block)
            .map(|k| f.transfer(k % f.len(), Address::from(rng.random::<[u8; 20]>()), 1))
            .collect();
        transfers.push(build(builder, txs)?);
    }
    let mut erc20 = Vec::new();
    for _ in 0..args.blocks {
        let txs: Vec<_> = (0..args.erc20_per_block)
            .map(|k| {
                f.token_transfer(k % f.len(), token, Address::from(rng.random::<[u8; 20]>()), 1)
            })
            .collect();
        erc20.push(build(builder, txs)?);
    }
    Ok(vec![
        Workload { name: "ETH transfers", blocks: transfers, setup: setup.clone() },
        Workload { name: "ERC-20 transfers", blocks: erc20, setup },
    ])
}

pub(crate) fn run_import_bench(args: ImportBenchArgs) -> Result<()> {
    println!("# taiko-preconf bench import");
    println!(
        "machine: {} cores; release build: {}",
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        !cfg!(debug_assertions)
    );
    let senders: Vec<PrivateKeySigner> =
        (0..args.senders).map(|_| PrivateKeySigner::random()).collect();
    let spec = spec_with(&[], &senders, args.max_tx_list_bytes)?;
    let builder = open(&spec)?;
    let t = Instant::now();
    let loads = workloads(&args, &builder, &senders).wrap_err("building the workload")?;
    println!("workload built in {:.1}s", t.elapsed().as_secs_f64());

    println!();
    println!("## Import throughput vs raw revm (same transactions, same run)");
    println!(
        "| workload | txs/block | raw revm Mgas/s | import Mgas/s | import tx/s | ratio | import incl. sender recovery Mgas/s | ratio |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    // The ERC-20 workload's blocks come after the transfer blocks in the builder's chain, so
    // one importer replays everything in order; each workload is timed on its own blocks.
    let importer = open(&spec)?;
    let recovering = open(&spec)?;
    let mut raw = RawRevm::new(&spec);
    for (b, s) in &loads[0].setup {
        import(&importer, b, Some(s))?;
        import(&recovering, b, None)?;
        raw.execute(b, s)?;
    }
    importer.store.flush()?;
    recovering.store.flush()?;
    let mut splits = Vec::new();
    for w in &loads {
        let (mut gas, mut txs, mut t_raw) = (0u64, 0usize, 0.0);
        for (b, s) in &w.blocks {
            t_raw += raw.execute(b, s)?;
            gas += user_gas(b);
            txs += b.transactions().len() - 1;
        }
        // Each import run ends when the tables hold every block (the applier is done).
        let applier_before = importer.store.applier_busy();
        let (t_imp, phases) = import_all(&importer, &w.blocks, true)?;
        let applier = importer.store.applier_busy() - applier_before;
        let (t_rec, _) = import_all(&recovering, &w.blocks, false)?;
        let mgas = |t: f64| gas as f64 / t / 1e6;
        println!(
            "| {} | {} | {:.0} | {:.0} | {:.0} | {:.2} | {:.0} | {:.2} |",
            w.name,
            txs / w.blocks.len(),
            mgas(t_raw),
            mgas(t_imp),
            txs as f64 / t_imp,
            t_raw / t_imp,
            mgas(t_rec),
            t_raw / t_rec,
        );
        splits.push((w.name, w.blocks.len(), phases, applier));
    }
    println!();
    println!("## Import time by phase (ms per block, senders known)");
    println!(
        "| workload | execute | state changes | state root | tx/receipt roots | tx list zlib | block log commit | tables (applier thread, background) |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for (name, n, p, applier) in &splits {
        let ms = |d: std::time::Duration| d.as_secs_f64() * 1e3 / *n as f64;
        println!(
            "| {name} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} |",
            ms(p.evm.execute),
            ms(p.evm.changes),
            ms(p.evm.state_root),
            ms(p.evm.commitments),
            ms(p.evm.tx_list),
            ms(p.commit),
            ms(*applier),
        );
    }
    ensure!(
        importer.store.trie_root() == builder.store.trie_root(),
        "importer diverged from builder"
    );

    println!();
    println!(
        "## Per-block import time vs state size ({} blocks of {} transfers to existing accounts)",
        args.scaling_blocks, args.scaling_txs
    );
    println!(
        "| pre-existing accounts | setup s | median to `latest` ms | sustained ms/block incl. tables | ratio to smallest (sustained) |"
    );
    println!("|---|---|---|---|---|");
    let mut first = None;
    for &size in &args.state_sizes {
        let t = Instant::now();
        let mut rng = StdRng::seed_from_u64(size as u64);
        let extra: Vec<(Address, U256)> = (0..size)
            .map(|_| (Address::from(rng.random::<[u8; 20]>()), U256::from(1u64)))
            .collect();
        let spec = spec_with(&extra, &senders, args.max_tx_list_bytes)?;
        let builder = open(&spec)?;
        let node = open(&spec)?;
        let setup = t.elapsed().as_secs_f64();
        let mut f = TxFactory::new(spec.chain_id, senders.clone());
        f.max_fee_per_gas = 100_000_000_000;
        let mut blocks = Vec::new();
        for _ in 0..args.scaling_blocks {
            let txs: Vec<_> = (0..args.scaling_txs)
                .map(|k| f.transfer(k % f.len(), extra[rng.random_range(0..extra.len())].0, 1))
                .collect();
            blocks.push(build(&builder, txs)?);
        }
        drop(builder);
        let mut to_latest = Vec::new();
        let started = Instant::now();
        for (b, s) in &blocks {
            to_latest.push(import(&node, b, Some(s))?.0);
        }
        node.store.flush()?;
        let sustained = started.elapsed().as_secs_f64() * 1e3 / blocks.len() as f64;
        let ms = median(to_latest) * 1e3;
        let base = *first.get_or_insert(sustained);
        println!("| {size} | {setup:.1} | {ms:.1} | {sustained:.1} | {:.2} |", sustained / base);
    }
    Ok(())
}

/// Options of `bench pool`.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct PoolBenchArgs {
    /// Senders.
    #[arg(long, default_value_t = 5_000)]
    senders: usize,
    /// Transactions per sender already in the pool.
    #[arg(long, default_value_t = 10)]
    per_sender: usize,
    /// Transactions per sender inserted while timing.
    #[arg(long, default_value_t = 2)]
    measured_per_sender: usize,
}

/// In-memory sender accounts (the pool's view of `latest`).
struct Accounts(std::collections::HashMap<Address, taiko_pool::SenderAccount>);

impl taiko_pool::AccountReader for Accounts {
    fn sender_account(
        &self,
        a: &Address,
    ) -> std::result::Result<taiko_pool::SenderAccount, String> {
        Ok(self.0.get(a).copied().unwrap_or_default())
    }
}

fn rss_bytes() -> usize {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1).and_then(|v| v.parse::<usize>().ok()))
        .map(|pages| pages * 4096)
        .unwrap_or(0)
}

pub(crate) fn run_pool_bench(args: PoolBenchArgs) -> Result<()> {
    use taiko_pool::{Pool, PoolConfig, TransactionOrigin};
    println!("# taiko-preconf bench pool");
    let keys: Vec<PrivateKeySigner> =
        (0..args.senders).map(|_| PrivateKeySigner::random()).collect();
    let accounts = Accounts(
        keys.iter()
            .map(|k| {
                (
                    k.address(),
                    taiko_pool::SenderAccount {
                        nonce: 0,
                        balance: U256::from(10u64).pow(U256::from(24u64)),
                        has_code: false,
                    },
                )
            })
            .collect(),
    );
    let spec = ChainSpec::devnet();
    let mut cfg = PoolConfig::for_chain(&spec);
    cfg.max_txs_per_sender = args.per_sender + args.measured_per_sender;
    cfg.max_count_per_subpool = 1_000_000;
    cfg.max_bytes_per_subpool = 1 << 30;
    let mut f = TxFactory::new(spec.chain_id, keys);
    let mut rng = StdRng::seed_from_u64(3);
    let mut sign_round = |f: &mut TxFactory| -> Vec<_> {
        (0..f.len())
            .map(|s| {
                f.max_priority_fee_per_gas = rng.random_range(1..100) * 1_000_000_000;
                f.max_fee_per_gas = 200_000_000_000;
                f.transfer(s, Address::repeat_byte(1), 1)
            })
            .collect()
    };
    let t = Instant::now();
    let fill: Vec<_> = (0..args.per_sender).flat_map(|_| sign_round(&mut f)).collect();
    let measured: Vec<_> = (0..args.measured_per_sender).flat_map(|_| sign_round(&mut f)).collect();
    println!(
        "signed {} transactions in {:.1}s (not timed)",
        fill.len() + measured.len(),
        t.elapsed().as_secs_f64()
    );

    let rss_before = rss_bytes();
    let pool = Pool::new(cfg, Arc::new(accounts), 1_000_000_000);
    let t = Instant::now();
    for tx in fill {
        pool.add_transaction(TransactionOrigin::External, tx)?;
    }
    let fill_secs = t.elapsed().as_secs_f64();
    let held = pool.size().pending.count;
    let rss_after = rss_bytes();

    let mut lat = Vec::with_capacity(measured.len());
    let t = Instant::now();
    for tx in measured {
        let s = Instant::now();
        pool.add_transaction(TransactionOrigin::External, tx)?;
        lat.push(s.elapsed().as_secs_f64() * 1e6);
    }
    let insert_secs = t.elapsed().as_secs_f64();
    let n = lat.len();
    lat.sort_by(|a, b| a.total_cmp(b));

    let mut best_times = Vec::new();
    for _ in 0..9 {
        let t = Instant::now();
        let got = pool.best_transactions().take(1_000).count();
        best_times.push(t.elapsed().as_secs_f64() * 1e3);
        ensure!(got == 1_000, "best iterator yielded {got}");
    }
    println!();
    println!("| measure | value |");
    println!("|---|---|");
    println!(
        "| pool size while measuring | {} pending txs from {} senders |",
        pool.size().pending.count,
        args.senders
    );
    println!("| fill: inserts/s (pool growing to {held}) | {:.0} |", held as f64 / fill_secs);
    println!(
        "| insert into a pool of {held}: inserts/s (one core) | {:.0} |",
        n as f64 / insert_secs
    );
    println!("| insert latency p50 / p99 (µs) | {:.1} / {:.1} |", lat[n / 2], lat[n * 99 / 100]);
    println!(
        "| first 1,000 best of {} pending: median ms | {:.3} |",
        pool.size().pending.count,
        median(best_times)
    );
    println!(
        "| memory per pooled tx (RSS delta / txs, bytes) | {} |",
        (rss_after.saturating_sub(rss_before)) / held.max(1)
    );
    println!("| reference: reth insert p50 (third-party figure) | 13 µs |");
    Ok(())
}

/// Options of `bench rpc`.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct RpcBenchArgs {
    /// Concurrent clients (one HTTP connection each).
    #[arg(long, default_value_t = 16)]
    clients: usize,
    /// Seconds per read measurement.
    #[arg(long, default_value_t = 3.0)]
    seconds: f64,
    /// Signed transactions sent in the eth_sendRawTransaction measurement.
    #[arg(long, default_value_t = 10_000)]
    raw_txs: usize,
    /// Skip the anvil baseline.
    #[arg(long)]
    no_anvil: bool,
}

fn free_port() -> Result<u16> {
    Ok(taiko_devnet::process::free_port()?)
}

async fn rpc_call(
    c: &jsonrpsee::http_client::HttpClient,
    method: &str,
    params: jsonrpsee::core::params::ArrayParams,
) -> Result<serde_json::Value> {
    use jsonrpsee::core::client::ClientT;
    c.request(method, params).await.map_err(|e| eyre::eyre!("{method}: {e}"))
}

async fn wait_receipt(
    c: &jsonrpsee::http_client::HttpClient,
    hash: alloy::primitives::B256,
) -> Result<serde_json::Value> {
    for _ in 0..200 {
        let r = rpc_call(c, "eth_getTransactionReceipt", jsonrpsee::rpc_params![hash]).await?;
        if !r.is_null() {
            return Ok(r);
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    eyre::bail!("no receipt for {hash}")
}

/// Requests per second of `make_params` calls of `method` from `clients` concurrent clients.
async fn load<F>(
    url: &str,
    clients: usize,
    seconds: f64,
    method: &'static str,
    make_params: F,
) -> Result<f64>
where
    F: Fn(usize) -> jsonrpsee::core::params::ArrayParams + Send + Sync + Clone + 'static,
{
    let deadline = Instant::now() + std::time::Duration::from_secs_f64(seconds);
    let mut tasks = Vec::new();
    for k in 0..clients {
        let c = jsonrpsee::http_client::HttpClientBuilder::default().build(url)?;
        let make = make_params.clone();
        tasks.push(tokio::spawn(async move {
            let mut n = 0usize;
            while Instant::now() < deadline {
                if rpc_call(&c, method, make(k * 1_000_000 + n)).await.is_ok() {
                    n += 1;
                }
            }
            n
        }));
    }
    let started = Instant::now();
    let mut total = 0;
    for t in tasks {
        total += t.await?;
    }
    Ok(total as f64 / started.elapsed().as_secs_f64())
}

/// Sends pre-encoded raw transactions from `clients` concurrent clients; returns accepted/s.
async fn load_raw(
    url: &str,
    clients: usize,
    txs: Vec<alloy::primitives::Bytes>,
) -> Result<(f64, usize)> {
    let chunks: Vec<Vec<_>> = txs.chunks(txs.len().div_ceil(clients)).map(|c| c.to_vec()).collect();
    let started = Instant::now();
    let mut tasks = Vec::new();
    for chunk in chunks {
        let c = jsonrpsee::http_client::HttpClientBuilder::default().build(url)?;
        tasks.push(tokio::spawn(async move {
            let mut ok = 0usize;
            for raw in chunk {
                if rpc_call(&c, "eth_sendRawTransaction", jsonrpsee::rpc_params![raw]).await.is_ok()
                {
                    ok += 1;
                }
            }
            ok
        }));
    }
    let mut ok = 0;
    for t in tasks {
        ok += t.await?;
    }
    Ok((ok as f64 / started.elapsed().as_secs_f64(), ok))
}

/// Deploys the benchmark token on a server and signs its raw-transaction workload.
async fn prepare_target(
    url: &str,
    chain_id: u64,
    deployer: &PrivateKeySigner,
    senders: &[PrivateKeySigner],
    n: usize,
) -> Result<(Address, Vec<alloy::primitives::Bytes>)> {
    use alloy::eips::Encodable2718;
    let c = jsonrpsee::http_client::HttpClientBuilder::default().build(url)?;
    let mut f = TxFactory::new(chain_id, vec![deployer.clone()]);
    f.max_fee_per_gas = 100_000_000_000;
    let (tx, token) = f.deploy_token(0, U256::from(1_000_000u64));
    let raw = alloy::primitives::Bytes::from(tx.inner().encoded_2718());
    let hash = rpc_call(&c, "eth_sendRawTransaction", jsonrpsee::rpc_params![raw]).await?;
    wait_receipt(&c, serde_json::from_value(hash)?).await?;
    let mut f = TxFactory::new(chain_id, senders.to_vec());
    f.max_fee_per_gas = 100_000_000_000;
    let raw = (0..n)
        .map(|k| {
            f.transfer(k % senders.len(), Address::repeat_byte(1), 1).inner().encoded_2718().into()
        })
        .collect();
    Ok((token, raw))
}

struct Target {
    name: &'static str,
    url: String,
    token: Address,
    raw: Vec<alloy::primitives::Bytes>,
}

pub(crate) fn run_rpc_bench(args: RpcBenchArgs) -> Result<()> {
    tokio::runtime::Builder::new_multi_thread().enable_all().build()?.block_on(rpc_bench(args))
}

async fn rpc_bench(args: RpcBenchArgs) -> Result<()> {
    use alloy::sol_types::SolCall;
    println!("# taiko-preconf bench rpc");
    println!(
        "{} concurrent clients on loopback, {:.0} s per read measurement, {} raw transactions",
        args.clients, args.seconds, args.raw_txs
    );
    let per_sender = 10;
    let senders: Vec<PrivateKeySigner> =
        (0..args.raw_txs.div_ceil(per_sender)).map(|_| PrivateKeySigner::random()).collect();
    let deployer = PrivateKeySigner::random();

    // Our node, with the senders funded at genesis.
    let mut all = senders.clone();
    all.push(deployer.clone());
    let spec = spec_with(&[], &all, None)?;
    let dir = tempfile::tempdir()?;
    let node = taiko_node::launch(taiko_node::NodeConfig {
        datadir: dir.path().to_path_buf(),
        spec: spec.clone(),
        store: Default::default(),
        rpc: Some(taiko_rpc::RpcConfig { addr: ([127, 0, 0, 1], 0).into(), ..Default::default() }),
        dev_block_time: Some(std::time::Duration::from_millis(200)),
        dev_coinbase: Address::ZERO,
    })
    .await?;
    let ours_url = format!("http://{}", node.rpc_addr.expect("rpc enabled"));
    let mut targets = Vec::new();
    let (token, raw) =
        prepare_target(&ours_url, spec.chain_id, &deployer, &senders, args.raw_txs).await?;
    targets.push(Target { name: "taiko-preconf", url: ours_url.clone(), token, raw });

    // anvil, same workload, as the baseline.
    let mut _anvil = None;
    if !args.no_anvil {
        let port = free_port()?;
        let mut cmd = std::process::Command::new(taiko_devnet::process::tool("anvil")?);
        cmd.args([
            "--port",
            &port.to_string(),
            "--host",
            "127.0.0.1",
            "--silent",
            "--hardfork",
            "prague",
            "--gas-limit",
            "1000000000",
        ]);
        _anvil = Some(
            taiko_devnet::process::ChildGuard::spawn("anvil", cmd)
                .wrap_err("starting anvil (run `make tools` first)")?,
        );
        let url = format!("http://127.0.0.1:{port}");
        let c = jsonrpsee::http_client::HttpClientBuilder::default().build(&url)?;
        let mut up = false;
        for _ in 0..100 {
            if rpc_call(&c, "eth_chainId", jsonrpsee::rpc_params![]).await.is_ok() {
                up = true;
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        ensure!(up, "anvil did not start");
        for s in senders.iter().chain([&deployer]) {
            rpc_call(
                &c,
                "anvil_setBalance",
                jsonrpsee::rpc_params![s.address(), U256::from(10u64).pow(U256::from(24u64))],
            )
            .await?;
        }
        let (token, raw) = prepare_target(&url, 31_337, &deployer, &senders, args.raw_txs).await?;
        targets.push(Target { name: "anvil 1.7.1 (baseline)", url, token, raw });
    }

    let mut rows: Vec<(String, Vec<f64>)> = Vec::new();
    let probe: Vec<Address> = senders.iter().map(|s| s.address()).collect();
    for t in &mut targets {
        let addrs = probe.clone();
        let balance = load(&t.url, args.clients, args.seconds, "eth_getBalance", move |i| {
            jsonrpsee::rpc_params![addrs[i % addrs.len()], "latest"]
        })
        .await?;
        let (token, addrs) = (t.token, probe.clone());
        let call = load(&t.url, args.clients, args.seconds, "eth_call", move |i| {
            let data = alloy::primitives::Bytes::from(
                taiko_contracts::BenchToken::balanceOfCall { account: addrs[i % addrs.len()] }
                    .abi_encode(),
            );
            jsonrpsee::rpc_params![serde_json::json!({ "to": token, "data": data }), "latest"]
        })
        .await?;
        let (raw, accepted) = load_raw(&t.url, args.clients, std::mem::take(&mut t.raw)).await?;
        ensure!(accepted > 0, "{} accepted no transaction", t.name);
        rows.push((format!("{} ({accepted} txs accepted)", t.name), vec![balance, call, raw]));
    }
    println!();
    println!(
        "| server | eth_getBalance req/s | eth_call balanceOf req/s | eth_sendRawTransaction accepted/s |"
    );
    println!("|---|---|---|---|");
    for (name, v) in &rows {
        println!("| {name} | {:.0} | {:.0} | {:.0} |", v[0], v[1], v[2]);
    }
    if rows.len() == 2 {
        println!(
            "| ratio taiko-preconf / anvil | {:.2} | {:.2} | {:.2} |",
            rows[0].1[0] / rows[1].1[0],
            rows[0].1[1] / rows[1].1[1],
            rows[0].1[2] / rows[1].1[2]
        );
    }
    node.shutdown().await?;
    Ok(())
}
