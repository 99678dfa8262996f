//! `taiko-preconf register`: stake, register, bond and map validators — only what is missing.

use std::path::{Path, PathBuf};

use alloy::primitives::{Address, U256, utils::parse_ether};
use eyre::{Result, WrapErr, eyre};
use taiko_l1::{
    L1Client,
    keystore::Keystore,
    registration::{RegistrationPlan, RegistrationTargets, register},
};

/// Options of `taiko-preconf register`.
#[derive(Debug, clap::Args)]
pub(crate) struct RegisterArgs {
    /// L1 JSON-RPC URL [default: from --devnet.manifest].
    #[arg(long = "l1.rpc", env = "TAIKO_PRECONF_L1_RPC")]
    l1_rpc: Option<String>,
    /// `PreconfRegistry` [default: from --devnet.manifest].
    #[arg(long = "preconf.registry", env = "TAIKO_PRECONF_REGISTRY")]
    registry: Option<Address>,
    /// The restaking adapter (native staking) [default: from --devnet.manifest].
    #[arg(long = "preconf.restaking", env = "TAIKO_PRECONF_RESTAKING")]
    restaking: Option<Address>,
    /// `TaikoInbox` [default: from --devnet.manifest].
    #[arg(long = "preconf.inbox", env = "TAIKO_PRECONF_INBOX")]
    inbox: Option<Address>,
    /// A devnet manifest supplying the four settings above.
    #[arg(long = "devnet.manifest", env = "TAIKO_PRECONF_DEVNET_MANIFEST")]
    devnet_manifest: Option<PathBuf>,
    /// Use devnet preconfer *n*'s key (with --devnet.manifest).
    #[arg(long = "devnet.preconfer", env = "TAIKO_PRECONF_DEVNET_PRECONFER")]
    devnet_preconfer: Option<usize>,
    /// Encrypted keystore of the preconfer's ECDSA key.
    #[arg(long = "preconf.keystore", env = "TAIKO_PRECONF_KEYSTORE")]
    keystore: Option<PathBuf>,
    /// File holding its password.
    #[arg(long = "preconf.password-file", env = "TAIKO_PRECONF_PASSWORD_FILE")]
    password_file: Option<PathBuf>,
    /// Validator EIP-2335 keystores: files, or directories whose `*.json` files are keystores.
    #[arg(long = "validator-keystores", value_delimiter = ',')]
    validator_keystores: Vec<PathBuf>,
    /// File holding the validator keystores' password.
    #[arg(long = "validator-password-file")]
    validator_password_file: Option<PathBuf>,
    /// Stake to hold in the restaking adapter, ETH.
    #[arg(long, default_value = "1")]
    stake_eth: String,
    /// Bond to hold in the inbox, ETH.
    #[arg(long, default_value = "10")]
    bond_eth: String,
    /// Validity of each validator signature, days.
    #[arg(long, default_value_t = 30)]
    signature_ttl_days: u64,
}

fn keystore_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut files: Vec<PathBuf> = std::fs::read_dir(p)
                .wrap_err_with(|| format!("reading {}", p.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| f.extension().is_some_and(|x| x == "json"))
                .collect();
            files.sort();
            out.extend(files);
        } else {
            out.push(p.clone());
        }
    }
    Ok(out)
}

fn read_password(path: &Path) -> Result<String> {
    Ok(std::fs::read_to_string(path)
        .wrap_err_with(|| format!("reading {}", path.display()))?
        .trim_end_matches(['\n', '\r'])
        .to_string())
}

pub(crate) async fn run(args: RegisterArgs) -> Result<()> {
    let manifest = crate::node::read_manifest(args.devnet_manifest.as_deref())?;
    let m = manifest.as_ref();
    let missing = |what: &str| eyre!("--{what} is required (or --devnet.manifest)");
    let l1_rpc = args.l1_rpc.or(m.map(|m| m.l1_rpc.clone())).ok_or_else(|| missing("l1.rpc"))?;
    let targets = RegistrationTargets {
        registry: args
            .registry
            .or(m.map(|m| m.contracts.registry))
            .ok_or_else(|| missing("preconf.registry"))?,
        restaking: args
            .restaking
            .or(m.map(|m| m.contracts.restaking))
            .ok_or_else(|| missing("preconf.restaking"))?,
        inbox: args
            .inbox
            .or(m.map(|m| m.contracts.inbox))
            .ok_or_else(|| missing("preconf.inbox"))?,
    };
    let signer = crate::node::preconfer_key(
        args.keystore.as_deref(),
        args.password_file.as_deref(),
        m,
        args.devnet_preconfer,
    )?
    .ok_or_else(|| eyre!("no preconfer key: --preconf.keystore or --devnet.preconfer"))?;

    let files = keystore_files(&args.validator_keystores)?;
    let password = match (&args.validator_password_file, files.is_empty()) {
        (Some(p), _) => read_password(p)?,
        (None, true) => String::new(),
        (None, false) => eyre::bail!("--validator-keystores needs --validator-password-file"),
    };
    let mut validators = Vec::with_capacity(files.len());
    for f in &files {
        let sk = Keystore::read(f)
            .and_then(|k| k.decrypt(&password))
            .wrap_err_with(|| format!("validator keystore {}", f.display()))?;
        validators.push(sk);
    }
    let plan = RegistrationPlan {
        stake: parse_ether(&args.stake_eth).wrap_err("--stake-eth")?,
        bond: parse_ether(&args.bond_eth).wrap_err("--bond-eth")?,
        validators,
        signature_ttl_secs: args.signature_ttl_days * 24 * 3600,
    };
    let l1 = L1Client::connect(&l1_rpc).await.wrap_err("connecting to the L1")?;
    println!("preconfer {} on L1 chain {}", signer.address(), l1.chain_id());
    let balance = l1.balance(signer.address()).await?;
    if balance == U256::ZERO {
        eyre::bail!("{} has no ETH on the L1 to pay for registration", signer.address());
    }
    for action in register(&l1, &signer, targets, &plan).await? {
        println!("  {action}");
    }
    Ok(())
}
