// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {TestBase, VmLog} from "../utils/TestBase.sol";
import {BLSSigner} from "../utils/BLSSigner.sol";
import {LibBatch} from "../../src/l1/libs/LibBatch.sol";
import {PreconfRegistry} from "../../src/l1/PreconfRegistry.sol";
import {PreconfServiceManager} from "../../src/l1/PreconfServiceManager.sol";
import {PreconfTaskManager} from "../../src/l1/PreconfTaskManager.sol";
import {TaikoInbox} from "../../src/l1/TaikoInbox.sol";
import {IRestaking} from "../../src/l1/restaking/IRestaking.sol";
import {NativeStaking} from "../../src/l1/restaking/NativeStaking.sol";

/// @notice The block digests of a batch's blocks, preceded by the parent digest (`LibBatch`).
function digestChain(LibBatch.BatchParams memory p, uint64 firstBlockId, bytes32 parentDigest)
    pure
    returns (bytes32[] memory d)
{
    d = new bytes32[](p.blocks.length + 1);
    d[0] = parentDigest;
    for (uint256 i; i < p.blocks.length; ++i) {
        d[i + 1] = LibBatch.digest(
            d[i],
            firstBlockId + uint64(i),
            p.blocks[i].txListHash,
            LibBatch.blockTimestamp(p.blocks, p.lastBlockTimestamp, i),
            p.blocks[i].anchorBlockId,
            p.coinbase
        );
    }
}

/// @notice The metadata of the `BatchProposed` event `inbox` emitted among recorded `logs`.
function batchProposedIn(VmLog[] memory logs, address inbox)
    pure
    returns (LibBatch.BatchInfo memory info)
{
    for (uint256 i; i < logs.length; ++i) {
        if (logs[i].emitter == inbox && logs[i].topics[0] == TaikoInbox.BatchProposed.selector) {
            (info,) = abi.decode(logs[i].data, (LibBatch.BatchInfo, bytes));
            return info;
        }
    }
    revert TestBase.AssertionFailed("no BatchProposed event");
}

