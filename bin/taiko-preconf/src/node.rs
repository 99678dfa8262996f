//! `taiko-preconf node`: the host node, with the preconfirmation extension installed when an L1
//! is configured.

use std::{path::Path, sync::Arc, time::Duration};

use alloy::{primitives::Address, signers::local::PrivateKeySigner};
use eyre::{Result, WrapErr, bail, eyre};
use taiko_chainspec::ChainSpec;
use taiko_l1::txmgr::TxConfig;
use taiko_node::NodeConfig;
use taiko_preconf_exex::{
    clock::{SystemClock, TickSchedule},
    p2p::{P2pConfig, PeerAddr, load_or_create_keypair},
    runtime::{PreconfConfig, PreconfRuntime},
    signer::{LocalSigner, PreconfSigner},
};
use taiko_rpc::RpcConfig;
use taiko_store::{CommitSync, StoreOptions};
use tracing::info;

use crate::config::NodeArgs;

/// The extension's settings, or `None` when no L1 is configured (a plain L2 node).
fn preconf_config(
    args: &NodeArgs,
    datadir: &Path,
    l2_chain_id: u64,
) -> Result<Option<PreconfConfig>> {
    let manifest = read_manifest(args.devnet_manifest.as_deref())?;
    let Some(l1_rpc) = args.l1_rpc.clone().or_else(|| manifest.as_ref().map(|m| m.l1_rpc.clone()))
    else {
        if args.devnet_preconfer.is_some() || args.keystore.is_some() {
            bail!("a preconfer key is configured but no L1 (--l1.rpc or --devnet.manifest)");
        }
        return Ok(None);
    };
    let missing = |what: &str| eyre!("--{what} is required with an L1 (or --devnet.manifest)");
    let beacon_api = args
        .beacon_api
        .clone()
        .or_else(|| manifest.as_ref().map(|m| m.beacon_api.clone()))
        .ok_or_else(|| missing("beacon.api"))?;
    let registry = args
        .registry
        .or(manifest.as_ref().map(|m| m.contracts.registry))
        .ok_or_else(|| missing("preconf.registry"))?;
    let task_manager = args
        .task_manager
        .or(manifest.as_ref().map(|m| m.contracts.task_manager))
        .ok_or_else(|| missing("preconf.task-manager"))?;
    if let Some(m) = &manifest
        && m.l2_chain_id != l2_chain_id
    {
        bail!(
            "the devnet manifest is for L2 chain {}, this node runs {l2_chain_id}",
            m.l2_chain_id
        );
    }

    let key = preconfer_key(
        args.keystore.as_deref(),
        args.password_file.as_deref(),
        manifest.as_ref(),
        args.devnet_preconfer,
    )?;
    let signer: Option<Arc<dyn PreconfSigner>> =
        key.clone().map(|k| Arc::new(LocalSigner::from_signer(k)) as _);
    let inbox = args.inbox.or(manifest.as_ref().map(|m| m.contracts.inbox));
    let proposer = key.zip(inbox);
    let followed_inbox = inbox;

    let ticks = match &args.release_offsets_ms {
        Some(offsets) => TickSchedule::WithinSlot { offsets_ms: offsets.clone() },
        None => TickSchedule::Uniform { block_time_ms: args.block_time_ms.unwrap_or(2_000) },
    };
    let block_ms = args.block_time_ms.unwrap_or(2_000);
    let parse = |list: &Option<Vec<String>>| -> Result<Vec<PeerAddr>> {
        list.iter()
            .flatten()
            .filter(|s| !s.trim().is_empty())
            .map(|s| s.trim().parse().wrap_err_with(|| format!("peer address {s:?}")))
            .collect()
    };
    let mut static_peers = parse(&args.p2p_peers)?;
    static_peers.extend(parse(&args.p2p_bootnodes)?);
    let key_file = args.p2p_key_file.clone().unwrap_or_else(|| datadir.join("p2p.key"));
    let keypair = load_or_create_keypair(&key_file)
        .wrap_err_with(|| format!("the p2p key {}", key_file.display()))?;
    let listen = args.p2p_listen.as_deref().unwrap_or("/ip4/0.0.0.0/tcp/9222");
    Ok(Some(PreconfConfig {
        l1_rpc,
        beacon_api,
        registry,
        task_manager,
        coinbase: args.coinbase.or(signer.as_ref().map(|s| s.address())).unwrap_or(Address::ZERO),
        signer,
        datadir: datadir.join("preconf"),
        p2p: P2pConfig {
            l2_chain_id,
            listen: listen.parse().wrap_err_with(|| format!("--p2p.listen {listen:?}"))?,
            static_peers,
            keypair: Some(keypair),
        },
        ticks,
        anchor_lag: args.anchor_lag.unwrap_or(2),
        skip_empty: args.skip_empty.unwrap_or(false),
        handover_grace_ms: args.handover_grace_ms.unwrap_or(block_ms / 2),
        metrics_addr: args.metrics_addr,
        proposal_margin_ms: args.proposal_margin_ms.unwrap_or(0),
        proposer,
        inbox: followed_inbox,
        bolt_rpc: args.bolt_rpc.clone().or(manifest.as_ref().map(|m| m.bolt_rpc.clone())),
        tx: tx_config(args)?,
        batch_data: args.l1_batch_data.unwrap_or_default(),
    }))
}

