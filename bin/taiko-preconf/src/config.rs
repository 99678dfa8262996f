//! `taiko-preconf node` configuration: a TOML file, environment variables and flags.
//!
//! Every setting has one name, used three ways: the flag `--rpc.addr`, the environment variable
//! `TAIKO_PRECONF_RPC_ADDR`, and the TOML key `addr` in the `[rpc]` table (or `"rpc.addr"` at
//! the top level). A flag wins over its environment variable, which wins over the file, which
//! wins over the default. Unknown keys in the file are an error, so a typo does not silently
//! fall back to a default.

use std::{net::SocketAddr, path::PathBuf};

use alloy::primitives::Address;
use eyre::{Result, WrapErr, bail};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use taiko_preconf_exex::batch::DataChoice;

/// Settings of `taiko-preconf node`.
#[derive(Clone, Debug, Default, clap::Args, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NodeArgs {
    /// TOML configuration file (flags and environment variables override it).
    #[arg(long, env = "TAIKO_PRECONF_CONFIG")]
    #[serde(skip)]
    pub(crate) config: Option<PathBuf>,

    /// Data directory (chain store, preconfirmation databases, p2p key) [default: ./data].
    #[arg(long, env = "TAIKO_PRECONF_DATADIR")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) datadir: Option<PathBuf>,
    /// Genesis JSON file [default: the embedded devnet chain].
    #[arg(long, env = "TAIKO_PRECONF_GENESIS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) genesis: Option<PathBuf>,
    /// Blocks kept revertible, the deepest reorg [default: 1024].
    #[arg(long = "revert-window", env = "TAIKO_PRECONF_REVERT_WINDOW")]
    #[serde(rename = "revert-window", skip_serializing_if = "Option::is_none")]
    pub(crate) revert_window: Option<u64>,
    /// Sync each block to disk before it becomes `latest` (no block is lost to a power loss;
    /// every import then waits for the disk's flush). Default: synced right after, on a thread
    /// of its own; a killed process loses nothing either way.
    #[arg(long = "sync-commits", env = "TAIKO_PRECONF_SYNC_COMMITS", num_args = 0..=1, default_missing_value = "true")]
    #[serde(rename = "sync-commits", skip_serializing_if = "Option::is_none")]
    pub(crate) sync_commits: Option<bool>,

    /// JSON-RPC listen address, HTTP and WebSocket on one port [default: 127.0.0.1:8545].
    #[arg(long = "rpc.addr", env = "TAIKO_PRECONF_RPC_ADDR")]
    #[serde(rename = "rpc.addr", skip_serializing_if = "Option::is_none")]
    pub(crate) rpc_addr: Option<SocketAddr>,
    /// Disable the JSON-RPC server.
    #[arg(long = "rpc.disable", env = "TAIKO_PRECONF_RPC_DISABLE", num_args = 0..=1, default_missing_value = "true")]
    #[serde(rename = "rpc.disable", skip_serializing_if = "Option::is_none")]
    pub(crate) rpc_disable: Option<bool>,
    /// `Access-Control-Allow-Origin`: `*`, a comma-separated list of origins, or `none` [default: *].
    #[arg(long = "rpc.cors", env = "TAIKO_PRECONF_RPC_CORS")]
    #[serde(rename = "rpc.cors", skip_serializing_if = "Option::is_none")]
    pub(crate) rpc_cors: Option<String>,
    /// Largest JSON-RPC request body in bytes [default: 10485760].
    #[arg(long = "rpc.max-request-bytes", env = "TAIKO_PRECONF_RPC_MAX_REQUEST_BYTES")]
    #[serde(rename = "rpc.max-request-bytes", skip_serializing_if = "Option::is_none")]
    pub(crate) rpc_max_request_bytes: Option<u32>,
    /// Most calls in one JSON-RPC batch [default: 100].
    #[arg(long = "rpc.max-batch", env = "TAIKO_PRECONF_RPC_MAX_BATCH")]
    #[serde(rename = "rpc.max-batch", skip_serializing_if = "Option::is_none")]
    pub(crate) rpc_max_batch: Option<u32>,
    /// Most blocks one eth_getLogs may span [default: 10000].
    #[arg(long = "rpc.max-logs-range", env = "TAIKO_PRECONF_RPC_MAX_LOGS_RANGE")]
    #[serde(rename = "rpc.max-logs-range", skip_serializing_if = "Option::is_none")]
    pub(crate) rpc_max_logs_range: Option<u64>,

    /// Dev mode without an L1: produce a block from the pool every this many milliseconds.
    /// Not allowed together with the preconfirmation extension.
    #[arg(long = "dev.block-time-ms", env = "TAIKO_PRECONF_DEV_BLOCK_TIME_MS")]
    #[serde(rename = "dev.block-time-ms", skip_serializing_if = "Option::is_none")]
    pub(crate) dev_block_time_ms: Option<u64>,

    /// L1 execution JSON-RPC URL, or several separated by commas (tried in order: a request
    /// goes to the next when one cannot be reached); setting it enables the preconfirmation
    /// extension.
    #[arg(long = "l1.rpc", env = "TAIKO_PRECONF_L1_RPC")]
    #[serde(rename = "l1.rpc", skip_serializing_if = "Option::is_none")]
    pub(crate) l1_rpc: Option<String>,
    /// Beacon API URL (proposer duties, genesis, spec).
    #[arg(long = "beacon.api", env = "TAIKO_PRECONF_BEACON_API")]
    #[serde(rename = "beacon.api", skip_serializing_if = "Option::is_none")]
    pub(crate) beacon_api: Option<String>,
    /// `PreconfRegistry` address on L1.
    #[arg(long = "preconf.registry", env = "TAIKO_PRECONF_REGISTRY")]
    #[serde(rename = "preconf.registry", skip_serializing_if = "Option::is_none")]
    pub(crate) registry: Option<Address>,
    /// `PreconfTaskManager` address on L1 (also the commitments' EIP-712 verifying contract).
    #[arg(long = "preconf.task-manager", env = "TAIKO_PRECONF_TASK_MANAGER")]
    #[serde(rename = "preconf.task-manager", skip_serializing_if = "Option::is_none")]
    pub(crate) task_manager: Option<Address>,
    /// `TaikoInbox` address on L1; with a preconfer key, the node proposes its turns there.
    #[arg(long = "preconf.inbox", env = "TAIKO_PRECONF_INBOX")]
    #[serde(rename = "preconf.inbox", skip_serializing_if = "Option::is_none")]
    pub(crate) inbox: Option<Address>,
    /// Stop preconfirming this long before a window ends, so the turn's batch still lands in
    /// the window [default: a third of a slot plus one block time, when proposing].
    #[arg(long = "preconf.proposal-margin-ms", env = "TAIKO_PRECONF_PROPOSAL_MARGIN_MS")]
    #[serde(rename = "preconf.proposal-margin-ms", skip_serializing_if = "Option::is_none")]
    pub(crate) proposal_margin_ms: Option<u64>,
    /// Where batch proposals carry their tx list: `calldata`, `blobs`, or `auto` (whichever is
    /// cheaper at the L1's current base fee and blob base fee) [default: auto].
    #[arg(long = "l1.batch-data", env = "TAIKO_PRECONF_L1_BATCH_DATA")]
    #[serde(rename = "l1.batch-data", skip_serializing_if = "Option::is_none")]
    pub(crate) l1_batch_data: Option<DataChoice>,
    /// Tip of the node's L1 transactions, in gwei [default: 1].
    #[arg(long = "l1.priority-fee-gwei", env = "TAIKO_PRECONF_L1_PRIORITY_FEE_GWEI")]
    #[serde(rename = "l1.priority-fee-gwei", skip_serializing_if = "Option::is_none")]
    pub(crate) l1_priority_fee_gwei: Option<f64>,
    /// Never offer an L1 fee cap above this, in gwei [default: 500].
    #[arg(long = "l1.max-fee-gwei", env = "TAIKO_PRECONF_L1_MAX_FEE_GWEI")]
    #[serde(rename = "l1.max-fee-gwei", skip_serializing_if = "Option::is_none")]
    pub(crate) l1_max_fee_gwei: Option<f64>,
    /// Re-sign an L1 transaction still pending after this many seconds with fees raised by
    /// `l1.fee-bump-percent` [default: one L1 slot].
    #[arg(long = "l1.resubmit-secs", env = "TAIKO_PRECONF_L1_RESUBMIT_SECS")]
    #[serde(rename = "l1.resubmit-secs", skip_serializing_if = "Option::is_none")]
    pub(crate) l1_resubmit_secs: Option<u64>,
    /// How much a replacement of a stuck L1 transaction raises its fees, in percent, at least
    /// 10 [default: 13].
    #[arg(long = "l1.fee-bump-percent", env = "TAIKO_PRECONF_L1_FEE_BUMP_PERCENT")]
    #[serde(rename = "l1.fee-bump-percent", skip_serializing_if = "Option::is_none")]
    pub(crate) l1_fee_bump_percent: Option<u64>,
    /// The Bolt sidecar of our validators: proposals are sent there first, to the top of the
    /// window's L1 block, and to the public mempool when Bolt refuses.
    #[arg(long = "bolt.rpc", env = "TAIKO_PRECONF_BOLT_RPC")]
    #[serde(rename = "bolt.rpc", skip_serializing_if = "Option::is_none")]
    pub(crate) bolt_rpc: Option<String>,
    /// A devnet manifest (`taiko-preconf devnet --manifest`): takes the L1, beacon and contract
    /// settings from it.
    #[arg(long = "devnet.manifest", env = "TAIKO_PRECONF_DEVNET_MANIFEST")]
    #[serde(rename = "devnet.manifest", skip_serializing_if = "Option::is_none")]
    pub(crate) devnet_manifest: Option<PathBuf>,
    /// With `--devnet.manifest`: preconfirm with the key of this devnet preconfer (0, 1, …).
    #[arg(long = "devnet.preconfer", env = "TAIKO_PRECONF_DEVNET_PRECONFER")]
    #[serde(rename = "devnet.preconfer", skip_serializing_if = "Option::is_none")]
    pub(crate) devnet_preconfer: Option<usize>,

    /// Encrypted keystore (EIP-2335-style JSON, as `cast wallet` writes) of the preconfer key.
    /// Without a key the node follows only.
    #[arg(long = "preconf.keystore", env = "TAIKO_PRECONF_KEYSTORE")]
    #[serde(rename = "preconf.keystore", skip_serializing_if = "Option::is_none")]
    pub(crate) keystore: Option<PathBuf>,
    /// File holding the keystore password.
    #[arg(long = "preconf.password-file", env = "TAIKO_PRECONF_PASSWORD_FILE")]
    #[serde(rename = "preconf.password-file", skip_serializing_if = "Option::is_none")]
    pub(crate) password_file: Option<PathBuf>,
    /// L2 block time in milliseconds, 250 to 3000 [default: 2000].
    #[arg(long = "preconf.block-time-ms", env = "TAIKO_PRECONF_BLOCK_TIME_MS")]
    #[serde(rename = "preconf.block-time-ms", skip_serializing_if = "Option::is_none")]
    pub(crate) block_time_ms: Option<u64>,
    /// Instead of a block time: release blocks at these offsets (ms) in every L1 slot, e.g.
    /// `3000,6000,9000,11500`.
    #[arg(
        long = "preconf.release-offsets-ms",
        env = "TAIKO_PRECONF_RELEASE_OFFSETS_MS",
        value_delimiter = ','
    )]
    #[serde(rename = "preconf.release-offsets-ms", skip_serializing_if = "Option::is_none")]
    pub(crate) release_offsets_ms: Option<Vec<u64>>,
    /// Fee recipient of our L2 blocks [default: the preconfer's address].
    #[arg(long = "preconf.coinbase", env = "TAIKO_PRECONF_COINBASE")]
    #[serde(rename = "preconf.coinbase", skip_serializing_if = "Option::is_none")]
    pub(crate) coinbase: Option<Address>,
    /// Anchor L2 blocks this many L1 blocks behind the L1 head [default: 2].
    #[arg(long = "preconf.anchor-lag", env = "TAIKO_PRECONF_ANCHOR_LAG")]
    #[serde(rename = "preconf.anchor-lag", skip_serializing_if = "Option::is_none")]
    pub(crate) anchor_lag: Option<u64>,
    /// Skip ticks when the pool has nothing pending.
    #[arg(long = "preconf.skip-empty", env = "TAIKO_PRECONF_SKIP_EMPTY", num_args = 0..=1, default_missing_value = "true")]
    #[serde(rename = "preconf.skip-empty", skip_serializing_if = "Option::is_none")]
    pub(crate) skip_empty: Option<bool>,
    /// At the start of a turn, wait this long for the previous preconfer's end-of-sequencing
    /// block [default: half a block time].
    #[arg(long = "preconf.handover-grace-ms", env = "TAIKO_PRECONF_HANDOVER_GRACE_MS")]
    #[serde(rename = "preconf.handover-grace-ms", skip_serializing_if = "Option::is_none")]
    pub(crate) handover_grace_ms: Option<u64>,

    /// libp2p listen multiaddr [default: /ip4/0.0.0.0/tcp/9222].
    #[arg(long = "p2p.listen", env = "TAIKO_PRECONF_P2P_LISTEN")]
    #[serde(rename = "p2p.listen", skip_serializing_if = "Option::is_none")]
    pub(crate) p2p_listen: Option<String>,
    /// Static peers, dialed at start and kept (comma-separated multiaddrs with /p2p/ ids).
    #[arg(long = "p2p.peers", env = "TAIKO_PRECONF_P2P_PEERS", value_delimiter = ',')]
    #[serde(rename = "p2p.peers", skip_serializing_if = "Option::is_none")]
    pub(crate) p2p_peers: Option<Vec<String>>,
    /// Bootnodes, dialed at start like static peers (the gossip mesh then forms over them).
    #[arg(long = "p2p.bootnodes", env = "TAIKO_PRECONF_P2P_BOOTNODES", value_delimiter = ',')]
    #[serde(rename = "p2p.bootnodes", skip_serializing_if = "Option::is_none")]
    pub(crate) p2p_bootnodes: Option<Vec<String>>,
    /// The node's libp2p key file, created on first start [default: <datadir>/p2p.key].
    #[arg(long = "p2p.key-file", env = "TAIKO_PRECONF_P2P_KEY_FILE")]
    #[serde(rename = "p2p.key-file", skip_serializing_if = "Option::is_none")]
    pub(crate) p2p_key_file: Option<PathBuf>,

    /// Prometheus metrics listen address (`/metrics`); unset disables the server.
    #[arg(long = "metrics.addr", env = "TAIKO_PRECONF_METRICS_ADDR")]
    #[serde(rename = "metrics.addr", skip_serializing_if = "Option::is_none")]
    pub(crate) metrics_addr: Option<SocketAddr>,
}

