//! The gossip message: a preconfirmed block with its signed commitment.
//!
//! Wire format, version 1 — raw snappy of:
//!
//! ```text
//! version (1 byte) ‖ flags (1 byte, reserved, 0) ‖ signature (65 bytes, r‖s‖v)
//!   ‖ abi.encode(Preconfirmation) (11 words) ‖ RLP(block)
//! ```
//!
//! Everything is signed: the commitment names the block hash (so every header field, and through
//! the transactions root every transaction, is covered) and carries the end-of-sequencing mark,
//! so a relayer cannot alter a block or flip a handover without breaking the signature.
//!
//! Both sizes are bounded before anything is allocated: at most [`MAX_COMPRESSED`] bytes on
//! the wire and [`MAX_DECOMPRESSED`] after snappy (the length snappy announces is checked first).
//! The message id is the first 20 bytes of `keccak256` of the wire bytes ([`message_id`]):
//! relays forward what they received, so every copy has one id, and no node decompresses a
//! block just to name it.
//!
//! [`validate`] applies the checks a node makes before forwarding or importing: the chain, the
//! block matching its commitment (number, parent, timestamp, coinbase, tx-list hash, the
//! transactions root, the block hash — so no transaction, the anchor included, can change), the
//! signature, and that the signer owns the preconfirmation window of the block's timestamp; then
//! continuity with the local head decides between importing now and ignoring (old, gap, other
//! branch). Execution is checked by importing. [`validate_for_import`] is the same without the
//! transactions root, for a follower that hands the block straight to the engine, whose import
//! checks the body against the header before applying anything.

use alloy::{
    consensus::TxEnvelope,
    primitives::{Address, B256, keccak256},
    rlp::{Decodable, Encodable},
    sol_types::{Eip712Domain, SolValue},
};
use taiko_contracts::wire::Preconfirmation;

use crate::signer::recover_commitment_signer;

/// The current wire version.
pub const VERSION: u8 = 1;
/// Largest message on the wire.
pub const MAX_COMPRESSED: usize = 1 << 20;
/// Largest message after decompression.
pub const MAX_DECOMPRESSED: usize = 4 << 20;
pub(crate) const COMMITMENT_LEN: usize = 11 * 32;
const HEAD_LEN: usize = 2 + 65 + COMMITMENT_LEN;

/// An L2 block as gossiped (header and transactions, the anchor first).
pub type Block = alloy::consensus::Block<TxEnvelope>;

/// A preconfirmed block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PreconfMessage {
    /// The signed commitment (its `endOfSequencing` marks the last block of a turn).
    pub commitment: Preconfirmation,
    /// Its signature.
    pub signature: [u8; 65],
    /// The block.
    pub block: Block,
}

/// Why bytes are not a message.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DecodeError {
    /// Over [`MAX_COMPRESSED`] or announcing more than [`MAX_DECOMPRESSED`].
    #[error("message too large: {0} bytes")]
    TooLarge(usize),
    /// Not valid snappy.
    #[error("snappy: {0}")]
    Snappy(String),
    /// An unknown version.
    #[error("unsupported version {0}")]
    Version(u8),
    /// Reserved flag bits are set.
    #[error("reserved flags {0:#x}")]
    Flags(u8),
    /// Shorter than the fixed head.
    #[error("truncated message")]
    Truncated,
    /// The commitment does not decode.
    #[error("commitment: {0}")]
    Commitment(String),
    /// The block does not decode, or bytes follow it.
    #[error("block: {0}")]
    Block(String),
}

impl PreconfMessage {
    /// The payload before compression.
    pub fn payload(&self) -> Vec<u8> {
        let mut out = payload_head(&self.signature, COMMITMENT_LEN + self.block.length());
        write_unsigned(&self.commitment, &self.block, &mut out);
        out
    }

    /// The unsigned part — `abi.encode(commitment) ‖ RLP(block)` — kept by slashing protection.
    pub fn unsigned_payload(commitment: &Preconfirmation, block: &Block) -> Vec<u8> {
        let mut out = Vec::with_capacity(COMMITMENT_LEN + block.length());
        write_unsigned(commitment, block, &mut out);
        out
    }

