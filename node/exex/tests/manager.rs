//! ExEx manager: ordered delivery, replay after restart, pruning, and fatal exits.

use alloy::{consensus::Header, primitives::B256};
use std::{sync::Arc, time::Duration};
use taiko_node_exex::{
    Chain, ExExContext, ExExError, ExExEvent, ExExManager, ExExNotification, NodeComponents, Wal,
};
use taiko_store::{ExecutedBlock, SealedBlock};
use tokio::sync::mpsc;

#[derive(Clone)]
struct Nothing;
impl NodeComponents for Nothing {
    type Pool = ();
    type Provider = ();
    fn pool(&self) -> &() {
        &()
    }
    fn provider(&self) -> &() {
        &()
    }
}

/// A chain of `n` fake blocks starting at `from` (contents do not matter to the manager).
fn chain(from: u64, n: u64, salt: u8) -> Arc<Chain> {
    let mut parent = B256::repeat_byte(salt);
    let blocks = (from..from + n)
        .map(|number| {
            let header = Header {
                number,
                parent_hash: parent,
                extra_data: vec![salt].into(),
                ..Default::default()
            };
            let block = SealedBlock::from_parts(header, vec![]);
            parent = block.hash();
            ExecutedBlock { block, senders: vec![], receipts: vec![] }
        })
        .collect();
    Arc::new(Chain::new(blocks))
}

/// Installs an ExEx that forwards notifications to the test and acks committed tips up to
/// `ack_limit`.
async fn install(
    manager: &mut ExExManager<Nothing>,
    ack_limit: u64,
) -> mpsc::UnboundedReceiver<ExExNotification> {
    let (tx, rx) = mpsc::unbounded_channel();
    manager
        .install_exex("recorder", move |mut ctx: ExExContext<Nothing>| async move {
            Ok(async move {
                while let Some(n) = ctx.notifications.recv().await {
                    if let Some(c) = n.committed_chain()
                        && c.tip().block.number() <= ack_limit
                    {
                        ctx.events.send(ExExEvent::FinishedHeight(c.tip().num_hash())).unwrap();
                    }
                    tx.send(n).unwrap();
                }
                // Notifications ended: the node is shutting down; stay alive until cancelled.
                std::future::pending::<()>().await;
                Ok(())
            })
        })
        .await
        .unwrap();
    rx
}

async fn recv(rx: &mut mpsc::UnboundedReceiver<ExExNotification>) -> ExExNotification {
    tokio::time::timeout(Duration::from_secs(5), rx.recv()).await.expect("timely").expect("open")
}

#[tokio::test]
async fn delivers_in_order_and_replays_unfinished_after_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wal.redb");
    let sent = vec![
        ExExNotification::ChainCommitted { new: chain(1, 1, 1) },
        ExExNotification::ChainCommitted { new: chain(2, 2, 1) },
        ExExNotification::ChainReorged { old: chain(3, 1, 1), new: chain(3, 2, 2) },
        ExExNotification::ChainReverted { old: chain(4, 1, 2) },
        ExExNotification::ChainCommitted { new: chain(4, 3, 3) },
    ];
    {
        let mut manager = ExExManager::new(Wal::open(&path).unwrap(), Nothing, Default::default());
        let mut rx = install(&mut manager, 3).await;
        let handle = manager.handle();
        let run = tokio::spawn(manager.run());
        for n in &sent {
            handle.notify(n.clone()).unwrap();
        }
        for n in &sent {
            assert_eq!(&recv(&mut rx).await, n, "in order");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        run.abort(); // crash: the ExEx finished only through height 3
        let _ = run.await;
    }
    // Restart over the same log: the first two (finished) are not replayed; the rest are, in order.
    let wal = Wal::open(&path).unwrap();
    assert!(wal.len().unwrap() <= 3, "finished entries were pruned: {}", wal.len().unwrap());
    let mut manager = ExExManager::new(wal, Nothing, Default::default());
    let mut rx = install(&mut manager, u64::MAX).await;
    for n in &sent[2..] {
        assert_eq!(&recv(&mut rx).await, n, "replayed in order");
    }
    let handle = manager.handle();
    let run = tokio::spawn(manager.run());
    let fresh = ExExNotification::ChainCommitted { new: chain(7, 1, 3) };
    handle.notify(fresh.clone()).unwrap();
    assert_eq!(recv(&mut rx).await, fresh, "new notifications follow the replay");
    tokio::time::sleep(Duration::from_millis(200)).await;
    run.abort();
    let _ = run.await;
    assert_eq!(Wal::open(&path).unwrap().len().unwrap(), 0, "everything finished is pruned");
}