/// The L1 transaction manager's settings.
fn tx_config(args: &NodeArgs) -> Result<TxConfig> {
    let gwei = |g: f64| (g * 1e9) as u128;
    let d = TxConfig::default();
    let bump = args.l1_fee_bump_percent.unwrap_or(13);
    if bump < 10 {
        bail!("--l1.fee-bump-percent {bump}: a replacement must raise its fees by 10% at least");
    }
    Ok(TxConfig {
        priority_fee: args.l1_priority_fee_gwei.map_or(d.priority_fee, gwei),
        max_fee_cap: args.l1_max_fee_gwei.map_or(d.max_fee_cap, gwei),
        bump_percent: u128::from(bump),
        resubmit_after: Duration::from_secs(args.l1_resubmit_secs.unwrap_or(0)),
        ..d
    })
}

/// The devnet manifest at `path`, if one is given.
pub(crate) fn read_manifest(path: Option<&Path>) -> Result<Option<taiko_devnet::Manifest>> {
    path.map(taiko_devnet::Manifest::read).transpose().wrap_err("reading the devnet manifest")
}

/// The preconfer's ECDSA key: from an encrypted keystore and its password file, or a devnet
/// preconfer's key from the manifest; `None` when neither is configured.
pub(crate) fn preconfer_key(
    keystore: Option<&Path>,
    password_file: Option<&Path>,
    manifest: Option<&taiko_devnet::Manifest>,
    devnet_preconfer: Option<usize>,
) -> Result<Option<PrivateKeySigner>> {
    match (keystore, devnet_preconfer) {
        (Some(_), Some(_)) => bail!("--preconf.keystore and --devnet.preconfer are exclusive"),
        (Some(path), None) => {
            let pw_file = password_file
                .ok_or_else(|| eyre!("--preconf.keystore needs --preconf.password-file"))?;
            let password = std::fs::read_to_string(pw_file)
                .wrap_err_with(|| format!("reading {}", pw_file.display()))?;
            let key =
                PrivateKeySigner::decrypt_keystore(path, password.trim_end_matches(['\n', '\r']))
                    .wrap_err_with(|| format!("decrypting {}", path.display()))?;
            Ok(Some(key))
        }
        (None, Some(i)) => {
            let m = manifest.ok_or_else(|| eyre!("--devnet.preconfer needs --devnet.manifest"))?;
            let p = m.preconfers.get(i).ok_or_else(|| {
                eyre!("the devnet has {} preconfers, not {}", m.preconfers.len(), i + 1)
            })?;
            Ok(Some(PrivateKeySigner::from_bytes(&p.account.private_key)?))
        }
        (None, None) => Ok(None),
    }
}

/// Runs the node until Ctrl-C.
pub(crate) async fn run(args: NodeArgs) -> Result<()> {
    let args = args.load()?;
    let datadir = args.datadir();
    let spec = Arc::new(match &args.genesis {
        Some(path) => ChainSpec::from_file(path)?,
        None => ChainSpec::devnet(),
    });
    let rpc = (!args.rpc_disable.unwrap_or(false)).then(|| {
        let d = RpcConfig::default();
        RpcConfig {
            addr: args.rpc_addr.unwrap_or_else(|| "127.0.0.1:8545".parse().expect("an address")),
            max_request_bytes: args.rpc_max_request_bytes.unwrap_or(10 * 1024 * 1024),
            max_batch: args.rpc_max_batch.unwrap_or(100),
            max_logs_range: args.rpc_max_logs_range.unwrap_or(10_000),
            cors: match args.rpc_cors.as_deref() {
                Some("none") => None,
                Some(c) => Some(c.to_string()),
                None => Some("*".into()),
            },
            ..d
        }
    });
    let preconf = preconf_config(&args, &datadir, spec.chain_id)?;
    if preconf.is_some() && args.dev_block_time_ms.is_some() {
        bail!(
            "--dev.block-time-ms produces blocks without preconfirmations; drop it or the L1 settings"
        );
    }
    let config = NodeConfig {
        datadir,
        spec,
        store: StoreOptions {
            revert_window: args.revert_window.unwrap_or(1024),
            commit_sync: if args.sync_commits.unwrap_or(false) {
                CommitSync::BeforeLatest
            } else {
                CommitSync::Background
            },
            ..Default::default()
        },
        rpc,
        dev_block_time: args.dev_block_time_ms.map(Duration::from_millis),
        dev_coinbase: Address::ZERO,
    };
    let mut node = taiko_node::launch(config).await.wrap_err("starting the node")?;
    if let Some(addr) = node.rpc_addr {
        info!(target: "node", "JSON-RPC: http://{addr} and ws://{addr}");
    }
    let runtime = match preconf {
        Some(cfg) => {
            let role = cfg.signer.as_ref().map(|s| format!("preconfer {}", s.address()));
            let mut rt = PreconfRuntime::start(&node, cfg)
                .await
                .wrap_err("starting the preconfirmation extension")?;
            // a preconfer that cannot pay for its proposals must not start signing blocks
            rt.check_funds().await.wrap_err("reading the proposer account's balance")?;
            if let Some(reason) = rt.service.halted() {
                bail!("not starting: {reason}");
            }
            rt.spawn_duties(Arc::new(SystemClock));
            let me = rt.p2p.dial_addr();
            info!(target: "node", role = role.as_deref().unwrap_or("follower"), p2p = %me, "preconfirmation extension running");
            if let Some(addr) = rt.metrics_addr {
                info!(target: "node", "metrics: http://{addr}/metrics");
            }
            Some(rt)
        }
        None => None,
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => info!(target: "node", "Ctrl-C: shutting down"),
        e = node.exex_failed() => return Err(e).wrap_err("an ExEx exited"),
    }
    drop(runtime);
    node.shutdown().await?;
    Ok(())
}