    /// [`Self::unsigned_payload`] of a block whose transactions are already encoded: `encoded`
    /// is each transaction's RLP, concatenated, the anchor first (as a build session keeps
    /// them, [`taiko_store::EncodedTxs`]), so they are not encoded again.
    pub fn unsigned_payload_encoded(
        commitment: &Preconfirmation,
        block: &Block,
        encoded: &[u8],
    ) -> Vec<u8> {
        let header = alloy::rlp::encode(&block.header);
        let txs = alloy::rlp::Header { list: true, payload_length: encoded.len() };
        let ommers = alloy::rlp::encode(&block.body.ommers);
        let withdrawals = block.body.withdrawals.as_ref().map(alloy::rlp::encode);
        let rest = ommers.len() + withdrawals.as_ref().map_or(0, Vec::len);
        let list = alloy::rlp::Header {
            list: true,
            payload_length: header.len() + txs.length() + encoded.len() + rest,
        };
        let mut out = Vec::with_capacity(COMMITMENT_LEN + list.length() + list.payload_length);
        out.extend_from_slice(&commitment.abi_encode());
        list.encode(&mut out);
        out.extend_from_slice(&header);
        txs.encode(&mut out);
        out.extend_from_slice(encoded);
        out.extend_from_slice(&ommers);
        out.extend_from_slice(withdrawals.as_deref().unwrap_or_default());
        debug_assert_eq!(
            out,
            Self::unsigned_payload(commitment, block),
            "not the block's encodings"
        );
        out
    }

    /// The wire bytes of the message whose unsigned part is `unsigned` (as
    /// [`Self::unsigned_payload`] makes it) signed with `signature`: equal to [`Self::encode`]
    /// of that message, without encoding the block again.
    pub fn encode_signed(unsigned: &[u8], signature: &[u8; 65]) -> Vec<u8> {
        let mut payload = payload_head(signature, unsigned.len());
        payload.extend_from_slice(unsigned);
        compress(&payload)
    }

    /// Rebuilds a message from its unsigned part and a signature.
    pub fn from_unsigned_payload(bytes: &[u8], signature: [u8; 65]) -> Result<Self, DecodeError> {
        if bytes.len() < COMMITMENT_LEN {
            return Err(DecodeError::Truncated);
        }
        let commitment = Preconfirmation::abi_decode(&bytes[..COMMITMENT_LEN])
            .map_err(|e| DecodeError::Commitment(e.to_string()))?;
        let mut rest = &bytes[COMMITMENT_LEN..];
        let block = Block::decode(&mut rest).map_err(|e| DecodeError::Block(e.to_string()))?;
        if !rest.is_empty() {
            return Err(DecodeError::Block(format!("{} trailing bytes", rest.len())));
        }
        Ok(Self { commitment, signature, block })
    }

    /// The wire bytes.
    pub fn encode(&self) -> Vec<u8> {
        compress(&self.payload())
    }

    /// Parses wire bytes.
    pub fn decode(wire: &[u8]) -> Result<Self, DecodeError> {
        Self::decode_payload(&decompress(wire)?)
    }

    /// Parses a decompressed payload.
    pub fn decode_payload(p: &[u8]) -> Result<Self, DecodeError> {
        let (signature, unsigned) = split_payload(p, 0)?;
        Self::from_unsigned_payload(unsigned, signature)
    }
}

/// Checks a block message payload's head — long enough for the commitment, [`VERSION`],
/// `flags` — and splits it into the signature and what follows it.
pub(crate) fn split_payload(p: &[u8], flags: u8) -> Result<([u8; 65], &[u8]), DecodeError> {
    if p.len() < HEAD_LEN {
        return Err(DecodeError::Truncated);
    }
    if p[0] != VERSION {
        return Err(DecodeError::Version(p[0]));
    }
    if p[1] != flags {
        return Err(DecodeError::Flags(p[1]));
    }
    Ok((p[2..67].try_into().expect("65 bytes"), &p[67..]))
}

/// `version ‖ flags ‖ signature`, with room for `rest` more bytes of payload.
pub(crate) fn payload_head(signature: &[u8; 65], rest: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEAD_LEN - COMMITMENT_LEN + rest);
    out.push(VERSION);
    out.push(0);
    out.extend_from_slice(signature);
    out
}

/// `abi.encode(commitment) ‖ RLP(block)`, appended to `out`.
fn write_unsigned(commitment: &Preconfirmation, block: &Block, out: &mut Vec<u8>) {
    out.extend_from_slice(&commitment.abi_encode());
    block.encode(out);
}

/// Raw snappy of a payload.
pub(crate) fn compress(payload: &[u8]) -> Vec<u8> {
    snap::raw::Encoder::new().compress_vec(payload).expect("in-memory compression")
}

