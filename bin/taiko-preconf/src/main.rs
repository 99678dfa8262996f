//! `taiko-preconf`: based preconfirmations for Taiko, as one binary.
//!
//! Subcommands:
//! - `node`: run the L2 execution node (store, engine, ExEx manager) until Ctrl-C;
//! - `genesis`: print the embedded devnet genesis JSON (a template for other chains);
//! - `bench import`: block import throughput and state-size scaling.

#![warn(missing_docs, unreachable_pub)]

mod bench;

use clap::{Parser, Subcommand};
use eyre::{Result, WrapErr};
use std::{path::PathBuf, sync::Arc};
use taiko_chainspec::ChainSpec;
use taiko_engine::Engine;
use taiko_node_exex::{ExExContext, ExExEvent, ExExManager, NodeComponents, Wal};
use taiko_pool::{Pool, PoolConfig};
use taiko_store::{Store, StoreOptions};
use tracing::info;

#[derive(Debug, Parser)]
#[command(name = "taiko-preconf", version, about = "Based preconfirmations for Taiko")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the L2 node.
    Node(NodeArgs),
    /// Print the devnet genesis JSON.
    Genesis,
    /// Benchmarks.
    #[command(subcommand)]
    Bench(BenchCommand),
}

#[derive(Debug, Subcommand)]
enum BenchCommand {
    /// Block import throughput vs raw revm, and import cost vs state size.
    Import(bench::ImportBenchArgs),
    /// Transaction pool: insert rate, best-transactions latency, memory per transaction.
    Pool(bench::PoolBenchArgs),
}

#[derive(Debug, clap::Args)]
struct NodeArgs {
    /// Data directory (chain store, ExEx log).
    #[arg(long, env = "TAIKO_PRECONF_DATADIR", default_value = "./data")]
    datadir: PathBuf,
    /// Genesis JSON file; the embedded devnet chain when absent.
    #[arg(long, env = "TAIKO_PRECONF_GENESIS")]
    genesis: Option<PathBuf>,
    /// Blocks kept revertible (deepest reorg).
    #[arg(long, env = "TAIKO_PRECONF_REVERT_WINDOW", default_value_t = 1024)]
    revert_window: u64,
}

/// Node parts handed to ExExes.
#[derive(Debug, Clone)]
struct Components {
    store: Arc<Store>,
    pool: Pool<Store>,
}

impl NodeComponents for Components {
    type Pool = Pool<Store>;
    type Provider = Arc<Store>;
    fn pool(&self) -> &Pool<Store> {
        &self.pool
    }
    fn provider(&self) -> &Arc<Store> {
        &self.store
    }
}

/// The pool's maintenance, installed as an ExEx: every canonical change prunes mined
/// transactions, re-injects reverted ones and refreshes senders and the base fee.
async fn pool_maintenance(
    mut ctx: ExExContext<Components>,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    while let Some(n) = ctx.notifications.recv().await {
        ctx.pool().on_notification(&n);
        if let Some(chain) = n.committed_chain() {
            ctx.events.send(ExExEvent::FinishedHeight(chain.tip().num_hash()))?;
        }
    }
    // The notification stream ends only when the node shuts down.
    std::future::pending::<()>().await;
    Ok(())
}

async fn run_node(args: NodeArgs) -> Result<()> {
    let spec = Arc::new(match &args.genesis {
        Some(path) => ChainSpec::from_file(path)?,
        None => ChainSpec::devnet(),
    });
    std::fs::create_dir_all(&args.datadir)
        .wrap_err_with(|| format!("creating {}", args.datadir.display()))?;
    let store = Arc::new(Store::open(
        args.datadir.join("chain.redb"),
        spec.clone(),
        StoreOptions { revert_window: args.revert_window },
    )?);
    let heads = store.heads()?;
    info!(target: "node", chain_id = spec.chain_id, genesis = %spec.genesis_hash(), latest = heads.latest.number, "node started");
    let base_fee = store.latest_header()?.base_fee_per_gas.unwrap_or_default();
    let pool = Pool::new(PoolConfig::for_chain(&spec), store.clone(), base_fee);
    let local_txs = args.datadir.join("local-txs.bin");
    pool.load_local(&local_txs).wrap_err("reloading local transactions")?;
    let wal = Wal::open(args.datadir.join("exex-wal.redb"))?;
    let components = Components { store: store.clone(), pool: pool.clone() };
    let mut manager = ExExManager::new(wal, components, heads.latest);
    manager
        .install_exex("pool-maintenance", |ctx| async move { Ok(pool_maintenance(ctx)) })
        .await?;
    let (engine, _handle) = Engine::new(store, Some(manager.handle()))?;
    let engine = tokio::spawn(engine.run());
    let exex = tokio::spawn(manager.run());
    tokio::select! {
        _ = tokio::signal::ctrl_c() => info!(target: "node", "Ctrl-C: shutting down"),
        r = exex => r??,
    }
    engine.abort();
    pool.save_local(&local_txs).wrap_err("saving local transactions")?;
    Ok(())
}

fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let cli = Cli::parse();
    match cli.command {
        Command::Genesis => {
            println!("{}", serde_json::to_string_pretty(&ChainSpec::devnet().genesis)?);
            Ok(())
        }
        Command::Bench(BenchCommand::Import(args)) => bench::run_import_bench(args),
        Command::Bench(BenchCommand::Pool(args)) => bench::run_pool_bench(args),
        Command::Node(args) => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?
            .block_on(run_node(args)),
    }
}