/// Flattens TOML tables into dotted keys: `[rpc] addr = …` becomes `"rpc.addr"`.
fn flatten(prefix: &str, table: toml::Table, out: &mut Map<String, Value>) -> Result<()> {
    for (k, v) in table {
        let key = if prefix.is_empty() { k } else { format!("{prefix}.{k}") };
        match v {
            toml::Value::Table(t) => flatten(&key, t, out)?,
            v => {
                out.insert(key, serde_json::to_value(v)?);
            }
        }
    }
    Ok(())
}

impl NodeArgs {
    /// Overlays these (flag and environment) settings on the file named by `--config`.
    pub(crate) fn load(self) -> Result<Self> {
        let Some(path) = self.config.clone() else { return Ok(self) };
        let text = std::fs::read_to_string(&path)
            .wrap_err_with(|| format!("reading the config file {}", path.display()))?;
        let table: toml::Table =
            toml::from_str(&text).wrap_err_with(|| format!("parsing {}", path.display()))?;
        Self::merge(table, self).wrap_err_with(|| format!("in {}", path.display()))
    }

    fn merge(file: toml::Table, cli: Self) -> Result<Self> {
        let mut merged = Map::new();
        flatten("", file, &mut merged)?;
        let Value::Object(over) = serde_json::to_value(&cli)? else {
            bail!("settings serialize to an object")
        };
        merged.extend(over);
        let mut out: Self = serde_json::from_value(Value::Object(merged))?;
        out.config = cli.config;
        Ok(out)
    }

