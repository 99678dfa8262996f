//! `taiko-preconf`: based preconfirmations for Taiko, as one binary.
//!
//! Subcommands:
//! - `node`: run the L2 execution node (store, engine, ExEx manager, JSON-RPC) with the
//!   preconfirmation extension installed when an L1 is configured, until Ctrl-C;
//! - `register`: stake, register as a preconfer, bond, map validators (only what is missing);
//! - `spam`: transfers and ERC-20 calls at a fixed rate, with preconfirmation latency;
//! - `genesis`: print the embedded devnet genesis JSON (a template for other chains);
//! - `devnet`: bring up the embedded devnet (anvil L1, beacon and Bolt simulators, contracts,
//!   registered preconfers) and run it until Ctrl-C;
//! - `bench import`: block import throughput and state-size scaling.

#![warn(missing_docs, unreachable_pub)]

mod bench;
mod bench_preconf;
mod config;
mod node;
mod register;
mod spam;

use clap::{Parser, Subcommand};
use eyre::{Result, WrapErr};
use std::path::PathBuf;
use taiko_chainspec::ChainSpec;
use tracing::info;

#[derive(Debug, Parser)]
#[command(name = "taiko-preconf", version, about = "Based preconfirmations for Taiko")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the L2 node, with the preconfirmation extension when an L1 is configured.
    Node(Box<config::NodeArgs>),
    /// Make an account a preconfer: stake, register, bond, map validator keys (idempotent).
    Register(register::RegisterArgs),
    /// Send transfers and ERC-20 calls to a node at a fixed rate and report preconfirmation latency.
    Spam(spam::SpamArgs),
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
    /// Preconfirmation latency (tx to A's RPC → `latest` on B) and throughput over three nodes.
    Preconf(bench_preconf::PreconfBenchArgs),
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
        Command::Bench(BenchCommand::Preconf(args)) => bench_preconf::run_preconf_bench(args),
        Command::Devnet(args) => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?
            .block_on(run_devnet(args)),
        Command::Spam(args) => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?
            .block_on(spam::run(args)),
        Command::Register(args) => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?
            .block_on(register::run(args)),
        Command::Node(args) => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?
            .block_on(node::run(*args)),
    }
}