/// @notice Deploys and wires the L1 contracts (native staking back end) with devnet-like
/// parameters: 2 s slots, 4-slot epochs, so an epoch is 8 s.
abstract contract L1Fixture is TestBase {
    uint64 internal constant L2_CHAIN_ID = 167010;
    uint64 internal constant SLOT = 2;
    uint64 internal constant SLOTS_PER_EPOCH = 4;
    uint64 internal constant EPOCH = SLOT * SLOTS_PER_EPOCH;
    uint64 internal constant GENESIS = 1_000_000;
    uint64 internal constant DISPUTE_WINDOW = 2 * EPOCH;
    uint64 internal constant ACTIVATION_DELAY = 2 * EPOCH;
    uint256 internal constant MIN_STAKE = 1 ether;
    uint256 internal constant BOND = 0.1 ether;

    NativeStaking internal staking;
    PreconfServiceManager internal sm;
    PreconfRegistry internal registry;
    TaikoInbox internal inbox;
    PreconfTaskManager internal tm;

    uint256 internal constant ALICE_KEY = 0xA11CE;
    uint256 internal constant BOB_KEY = 0xB0B;
    address internal alice;
    address internal bob;
    uint256 internal constant ALICE_BLS = 0x1234567890abcdef;
    uint256 internal constant BOB_BLS = 0xfedcba0987654321;

    /// @dev Challenge rewards paid to this contract.
    receive() external payable {}

    function setUp() public virtual {
        vm.warp(GENESIS + 100 * EPOCH);
        vm.roll(1000);
        alice = vm.addr(ALICE_KEY);
        bob = vm.addr(BOB_KEY);
        staking = new NativeStaking(DISPUTE_WINDOW + 2 * EPOCH);
        (sm, registry, inbox, tm) = _deploy(IRestaking(address(staking)), address(this));
        staking.initialize(address(sm));
    }

    function _deploy(IRestaking restaking, address verifier)
        internal
        returns (PreconfServiceManager, PreconfRegistry, TaikoInbox, PreconfTaskManager)
    {
        PreconfServiceManager s = new PreconfServiceManager(restaking, MIN_STAKE);
        PreconfRegistry r = new PreconfRegistry(s, ACTIVATION_DELAY);
        TaikoInbox i = new TaikoInbox(L2_CHAIN_ID, BOND, 768, 64);
        PreconfTaskManager t = new PreconfTaskManager(
            r, i, s, GENESIS, SLOT, SLOTS_PER_EPOCH, DISPUTE_WINDOW, MIN_STAKE, 5000
        );
        s.initialize(address(r), address(t));
        i.initialize(address(t), verifier);
        return (s, r, i, t);
    }

    /// @dev Stakes, registers, maps one validator key and funds the bond of `who`.
    function _onboard(address who, uint256 blsKey) internal returns (bytes32 keyHash) {
        vm.deal(who, 10 ether);
        vm.startPrank(who);
        staking.deposit{value: MIN_STAKE}();
        registry.registerPreconfer();
        inbox.depositBond{value: 1 ether}();
        vm.stopPrank();
        keyHash = _addValidator(blsKey, who);
    }

    function _addValidator(uint256 blsKey, address preconfer) internal returns (bytes32) {
        bytes memory pk = BLSSigner.publicKey(blsKey);
        uint64 expiry = uint64(block.timestamp + 1 hours);
        bytes32 keyHash = keyHashOfSecret(blsKey);
        bytes memory message = registry.validatorOpMessage(
            PreconfRegistry.ValidatorOp.Add, preconfer, expiry, registry.validatorNonce(keyHash)
        );
        return registry.addValidator(pk, BLSSigner.sign(blsKey, message), preconfer, expiry);
    }

    function keyHashOfSecret(uint256 blsKey) internal view returns (bytes32) {
        bytes memory pk = BLSSigner.publicKey(blsKey);
        // compressed form: x with the compression flag and the y-sign flag
        bytes memory c = new bytes(48);
        for (uint256 i; i < 48; ++i) {
            c[i] = pk[i];
        }
        bool larger;
        for (uint256 i = 48; i < 96; ++i) {
            uint8 y = uint8(pk[i]);
            uint8 h = uint8(HALF_P[i - 48]);
            if (y != h) {
                larger = y > h;
                break;
            }
        }
        c[0] = bytes1(uint8(c[0]) | 0x80 | (larger ? 0x20 : 0));
        return registry.keyHashOf(c);
    }

    bytes internal constant HALF_P =
        hex"0d0088f51cbff34d258dd3db21a5d66bb23ba5c279c2895fb39869507b587b120f55ffff58a9ffffdcff7fffffffd555";

    /// @dev Moves to `slot` slots after the start of `epoch`, one L1 block per call.
    function _warpTo(uint256 epoch, uint256 slot) internal {
        vm.warp(GENESIS + epoch * EPOCH + slot * SLOT);
        vm.roll(block.number + 1);
    }

    function _entry(uint64 ts, address who, bytes32 keyHash)
        internal
        pure
        returns (PreconfTaskManager.LookaheadParam memory)
    {
        return PreconfTaskManager.LookaheadParam(ts, who, keyHash);
    }

    /// @dev A batch of `n` blocks at the current time anchored to the previous L1 block.
    function _batch(address proposer, uint256 n, uint256 salt)
        internal
        view
        returns (LibBatch.BatchParams memory p)
    {
        p.proposer = proposer;
        p.coinbase = proposer;
        p.lastBlockTimestamp = uint64(block.timestamp);
        p.blocks = new LibBatch.BlockParams[](n);
        for (uint256 i; i < n; ++i) {
            p.blocks[i] = LibBatch.BlockParams({
                numTransactions: 1,
                timeShift: i == 0 ? 0 : 1,
                anchorBlockId: uint64(block.number - 1),
                txListHash: keccak256(abi.encode(salt, i))
            });
        }
    }

    /// @dev The commitment a preconfer signs for block `idx` of a batch (as it will be
    /// proposed), on parent digest `parentDigest`.
    function _commitment(
        LibBatch.BatchParams memory p,
        uint64 firstBlockId,
        uint256 idx,
        bytes32 parentDigest,
        uint64 windowEnd
    ) internal pure returns (PreconfTaskManager.Preconfirmation memory c) {
        c.l2ChainId = L2_CHAIN_ID;
        c.blockNumber = firstBlockId + uint64(idx);
        c.parentHash = keccak256(abi.encode("l2 parent", c.blockNumber));
        c.blockHash = keccak256(abi.encode("l2 block", c.blockNumber));
        c.parentDigest = parentDigest;
        c.txListHash = p.blocks[idx].txListHash;
        c.timestamp = LibBatch.blockTimestamp(p.blocks, p.lastBlockTimestamp, idx);
        c.anchorBlockId = p.blocks[idx].anchorBlockId;
        c.coinbase = p.coinbase;
        c.windowEnd = windowEnd;
    }

    function _sign(uint256 key, PreconfTaskManager.Preconfirmation memory c)
        internal
        returns (bytes memory)
    {
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(key, tm.hashPreconfirmation(c));
        return abi.encodePacked(r, s, v);
    }

    /// @dev Proposes through the task manager as `who` and returns the metadata the inbox
    /// emitted (the task manager does not return it, to keep routing cheap).
    function _proposeVia(
        address who,
        uint256 index,
        LibBatch.BatchParams memory p,
        PreconfTaskManager.LookaheadParam[] memory next
    ) internal returns (LibBatch.BatchInfo memory info) {
        vm.recordLogs();
        vm.prank(who);
        tm.proposeBatch(p, hex"01", index, next);
        return batchProposedIn(vm.getRecordedLogs(), address(inbox));
    }

    /// @dev An empty lookahead (posts a fallback entry when one is due).
    function _empty() internal pure returns (PreconfTaskManager.LookaheadParam[] memory) {
        return new PreconfTaskManager.LookaheadParam[](0);
    }
}