    /// The data directory.
    pub(crate) fn datadir(&self) -> PathBuf {
        self.datadir.clone().unwrap_or_else(|| PathBuf::from("./data"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_override_the_file_and_unknown_keys_are_refused() {
        let file: toml::Table = toml::from_str(
            r#"
            datadir = "/var/lib/taiko"
            [rpc]
            addr = "127.0.0.1:9000"
            max-batch = 7
            [preconf]
            block-time-ms = 250
            [p2p]
            peers = ["/ip4/10.0.0.1/tcp/9222"]
            "#,
        )
        .unwrap();
        let cli = NodeArgs { rpc_max_batch: Some(9), ..Default::default() };
        let a = NodeArgs::merge(file, cli).unwrap();
        assert_eq!(a.datadir(), PathBuf::from("/var/lib/taiko"));
        assert_eq!(a.rpc_addr, Some("127.0.0.1:9000".parse().unwrap()));
        assert_eq!(a.rpc_max_batch, Some(9), "the flag wins");
        assert_eq!(a.block_time_ms, Some(250));
        assert_eq!(a.p2p_peers.as_deref(), Some(&["/ip4/10.0.0.1/tcp/9222".to_string()][..]));

        let typo: toml::Table = toml::from_str("[rpc]\nadress = \"x\"").unwrap();
        let err = NodeArgs::merge(typo, NodeArgs::default()).unwrap_err();
        assert!(format!("{err:#}").contains("rpc.adress"), "{err:#}");
    }
}