/// Decompresses wire bytes within the size limits.
pub fn decompress(wire: &[u8]) -> Result<Vec<u8>, DecodeError> {
    if wire.len() > MAX_COMPRESSED {
        return Err(DecodeError::TooLarge(wire.len()));
    }
    let len = snap::raw::decompress_len(wire).map_err(|e| DecodeError::Snappy(e.to_string()))?;
    if len > MAX_DECOMPRESSED {
        return Err(DecodeError::TooLarge(len));
    }
    snap::raw::Decoder::new().decompress_vec(wire).map_err(|e| DecodeError::Snappy(e.to_string()))
}

/// The message id: the first 20 bytes of `keccak256` of the wire bytes.
///
/// Relays forward the bytes they received, so every copy of a message has one id. It hashes
/// the compressed bytes rather than the payload: no node decompresses a block just to name it,
/// and the hash covers less than half the bytes. The price is that a relay re-compressing a
/// payload differently makes a new id; that copy then costs its receivers one decode and is
/// ignored as old, as any late duplicate is.
pub fn message_id(wire: &[u8]) -> Vec<u8> {
    keccak256(wire)[..20].to_vec()
}

/// `keccak256(RLP(transactions without the anchor))`: the tx-list hash a commitment carries.
pub fn tx_list_hash(block: &Block) -> B256 {
    tx_list_hash_of(block.body.transactions.get(1..).unwrap_or_default())
}

/// [`tx_list_hash`] of a block whose transactions are already encoded (`encoded`: each
/// transaction's RLP, concatenated, the anchor first): one pass of hashing, no encoding.
pub fn tx_list_hash_encoded(block: &Block, encoded: &[u8]) -> B256 {
    let anchor = block.body.transactions.first().map_or(0, Encodable::length);
    let hash = tx_list_hash_of_parts(&[&encoded[anchor.min(encoded.len())..]]);
    debug_assert_eq!(hash, tx_list_hash(block), "not the block's encodings");
    hash
}

/// keccak256 of the RLP list whose items' encodings are `parts`, concatenated in order: a
/// block's tx-list hash from encodings held in pieces (a follower's fragments, then the tail).
pub fn tx_list_hash_of_parts(parts: &[&[u8]]) -> B256 {
    let len = parts.iter().map(|p| p.len()).sum();
    let mut header = Vec::with_capacity(9);
    alloy::rlp::Header { list: true, payload_length: len }.encode(&mut header);
    let mut hasher = alloy::primitives::Keccak256::new();
    hasher.update(&header);
    for p in parts {
        hasher.update(p);
    }
    hasher.finalize()
}

/// keccak256 of the RLP list of `txs` (a block's user transactions).
pub fn tx_list_hash_of(txs: &[TxEnvelope]) -> B256 {
    let mut out = Vec::new();
    alloy::rlp::encode_list::<TxEnvelope, TxEnvelope>(txs, &mut out);
    keccak256(out)
}

/// What a node knows when it checks a message.
pub trait ValidationContext {
    /// The L2 chain id.
    fn l2_chain_id(&self) -> u64;
    /// The commitment domain (L1 chain, task manager).
    fn domain(&self) -> &Eip712Domain;
    /// The preconfer owning the window that contains `timestamp`, if known.
    fn preconfer_at(&self, timestamp: u64) -> Option<Address>;
    /// The local head: number and hash.
    fn head(&self) -> (u64, B256);
}

/// Why a message is refused: the sender is penalised.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Rejection {
    /// Not decodable.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// For another L2 chain.
    #[error("commitment for chain {0}")]
    WrongChain(u64),
    /// The block is not the one committed to.
    #[error("block does not match its commitment: {0}")]
    Mismatch(&'static str),
    /// The signature does not recover.
    #[error("bad signature")]
    BadSignature,
    /// Signed by someone who does not own the window.
    #[error("signed by {signer}, the window belongs to {expected:?}")]
    NotThePreconfer {
        /// The signer.
        signer: Address,
        /// The window's owner, if known.
        expected: Option<Address>,
    },
}

/// Why a valid message is not imported now: nobody is penalised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ignored {
    /// At or below the head.
    Old,
    /// Blocks are missing between the head and it (fetch them).
    Gap {
        /// The first missing number.
        from: u64,
    },
    /// It does not extend the head.
    OtherBranch,
    /// Its timestamp is in no window this node knows yet (its lookahead is not loaded): the
    /// block may be valid, so the sender is not penalised; a later gap fetch brings it.
    UnknownWindow,
}

