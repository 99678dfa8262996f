// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {LibBatch} from "./libs/LibBatch.sol";

/// @title TaikoInbox
/// @notice The L1 inbox of the Taiko L2: proposers submit batches of L2 blocks, each block with
/// its own tx-list hash (the per-block commitment that keeps multi-block batches slashable).
/// The inbox stores each batch's metadata hash and the running block digest (`LibBatch`), and
/// emits the full metadata for nodes to derive the L2 chain.
///
/// Liveness bonds are charged to the batch's proposer — the account named in the params, which
/// the preconfirmation router vouches for — never to a contract that forwards the call, and
/// are returned when the batch is verified. Proving is out of scope here: an authorised
/// verifier stands in for the proof system (see `docs/protocol.md`).
contract TaikoInbox {
    using LibBatch for LibBatch.BlockParams[];

    /// @notice A stored batch.
    struct Batch {
        bytes32 metaHash;
        address proposer;
        uint64 lastBlockId;
        uint64 proposedAt;
        uint96 bond;
    }

    /// @notice The head of the proposed chain.
    struct Head {
        uint64 nextBatchId;
        uint64 nextBlockId;
        uint64 lastBlockTimestamp;
        uint64 lastAnchorBlockId;
    }

    /// @notice The L2 chain id.
    uint64 public immutable l2ChainId;
    /// @notice The bond charged per batch, in wei.
    uint256 public immutable livenessBond;
    /// @notice The most blocks one batch may carry.
    uint256 public immutable maxBlocksPerBatch;
    /// @notice How many L1 blocks back an anchor block may be.
    uint64 public immutable maxAnchorHeightOffset;
    /// @notice The account allowed to call `initialize`.
    address public immutable deployer;

    /// @notice The only account that may propose, naming the proposer (zero: anyone, for itself).
    address public router;
    /// @notice The account that verifies batches (stands in for the proof system).
    address public verifier;
    /// @notice Whether `initialize` ran.
    bool public initialized;

    /// @notice The head of the proposed chain.
    Head public head;
    /// @notice The digest of the last proposed L2 block (zero at genesis).
    bytes32 public lastDigest;
    /// @notice The metadata hash of the last batch (zero at genesis).
    bytes32 public lastMetaHash;
    /// @notice The last verified batch id.
    uint64 public lastVerifiedBatchId;
    /// @notice Batches by id (ids start at 1).
    mapping(uint256 batchId => Batch) public batches;
    /// @notice Bond balances.
    mapping(address account => uint256) public bondBalance;

    /// @notice The router and verifier were set.
    event Initialized(address router, address verifier);
    /// @notice A batch was proposed; `txList` is the calldata tx list (empty for blobs).
    event BatchProposed(uint64 indexed batchId, LibBatch.BatchInfo info, bytes txList);
    /// @notice A batch was verified and its bond returned.
    event BatchVerified(uint64 indexed batchId, address indexed proposer, uint256 bond);
    /// @notice A bond deposit.
    event BondDeposited(address indexed account, uint256 amount);
    /// @notice A bond withdrawal.
    event BondWithdrawn(address indexed account, uint256 amount);

    /// @notice The caller may not initialise, or initialisation already happened.
    error AlreadyInitialized();
    /// @notice The caller is not the router (or, without a router, not the named proposer).
    error NotAuthorisedProposer();
    /// @notice The caller is not the verifier.
    error NotVerifier();
    /// @notice A batch needs between 1 and `maxBlocksPerBatch` blocks.
    error InvalidBlockCount(uint256 count);
    /// @notice `parentMetaHash` is set and is not the last batch's.
    error ParentMetaHashMismatch(bytes32 expected);
    /// @notice The first block's time shift must be zero.
    error FirstTimeShiftNotZero();
    /// @notice The last block's timestamp is after the L1 block's.
    error TimestampInFuture();
    /// @notice The first block would be older than the previous batch's last block.
    error TimestampTooSmall();
    /// @notice An anchor block is outside the allowed range or goes backwards.
    error InvalidAnchorBlock(uint64 anchorBlockId);
    /// @notice Blob params and calldata disagree (both, neither, or bad offsets).
    error InvalidTxListSource();
    /// @notice A referenced blob is not attached to the transaction.
    error BlobNotFound(uint256 index);
    /// @notice The proposer's bond balance is too low.
    error InsufficientBond(uint256 balance, uint256 required);
    /// @notice Batches are verified in order; this is not the next one.
    error NotNextBatch(uint64 expected);
    /// @notice An ETH transfer failed.
    error TransferFailed();

    constructor(
        uint64 l2ChainId_,
        uint256 livenessBond_,
        uint256 maxBlocksPerBatch_,
        uint64 maxAnchorHeightOffset_
    ) {
        l2ChainId = l2ChainId_;
        livenessBond = livenessBond_;
        maxBlocksPerBatch = maxBlocksPerBatch_;
        maxAnchorHeightOffset = maxAnchorHeightOffset_;
        deployer = msg.sender;
        head.nextBatchId = 1;
        head.nextBlockId = 1;
    }

    /// @notice Sets the router (zero for open proposing) and the verifier, once, by the
    /// deployer.
    function initialize(address router_, address verifier_) external {
        if (msg.sender != deployer || initialized) revert AlreadyInitialized();
        initialized = true;
        router = router_;
        verifier = verifier_;
        emit Initialized(router_, verifier_);
    }

    // ---------------------------------------------------------------- bonds

    /// @notice Adds `msg.value` to the caller's bond balance.
    function depositBond() external payable {
        bondBalance[msg.sender] += msg.value;
        emit BondDeposited(msg.sender, msg.value);
    }

    /// @notice Withdraws `amount` from the caller's bond balance.
    function withdrawBond(uint256 amount) external {
        uint256 bal = bondBalance[msg.sender];
        if (amount > bal) revert InsufficientBond(bal, amount);
        bondBalance[msg.sender] = bal - amount;
        emit BondWithdrawn(msg.sender, amount);
        (bool ok,) = msg.sender.call{value: amount}("");
        if (!ok) revert TransferFailed();
    }

    // ---------------------------------------------------------------- proposing

    /// @notice Proposes a batch of L2 blocks.
    /// @param params The batch; `params.proposer` is charged the bond (with no router it must
    /// be the caller or zero, meaning the caller).
    /// @param txList The zlib-compressed RLP tx list of all blocks, or empty when the list
    /// travels in blobs (`params.blobParams`).
    /// @return info The batch metadata, as emitted.
    function proposeBatch(LibBatch.BatchParams calldata params, bytes calldata txList)
        external
        returns (LibBatch.BatchInfo memory info)
    {
        address proposer = _authorisedProposer(params.proposer);
        uint256 n = params.blocks.length;
        if (n == 0 || n > maxBlocksPerBatch) revert InvalidBlockCount(n);
        bytes32 parentMetaHash = lastMetaHash;
        if (params.parentMetaHash != 0 && params.parentMetaHash != parentMetaHash) {
            revert ParentMetaHashMismatch(parentMetaHash);
        }
        Head memory h = head;

        info.batchId = h.nextBatchId;
        info.proposer = proposer;
        info.coinbase = params.coinbase == address(0) ? proposer : params.coinbase;
        info.firstBlockId = h.nextBlockId;
        info.lastBlockId = h.nextBlockId + uint64(n) - 1;
        info.lastBlockTimestamp = params.lastBlockTimestamp;
        info.proposedAt = uint64(block.timestamp);
        info.proposedIn = uint64(block.number);
        info.parentMetaHash = parentMetaHash;
        _setTxListSource(info, params.blobParams, txList);
        info.blocks = params.blocks;
        info.anchorBlockHashes = new bytes32[](n);
        info.parentDigest = lastDigest;

        uint64 anchor = _deriveBlocks(info, params.blocks, h);

        uint256 bond = livenessBond;
        uint256 balance = bondBalance[proposer];
        if (balance < bond) revert InsufficientBond(balance, bond);
        bondBalance[proposer] = balance - bond;

        bytes32 metaHash = keccak256(abi.encode(info));
        batches[info.batchId] =
            Batch(metaHash, proposer, info.lastBlockId, uint64(block.timestamp), uint96(bond));
        head = Head(h.nextBatchId + 1, info.lastBlockId + 1, params.lastBlockTimestamp, anchor);
        lastDigest = info.digest;
        lastMetaHash = metaHash;
        emit BatchProposed(info.batchId, info, txList);
    }

    // ---------------------------------------------------------------- verifying

    /// @notice Marks the next batch verified and returns its bond to its proposer.
    function verifyBatch(uint64 batchId) external {
        if (msg.sender != verifier) revert NotVerifier();
        if (batchId != lastVerifiedBatchId + 1 || batchId >= head.nextBatchId) {
            revert NotNextBatch(lastVerifiedBatchId + 1);
        }
        lastVerifiedBatchId = batchId;
        Batch storage b = batches[batchId];
        uint256 bond = b.bond;
        b.bond = 0;
        bondBalance[b.proposer] += bond;
        emit BatchVerified(batchId, b.proposer, bond);
    }

    // ---------------------------------------------------------------- views

    /// @notice The id the next proposed L2 block gets.
    function nextBlockId() external view returns (uint64) {
        return head.nextBlockId;
    }

    /// @notice The stored metadata hash of `batchId` (zero if unknown).
    function metaHashOf(uint256 batchId) external view returns (bytes32) {
        return batches[batchId].metaHash;
    }

    /// @dev Checks the blocks' timestamps and anchors, and fills in the anchor hashes and the
    /// digest chain. Returns the last anchor block id.
    function _deriveBlocks(
        LibBatch.BatchInfo memory info,
        LibBatch.BlockParams[] calldata blocks,
        Head memory h
    ) private view returns (uint64 anchor) {
        uint256 n = blocks.length;
        if (info.lastBlockTimestamp > block.timestamp) revert TimestampInFuture();
        if (blocks[0].timeShift != 0) revert FirstTimeShiftNotZero();
        uint256 totalShift;
        for (uint256 i = 1; i < n; ++i) {
            totalShift += blocks[i].timeShift;
        }
        if (totalShift > info.lastBlockTimestamp) revert TimestampTooSmall();
        uint64 ts = info.lastBlockTimestamp - uint64(totalShift);
        if (ts < h.lastBlockTimestamp) revert TimestampTooSmall();

        info.digest = info.parentDigest;
        anchor = h.lastAnchorBlockId;
        for (uint256 i; i < n; ++i) {
            ts += blocks[i].timeShift;
            anchor = _checkAnchor(anchor, blocks[i].anchorBlockId);
            info.anchorBlockHashes[i] = blockhash(anchor);
            info.digest = LibBatch.digest(
                info.digest,
                info.firstBlockId + uint64(i),
                blocks[i].txListHash,
                ts,
                anchor,
                info.coinbase
            );
        }
    }

    /// @dev An anchor block must not go back, must be before this block, within
    /// `maxAnchorHeightOffset` of it, and have a known hash.
    function _checkAnchor(uint64 previous, uint64 anchor) private view returns (uint64) {
        if (
            anchor < previous || anchor >= block.number
                || anchor + maxAnchorHeightOffset < block.number || blockhash(anchor) == 0
        ) revert InvalidAnchorBlock(anchor);
        return anchor;
    }

    function _authorisedProposer(address named) private view returns (address) {
        address r = router;
        if (r != address(0)) {
            if (msg.sender != r || named == address(0)) revert NotAuthorisedProposer();
            return named;
        }
        if (named != address(0) && named != msg.sender) revert NotAuthorisedProposer();
        return msg.sender;
    }

    function _setTxListSource(
        LibBatch.BatchInfo memory info,
        LibBatch.BlobParams calldata blob,
        bytes calldata txList
    ) private view {
        if (blob.numBlobs == 0) {
            if (txList.length == 0 || blob.byteOffset != 0 || blob.byteSize != 0) {
                revert InvalidTxListSource();
            }
            info.txListHash = keccak256(txList);
            info.byteSize = uint32(txList.length);
            info.blobHashes = new bytes32[](0);
            return;
        }
        if (txList.length != 0 || blob.byteSize == 0) revert InvalidTxListSource();
        if (uint256(blob.byteOffset) + blob.byteSize > uint256(blob.numBlobs) * 131072) {
            revert InvalidTxListSource();
        }
        info.blobHashes = new bytes32[](blob.numBlobs);
        for (uint256 i; i < blob.numBlobs; ++i) {
            bytes32 h = blobhash(blob.firstBlobIndex + i);
            if (h == 0) revert BlobNotFound(blob.firstBlobIndex + i);
            info.blobHashes[i] = h;
        }
        info.byteOffset = blob.byteOffset;
        info.byteSize = blob.byteSize;
    }
}
