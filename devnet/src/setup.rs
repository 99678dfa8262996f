//! Deploying the contracts and registering the devnet's preconfers and validators, and the
//! manifest that nodes and tests read.

use std::{path::Path, process::Command};

use alloy::{
    primitives::{Address, B256, U256, keccak256},
    signers::local::PrivateKeySigner,
};
use serde::{Deserialize, Serialize};

use crate::{
    DevnetError,
    beacon::BeaconSim,
    clock::SlotClock,
    l1::L1Client,
    process::{project_root, tool},
};

/// anvil's first default account: the deployer (and batch verifier).
pub const DEPLOYER_KEY: &str = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";

/// The devnet key of preconfer `i`: `keccak256("taiko-preconf/devnet/preconfer/{i}")`.
pub fn preconfer_key(i: usize) -> B256 {
    keccak256(format!("taiko-preconf/devnet/preconfer/{i}"))
}

/// The L1 contract addresses, as the deploy script writes them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Contracts {
    /// `PreconfRegistry`.
    pub registry: Address,
    /// `PreconfServiceManager`.
    pub service_manager: Address,
    /// The restaking back end (`NativeStaking`).
    pub restaking: Address,
    /// `TaikoInbox`.
    pub inbox: Address,
    /// `PreconfTaskManager`.
    pub task_manager: Address,
    /// `BeaconProofVerifier`.
    pub beacon_proof_verifier: Address,
}

/// A funded devnet account.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Account {
    /// Its address.
    pub address: Address,
    /// Its private key (devnet only).
    pub private_key: B256,
}

/// A registered preconfer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PreconferInfo {
    /// Its account.
    pub account: Account,
    /// The validator indices mapped onto it.
    pub validators: Vec<u64>,
}

/// A beacon validator.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ValidatorInfo {
    /// Index.
    pub index: u64,
    /// Compressed pubkey, 0x-hex.
    pub pubkey: String,
    /// The registry's key hash.
    pub key_hash: B256,
    /// The preconfer it maps onto, if registered.
    pub preconfer: Option<Address>,
    /// Whether it runs Bolt.
    pub bolt: bool,
}

/// Everything a node or a test needs to use the devnet.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    /// L1 JSON-RPC endpoint.
    pub l1_rpc: String,
    /// L1 chain id.
    pub l1_chain_id: u64,
    /// L2 chain id.
    pub l2_chain_id: u64,
    /// Beacon API endpoint.
    pub beacon_api: String,
    /// Bolt sidecar endpoint.
    pub bolt_rpc: String,
    /// The sidecar's commitment signer.
    pub bolt_signer: Address,
    /// Beacon timing.
    pub clock: SlotClock,
    /// Contract addresses.
    pub contracts: Contracts,
    /// The deployer.
    pub deployer: Account,
    /// Registered preconfers.
    pub preconfers: Vec<PreconferInfo>,
    /// All validators.
    pub validators: Vec<ValidatorInfo>,
}

impl Manifest {
    /// Writes the manifest as pretty JSON.
    pub fn write(&self, path: &Path) -> Result<(), DevnetError> {
        let text = serde_json::to_string_pretty(self).expect("serialisable");
        std::fs::write(path, text + "\n").map_err(DevnetError::Io)
    }

    /// Reads a manifest.
    pub fn read(path: &Path) -> Result<Self, DevnetError> {
        let text = std::fs::read_to_string(path).map_err(DevnetError::Io)?;
        serde_json::from_str(&text)
            .map_err(|e| DevnetError::Deploy(format!("manifest {path:?}: {e}")))
    }
}

/// Runs the forge deploy script against `l1_url`.
pub fn deploy(
    l1_url: &str,
    clock: &SlotClock,
    l2_chain_id: u64,
    tag: &str,
) -> Result<Contracts, DevnetError> {
    let contracts_dir = project_root().join("contracts");
    let out = format!("deployments/devnet-{tag}.json");
    let output = Command::new(tool("forge")?)
        .current_dir(&contracts_dir)
        .args(["script", "script/Deploy.s.sol", "--rpc-url", l1_url, "--broadcast", "--slow"])
        .env("PRIVATE_KEY", DEPLOYER_KEY)
        .env("L2_CHAIN_ID", l2_chain_id.to_string())
        .env("BEACON_GENESIS", clock.genesis.to_string())
        .env("SLOT_DURATION", clock.slot_secs.to_string())
        .env("SLOTS_PER_EPOCH", clock.slots_per_epoch.to_string())
        .env("DEPLOYMENT_OUT", &out)
        .output()
        .map_err(|e| DevnetError::Spawn { what: "forge", source: e })?;
    if !output.status.success() {
        return Err(DevnetError::Deploy(format!(
            "forge script failed: {}",
            String::from_utf8_lossy(&output.stderr)
                .lines()
                .rev()
                .take(10)
                .collect::<Vec<_>>()
                .join(" | ")
        )));
    }
    let path = contracts_dir.join(&out);
    let text = std::fs::read_to_string(&path).map_err(DevnetError::Io)?;
    let _ = std::fs::remove_file(&path);
    serde_json::from_str(&text).map_err(|e| DevnetError::Deploy(format!("deployment file: {e}")))
}

/// Stakes, registers and bonds `preconfers` preconfers, and maps `per_preconfer` validators
/// onto each (validators 0, 1, … in order). Automine must be on.
pub async fn register(
    l1: &L1Client,
    contracts: &Contracts,
    beacon: &BeaconSim,
    preconfers: usize,
    per_preconfer: usize,
) -> Result<Vec<PreconferInfo>, DevnetError> {
    let eth = U256::from(10).pow(U256::from(18));
    let mut out = Vec::with_capacity(preconfers);
    let targets = taiko_l1::registration::RegistrationTargets {
        registry: contracts.registry,
        restaking: contracts.restaking,
        inbox: contracts.inbox,
    };
    for i in 0..preconfers {
        let key = preconfer_key(i);
        let signer = PrivateKeySigner::from_bytes(&key).expect("key");
        let me = signer.address();
        l1.set_balance(me, eth * U256::from(1000)).await?;
        let indices: Vec<u64> =
            (0..per_preconfer).map(|j| (i * per_preconfer + j) as u64).collect();
        let plan = taiko_l1::registration::RegistrationPlan {
            stake: eth,
            bond: eth * U256::from(10),
            validators: indices.iter().map(|&v| beacon.secret_key(v).clone()).collect(),
            signature_ttl_secs: 365 * 24 * 3600,
        };
        taiko_l1::registration::register(l1, &signer, targets, &plan).await?;
        tracing::info!(target: "devnet::setup", preconfer = %me, validators = ?indices, "registered");
        out.push(PreconferInfo {
            account: Account { address: me, private_key: key },
            validators: indices,
        });
    }
    Ok(out)
}
