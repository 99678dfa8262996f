//! The preconfer's L1 duty: propose the blocks of its turn inside its window.
//!
//! At the end of a turn (the end-of-sequencing block), [`Proposer::propose_turn`] takes every
//! block after the inbox's last one up to `latest`, checks that this preconfer signed all of
//! them and that the inbox's last digest is the one our chain names, and sends
//! `PreconfTaskManager.proposeBatch` from the preconfer's account: with the lookahead index of
//! the window, the next epoch's lookahead when it is not posted yet, and — when the current
//! epoch was never posted — a `forcePushLookahead` first. Both transactions are sent back to back
//! (consecutive nonces), so they land in the same L1 block: as a Bolt inclusion request to the
//! window proposer's sidecar when configured — committed to the top of its slot — and through
//! the public mempool when Bolt refuses or cannot be reached. The service stops preconfirming
//! `proposal_margin_ms` before the window's end so that block is still in the window.
//!
//! The transactions come from the account's [`TxManager`] (nonces from the mined count, fees
//! priced up to the window's slot, a funds check first). [`Proposer::propose_in_window`] is the
//! duty as the node runs it: propose, then [`TxManager::confirm`] (fee bumps for a stuck
//! proposal, re-broadcast after an L1 reorg) — and when the L1 cannot be reached, try again
//! every half second until the window has closed, so a short L1 outage delays a proposal
//! instead of losing it. [`Proposer::can_pay`] tells whether the account can pay for a turn's
//! proposal at today's fees; the node halts preconfirming when it cannot, because a block it
//! signs and cannot propose is a slashable missed proposal.

use std::{sync::Arc, time::Duration};

use alloy::primitives::{Address, B256, Bytes, U256};
use alloy::sol_types::SolCall;
use taiko_contracts::{PreconfTaskManager, inbox::TaikoInbox};
use taiko_l1::{
    L1Client, L1Error,
    bolt::BoltClient,
    txmgr::{Mined, SignedTx, TxError, TxManager, TxRequest},
};

use crate::{
    anchor::anchor_of,
    batch::{Batch, BatchError, DataChoice, build_batch, proposal_call, to_param},
    clock::Clock,
    lookahead::{lookahead_params, owner_at},
    schedule::{L1Lookahead, LookaheadSchedule},
    service::PreconfService,
};

