// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {L1Fixture, batchProposedIn} from "./L1Fixture.sol";
import {TestBase, Vm, VmLog} from "../utils/TestBase.sol";
import {LibBatch} from "../../src/l1/libs/LibBatch.sol";
import {PreconfTaskManager} from "../../src/l1/PreconfTaskManager.sol";
import {TaikoInbox} from "../../src/l1/TaikoInbox.sol";

/// @notice Plays an honest preconfer (alice, owner of every window) and a challenger who tries
/// every dispute on every commitment alice ever signed.
contract HonestHandler is TestBase {
    PreconfTaskManager internal immutable tm;
    TaikoInbox internal immutable inbox;
    address internal immutable alice;
    uint256 internal immutable aliceKey;
    bytes32 internal immutable validatorKey;
    /// @dev When set, alice signs a tx list other than the one she proposes (the control case
    /// that shows the challenger does catch a broken promise).
    bool internal immutable lie;

    PreconfTaskManager.Preconfirmation[] internal commitments;
    bytes[] internal signatures;
    uint256[] internal batchOf; // commitment index => index into `infos`
    bytes[] internal infos; // abi-encoded BatchInfo of each proposed batch

    /// @notice Disputes against alice that succeeded (must stay 0).
    uint256 public slashes;
    /// @notice Disputes attempted, for the record.
    uint256 public attempts;

    constructor(
        PreconfTaskManager tm_,
        TaikoInbox inbox_,
        address alice_,
        uint256 aliceKey_,
        bytes32 validatorKey_,
        bool lie_
    ) {
        lie = lie_;
        tm = tm_;
        inbox = inbox_;
        alice = alice_;
        aliceKey = aliceKey_;
        validatorKey = validatorKey_;
    }

    function _lastSlot(uint256 epoch) internal view returns (uint64) {
        return tm.epochStart(epoch) + tm.epochDuration() - tm.slotDuration();
    }

    function _own(uint256 epoch)
        internal
        view
        returns (PreconfTaskManager.LookaheadParam[] memory l)
    {
        l = new PreconfTaskManager.LookaheadParam[](1);
        l[0] = PreconfTaskManager.LookaheadParam(_lastSlot(epoch), alice, validatorKey);
    }

    /// @notice Alice preconfirms `n` blocks (signing each) and proposes exactly them.
    function preconfirmAndPropose(uint8 n, uint256 salt) external {
        uint256 e = tm.epochOf(block.timestamp);
        if (tm.lookaheadCount(e) == 0) {
            PreconfTaskManager.LookaheadParam[] memory cur = _own(e);
            vm.prank(alice);
            tm.forcePushLookahead(e, cur);
        }
        PreconfTaskManager.LookaheadParam[] memory next;
        if (tm.lookaheadHash(e + 1) == 0) next = _own(e + 1);
        else next = new PreconfTaskManager.LookaheadParam[](0);
        bool inThisEpoch = block.timestamp <= _lastSlot(e);
        uint256 index = inThisEpoch ? 0 : 1;
        uint64 windowEnd = inThisEpoch ? _lastSlot(e) : _lastSlot(e + 1);

        LibBatch.BatchParams memory p;
        p.proposer = alice;
        p.coinbase = alice;
        p.lastBlockTimestamp = uint64(block.timestamp);
        p.blocks = new LibBatch.BlockParams[](1 + n % 4);
        bytes32 parent = inbox.lastDigest();
        uint64 id = inbox.nextBlockId();
        for (uint256 i; i < p.blocks.length; ++i) {
            p.blocks[i] = LibBatch.BlockParams(
                1, 0, uint64(block.number - 1), keccak256(abi.encode(salt, i))
            );
            PreconfTaskManager.Preconfirmation memory c = PreconfTaskManager.Preconfirmation({
                l2ChainId: inbox.l2ChainId(),
                blockNumber: id,
                parentHash: keccak256(abi.encode("l2", id)),
                blockHash: keccak256(abi.encode("l2", id + 1)),
                parentDigest: parent,
                txListHash: lie ? keccak256("another tx list") : p.blocks[i].txListHash,
                timestamp: p.lastBlockTimestamp,
                anchorBlockId: p.blocks[i].anchorBlockId,
                coinbase: alice,
                windowEnd: windowEnd,
                endOfSequencing: i + 1 == p.blocks.length
            });
            (uint8 v, bytes32 r, bytes32 s) = vm.sign(aliceKey, tm.hashPreconfirmation(c));
            commitments.push(c);
            signatures.push(abi.encodePacked(r, s, v));
            batchOf.push(infos.length);
            parent = LibBatch.digest(parent, id, c.txListHash, c.timestamp, c.anchorBlockId, alice);
            ++id;
        }
        vm.recordLogs();
        vm.prank(alice);
        tm.proposeBatch(p, hex"01", index, next);
        infos.push(abi.encode(batchProposedIn(vm.getRecordedLogs(), address(inbox))));
        vm.warp(block.timestamp + 1);
        vm.roll(block.number + 1);
    }

    /// @notice Challenge rewards.
    receive() external payable {}

    /// @notice Time passes (never more than an epoch, so alice keeps her windows).
    function wait(uint8 dt) external {
        vm.warp(block.timestamp + dt % tm.epochDuration());
        vm.roll(block.number + 1);
    }

    /// @notice A challenger tries every dispute on commitments `i` and `j`.
    function challenge(uint256 i, uint256 j) external {
        uint256 n = commitments.length;
        if (n == 0) return;
        i %= n;
        j %= n;
        PreconfTaskManager.Preconfirmation memory a = commitments[i];
        PreconfTaskManager.Preconfirmation memory b = commitments[j];
        LibBatch.BatchInfo memory info = abi.decode(infos[batchOf[i]], (LibBatch.BatchInfo));
        attempts += 3;
        try tm.proveEquivocation(a, signatures[i], b, signatures[j]) {
            ++slashes;
        } catch {}
        try tm.proveWrongPreconfirmation(a, signatures[i], info) {
            ++slashes;
        } catch {}
        try tm.proveMissedProposal(a, signatures[i]) {
            ++slashes;
        } catch {}
    }
}

