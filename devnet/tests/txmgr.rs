//! The L1 transaction manager against a real anvil: endpoint failover, a stuck transaction
//! replaced with higher fees, an account that cannot pay refused before anything is sent, and a
//! transaction dropped by an L1 reorg sent again.

use std::time::{Duration, Instant};

use alloy::{
    primitives::{Address, Bytes, U256},
    signers::local::PrivateKeySigner,
};
use jsonrpsee::rpc_params;
use serde_json::{Value, json};
use taiko_devnet::{anvil::Anvil, l1::L1Client as AnvilClient, process::free_port};
use taiko_l1::{
    L1Client,
    txmgr::{TxConfig, TxError, TxManager, TxRequest},
};

const CHAIN: u64 = 31337;

/// anvil with automine off, and a funded key.
async fn anvil() -> (Anvil, AnvilClient, PrivateKeySigner) {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap();
    let (anvil, l1) = Anvil::start(now.as_secs() - 1000, CHAIN).await.unwrap();
    l1.set_automine(false).await.unwrap();
    let key = PrivateKeySigner::random();
    l1.set_balance(key.address(), U256::from(10u128.pow(20))).await.unwrap();
    (anvil, l1, key)
}

fn transfer(value: u64) -> TxRequest {
    TxRequest::call(Address::repeat_byte(0x42), Bytes::new(), U256::from(value), 21_000)
}

fn fast() -> TxConfig {
    TxConfig {
        resubmit_after: Duration::from_millis(300),
        poll: Duration::from_millis(50),
        ..Default::default()
    }
}

