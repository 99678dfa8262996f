//! The embedded devnet: the three systems preconfirmations live between, on one machine, in
//! seconds.
//!
//! - **L1**: a real node nobody here wrote — anvil from the project's npm tools, Prague rules —
//!   with automine off once set up: the [`driver::SlotDriver`] mines exactly one block per slot
//!   at the slot's timestamp (none for a missed slot). [`ClockMode::Manual`] lets tests advance
//!   slots instantly; [`ClockMode::Wall`] follows the clock.
//! - **Beacon chain**: [`beacon::BeaconSim`], a deterministic validator set with real BLS keys,
//!   a proposer schedule per epoch, and one beacon block per mined slot whose state has the
//!   Electra shape. After each slot the parent beacon root is written into anvil's EIP-4788
//!   contract, so on-chain `get(timestamp)` returns exactly the simulator's roots and proposer
//!   proofs ([`taiko_beacon::ProposerProof`]) verify in the contracts. [`beacon_api`] serves the
//!   standard beacon API subset a preconfer needs.
//! - **Bolt**: [`bolt`], the sidecar's real `bolt_requestInclusion` API for the validators
//!   configured as running Bolt; their committed transactions go to the top of their slot's
//!   block.
//!
//! [`Devnet::start`] brings all of it up, deploys the contracts with the forge script, registers
//! the preconfers and their validators ([`setup`]) and writes a [`Manifest`]. Every child
//! process and server stops when the [`Devnet`] is dropped — on shutdown, on Ctrl-C and on a
//! failing test alike.

#![warn(missing_docs, unreachable_pub)]

pub mod anvil;
pub mod beacon;
pub mod beacon_api;
pub mod bolt;
pub mod clock;
pub mod driver;
pub mod l1;
pub mod process;
pub mod setup;

use std::{
    collections::HashSet,
    path::PathBuf,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{SystemTime, UNIX_EPOCH},
};

use alloy::{
    primitives::{B256, keccak256},
    signers::local::PrivateKeySigner,
};
use parking_lot::RwLock;
use tokio::{net::TcpListener, sync::Mutex as AsyncMutex, task::JoinHandle};

pub use clock::SlotClock;
pub use driver::{SlotDriver, SlotOutcome};
pub use l1::{L1Block, L1Client};
pub use setup::Manifest;

/// Everything that can go wrong bringing the devnet up or running it.
#[derive(Debug, thiserror::Error)]
pub enum DevnetError {
    /// A tool is not installed.
    #[error("{0:?} not found: run `make tools` (npm install of the project's tools)")]
    ToolMissing(PathBuf),
    /// A process could not be started.
    #[error("starting {what}: {source}")]
    Spawn {
        /// The process.
        what: &'static str,
        /// The cause.
        source: std::io::Error,
    },
    /// File or socket I/O.
    #[error("I/O: {0}")]
    Io(std::io::Error),
    /// An L1 JSON-RPC call failed.
    #[error("L1 {method}: {message}")]
    Rpc {
        /// The method.
        method: &'static str,
        /// The error.
        message: String,
    },
    /// A setup transaction failed.
    #[error("transaction failed: {0}")]
    TxFailed(String),
    /// Deploying the contracts failed.
    #[error("deployment: {0}")]
    Deploy(String),
    /// The slot driver hit an inconsistency.
    #[error("slot driver: {0}")]
    Driver(String),
}

impl From<taiko_l1::L1Error> for DevnetError {
    fn from(e: taiko_l1::L1Error) -> Self {
        match e {
            taiko_l1::L1Error::Rpc { method, message } => Self::Rpc { method, message },
            taiko_l1::L1Error::TxFailed(m) => Self::TxFailed(m),
            e @ taiko_l1::L1Error::Beacon { .. } => {
                Self::Rpc { method: "beacon API", message: e.to_string() }
            }
        }
    }
}

/// How slots advance.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClockMode {
    /// Only when [`Devnet::advance_slot`] is called; "now" is the last slot's time.
    Manual,
    /// At each slot's wall-clock time.
    Wall,
}

/// The devnet's notion of "now" (what Bolt deadlines are checked against).
#[derive(Debug)]
pub struct DevnetClock {
    mode: ClockMode,
    manual_now: AtomicU64,
}

impl DevnetClock {
    fn new(mode: ClockMode, start: u64) -> Self {
        Self { mode, manual_now: AtomicU64::new(start) }
    }

