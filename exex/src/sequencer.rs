//! One preconfirmation, and its mirror on every other node.
//!
//! [`preconfirm`] is the preconfer's step at a tick: build on `latest` from a transaction
//! source (the pool's best transactions), form the commitment, pass it through slashing
//! protection and sign it. The caller then publishes the message and [`commit`]s the block
//! (the order the issue asks for: sign → publish → import); a crash between any two of these
//! leaves the protection record, so a restart can only re-sign the same block.
//!
//! [`follow`] is what every node does with a gossiped message: validate it
//! ([`crate::message::validate_for_import`]: the engine checks the body against the header),
//! execute it through the engine (`new_payload`), and make it `latest` (`fork_choice_updated`)
//! if it is valid. An invalid execution, or a body that is not the signed header's, imports
//! nothing.

use alloy::primitives::B256;
use taiko_contracts::wire::Preconfirmation;
use taiko_engine::{EngineError, EngineHandle, ForkchoiceState, PayloadStatus};
use taiko_evm::{BlockAttributes, BuildLimits, ImportError, TxSource};
use taiko_store::SealedBlock;

use crate::{
    message::{
        Ignored, PreconfMessage, Rejection, ValidationContext, Verdict, tx_list_hash,
        tx_list_hash_encoded, validate_for_import, validate_for_import_hashed,
    },
    signer::{CommitmentSigner, SignerError},
};

/// What the preconfer decides for one block besides its transactions.
#[derive(Clone, Debug)]
pub struct BlockPlan {
    /// Timestamp, coinbase, anchor.
    pub attrs: BlockAttributes,
    /// The block digest of the parent (the L1-visible chain position).
    pub parent_digest: B256,
    /// End of the signer's proposal window (L1 timestamp).
    pub window_end: u64,
    /// Whether this is the last block of the turn.
    pub end_of_sequencing: bool,
}

/// Why a step failed.
#[derive(Debug, thiserror::Error)]
pub enum SequencerError {
    /// The engine failed.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// Signing was refused (slashing protection) or failed.
    #[error(transparent)]
    Signer(#[from] SignerError),
    /// A block signed before cannot be published again.
    #[error("resuming: {0}")]
    Resume(String),
}

/// A signed block, ready to publish.
#[derive(Clone, Debug)]
pub struct Signed {
    /// The message.
    pub message: PreconfMessage,
    /// Its unsigned part, as slashing protection recorded it
    /// ([`PreconfMessage::unsigned_payload`]).
    pub unsigned: Vec<u8>,
}

impl Signed {
    /// The full message's wire bytes, made from the recorded payload (the block is not encoded
    /// again). Not made eagerly: a preconfer that streamed the block in fragments publishes
    /// the compact form ([`crate::compact`]) instead.
    pub fn wire(&self) -> Vec<u8> {
        PreconfMessage::encode_signed(&self.unsigned, &self.message.signature)
    }
}

/// Builds and signs the next block; returns the message to publish.
pub async fn preconfirm(
    engine: &EngineHandle,
    source: Box<dyn TxSource + Send>,
    limits: BuildLimits,
    signer: &CommitmentSigner,
    l2_chain_id: u64,
    plan: BlockPlan,
) -> Result<Signed, SequencerError> {
    let started = std::time::Instant::now();
    let built = engine.build_payload(plan.attrs.clone(), source, limits).await?;
    let built_at = started.elapsed();
    let block = built.block.block;
    let header = block.header();
    // the transactions as the build session encoded them, if it did
    let encoded = built.encoded_txs.filter(|e| e.len() == block.transactions().len());
    let txs_hash = match &encoded {
        Some(e) => tx_list_hash_encoded(block.block(), e.bytes()),
        None => tx_list_hash(block.block()),
    };
    let commitment = Preconfirmation {
        l2ChainId: l2_chain_id,
        blockNumber: header.number,
        parentHash: header.parent_hash,
        blockHash: block.hash(),
        parentDigest: plan.parent_digest,
        txListHash: txs_hash,
        timestamp: header.timestamp,
        anchorBlockId: plan.attrs.anchor.l1_block_id,
        coinbase: header.beneficiary,
        windowEnd: plan.window_end,
        endOfSequencing: plan.end_of_sequencing,
    };
    let unsigned = match &encoded {
        Some(e) => PreconfMessage::unsigned_payload_encoded(&commitment, block.block(), e.bytes()),
        None => PreconfMessage::unsigned_payload(&commitment, block.block()),
    };
    let signature = signer.sign_with_payload(&commitment, &unsigned).await?;
    tracing::info!(target: "preconf::sequencer", number = header.number, hash = %block.hash(), txs = block.block().body.transactions.len(), build_ms = built_at.as_secs_f64() * 1e3, sign_ms = (started.elapsed() - built_at).as_secs_f64() * 1e3, "preconfirmed");
    Ok(Signed {
        message: PreconfMessage { commitment, signature, block: block.into_block() },
        unsigned,
    })
}

/// After a restart: the block this signer already signed at `height`, re-signed (the same
/// commitment, so slashing protection allows it) and ready to publish and commit — or `None`
/// if nothing was signed there. A preconfer calls it for `latest + 1` before building, so a crash
/// between signing and publishing, or between publishing and importing, ends with exactly that
/// block published and imported.
pub async fn resume(
    signer: &CommitmentSigner,
    l2_chain_id: u64,
    height: u64,
) -> Result<Option<Signed>, SequencerError> {
    let Some(payload) = signer
        .protection()
        .payload(signer.address(), l2_chain_id, height)
        .map_err(SignerError::from)?
    else {
        return Ok(None);
    };
    let unsigned = PreconfMessage::from_unsigned_payload(&payload, [0u8; 65])
        .map_err(|e| SignerError::Signing(format!("stored payload at height {height}: {e}")))?;
    let signature = signer.sign_with_payload(&unsigned.commitment, &payload).await?;
    tracing::info!(target: "preconf::sequencer", height, hash = %unsigned.commitment.blockHash, "resuming a signed block");
    Ok(Some(Signed { message: PreconfMessage { signature, ..unsigned }, unsigned: payload }))
}

/// Makes a block we built and signed `latest`.
pub async fn commit(engine: &EngineHandle, hash: B256) -> Result<(), SequencerError> {
    engine.fork_choice_updated(ForkchoiceState { head: hash, ..Default::default() }).await?;
    Ok(())
}

/// What happened to a gossiped message.
#[derive(Debug, PartialEq, Eq)]
pub enum FollowOutcome {
    /// Executed and now `latest`.
    Imported,
    /// Valid but not for now.
    Ignored(Ignored),
    /// Refused before execution.
    Rejected(Rejection),
    /// Its execution is invalid; nothing was imported.
    Invalid(ImportError),
}

/// Runs CPU-bound work (decoding, hashing, signature checks of a whole block) without holding
/// up the runtime's other tasks: on a multi-threaded runtime the worker hands its queue to
/// another thread first (`block_in_place`), so the node's networking — and, in one process,
/// other nodes' — keeps running while a block is checked; elsewhere it simply runs.
pub fn cpu_bound<R>(f: impl FnOnce() -> R) -> R {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(RuntimeFlavor::MultiThread) => tokio::task::block_in_place(f),
        _ => f(),
    }
}

