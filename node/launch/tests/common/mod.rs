//! A node for client tests: RPC on a free loopback port, blocks produced on demand.

#![allow(dead_code, unreachable_pub)]

use alloy::primitives::B256;
use std::{
    path::PathBuf,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};
use taiko_chainspec::ChainSpec;
use taiko_engine::ForkchoiceState;
use taiko_evm::{BuildLimits, testing::test_attributes};
use taiko_node::{NodeConfig, RunningNode};
use taiko_rpc::RpcConfig;

pub struct TestNode {
    pub node: RunningNode,
    pub http: String,
    pub ws: String,
    pub mining: Arc<AtomicBool>,
    _dir: tempfile::TempDir,
}

/// The project's tools directory (npm-installed cast, node modules).
pub fn tools() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tools")
}

pub async fn start(rpc: RpcConfig) -> TestNode {
    let dir = tempfile::tempdir().unwrap();
    let config = NodeConfig {
        datadir: dir.path().to_path_buf(),
        spec: Arc::new(ChainSpec::devnet()),
        store: Default::default(),
        rpc: Some(RpcConfig { addr: ([127, 0, 0, 1], 0).into(), ..rpc }),
        dev_block_time: None,
        dev_coinbase: alloy::primitives::Address::repeat_byte(0xc0),
    };
    let node = taiko_node::launch(config).await.unwrap();
    let addr = node.rpc_addr.unwrap();
    let mining = Arc::new(AtomicBool::new(true));
    // Produce a block from the pool every 100 ms while `mining` is set.
    let (engine, pool, spec, store, flag) = (
        node.engine.clone(),
        node.pool.clone(),
        node.spec.clone(),
        node.store.clone(),
        mining.clone(),
    );
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_millis(100)).await;
            if !flag.load(Ordering::SeqCst) || pool.size().pending.count == 0 {
                continue;
            }
            let ts = store.latest_header().unwrap().timestamp + 1;
            let built = engine
                .build_payload(
                    test_attributes(ts),
                    Box::new(pool.best_transactions()),
                    BuildLimits::from_spec(&spec),
                )
                .await
                .unwrap();
            engine
                .fork_choice_updated(ForkchoiceState {
                    head: built.block.block.hash(),
                    ..Default::default()
                })
                .await
                .unwrap();
        }
    });
    TestNode { node, http: format!("http://{addr}"), ws: format!("ws://{addr}"), mining, _dir: dir }
}

impl TestNode {
    /// Makes the block with hash `head` the head (a revert when it is an ancestor).
    pub async fn set_head(&self, head: B256) {
        self.node
            .engine
            .fork_choice_updated(ForkchoiceState { head, ..Default::default() })
            .await
            .unwrap();
    }
}

/// Private key of devnet account `i`.
pub fn devnet_key(i: usize) -> String {
    let k = alloy::primitives::keccak256(format!("taiko-preconf/devnet/account/{i}"));
    format!("{k}")
}
