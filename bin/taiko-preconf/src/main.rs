//! `taiko-preconf`: based preconfirmations for Taiko, as one binary.
//!
//! Subcommands:
//! - `node`: run the L2 execution node (store, engine, ExEx manager, JSON-RPC) with the
//!   preconfirmation extension installed when an L1 is configured, until Ctrl-C;
//! - `register`: stake, register as a preconfer, bond, map validators (only what is missing);
//! - `spam`: transfers and ERC-20 calls at a fixed rate, with preconfirmation latency;
//! - `genesis`: print the embedded devnet genesis JSON (a template for other chains);
//! - `devnet`: the one-command devnet — anvil L1, beacon and Bolt simulators, contracts,
//!   registered preconfers, two preconfer nodes and a follower, a spammer and a live status
//!   line per slot — until Ctrl-C;
//! - `bench import`: block import throughput and state-size scaling.

#![warn(missing_docs, unreachable_pub)]

mod bench;
mod bench_preconf;
mod config;
mod devnet_cmd;
mod node;
mod register;
mod spam;

use clap::{Parser, Subcommand};
use eyre::Result;
use taiko_chainspec::ChainSpec;

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
    Devnet(devnet_cmd::DevnetArgs),
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
            .block_on(devnet_cmd::run(args)),
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