/// Why a turn could not be proposed.
#[derive(Debug, thiserror::Error)]
pub enum ProposeError {
    /// The L1 failed.
    #[error(transparent)]
    L1(#[from] L1Error),
    /// A transaction could not be sent or did not land.
    #[error(transparent)]
    Tx(#[from] TxError),
    /// The blocks do not form a batch.
    #[error(transparent)]
    Batch(#[from] BatchError),
    /// A block to propose was signed by someone else (their proposal is missing).
    #[error("block {number} was preconfirmed by {signer:?}, not by us")]
    NotOurs {
        /// The block.
        number: u64,
        /// Its signer, if known.
        signer: Option<Address>,
    },
    /// The inbox's chain and ours differ (reconciliation must run first).
    #[error("the inbox's last digest {l1} differs from ours {ours}")]
    Diverged {
        /// The inbox's.
        l1: B256,
        /// Ours.
        ours: B256,
    },
    /// No window contains the inclusion time.
    #[error("no lookahead window at {0}")]
    NoWindow(u64),
    /// The tx list does not fit in blobs.
    #[error(transparent)]
    Blob(#[from] crate::blob::BlobError),
    /// A block is missing from the store.
    #[error("block {0} missing from the store")]
    MissingBlock(u64),
}

/// What a proposal sent.
#[derive(Clone, Debug)]
pub struct Proposal {
    /// The batch.
    pub batch: Batch,
    /// `proposeBatch`'s transaction.
    pub tx: B256,
    /// A `forcePushLookahead` sent before it, if the epoch was not posted.
    pub force_push: Option<B256>,
    /// Whether the window's Bolt proposer committed to include it (else: the public mempool).
    pub via_bolt: bool,
    /// The signed transactions (the force push first, if any).
    pub signed: Vec<SignedTx>,
}

impl ProposeError {
    /// Whether trying again later may succeed (the L1 could not be reached).
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::L1(_) | Self::Tx(TxError::L1(_)))
    }
}

/// Gas limit of each proposal transaction (well above a batch of a few hundred blocks' use;
/// two of them fit Bolt's per-slot commitment limit).
const PROPOSAL_GAS: u64 = 3_000_000;

/// Proposes turns to L1.
#[derive(Clone, Debug)]
pub struct Proposer {
    /// The lookahead source.
    pub lookahead: L1Lookahead,
    /// The preconfer's L1 account.
    pub txs: Arc<TxManager>,
    /// `TaikoInbox`.
    pub inbox: Address,
    /// The Bolt sidecar of our validators, when they run Bolt.
    pub bolt: Option<BoltClient>,
    /// One proposal at a time (they share the account's nonces).
    pub busy: Arc<tokio::sync::Mutex<()>>,
    /// Where tx lists go.
    pub data: DataChoice,
}

impl Proposer {
    /// A proposer sending from `txs`'s account.
    pub fn new(
        lookahead: L1Lookahead,
        txs: Arc<TxManager>,
        inbox: Address,
        bolt: Option<BoltClient>,
    ) -> Self {
        Self { lookahead, txs, inbox, bolt, busy: Default::default(), data: DataChoice::Auto }
    }

    fn l1(&self) -> &L1Client {
        &self.lookahead.l1
    }

    /// The most a turn's proposal can cost (a force push and a `proposeBatch`, at today's
    /// fees), and whether the account holds it.
    pub async fn can_pay(&self) -> Result<(bool, U256, U256), L1Error> {
        let req =
            TxRequest::call(self.lookahead.task_manager, Bytes::new(), U256::ZERO, PROPOSAL_GAS);
        let mut needed = self.txs.max_cost(&[req.clone(), req], FEE_BLOCKS_AHEAD).await?;
        if self.data != DataChoice::Calldata {
            // and a blob, at twice the blob base fee
            let blob_fee = self.txs.blob_fee_cap(self.l1().blob_base_fee().await?);
            needed += U256::from(alloy::eips::eip4844::DATA_GAS_PER_BLOB as u128 * blob_fee);
        }
        let balance = self.l1().balance(self.txs.address()).await?;
        Ok((balance >= needed, balance, needed))
    }

    /// The duty: proposes the turn ending at `window_end` and waits for it to be confirmed on
    /// L1, trying again every half second while the L1 cannot be reached, until the window is
    /// over by `clock`. `None` when there was nothing to propose.
    pub async fn propose_in_window(
        &self,
        service: &PreconfService,
        schedule: &LookaheadSchedule,
        window_end: u64,
        clock: &dyn Clock,
    ) -> Result<Option<(Proposal, Vec<Mined>)>, ProposeError> {
        let _one_at_a_time = self.busy.lock().await;
        let over = || clock.now_ms() / 1000 > window_end;
        let metrics = service.metrics();
        loop {
            let attempt = async {
                match self.propose_turn(service, schedule, window_end).await? {
                    None => Ok::<_, ProposeError>(None),
                    Some(p) => {
                        let mined = self.txs.confirm(p.signed.clone(), &over).await?;
                        Ok(Some((p, mined)))
                    }
                }
            };
            match attempt.await {
                Ok(done) => {
                    if done.is_some() {
                        metrics.proposals.inc();
                    }
                    return Ok(done);
                }
                Err(e) if e.is_transient() && !over() => {
                    metrics.proposal_retries.inc();
                    tracing::warn!(target: "preconf::proposer", %e, window_end, "proposal failed on the L1; trying again");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                Err(e) => {
                    metrics.proposal_failures.inc();
                    return Err(e);
                }
            }
        }
    }

    /// Proposes our unproposed blocks so they land in the window ending at `window_end`;
    /// `None` when there is nothing to propose.
    pub async fn propose_turn(
        &self,
        service: &PreconfService,
        schedule: &LookaheadSchedule,
        window_end: u64,
    ) -> Result<Option<Proposal>, ProposeError> {
        let me = self.txs.address();
        let store = service.store();
        let next = self.l1().call(self.inbox, TaikoInbox::nextBlockIdCall {}).await?;
        let head = store.latest_header().map_err(|_| ProposeError::MissingBlock(0))?.number;
        if next > head {
            return Ok(None);
        }
        let mut blocks = Vec::new();
        let mut anchors = Vec::new();
        for n in next..=head {
            let signer = service.signer_of(n);
            if signer != Some(me) {
                return Err(ProposeError::NotOurs { number: n, signer });
            }
            let b = store.block_by_number(n).ok().flatten().ok_or(ProposeError::MissingBlock(n))?;
            blocks.push(b.block.block().clone());
            anchors.push(anchor_of(store, n).map(|a| a.l1_block_id).unwrap_or(0));
        }
        let ours = service.digest(next - 1).ok_or(ProposeError::MissingBlock(next - 1))?;
        let l1_digest = self.l1().call(self.inbox, TaikoInbox::lastDigestCall {}).await?;
        if l1_digest != ours {
            return Err(ProposeError::Diverged { l1: l1_digest, ours });
        }
        let batch = build_batch(&blocks, &anchors, me, ours)?;
        let blob_fee = match self.data {
            DataChoice::Calldata => 0,
            _ => self.l1().blob_base_fee().await?,
        };
        let in_blobs = self.data.choose(&batch.tx_list, self.l1().base_fee().await?, blob_fee);
        let (batch, sidecar) = if in_blobs {
            let (b, s) = batch.into_blobs()?;
            (b, Some(s))
        } else {
            (batch, None)
        };

        let clock = schedule.clock();
        let epoch = schedule.epoch_at(window_end);
        let tm = self.lookahead.task_manager;
        let mut requests = Vec::new();
        let mut force_pushed = false;
        let current = match self.lookahead.posted(epoch).await? {
            posted if !posted.is_empty() => posted,
            _ => {
                let params =
                    lookahead_params(&clock, &self.lookahead.proposers(&clock, epoch).await?);
                let call = PreconfTaskManager::forcePushLookaheadCall {
                    epoch: U256::from(epoch),
                    entries: params.iter().map(to_param).collect(),
                };
                requests.push(request(tm, call.abi_encode()));
                force_pushed = true;
                self.lookahead.compute(schedule, epoch).await?
            }
        };
        let next_posted = self.lookahead.posted(epoch + 1).await?;
        let next_params = if next_posted.is_empty() {
            lookahead_params(&clock, &self.lookahead.proposers(&clock, epoch + 1).await?)
        } else {
            vec![]
        };
        let next_windows = if next_posted.is_empty() {
            schedule.epoch(epoch + 1).map(|w| w.windows).unwrap_or_default()
        } else {
            next_posted
        };
        let (owner, index) = owner_at(window_end, &current, &next_windows)
            .ok_or(ProposeError::NoWindow(window_end))?;
        if owner != me {
            return Err(ProposeError::NoWindow(window_end));
        }
        let mut propose = request(tm, proposal_call(&batch, index, &next_params).abi_encode());
        propose.sidecar = sidecar;
        requests.push(propose);

        // the window ends at its proposer's slot: ask that proposer's Bolt sidecar first
        let slot = clock.slot_at(window_end);
        let now_slot = self.l1().latest().await.map(|b| clock.slot_at(b.timestamp)).unwrap_or(slot);
        let ahead = u32::try_from(slot.saturating_sub(now_slot)).unwrap_or(u32::MAX);
        let signed = self.txs.sign(&requests, ahead.saturating_add(FEE_BLOCKS_AHEAD)).await?;
        let raws: Vec<Vec<u8>> = signed.iter().map(|t| t.raw.clone()).collect();
        let tx = signed.last().expect("the proposal").hash;
        let force_push = force_pushed.then(|| signed[0].hash);
        let via_bolt = match &self.bolt {
            Some(bolt) => match bolt.request_inclusion(slot, &raws, self.txs.key()).await {
                Ok(Ok(_)) => true,
                Ok(Err(refusal)) => {
                    tracing::warn!(target: "preconf::proposer", slot, %refusal, "Bolt refused; using the public mempool");
                    false
                }
                Err(e) => {
                    tracing::warn!(target: "preconf::proposer", slot, %e, "Bolt unreachable; using the public mempool");
                    false
                }
            },
            None => false,
        };
        if !via_bolt {
            self.txs.broadcast(&signed).await?;
        }
        tracing::info!(target: "preconf::proposer", first = batch.first, last = batch.last, bytes = batch.tx_list.len(), %tx, via_bolt, "batch proposed");
        Ok(Some(Proposal { batch, tx, force_push, via_bolt, signed }))
    }
}

/// Blocks of base-fee growth a proposal's fee cap covers beyond its target slot.
const FEE_BLOCKS_AHEAD: u32 = 2;

fn request(to: Address, input: Vec<u8>) -> TxRequest {
    TxRequest::call(to, input, U256::ZERO, PROPOSAL_GAS)
}