/// Mines a block every 100 ms until dropped.
fn miner(l1: AnvilClient) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let _: Result<Value, _> = l1.request("evm_mine", rpc_params![]).await;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fails_over_to_the_next_endpoint_and_refuses_another_chain() {
    let (anvil, l1, _) = anvil().await;
    let dead = format!("http://127.0.0.1:{}", free_port().unwrap());
    let client = L1Client::connect(&format!("{dead},{}", anvil.url)).await.unwrap();
    assert_eq!(client.chain_id(), CHAIN);
    assert_eq!(client.active_url(), anvil.url, "the endpoint that answered is active");
    let head = client.latest().await.unwrap();
    assert_eq!(head.number, l1.latest().await.unwrap().number);

    // the active endpoint goes away mid-run: requests move to the next one
    let (other, _) = Anvil::start(1_000, CHAIN).await.unwrap();
    let client = L1Client::connect(&format!("{},{}", anvil.url, other.url)).await.unwrap();
    assert_eq!(client.active_url(), anvil.url);
    drop(anvil);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let b = client.latest().await.unwrap();
    assert_eq!(client.active_url(), other.url, "failed over");
    assert_eq!(b.timestamp, 1_000, "answered by the second anvil");

    // every endpoint down: the error names them all
    drop(other);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let e = client.latest().await.unwrap_err().to_string();
    assert!(e.contains("eth_getBlockByNumber") && e.matches("127.0.0.1").count() == 2, "{e}");

    // an endpoint of another chain is refused at connect
    let (a, _) = Anvil::start(1_000, CHAIN).await.unwrap();
    let (b, _) = Anvil::start(1_000, 1).await.unwrap();
    let e = L1Client::connect(&format!("{},{}", a.url, b.url)).await.unwrap_err().to_string();
    assert!(e.contains("on chain 1") && e.contains(&format!("on chain {CHAIN}")), "{e}");
    let e = L1Client::connect(" , ").await.unwrap_err().to_string();
    assert!(e.contains("no L1 endpoint"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stuck_transaction_is_replaced_with_higher_fees() {
    let (anvil, l1, key) = anvil().await;
    let client = L1Client::connect(&anvil.url).await.unwrap();
    let txs = TxManager::new(client, key.clone(), fast());
    let first = txs.sign(&[transfer(1), transfer(2)], 1).await.unwrap();
    assert_eq!(first.iter().map(|t| t.nonce).collect::<Vec<_>>(), vec![0, 1]);
    txs.broadcast(&first).await.unwrap();
    txs.broadcast(&first).await.unwrap(); // sending again is harmless
    // the base fee jumps past both fee caps: the transactions are stuck
    let jump = first[0].max_fee * 4;
    let _: Value =
        l1.request("anvil_setNextBlockBaseFeePerGas", rpc_params![U256::from(jump)]).await.unwrap();
    let _: Value = l1.request("evm_mine", rpc_params![]).await.unwrap();
    // (anvil drops a transaction its next block cannot take; a geth-like pool keeps it
    // pending: either way it does not land at its fee cap)
    for t in &first {
        assert!(l1.receipt(t.hash).await.unwrap().is_none(), "not mined at its cap");
    }

    let mining = miner(l1.clone());
    let until = Instant::now() + Duration::from_secs(30);
    let mined = txs.confirm(first.clone(), &|| Instant::now() >= until).await.unwrap();
    mining.abort();
    for (m, old) in mined.iter().zip(&first) {
        assert!(m.bumps >= 1, "replaced at least once: {m:?}");
        assert_ne!(m.hash, old.hash, "a replacement was mined, not the stuck original");
        let r = l1.receipt(m.hash).await.unwrap().unwrap();
        assert_eq!(r["status"], "0x1");
        assert!(m.effective_gas_price > old.max_fee, "paid more than the stuck cap");
    }
    assert!(l1.receipt(first[0].hash).await.unwrap().is_none(), "the original never landed");
    assert_eq!(txs.mined_nonce().await.unwrap(), 2, "one transaction per nonce");

    // the next group starts after them
    let next = txs.sign(&[transfer(3)], 1).await.unwrap();
    assert_eq!(next[0].nonce, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_that_cannot_pay_sends_nothing() {
    let (anvil, l1, _) = anvil().await;
    let poor = PrivateKeySigner::random();
    l1.set_balance(poor.address(), U256::from(1_000_000u64)).await.unwrap();
    let txs = TxManager::new(L1Client::connect(&anvil.url).await.unwrap(), poor.clone(), fast());
    match txs.sign(&[transfer(1)], 1).await {
        Err(TxError::InsufficientFunds { account, balance, needed }) => {
            assert_eq!(account, poor.address());
            assert_eq!(balance, U256::from(1_000_000u64));
            assert!(needed > balance);
        }
        other => panic!("expected InsufficientFunds, got {other:?}"),
    }
    let cost = txs.max_cost(&[transfer(1)], 1).await.unwrap();
    assert!(cost > U256::from(21_000u64), "{cost}");
    assert!(l1.pending_hashes().await.unwrap().is_empty(), "nothing was sent");

    // a fee cap the operator forbids is refused too
    let rich = PrivateKeySigner::random();
    l1.set_balance(rich.address(), U256::from(10u128.pow(20))).await.unwrap();
    let capped = TxManager::new(
        L1Client::connect(&anvil.url).await.unwrap(),
        rich,
        TxConfig { max_fee_cap: 1, ..fast() },
    );
    assert!(matches!(
        capped.sign(&[transfer(1)], 1).await,
        Err(TxError::FeeTooHigh { cap: 1, .. })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transaction_dropped_by_an_l1_reorg_is_sent_again() {
    let (anvil, l1, key) = anvil().await;
    let client = L1Client::connect(&anvil.url).await.unwrap();
    let txs = TxManager::new(client, key, TxConfig { confirmations: 3, ..fast() });
    let sent = txs.sign(&[transfer(7)], 1).await.unwrap();
    txs.broadcast(&sent).await.unwrap();
    let _: Value = l1.request("evm_mine", rpc_params![]).await.unwrap();
    let first = l1.receipt(sent[0].hash).await.unwrap().expect("mined");
    let first_block = first["blockHash"].clone();

    let watcher = {
        let sent = sent.clone();
        tokio::spawn(async move {
            let until = Instant::now() + Duration::from_secs(30);
            txs.confirm(sent, &|| Instant::now() >= until).await
        })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    // the block holding it is replaced by an empty one (anvil drops its transactions)
    let _: Value = l1.request("anvil_reorg", rpc_params![1, json!([])]).await.unwrap();
    assert!(l1.receipt(sent[0].hash).await.unwrap().is_none(), "reorged out");
    let mining = miner(l1.clone());
    let mined = watcher.await.unwrap().unwrap();
    mining.abort();
    assert_eq!(mined[0].reorged, 1, "{mined:?}");
    let again = l1.receipt(sent[0].hash).await.unwrap().expect("mined again");
    assert_eq!(again["status"], "0x1");
    assert_ne!(again["blockHash"], first_block, "in a block of the new chain");
    assert_eq!(
        mined[0].block_hash,
        serde_json::from_value::<alloy::primitives::B256>(again["blockHash"].clone()).unwrap()
    );
}