    /// The current time: the last slot's timestamp (manual) or the wall clock.
    pub fn now(&self) -> u64 {
        match self.mode {
            ClockMode::Manual => self.manual_now.load(Ordering::Relaxed),
            ClockMode::Wall => unix_now(),
        }
    }

    fn set_manual(&self, ts: u64) {
        self.manual_now.store(ts, Ordering::Relaxed);
    }
}

fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// What to bring up.
#[derive(Clone, Debug)]
pub struct DevnetConfig {
    /// Seconds per slot (12 by default, as on mainnet; a few on a devnet).
    pub slot_secs: u64,
    /// Slots per epoch.
    pub slots_per_epoch: u64,
    /// Number of beacon validators.
    pub validators: usize,
    /// Number of registered preconfers.
    pub preconfers: usize,
    /// Validators mapped onto each preconfer (the first `preconfers × this` validators).
    pub validators_per_preconfer: usize,
    /// Validators running Bolt (`None`: the registered ones).
    pub bolt_validators: Option<Vec<u64>>,
    /// Slots that get no block.
    pub missed_slots: Vec<u64>,
    /// How slots advance.
    pub mode: ClockMode,
    /// L1 chain id.
    pub l1_chain_id: u64,
    /// L2 chain id.
    pub l2_chain_id: u64,
    /// Seed of the validator keys and the proposer schedule.
    pub seed: B256,
    /// Where to write the manifest, if anywhere.
    pub manifest_path: Option<PathBuf>,
}

impl Default for DevnetConfig {
    fn default() -> Self {
        Self {
            slot_secs: 12,
            slots_per_epoch: 32,
            validators: 8,
            preconfers: 2,
            validators_per_preconfer: 2,
            bolt_validators: None,
            missed_slots: vec![],
            mode: ClockMode::Manual,
            l1_chain_id: 31337,
            l2_chain_id: 167010,
            seed: keccak256("taiko-preconf/devnet/beacon"),
            manifest_path: None,
        }
    }
}

/// A running devnet. Dropping it stops everything.
#[derive(Debug)]
pub struct Devnet {
    anvil: anvil::Anvil,
    /// The L1 client.
    pub l1: L1Client,
    /// The beacon simulator.
    pub beacon: Arc<RwLock<beacon::BeaconSim>>,
    /// The Bolt sidecar state.
    pub bolt: Arc<bolt::BoltState>,
    /// The devnet clock.
    pub clock: Arc<DevnetClock>,
    driver: Arc<AsyncMutex<SlotDriver>>,
    manifest: Manifest,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for Devnet {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

async fn serve(router: axum::Router) -> Result<(String, JoinHandle<()>), DevnetError> {
    let listener = TcpListener::bind("127.0.0.1:0").await.map_err(DevnetError::Io)?;
    let addr = listener.local_addr().map_err(DevnetError::Io)?;
    let task = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, router).await {
            tracing::error!(target: "devnet", %e, "server stopped");
        }
    });
    Ok((format!("http://{addr}"), task))
}

