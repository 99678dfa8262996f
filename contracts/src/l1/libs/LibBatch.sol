// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title LibBatch
/// @notice The batch types of the L1 inbox and the two derivations every party must compute
/// identically: an L2 block's timestamp from the batch's time shifts, and the **block digest**
/// chain.
/// @dev The digest of L2 block n is
/// `keccak256(abi.encode(digest(n-1), n, txListHash, timestamp, anchorBlockId, coinbase))`,
/// with `digest(0) = 0` for the genesis block. It commits to everything L1 knows about the
/// chain up to block n, so it plays the role of the parent hash on L1 (which cannot know L2
/// block hashes): a preconfirmation names the digest of its parent, and is void if the chain
/// that was proposed has a different one.
library LibBatch {
    /// @notice One L2 block of a batch. `txListHash` is the per-block commitment: the keccak256
    /// of the block's RLP-encoded transaction list (anchor excluded).
    struct BlockParams {
        uint16 numTransactions;
        uint8 timeShift;
        uint64 anchorBlockId;
        bytes32 txListHash;
    }

    /// @notice Where the batch's compressed tx list sits when it travels in blobs.
    struct BlobParams {
        uint8 firstBlobIndex;
        uint8 numBlobs;
        uint32 byteOffset;
        uint32 byteSize;
    }

    /// @notice What a proposer submits.
    struct BatchParams {
        address proposer;
        address coinbase;
        bytes32 parentMetaHash;
        uint64 lastBlockTimestamp;
        BlobParams blobParams;
        BlockParams[] blocks;
    }

    /// @notice Everything nodes need to derive a batch's L2 blocks; the inbox stores its hash
    /// (`metaHash = keccak256(abi.encode(info))`) and emits it whole.
    struct BatchInfo {
        uint64 batchId;
        address proposer;
        address coinbase;
        uint64 firstBlockId;
        uint64 lastBlockId;
        uint64 lastBlockTimestamp;
        uint64 proposedAt;
        uint64 proposedIn;
        bytes32 parentMetaHash;
        bytes32 txListHash; // keccak256 of the calldata tx list, zero for blobs
        bytes32[] blobHashes;
        uint32 byteOffset;
        uint32 byteSize;
        BlockParams[] blocks;
        bytes32[] anchorBlockHashes;
        bytes32 parentDigest; // digest of the block before `firstBlockId`
        bytes32 digest; // digest of `lastBlockId`
    }

    /// @notice The timestamp of block `i` of a batch whose last block has `lastBlockTimestamp`.
    function blockTimestamp(BlockParams[] memory blocks, uint64 lastBlockTimestamp, uint256 i)
        internal
        pure
        returns (uint64 ts)
    {
        ts = lastBlockTimestamp;
        for (uint256 j = blocks.length - 1; j > i; --j) {
            ts -= blocks[j].timeShift;
        }
    }

    /// @notice The digest of block `blockId` from its parent's digest and its content.
    function digest(
        bytes32 parentDigest,
        uint64 blockId,
        bytes32 txListHash,
        uint64 timestamp,
        uint64 anchorBlockId,
        address coinbase
    ) internal pure returns (bytes32) {
        return keccak256(
            abi.encode(parentDigest, blockId, txListHash, timestamp, anchorBlockId, coinbase)
        );
    }
}