/// Validates, executes and (if valid) adopts a gossiped block.
pub async fn follow(
    engine: &EngineHandle,
    msg: &PreconfMessage,
    ctx: &impl ValidationContext,
) -> Result<FollowOutcome, SequencerError> {
    follow_with_senders(engine, msg, ctx, None, |_| None).await
}

/// As [`follow`], with the senders of the block's transactions taken from `senders` (the
/// pool: it recovered them when the transactions were gossiped) when it knows them all, so
/// import does not recover thousands of signatures again on the critical path; and with the
/// block's tx-list hash when the caller computed it from encodings it holds.
pub async fn follow_with_senders(
    engine: &EngineHandle,
    msg: &PreconfMessage,
    ctx: &impl ValidationContext,
    tx_list_hash: Option<B256>,
    senders: impl FnOnce(&crate::message::Block) -> Option<Vec<alloy::primitives::Address>>,
) -> Result<FollowOutcome, SequencerError> {
    let t0 = std::time::Instant::now();
    // validation and the senders lookup hash and check the whole block
    let verdict = || match tx_list_hash {
        Some(h) => validate_for_import_hashed(msg, ctx, h),
        None => validate_for_import(msg, ctx),
    };
    let checked = cpu_bound(|| match verdict() {
        Verdict::Reject(r) => Err(FollowOutcome::Rejected(r)),
        Verdict::Ignore { why, .. } => Err(FollowOutcome::Ignored(why)),
        Verdict::Accept { .. } => Ok(senders(&msg.block)),
    });
    let known = match checked {
        Ok(known) => known,
        Err(outcome) => return Ok(outcome),
    };
    let hash = msg.commitment.blockHash;
    let t1 = t0.elapsed();
    let sealed = SealedBlock::new_unchecked(msg.block.clone(), hash);
    // validated and made `latest` in one turn of the engine
    let status = engine.new_payload_as_head(sealed, known).await?;
    match status {
        PayloadStatus::Valid => {
            tracing::debug!(target: "preconf::sequencer", checks_ms = t1.as_secs_f64() * 1e3, adopted_ms = t0.elapsed().as_secs_f64() * 1e3, "follow timings");
            Ok(FollowOutcome::Imported)
        }
        PayloadStatus::Accepted => Ok(FollowOutcome::Ignored(Ignored::OtherBranch)),
        PayloadStatus::Invalid(e) => Ok(FollowOutcome::Invalid(e)),
    }
}