impl Devnet {
    /// Brings the devnet up: anvil, contracts, registrations, beacon API and Bolt servers.
    pub async fn start(cfg: DevnetConfig) -> Result<Self, DevnetError> {
        let epoch_secs = cfg.slot_secs * cfg.slots_per_epoch;
        // Setup blocks sit well before the beacon genesis, so registrations are active by then.
        let pre_genesis = (4 * epoch_secs).max(1000);
        let genesis = unix_now() + if cfg.mode == ClockMode::Wall { 15 } else { 0 };
        let clock_params =
            SlotClock { genesis, slot_secs: cfg.slot_secs, slots_per_epoch: cfg.slots_per_epoch };
        let (anvil, l1) = anvil::Anvil::start(genesis - pre_genesis, cfg.l1_chain_id).await?;
        let contracts =
            setup::deploy(&anvil.url, &clock_params, cfg.l2_chain_id, &anvil.port.to_string())?;
        let sim = beacon::BeaconSim::new(clock_params, cfg.seed, cfg.validators);
        let preconfers =
            setup::register(&l1, &contracts, &sim, cfg.preconfers, cfg.validators_per_preconfer)
                .await?;
        // The L2 devnet accounts get L1 funds too (for deposits, bonds, tests).
        let eth = alloy::primitives::U256::from(10).pow(alloy::primitives::U256::from(18));
        for i in 0..20 {
            let key = keccak256(format!("taiko-preconf/devnet/account/{i}"));
            let who = PrivateKeySigner::from_bytes(&key).expect("key").address();
            l1.set_balance(who, eth * alloy::primitives::U256::from(1000)).await?;
        }
        l1.set_automine(false).await?;

        let registered: Vec<u64> = preconfers.iter().flat_map(|p| p.validators.clone()).collect();
        let bolt_validators: HashSet<u64> =
            cfg.bolt_validators.clone().unwrap_or_else(|| registered.clone()).into_iter().collect();
        let validators = sim
            .validators()
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let mut buf = [0u8; 64];
                buf[16..].copy_from_slice(&v.pubkey);
                setup::ValidatorInfo {
                    index: i as u64,
                    pubkey: alloy::hex::encode_prefixed(v.pubkey),
                    key_hash: keccak256(buf),
                    preconfer: preconfers
                        .iter()
                        .find(|p| p.validators.contains(&(i as u64)))
                        .map(|p| p.account.address),
                    bolt: bolt_validators.contains(&(i as u64)),
                }
            })
            .collect();

        let beacon = Arc::new(RwLock::new(sim));
        let clock = Arc::new(DevnetClock::new(cfg.mode, genesis));
        let bolt_signer =
            PrivateKeySigner::from_bytes(&keccak256("taiko-preconf/devnet/bolt-sidecar"))
                .expect("key");
        let bolt = Arc::new(bolt::BoltState::new(bolt_validators, bolt_signer));
        let (beacon_url, beacon_task) = serve(beacon_api::router(beacon.clone())).await?;
        let (bolt_url, bolt_task) =
            serve(bolt::router(bolt.clone(), beacon.clone(), l1.clone(), clock.clone())).await?;
        let driver = Arc::new(AsyncMutex::new(SlotDriver::new(
            l1.clone(),
            beacon.clone(),
            bolt.clone(),
            clock.clone(),
            cfg.missed_slots.iter().copied().collect(),
        )));
        let deployer: PrivateKeySigner = setup::DEPLOYER_KEY.parse().expect("key");
        let manifest = Manifest {
            l1_rpc: anvil.url.clone(),
            l1_chain_id: l1.chain_id(),
            l2_chain_id: cfg.l2_chain_id,
            beacon_api: beacon_url,
            bolt_rpc: bolt_url,
            bolt_signer: bolt.signer.address(),
            clock: clock_params,
            contracts,
            deployer: setup::Account {
                address: deployer.address(),
                private_key: deployer.to_bytes(),
            },
            preconfers,
            validators,
        };
        if let Some(path) = &cfg.manifest_path {
            manifest.write(path)?;
        }
        let mut tasks = vec![beacon_task, bolt_task];
        if cfg.mode == ClockMode::Wall {
            let driver = driver.clone();
            tasks.push(tokio::spawn(async move {
                loop {
                    let next = {
                        let d = driver.lock().await;
                        clock_params.slot_time(d.next_slot())
                    };
                    let wait = next.saturating_sub(unix_now());
                    tokio::time::sleep(std::time::Duration::from_secs(wait)).await;
                    if let Err(e) = driver.lock().await.advance().await {
                        tracing::error!(target: "devnet", %e, "slot failed");
                    }
                }
            }));
        }
        tracing::info!(target: "devnet", l1 = %manifest.l1_rpc, beacon = %manifest.beacon_api, bolt = %manifest.bolt_rpc, "devnet up");
        Ok(Self { anvil, l1, beacon, bolt, clock, driver, manifest, tasks })
    }

    /// The manifest.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// anvil's process id.
    pub fn anvil_pid(&self) -> u32 {
        self.anvil.pid()
    }

    /// Runs the next slot (manual mode; in wall mode the clock task does it).
    pub async fn advance_slot(&self) -> Result<SlotOutcome, DevnetError> {
        self.driver.lock().await.advance().await
    }

    /// The slot the next `advance_slot` mines.
    pub async fn next_slot(&self) -> u64 {
        self.driver.lock().await.next_slot()
    }

    /// Sets the devnet's "now" in manual mode (within a slot, e.g. past a Bolt deadline).
    pub fn clock_set(&self, timestamp: u64) {
        self.clock.set_manual(timestamp);
    }

    /// Marks a future slot as missed.
    pub async fn miss_slot(&self, slot: u64) {
        self.driver.lock().await.miss(slot);
    }
}