/// @notice Alice registered, mapped, bonded and active; one honest handler and one liar.
abstract contract HonestSetup is L1Fixture {
    HonestHandler internal handler;
    HonestHandler internal liar;

    function setUp() public override {
        super.setUp();
        bytes32 key = _onboard(alice, ALICE_BLS);
        vm.warp(block.timestamp + ACTIVATION_DELAY + EPOCH);
        vm.roll(block.number + 1);
        handler = new HonestHandler(tm, inbox, alice, ALICE_KEY, key, false);
        liar = new HonestHandler(tm, inbox, alice, ALICE_KEY, key, true);
        vm.deal(alice, 100 ether);
        vm.prank(alice);
        inbox.depositBond{value: 50 ether}();
    }
}

/// @notice "No sequence of honest actions makes a registered honest preconfer slashable."
contract HonestPreconferInvariant is HonestSetup {
    /// @notice forge: fuzz only the handler.
    function targetContracts() public view returns (address[] memory t) {
        t = new address[](1);
        t[0] = address(handler);
    }

    /// forge-config: default.invariant.runs = 64
    /// forge-config: default.invariant.depth = 40
    function invariant_honestPreconferIsNeverSlashed() public view {
        assertEq(handler.slashes(), 0, "a dispute against honest commitments succeeded");
        assertEq(staking.stakeOf(alice), MIN_STAKE, "alice's stake is intact");
    }
}

/// @notice The control case: the same challenger catches a preconfer that breaks its word.
contract ChallengerControlTest is HonestSetup {
    function test_challengerCatchesABrokenPromise() public {
        liar.preconfirmAndPropose(2, 1);
        liar.challenge(0, 0);
        assertEq(liar.slashes(), 1, "the wrong preconfirmation was slashed");
        assertEq(staking.stakeOf(alice), 0, "alice lost her stake");
    }

    function test_honestRunIsNotSlashed() public {
        handler.preconfirmAndPropose(2, 1);
        handler.wait(5);
        handler.preconfirmAndPropose(1, 2);
        handler.wait(7);
        for (uint256 i; i < 4; ++i) {
            for (uint256 j; j < 4; ++j) {
                handler.challenge(i, j);
            }
        }
        assertEq(handler.attempts(), 48, "every dispute tried");
        assertEq(handler.slashes(), 0, "none succeeded");
    }
}
