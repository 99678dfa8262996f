// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {LibFixedPointMath} from "../libs/LibFixedPointMath.sol";

/// @title TaikoAnchor
/// @notice The L2 anchor: the first transaction of every Taiko L2 block calls `anchor`, from the
/// golden-touch account, to record which L1 block the L2 block builds on and to prove that the
/// block's base fee follows the Taiko formula.
/// @dev Predeployed in the L2 genesis at `0x{chainId}0000…10001`. Storage starts zeroed: a zero
/// `parentTimestamp` makes the first block's issuance the per-block maximum, which clamps the
/// excess to `minGasExcess`. The node re-derives the anchor transaction byte for byte (fixed-k
/// signature, fixed calldata), so the configuration passed in is the chain spec's.
contract TaikoAnchor {
    /// @notice Base-fee parameters, identical to the node's chain spec.
    struct BaseFeeConfig {
        uint8 adjustmentQuotient;
        uint8 sharingPctg;
        uint32 gasIssuancePerSecond;
        uint64 minGasExcess;
        uint32 maxGasIssuancePerBlock;
    }

    /// @notice The only account allowed to anchor; its private key is public by design.
    address public constant GOLDEN_TOUCH_ADDRESS = 0x0000777735367b36bC9B61C50022d9D0700dB4Ec;

    /// @notice Gas excess after the last anchored block.
    uint64 public gasExcess;
    /// @notice Timestamp of the last anchored L2 block.
    uint64 public parentTimestamp;
    /// @notice Highest L1 block id anchored so far.
    uint64 public lastAnchorBlockId;
    /// @notice Number of the last L2 block that was anchored.
    uint64 public lastAnchoredL2Block;

    /// @notice L1 block hash by L1 block id, for every anchored L1 block.
    mapping(uint256 l1BlockId => bytes32 blockHash) public l1BlockHashes;
    /// @notice L1 state root by L1 block id, for every anchored L1 block.
    mapping(uint256 l1BlockId => bytes32 stateRoot) public l1StateRoots;
    /// @notice L2 block hashes of anchored blocks' parents.
    mapping(uint256 l2BlockId => bytes32 blockHash) public l2BlockHashes;

    /// @notice Emitted once per L2 block by its anchor transaction.
    /// @param l2BlockId The L2 block being anchored.
    /// @param anchorBlockId The L1 block it builds on.
    /// @param anchorBlockHash That L1 block's hash.
    /// @param anchorStateRoot That L1 block's state root.
    /// @param baseFee The L2 block's base fee, as checked.
    /// @param gasExcess The gas excess after this block.
    event Anchored(
        uint64 indexed l2BlockId,
        uint64 indexed anchorBlockId,
        bytes32 anchorBlockHash,
        bytes32 anchorStateRoot,
        uint256 baseFee,
        uint64 gasExcess
    );

    /// @notice The caller is not the golden-touch account (or not an externally owned call).
    error NotGoldenTouch();
    /// @notice This L2 block was already anchored.
    error AlreadyAnchored();
    /// @notice The anchored L1 block id went backwards.
    error AnchorBlockIdRegressed(uint64 last, uint64 given);
    /// @notice The anchored L1 block hash or state root is zero.
    error InvalidAnchorBlock();
    /// @notice The base-fee configuration is unusable.
    error InvalidBaseFeeConfig();
    /// @notice The block's base fee is not the one the formula gives.
    error BaseFeeMismatch(uint256 expected, uint256 actual);
    /// @notice Plain transfers and unknown calls are refused.
    error Unsupported();

    /// @notice Anchor the current L2 block to an L1 block and check its base fee.
    /// @dev Must be the block's first transaction; the node enforces the position, this contract
    /// enforces the sender, once-per-block and the base fee.
    /// @param _anchorBlockId L1 block id the L2 block builds on (never decreasing).
    /// @param _anchorBlockHash Hash of that L1 block.
    /// @param _anchorStateRoot State root of that L1 block.
    /// @param _parentGasUsed Gas used by the parent L2 block.
    /// @param _cfg Base-fee configuration of the chain.
    function anchor(
        uint64 _anchorBlockId,
        bytes32 _anchorBlockHash,
        bytes32 _anchorStateRoot,
        uint32 _parentGasUsed,
        BaseFeeConfig calldata _cfg
    ) external {
        if (msg.sender != GOLDEN_TOUCH_ADDRESS || tx.origin != GOLDEN_TOUCH_ADDRESS) {
            revert NotGoldenTouch();
        }
        if (block.number <= lastAnchoredL2Block) revert AlreadyAnchored();
        if (_anchorBlockId < lastAnchorBlockId) {
            revert AnchorBlockIdRegressed(lastAnchorBlockId, _anchorBlockId);
        }
        if (_anchorBlockHash == 0 || _anchorStateRoot == 0) revert InvalidAnchorBlock();

        (uint256 baseFee, uint64 newExcess) = calculateBaseFee(
            _cfg, gasExcess, _parentGasUsed, parentTimestamp, uint64(block.timestamp)
        );
        if (block.basefee != baseFee) revert BaseFeeMismatch(baseFee, block.basefee);

        uint256 parentId = block.number - 1;
        l2BlockHashes[parentId] = blockhash(parentId);
        if (_anchorBlockId > lastAnchorBlockId || l1BlockHashes[_anchorBlockId] == 0) {
            l1BlockHashes[_anchorBlockId] = _anchorBlockHash;
            l1StateRoots[_anchorBlockId] = _anchorStateRoot;
            lastAnchorBlockId = _anchorBlockId;
        }
        gasExcess = newExcess;
        parentTimestamp = uint64(block.timestamp);
        lastAnchoredL2Block = uint64(block.number);

        emit Anchored(
            uint64(block.number),
            _anchorBlockId,
            _anchorBlockHash,
            _anchorStateRoot,
            baseFee,
            newExcess
        );
    }

    /// @notice The Taiko base fee of a block and the gas excess after it.
    /// @dev excess' = max(excess + parentGasUsed − min(Δt·issuance, maxIssuance), minGasExcess);
    /// baseFee = max(1, e^(excess'/target) / target) with target = issuance·quotient, capped to
    /// uint64. Identical to the node's Rust implementation.
    /// @param _cfg Base-fee configuration.
    /// @param _gasExcess Gas excess after the parent block.
    /// @param _parentGasUsed Gas used by the parent block.
    /// @param _parentTimestamp Timestamp of the parent block (0 before the first anchor).
    /// @param _timestamp Timestamp of this block.
    /// @return baseFee_ The base fee of this block.
    /// @return gasExcess_ The gas excess after this block.
    function calculateBaseFee(
        BaseFeeConfig calldata _cfg,
        uint64 _gasExcess,
        uint32 _parentGasUsed,
        uint64 _parentTimestamp,
        uint64 _timestamp
    ) public pure returns (uint256 baseFee_, uint64 gasExcess_) {
        if (
            _cfg.adjustmentQuotient == 0 || _cfg.gasIssuancePerSecond == 0 || _cfg.sharingPctg > 100
        ) {
            revert InvalidBaseFeeConfig();
        }
        uint256 dt = _timestamp > _parentTimestamp ? _timestamp - _parentTimestamp : 0;
        uint256 issuance = dt * _cfg.gasIssuancePerSecond;
        if (issuance > _cfg.maxGasIssuancePerBlock) issuance = _cfg.maxGasIssuancePerBlock;

        uint256 excess = uint256(_gasExcess) + _parentGasUsed;
        excess = excess > issuance ? excess - issuance : 0;
        if (excess < _cfg.minGasExcess) excess = _cfg.minGasExcess;
        if (excess > type(uint64).max) excess = type(uint64).max;
        gasExcess_ = uint64(excess);

        uint256 target = uint256(_cfg.gasIssuancePerSecond) * _cfg.adjustmentQuotient;
        uint256 x = (excess * LibFixedPointMath.ONE) / target;
        if (x > LibFixedPointMath.MAX_EXP_INPUT) x = LibFixedPointMath.MAX_EXP_INPUT;
        baseFee_ = LibFixedPointMath.exp(x) / LibFixedPointMath.ONE / target;
        if (baseFee_ == 0) baseFee_ = 1;
        if (baseFee_ > type(uint64).max) baseFee_ = type(uint64).max;
    }

    /// @notice Refuses plain ether transfers.
    receive() external payable {
        revert Unsupported();
    }

    /// @notice Refuses unknown calls.
    fallback() external payable {
        revert Unsupported();
    }
}