/// The outcome of [`validate`].
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Forward and import.
    Accept {
        /// The signer.
        signer: Address,
    },
    /// Valid but not for now.
    Ignore {
        /// The signer.
        signer: Address,
        /// Why.
        why: Ignored,
    },
    /// Invalid.
    Reject(Rejection),
}

/// Checks a decoded message: its commitment, its signature, its signer and, through the
/// transactions root, that its body is the one the signed header names.
pub fn validate(msg: &PreconfMessage, ctx: &impl ValidationContext) -> Verdict {
    verdict(msg, ctx, BodyCheck::TransactionsRoot, None)
}

/// As [`validate`], without recomputing the transactions root: for a caller that hands an
/// accepted message straight to the engine, whose import checks the body against the header
/// before anything is applied (a full import recomputes the transactions root; an import
/// through a build session compares every transaction, the anchor included, with the session's,
/// whose root the sealed header carries). A message whose body does not match its header is
/// then refused by the import as invalid instead of here. This saves hashing the whole block a
/// second time on each follower's latency path.
pub fn validate_for_import(msg: &PreconfMessage, ctx: &impl ValidationContext) -> Verdict {
    verdict(msg, ctx, BodyCheck::ByImport, None)
}

/// As [`validate_for_import`], with the block's tx-list hash already computed by the caller
/// from encodings it holds of the block's very transactions (a follower that rebuilt the
/// block from fragments: [`tx_list_hash_encoded`]'s result), so the block is not encoded again.
pub fn validate_for_import_hashed(
    msg: &PreconfMessage,
    ctx: &impl ValidationContext,
    tx_list_hash: B256,
) -> Verdict {
    debug_assert_eq!(tx_list_hash, self::tx_list_hash(&msg.block), "not the block's tx-list hash");
    verdict(msg, ctx, BodyCheck::ByImport, Some(tx_list_hash))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum BodyCheck {
    TransactionsRoot,
    ByImport,
}

fn verdict(
    msg: &PreconfMessage,
    ctx: &impl ValidationContext,
    body: BodyCheck,
    txs_hash: Option<B256>,
) -> Verdict {
    match check(msg, ctx, body, txs_hash) {
        Err(Rejection::NotThePreconfer { signer, expected: None }) => {
            Verdict::Ignore { signer, why: Ignored::UnknownWindow }
        }
        Err(r) => Verdict::Reject(r),
        Ok(signer) => {
            let (head, head_hash) = ctx.head();
            let n = msg.block.header.number;
            if n <= head {
                Verdict::Ignore { signer, why: Ignored::Old }
            } else if n > head + 1 {
                Verdict::Ignore { signer, why: Ignored::Gap { from: head + 1 } }
            } else if msg.block.header.parent_hash != head_hash {
                Verdict::Ignore { signer, why: Ignored::OtherBranch }
            } else {
                Verdict::Accept { signer }
            }
        }
    }
}

fn check(
    msg: &PreconfMessage,
    ctx: &impl ValidationContext,
    body: BodyCheck,
    txs_hash: Option<B256>,
) -> Result<Address, Rejection> {
    let c = &msg.commitment;
    let h = &msg.block.header;
    if c.l2ChainId != ctx.l2_chain_id() {
        return Err(Rejection::WrongChain(c.l2ChainId));
    }
    if h.number != c.blockNumber {
        return Err(Rejection::Mismatch("number"));
    }
    if h.parent_hash != c.parentHash {
        return Err(Rejection::Mismatch("parent hash"));
    }
    if h.timestamp != c.timestamp {
        return Err(Rejection::Mismatch("timestamp"));
    }
    if h.beneficiary != c.coinbase {
        return Err(Rejection::Mismatch("coinbase"));
    }
    if txs_hash.unwrap_or_else(|| tx_list_hash(&msg.block)) != c.txListHash {
        return Err(Rejection::Mismatch("tx-list hash"));
    }
    if body == BodyCheck::TransactionsRoot
        && alloy::consensus::proofs::calculate_transaction_root(&msg.block.body.transactions)
            != h.transactions_root
    {
        return Err(Rejection::Mismatch("transactions root"));
    }
    if h.hash_slow() != c.blockHash {
        return Err(Rejection::Mismatch("block hash"));
    }
    let signer = recover_commitment_signer(c, ctx.domain(), &msg.signature)
        .ok_or(Rejection::BadSignature)?;
    let expected = ctx.preconfer_at(c.timestamp);
    if expected != Some(signer) {
        return Err(Rejection::NotThePreconfer { signer, expected });
    }
    Ok(signer)
}
