//! The preconfirmation extension, installed into the host node like a reth ExEx.
//!
//! Its modules:
//!
//! - [`clock`]: L2 ticks — when blocks are released within L1 slots (a uniform block time, or
//!   fixed offsets inside each slot such as `3/6/9/12−x s`), over a system or a manual clock;
//! - [`lookahead`]: who may preconfirm each slot — beacon duties × registry, the fallback, and
//!   the owner of any timestamp — exactly as `PreconfTaskManager` accepts it;
//! - [`message`]: the gossip message — a preconfirmed block with its signed commitment, its
//!   versioned, snappy-compressed, size-bounded wire format, and the checks before import;
//! - [`fragment`], [`compact`]: a block streamed round by round ahead of its tick as signed
//!   fragments that followers execute as they arrive, and the compact block message that then
//!   names those fragments instead of carrying their transactions again;
//! - [`p2p`]: libp2p gossipsub for preconfirmed blocks (validated before forwarding, peer
//!   scoring) and catch-up by request/response;
//! - [`protection`]: the slashing-protection database. Before any commitment signature leaves
//!   the process, the (signer, L2 chain, height) → commitment record is durably written; a
//!   different commitment at a recorded height is refused, across crashes and restarts. Records
//!   export to and import from a JSON interchange file in the spirit of EIP-3076;
//! - [`sequencer`]: one preconfirmation step (build on `latest`, commit, protect, sign) and the
//!   follower's import of a gossiped block;
//! - [`service`]: the duty loop of a node — preconfirm in our windows (with end-of-sequencing
//!   at the end of a turn), follow everyone's blocks, catch up on gaps;
//! - [`anchor`], [`schedule`], [`evidence`], [`metrics`], [`runtime`]: the L1 anchor of each
//!   block, the lookahead read from (or computed against) the L1, equivocation and broken
//!   commitment evidence, Prometheus metrics, and the runtime that installs it all into a node;
//! - [`batch`], [`blob`], [`proposer`]: the turn's blocks as one `proposeBatch` — its tx list in
//!   calldata or in blobs, whichever is cheaper at the L1's fees — sent through Bolt or the
//!   mempool by the account's transaction manager, retried until its window closes;
//! - [`derive`], [`reconcile`]: every node follows the inbox: matching batches become `safe`
//!   (then `finalized`), differing ones replace the preconfirmed blocks, and batches beyond the
//!   head are derived from calldata or blob sidecars — how a node syncs from L1 alone;
//! - [`signer`]: the [`signer::PreconfSigner`] trait (a local key from an encrypted keystore
//!   file, or a remote signer such as web3signer behind the same trait) and the
//!   [`signer::CommitmentSigner`] that only signs what the protection database allows.
//!
//! The commitment itself — the EIP-712 `Preconfirmation` — is defined once, in
//! [`taiko_contracts::wire`], where a cross-language test proves the contracts accept it.

#![warn(missing_docs, unreachable_pub)]

pub mod anchor;
pub mod batch;
pub mod blob;
pub mod clock;
pub mod compact;
pub mod derive;
pub mod evidence;
pub mod fragment;
pub mod lookahead;
pub mod message;
pub mod metrics;
pub mod p2p;
pub mod proposer;
pub mod protection;
pub mod reconcile;
pub mod runtime;
pub mod schedule;
pub mod sequencer;
pub mod service;
pub mod signer;