#[tokio::test]
async fn an_exex_that_returns_is_fatal() {
    let dir = tempfile::tempdir().unwrap();
    let mut manager = ExExManager::new(
        Wal::open(dir.path().join("wal.redb")).unwrap(),
        Nothing,
        Default::default(),
    );
    manager.install_exex("quitter", |_ctx| async { Ok(async { Ok(()) }) }).await.unwrap();
    let _engine = manager.handle(); // the node is still running
    let result = tokio::time::timeout(Duration::from_secs(5), manager.run()).await.unwrap();
    assert!(
        matches!(result, Err(ExExError::Exited { ref id, .. }) if id == "quitter"),
        "{result:?}"
    );

    let mut manager = ExExManager::new(
        Wal::open(dir.path().join("wal2.redb")).unwrap(),
        Nothing,
        Default::default(),
    );
    manager
        .install_exex("failer", |_ctx| async { Ok(async { Err::<(), _>("boom".into()) }) })
        .await
        .unwrap();
    let _engine = manager.handle();
    match manager.run().await {
        Err(ExExError::Exited { id, reason }) => {
            assert_eq!((id.as_str(), reason.as_str()), ("failer", "boom"))
        }
        other => panic!("{other:?}"),
    }
    let mut manager = ExExManager::new(
        Wal::open(dir.path().join("wal3.redb")).unwrap(),
        Nothing,
        Default::default(),
    );
    manager
        .install_exex("dup", |_ctx| async {
            Ok(std::future::pending::<Result<(), Box<dyn std::error::Error + Send + Sync>>>())
        })
        .await
        .unwrap();
    assert!(matches!(
        manager
            .install_exex("dup", |_ctx| async {
                Ok(std::future::pending::<Result<(), Box<dyn std::error::Error + Send + Sync>>>())
            })
            .await,
        Err(ExExError::DuplicateId(_))
    ));
}

/// The node makes every log append wait for the store's sync of the block log (`log_after`):
/// a notification is neither logged nor delivered before its barrier passes, and a barrier
/// that fails (a failed disk sync) stops the manager with that error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_appends_wait_for_the_barrier_and_a_failed_barrier_is_fatal() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wal.redb");
    // 0: hold, 1: pass, 2: fail
    let gate = Arc::new(std::sync::atomic::AtomicU8::new(0));
    let barrier_gate = gate.clone();
    let mut manager = ExExManager::new(Wal::open(&path).unwrap(), Nothing, Default::default())
        .log_after(Arc::new(move || {
            loop {
                match barrier_gate.load(std::sync::atomic::Ordering::SeqCst) {
                    0 => std::thread::sleep(Duration::from_millis(5)),
                    1 => return Ok(()),
                    _ => return Err("disk sync failed".into()),
                }
            }
        }));
    let mut rx = install(&mut manager, 0).await;
    let handle = manager.handle();
    let run = tokio::spawn(manager.run());
    let first = ExExNotification::ChainCommitted { new: chain(1, 1, 1) };
    handle.notify(first.clone()).unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(rx.try_recv().is_err(), "delivered before the barrier passed");
    gate.store(1, std::sync::atomic::Ordering::SeqCst);
    assert_eq!(recv(&mut rx).await, first, "delivered once the barrier passed");

    gate.store(2, std::sync::atomic::Ordering::SeqCst);
    handle.notify(ExExNotification::ChainCommitted { new: chain(2, 1, 1) }).unwrap();
    let result = tokio::time::timeout(Duration::from_secs(5), run).await.unwrap().unwrap();
    match result {
        Err(ExExError::Wal(reason)) => assert!(reason.contains("disk sync failed"), "{reason}"),
        other => panic!("{other:?}"),
    }
    assert!(rx.try_recv().is_err(), "nothing delivered past a failed barrier");
    drop(handle);
    assert_eq!(Wal::open(&path).unwrap().len().unwrap(), 1, "only the first was logged");
}
