//! `taiko-preconf`: based preconfirmations for Taiko, as one binary.
//!
//! Subcommands:
//! - `node`: run the L2 execution node (store, engine, ExEx manager) until Ctrl-C;
//! - `genesis`: print the embedded devnet genesis JSON (a template for other chains);
//! - `devnet`: bring up the embedded devnet (anvil L1, beacon and Bolt simulators, contracts,
//!   registered preconfers) and run it until Ctrl-C;
//! - `bench import`: block import throughput and state-size scaling.

#![warn(missing_docs, unreachable_pub)]

mod bench;

use clap::{Parser, Subcommand};
use eyre::{Result, WrapErr};
use std::{path::PathBuf, sync::Arc};
use taiko_chainspec::ChainSpec;
use taiko_node::NodeConfig;
use taiko_rpc::RpcConfig;
use taiko_store::StoreOptions;
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
    /// Run the devnet infrastructure (L1, beacon chain, Bolt) until Ctrl-C.
    Devnet(DevnetArgs),
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
    /// JSON-RPC: requests/s for reads, calls and raw transactions, against anvil in the same run.
    Rpc(bench::RpcBenchArgs),
}

#[derive(Debug, clap::Args)]
struct NodeArgs {
    /// Data directory (chain store, ExEx log, local transactions).
    #[arg(long, env = "TAIKO_PRECONF_DATADIR", default_value = "./data")]
    datadir: PathBuf,
    /// Genesis JSON file; the embedded devnet chain when absent.
    #[arg(long, env = "TAIKO_PRECONF_GENESIS")]
    genesis: Option<PathBuf>,
    /// Blocks kept revertible (deepest reorg).
    #[arg(long, env = "TAIKO_PRECONF_REVERT_WINDOW", default_value_t = 1024)]
    revert_window: u64,
    /// JSON-RPC listen address (HTTP and WebSocket on one port).
    #[arg(long = "rpc.addr", env = "TAIKO_PRECONF_RPC_ADDR", default_value = "127.0.0.1:8545")]
    rpc_addr: std::net::SocketAddr,
    /// Disable the JSON-RPC server.
    #[arg(long = "rpc.disable", env = "TAIKO_PRECONF_RPC_DISABLE")]
    rpc_disable: bool,
    /// `Access-Control-Allow-Origin`: `*`, a comma-separated list of origins, or `none`.
    #[arg(long = "rpc.cors", env = "TAIKO_PRECONF_RPC_CORS", default_value = "*")]
    rpc_cors: String,
    /// Largest JSON-RPC request body, bytes.
    #[arg(long = "rpc.max-request-bytes", env = "TAIKO_PRECONF_RPC_MAX_REQUEST_BYTES", default_value_t = 10 * 1024 * 1024)]
    rpc_max_request_bytes: u32,
    /// Most calls in one JSON-RPC batch.
    #[arg(long = "rpc.max-batch", env = "TAIKO_PRECONF_RPC_MAX_BATCH", default_value_t = 100)]
    rpc_max_batch: u32,
    /// Most blocks one eth_getLogs may span.
    #[arg(
        long = "rpc.max-logs-range",
        env = "TAIKO_PRECONF_RPC_MAX_LOGS_RANGE",
        default_value_t = 10_000
    )]
    rpc_max_logs_range: u64,
    /// Dev mode: produce a block from the pool every this many milliseconds.
    #[arg(long = "dev.block-time-ms", env = "TAIKO_PRECONF_DEV_BLOCK_TIME_MS")]
    dev_block_time_ms: Option<u64>,
}

#[derive(Debug, clap::Args)]
struct DevnetArgs {
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
}

async fn run_devnet(args: DevnetArgs) -> Result<()> {
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
    let m = devnet.manifest();
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
    tokio::signal::ctrl_c().await?;
    info!(target: "devnet", "Ctrl-C: shutting down");
    drop(devnet);
    Ok(())
}

async fn run_node(args: NodeArgs) -> Result<()> {
    let spec = Arc::new(match &args.genesis {
        Some(path) => ChainSpec::from_file(path)?,
        None => ChainSpec::devnet(),
    });
    let rpc = (!args.rpc_disable).then(|| RpcConfig {
        addr: args.rpc_addr,
        max_request_bytes: args.rpc_max_request_bytes,
        max_batch: args.rpc_max_batch,
        max_logs_range: args.rpc_max_logs_range,
        cors: (args.rpc_cors != "none").then(|| args.rpc_cors.clone()),
        ..Default::default()
    });
    let config = NodeConfig {
        datadir: args.datadir.clone(),
        spec,
        store: StoreOptions { revert_window: args.revert_window },
        rpc,
        dev_block_time: args.dev_block_time_ms.map(std::time::Duration::from_millis),
        dev_coinbase: alloy::primitives::Address::ZERO,
    };
    let mut node = taiko_node::launch(config).await.wrap_err("starting the node")?;
    if let Some(addr) = node.rpc_addr {
        info!(target: "node", "JSON-RPC: http://{addr} and ws://{addr}");
    }
    tokio::select! {
        _ = tokio::signal::ctrl_c() => info!(target: "node", "Ctrl-C: shutting down"),
        e = node.exex_failed() => return Err(e).wrap_err("an ExEx exited"),
    }
    node.shutdown().await?;
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
        Command::Bench(BenchCommand::Rpc(args)) => bench::run_rpc_bench(args),
        Command::Devnet(args) => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?
            .block_on(run_devnet(args)),
        Command::Node(args) => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?
            .block_on(run_node(args)),
    }
}
