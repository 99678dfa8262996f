// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {L1Fixture, digestChain} from "./L1Fixture.sol";
import {LibBatch} from "../../src/l1/libs/LibBatch.sol";
import {PreconfTaskManager} from "../../src/l1/PreconfTaskManager.sol";
import {PreconfServiceManager} from "../../src/l1/PreconfServiceManager.sol";
import {PreconfRegistry} from "../../src/l1/PreconfRegistry.sol";
import {TaikoInbox} from "../../src/l1/TaikoInbox.sol";
import {NativeStaking} from "../../src/l1/restaking/NativeStaking.sol";

/// @notice Stands in for the EIP-4788 contract: returns a fixed root for any timestamp.
contract BeaconRootsMock {
    bytes32 internal immutable root;

    constructor(bytes32 root_) {
        root = root_;
    }

    fallback(bytes calldata) external returns (bytes memory) {
        return abi.encode(root);
    }
}

contract PreconfTaskManagerTest is L1Fixture {
    bytes32 internal aliceKey;
    bytes32 internal bobKey;
    uint256 internal e; // the epoch the tests run in
    address internal challenger = address(0xC4A11);

    event log_named_uint(string key, uint256 val);

    function setUp() public override {
        super.setUp();
        aliceKey = _onboard(alice, ALICE_BLS);
        bobKey = _onboard(bob, BOB_BLS);
        e = tm.epochOf(block.timestamp + ACTIVATION_DELAY) + 1;
        _warpTo(e, 0);
    }

    // ------------------------------------------------------------ helpers

    function _slotTs(uint256 epoch, uint256 slot) internal pure returns (uint64) {
        return uint64(GENESIS + epoch * EPOCH + slot * SLOT);
    }

    function _copy(PreconfTaskManager.Preconfirmation memory c)
        internal
        pure
        returns (PreconfTaskManager.Preconfirmation memory)
    {
        return abi.decode(abi.encode(c), (PreconfTaskManager.Preconfirmation));
    }

    /// @dev Lookahead of epoch `epoch`: alice at slot 1, bob at slot 3.
    function _aliceBob(uint256 epoch)
        internal
        view
        returns (PreconfTaskManager.LookaheadParam[] memory l)
    {
        l = new PreconfTaskManager.LookaheadParam[](2);
        l[0] = _entry(_slotTs(epoch, 1), alice, aliceKey);
        l[1] = _entry(_slotTs(epoch, 3), bob, bobKey);
    }

    function _one(uint64 ts, address who, bytes32 key)
        internal
        pure
        returns (PreconfTaskManager.LookaheadParam[] memory l)
    {
        l = new PreconfTaskManager.LookaheadParam[](1);
        l[0] = _entry(ts, who, key);
    }

    function _pushCurrent() internal {
        vm.prank(alice);
        tm.forcePushLookahead(e, _aliceBob(e));
    }

    function _propose(address who, uint256 index, LibBatch.BatchParams memory p)
        internal
        returns (LibBatch.BatchInfo memory)
    {
        return _proposeVia(who, index, p, _empty());
    }

    // ------------------------------------------------------------ lookahead

    function test_forcePush_storesEntriesAndHash() public {
        _pushCurrent();
        PreconfTaskManager.LookaheadEntry[] memory l = tm.lookahead(e);
        assertEq(l.length, 2, "two entries");
        assertEq(l[0].preconfer, alice, "alice first");
        assertEq(l[1].timestamp, _slotTs(e, 3), "bob's slot");
        assertEq(tm.lookaheadHash(e), keccak256(abi.encode(_aliceBob(e))), "hash for fraud proofs");
        (address who, uint256 idx) = tm.preconferAt(block.timestamp);
        assertEq(who, alice, "alice owns slot 0 too (no registered proposer before her)");
        assertEq(idx, 0, "index 0");
        (who, idx) = tm.preconferAt(_slotTs(e, 2));
        assertEq(who, bob, "bob owns slots 2-3");
        assertEq(idx, 1, "index 1");
    }

    function test_forcePush_errors() public {
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(PreconfTaskManager.EpochNotPushable.selector, e + 2));
        tm.forcePushLookahead(e + 2, _aliceBob(e + 2));
        vm.prank(challenger);
        vm.expectRevert(PreconfTaskManager.NotAPreconfer.selector);
        tm.forcePushLookahead(e, _aliceBob(e));

        PreconfTaskManager.LookaheadParam[] memory l = _aliceBob(e);
        l[1].slotTimestamp = l[0].slotTimestamp; // not increasing
        vm.prank(alice);
        vm.expectRevert(
            abi.encodeWithSelector(
                PreconfTaskManager.InvalidLookaheadSlot.selector, l[1].slotTimestamp
            )
        );
        tm.forcePushLookahead(e, l);
        l = _one(_slotTs(e, 1) + 1, alice, aliceKey); // not a slot boundary
        vm.prank(alice);
        vm.expectRevert(
            abi.encodeWithSelector(
                PreconfTaskManager.InvalidLookaheadSlot.selector, _slotTs(e, 1) + 1
            )
        );
        tm.forcePushLookahead(e, l);
        l = _one(_slotTs(e + 1, 0), alice, aliceKey); // outside the epoch
        vm.prank(alice);
        vm.expectRevert(
            abi.encodeWithSelector(
                PreconfTaskManager.InvalidLookaheadSlot.selector, _slotTs(e + 1, 0)
            )
        );
        tm.forcePushLookahead(e, l);
        l = _one(_slotTs(e, 1), bob, aliceKey); // alice's validator, bob named
        vm.prank(alice);
        vm.expectRevert(
            abi.encodeWithSelector(
                PreconfTaskManager.InvalidLookaheadPreconfer.selector, _slotTs(e, 1), bob
            )
        );
        tm.forcePushLookahead(e, l);
        l = _one(_slotTs(e, 1), alice, bytes32(uint256(1))); // unknown key
        vm.prank(alice);
        vm.expectRevert(
            abi.encodeWithSelector(
                PreconfTaskManager.InvalidLookaheadPreconfer.selector, _slotTs(e, 1), alice
            )
        );
        tm.forcePushLookahead(e, l);

        _pushCurrent();
        vm.prank(bob);
        vm.expectRevert(
            abi.encodeWithSelector(PreconfTaskManager.LookaheadAlreadyPosted.selector, e)
        );
        tm.forcePushLookahead(e, _aliceBob(e));
    }

    /// @notice Random lookaheads: either refused, or stored sorted, slot-aligned, inside the
    /// epoch, each entry naming the preconfer its validator maps to, windows chained.
    function testFuzz_forcePush_randomEntries(uint8[3] memory slots, uint8 who) public {
        PreconfTaskManager.LookaheadParam[] memory l = new PreconfTaskManager.LookaheadParam[](3);
        for (uint256 i; i < 3; ++i) {
            bool isAlice = (who >> i) & 1 == 0;
            l[i] = _entry(
                uint64(
                    GENESIS + e * EPOCH + uint256(slots[i] % 6) * SLOT - (slots[i] % 5 == 0 ? 1 : 0)
                ),
                (who >> (i + 3)) & 1 == 0 ? (isAlice ? alice : bob) : (isAlice ? bob : alice),
                isAlice ? aliceKey : bobKey
            );
        }
        vm.prank(alice);
        try tm.forcePushLookahead(e, l) {
            PreconfTaskManager.LookaheadEntry[] memory stored = tm.lookahead(e);
            assertEq(stored.length, 3, "all stored");
            uint256 prev = tm.epochStart(e) - 1;
            for (uint256 i; i < 3; ++i) {
                assertEq(stored[i].prevTimestamp, prev, "windows chained");
                assertTrue(stored[i].timestamp > prev, "sorted");
                assertTrue(stored[i].timestamp < tm.epochStart(e + 1), "inside the epoch");
                assertEq((stored[i].timestamp - GENESIS) % SLOT, 0, "slot aligned");
                assertEq(
                    stored[i].preconfer,
                    registry.preconferOf(l[i].validatorKeyHash, stored[i].timestamp),
                    "named preconfer is the validator's"
                );
                prev = stored[i].timestamp;
            }
        } catch {
            assertEq(tm.lookaheadCount(e), 0, "nothing stored");
        }
    }

    function test_fallback_fromBeaconRoot() public {
        vm.etch(tm.BEACON_ROOTS(), address(new BeaconRootsMock(bytes32(uint256(1)))).code);
        vm.prank(alice);
        tm.forcePushLookahead(e, _empty());
        PreconfTaskManager.LookaheadEntry[] memory l = tm.lookahead(e);
        assertEq(l.length, 1, "one fallback entry");
        assertTrue(l[0].isFallback, "marked fallback");
        assertEq(l[0].timestamp, _slotTs(e, SLOTS_PER_EPOCH - 1), "covers the whole epoch");
        assertEq(l[0].preconfer, bob, "root 1 % [alice, bob] = bob");
        (address who,) = tm.preconferAt(block.timestamp);
        assertEq(who, bob, "bob's epoch");
    }

    function test_fallback_needsAnActivePreconfer() public {
        _pushCurrent();
        // both leave now: inactive from the start of epoch e+2
        vm.prank(alice);
        registry.deregisterPreconfer();
        vm.prank(bob);
        registry.deregisterPreconfer();
        PreconfTaskManager.LookaheadParam[] memory next = _aliceBob(e + 1);
        vm.prank(alice);
        tm.forcePushLookahead(e + 1, next);
        _warpTo(e + 1, 0);
        vm.warp(block.timestamp + 1);
        LibBatch.BatchParams memory p = _batch(alice, 1, 1);
        vm.prank(alice);
        vm.expectRevert(PreconfTaskManager.NoActivePreconfer.selector);
        tm.proposeBatch(p, hex"01", 0, _empty());
    }

    function test_forcePush_nextNeedsCurrent() public {
        PreconfTaskManager.LookaheadParam[] memory next = _aliceBob(e + 1);
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(PreconfTaskManager.LookaheadNotPosted.selector, e));
        tm.forcePushLookahead(e + 1, next);
    }

    // ------------------------------------------------------------ proposing

    function test_propose_inWindowPostsNextLookahead() public {
        _pushCurrent();
        vm.warp(_slotTs(e, 0) + 1);
        LibBatch.BatchParams memory p = _batch(alice, 2, 1);
        LibBatch.BatchInfo memory info = _proposeVia(alice, 0, p, _aliceBob(e + 1));
        assertEq(info.proposer, alice, "alice proposed");
        assertEq(tm.lookahead(e + 1).length, 2, "next epoch posted with the proposal");
        assertEq(inbox.bondBalance(alice), 1 ether - BOND, "alice paid the bond");
        // bob's window: slots 2..3
        _warpTo(e, 2);
        _propose(bob, 1, _batch(bob, 1, 2));
        // after bob's entry: the next epoch's first entry (alice, slot 1 of e+1)
        vm.warp(_slotTs(e, 3) + 1);
        _propose(alice, 2, _batch(alice, 1, 3));
    }

    function test_propose_outOfTurnReverts() public {
        _pushCurrent();
        vm.warp(_slotTs(e, 0) + 1);
        LibBatch.BatchParams memory p = _batch(bob, 1, 1);
        vm.prank(bob);
        vm.expectRevert(
            abi.encodeWithSelector(PreconfTaskManager.NotTheCurrentPreconfer.selector, alice)
        );
        tm.proposeBatch(p, hex"01", 0, _aliceBob(e + 1));
        vm.prank(bob);
        vm.expectRevert(
            abi.encodeWithSelector(
                PreconfTaskManager.NotInWindow.selector, _slotTs(e, 1), _slotTs(e, 3)
            )
        );
        tm.proposeBatch(p, hex"01", 1, _aliceBob(e + 1));
    }

    function test_propose_needsCurrentLookahead() public {
        LibBatch.BatchParams memory p = _batch(alice, 1, 1);
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(PreconfTaskManager.LookaheadNotPosted.selector, e));
        tm.proposeBatch(p, hex"01", 0, _aliceBob(e + 1));
    }

    function test_propose_proposerMismatchAndDoublePost() public {
        _pushCurrent();
        vm.prank(alice);
        tm.forcePushLookahead(e + 1, _aliceBob(e + 1));
        LibBatch.BatchParams memory p = _batch(bob, 1, 1);
        vm.prank(alice);
        vm.expectRevert(PreconfTaskManager.ProposerMismatch.selector);
        tm.proposeBatch(p, hex"01", 0, _empty());
        p = _batch(alice, 1, 1);
        vm.prank(alice);
        vm.expectRevert(
            abi.encodeWithSelector(PreconfTaskManager.LookaheadAlreadyPosted.selector, e + 1)
        );
        tm.proposeBatch(p, hex"01", 0, _aliceBob(e + 1));
    }

    function test_propose_refusesOffsetsIntoTheHead() public {
        _pushCurrent();
        vm.warp(_slotTs(e, 0) + 1);
        LibBatch.BatchParams memory p = _batch(alice, 1, 1);
        bytes memory data =
            abi.encodeCall(PreconfTaskManager.proposeBatch, (p, hex"01", 0, _aliceBob(e + 1)));
        // point `txList` at the head word holding the lookahead index (0 = empty bytes)
        assembly {
            mstore(add(data, 0x44), 0x40)
        }
        vm.prank(alice);
        (bool ok, bytes memory err) = address(tm).call(data);
        assertTrue(!ok, "refused");
        assertEq(bytes4(err), PreconfTaskManager.MalformedCalldata.selector, "malformed calldata");
    }

    function test_inbox_onlyThroughTaskManager() public {
        LibBatch.BatchParams memory p = _batch(alice, 1, 1);
        vm.prank(alice);
        vm.expectRevert(TaikoInbox.NotAuthorisedProposer.selector);
        inbox.proposeBatch(p, hex"01");
    }

    // ------------------------------------------------------------ equivocation

    function _twoCommitments()
        internal
        view
        returns (
            PreconfTaskManager.Preconfirmation memory a,
            PreconfTaskManager.Preconfirmation memory b
        )
    {
        LibBatch.BatchParams memory p = _batch(alice, 1, 1);
        a = _commitment(p, 1, 0, 0, _slotTs(e, 1));
        b = _copy(a);
        b.txListHash = keccak256("other");
    }

    function test_equivocation_slashes() public {
        (PreconfTaskManager.Preconfirmation memory a, PreconfTaskManager.Preconfirmation memory b) =
            _twoCommitments();
        bytes memory sa = _sign(ALICE_KEY, a);
        bytes memory sb = _sign(ALICE_KEY, b);
        vm.prank(challenger);
        tm.proveEquivocation(a, sa, b, sb);
        assertEq(staking.stakeOf(alice), 0, "alice slashed");
        assertEq(challenger.balance, MIN_STAKE / 2, "challenger rewarded");
        assertTrue(tm.slashedAt(alice, 1), "recorded");
        assertTrue(!registry.isActivePreconfer(alice, block.timestamp), "no longer eligible");
        vm.expectRevert(PreconfTaskManager.AlreadySlashed.selector);
        tm.proveEquivocation(a, sa, b, sb);
    }

    function test_equivocation_rejects() public {
        (PreconfTaskManager.Preconfirmation memory a, PreconfTaskManager.Preconfirmation memory b) =
            _twoCommitments();
        bytes memory sa = _sign(ALICE_KEY, a);
        bytes memory sb = _sign(ALICE_KEY, b);
        // identical commitments
        vm.expectRevert(PreconfTaskManager.NotConflicting.selector);
        tm.proveEquivocation(a, sa, a, sa);
        // different signers
        bytes memory bobSb = _sign(BOB_KEY, b);
        vm.expectRevert(PreconfTaskManager.NotConflicting.selector);
        tm.proveEquivocation(a, sa, b, bobSb);
        // different heights
        PreconfTaskManager.Preconfirmation memory c = _copy(b);
        c.blockNumber = 2;
        bytes memory sc = _sign(ALICE_KEY, c);
        vm.expectRevert(PreconfTaskManager.NotSameSlot.selector);
        tm.proveEquivocation(a, sa, c, sc);
        // a different parent: a rebuild after the parent changed, not an equivocation
        c = _copy(b);
        c.parentDigest = keccak256("new parent");
        sc = _sign(ALICE_KEY, c);
        vm.expectRevert(PreconfTaskManager.NotSameSlot.selector);
        tm.proveEquivocation(a, sa, c, sc);
        // another L2 chain
        c = _copy(b);
        c.l2ChainId = 1;
        sc = _sign(ALICE_KEY, c);
        vm.expectRevert(abi.encodeWithSelector(PreconfTaskManager.WrongL2ChainId.selector, 1));
        tm.proveEquivocation(a, sa, c, sc);
        // malformed signature
        bytes memory bad = sb;
        bad[64] = bytes1(uint8(5));
        vm.expectRevert(PreconfTaskManager.InvalidSignature.selector);
        tm.proveEquivocation(a, sa, b, bad);
        // a signer without stake
        uint256 nobody = 0xDEAD;
        bytes memory na = _sign(nobody, a);
        bytes memory nb = _sign(nobody, b);
        vm.expectRevert(PreconfTaskManager.NothingToSlash.selector);
        tm.proveEquivocation(a, na, b, nb);
        // too late
        vm.warp(uint256(a.windowEnd) + DISPUTE_WINDOW + 1);
        vm.expectRevert(PreconfTaskManager.DisputeWindowClosed.selector);
        tm.proveEquivocation(a, sa, b, sb);
        assertEq(staking.stakeOf(alice), MIN_STAKE, "nothing slashed");
    }

    // ------------------------------------------------------------ wrong preconfirmation

    function _proposeFirstBatch(address who, LibBatch.BatchParams memory p)
        internal
        returns (LibBatch.BatchInfo memory)
    {
        _pushCurrent();
        vm.warp(_slotTs(e, who == alice ? 0 : 2) + 1);
        return _proposeVia(who, who == alice ? 0 : 1, p, _aliceBob(e + 1));
    }

    function test_wrongPreconfirmation_slashesDifferentBlock() public {
        vm.warp(_slotTs(e, 0) + 1);
        LibBatch.BatchParams memory p = _batch(alice, 3, 1);
        bytes32[] memory d = digestChain(p, 1, 0);
        // alice promised block 2 with another tx list, then proposed this batch
        PreconfTaskManager.Preconfirmation memory c = _commitment(p, 1, 1, d[1], _slotTs(e, 1));
        c.txListHash = keccak256("promised");
        bytes memory sig = _sign(ALICE_KEY, c);
        LibBatch.BatchInfo memory info = _proposeFirstBatch(alice, p);
        vm.prank(challenger);
        tm.proveWrongPreconfirmation(c, sig, info);
        assertEq(staking.stakeOf(alice), 0, "slashed");
    }

    function test_wrongPreconfirmation_noFaultWhenKept() public {
        vm.warp(_slotTs(e, 0) + 1);
        LibBatch.BatchParams memory p = _batch(alice, 3, 1);
        bytes32[] memory d = digestChain(p, 1, 0);
        LibBatch.BatchInfo memory info = _proposeFirstBatch(alice, p);
        for (uint256 i; i < 3; ++i) {
            PreconfTaskManager.Preconfirmation memory c = _commitment(p, 1, i, d[i], _slotTs(e, 1));
            bytes memory sig = _sign(ALICE_KEY, c);
            vm.expectRevert(PreconfTaskManager.NoFault.selector);
            tm.proveWrongPreconfirmation(c, sig, info);
        }
    }

    function test_wrongPreconfirmation_proposedBySomeoneElse() public {
        // alice promised block 1, bob proposed exactly that block in his window
        LibBatch.BatchParams memory p = _batch(bob, 1, 1);
        PreconfTaskManager.Preconfirmation memory c = _commitment(p, 1, 0, 0, _slotTs(e, 1));
        bytes memory sig = _sign(ALICE_KEY, c);
        _warpTo(e, 2);
        p = _batch(bob, 1, 1);
        c.timestamp = p.lastBlockTimestamp;
        sig = _sign(ALICE_KEY, c);
        LibBatch.BatchInfo memory info = _proposeFirstBatch(bob, p);
        tm.proveWrongPreconfirmation(c, sig, info);
        assertEq(staking.stakeOf(alice), 0, "alice slashed for not proposing her block");
    }

    function test_wrongPreconfirmation_rejects() public {
        vm.warp(_slotTs(e, 0) + 1);
        LibBatch.BatchParams memory p = _batch(alice, 2, 1);
        bytes32[] memory d = digestChain(p, 1, 0);
        PreconfTaskManager.Preconfirmation memory c = _commitment(p, 1, 1, d[1], _slotTs(e, 1));
        c.txListHash = keccak256("promised");
        LibBatch.BatchInfo memory info = _proposeFirstBatch(alice, p);
        // a commitment on another parent is void
        PreconfTaskManager.Preconfirmation memory v = _copy(c);
        v.parentDigest = keccak256("other parent");
        bytes memory sv = _sign(ALICE_KEY, v);
        vm.expectRevert(PreconfTaskManager.CommitmentVoid.selector);
        tm.proveWrongPreconfirmation(v, sv, info);
        // not in the batch
        v = _copy(c);
        v.blockNumber = 3;
        sv = _sign(ALICE_KEY, v);
        vm.expectRevert(PreconfTaskManager.BlockNotInBatch.selector);
        tm.proveWrongPreconfirmation(v, sv, info);
        // metadata that is not the inbox's
        bytes memory sig = _sign(ALICE_KEY, c);
        LibBatch.BatchInfo memory fake = abi.decode(abi.encode(info), (LibBatch.BatchInfo));
        fake.coinbase = address(0xBAD);
        vm.expectRevert(PreconfTaskManager.BatchMismatch.selector);
        tm.proveWrongPreconfirmation(c, sig, fake);
        // too late
        vm.warp(uint256(info.proposedAt) + DISPUTE_WINDOW + 1);
        vm.expectRevert(PreconfTaskManager.DisputeWindowClosed.selector);
        tm.proveWrongPreconfirmation(c, sig, info);
        assertEq(staking.stakeOf(alice), MIN_STAKE, "nothing slashed");
    }

    // ------------------------------------------------------------ missed proposal

    function test_missedProposal_slashes() public {
        LibBatch.BatchParams memory p = _batch(alice, 1, 1);
        PreconfTaskManager.Preconfirmation memory c = _commitment(p, 1, 0, 0, _slotTs(e, 1));
        bytes memory sig = _sign(ALICE_KEY, c);
        vm.expectRevert(PreconfTaskManager.WindowNotOver.selector);
        tm.proveMissedProposal(c, sig);
        vm.warp(_slotTs(e, 1) + 1);
        tm.proveMissedProposal(c, sig);
        assertEq(staking.stakeOf(alice), 0, "slashed");
    }

    function test_missedProposal_rejects() public {
        vm.warp(_slotTs(e, 0) + 1);
        LibBatch.BatchParams memory p = _batch(alice, 1, 1);
        PreconfTaskManager.Preconfirmation memory kept = _commitment(p, 1, 0, 0, _slotTs(e, 1));
        bytes memory sk = _sign(ALICE_KEY, kept);
        LibBatch.BatchInfo memory info = _proposeFirstBatch(alice, p);
        vm.warp(_slotTs(e, 1) + 1);
        vm.expectRevert(PreconfTaskManager.BlockWasProposed.selector);
        tm.proveMissedProposal(kept, sk);
        // the next block on the wrong parent: void
        PreconfTaskManager.Preconfirmation memory v = _copy(kept);
        v.blockNumber = 2;
        v.parentDigest = keccak256("stale parent");
        bytes memory sv = _sign(ALICE_KEY, v);
        vm.expectRevert(PreconfTaskManager.CommitmentVoid.selector);
        tm.proveMissedProposal(v, sv);
        // a block whose parent was never proposed: void
        v.blockNumber = 3;
        v.parentDigest = info.digest;
        sv = _sign(ALICE_KEY, v);
        vm.expectRevert(PreconfTaskManager.CommitmentVoid.selector);
        tm.proveMissedProposal(v, sv);
        // too late
        v.blockNumber = 2;
        sv = _sign(ALICE_KEY, v);
        vm.warp(uint256(v.windowEnd) + DISPUTE_WINDOW + 1);
        vm.expectRevert(PreconfTaskManager.DisputeWindowClosed.selector);
        tm.proveMissedProposal(v, sv);
        assertEq(staking.stakeOf(alice), MIN_STAKE, "nothing slashed");
    }

    function testFuzz_disputeWithForeignSignatureNeverSlashes(bytes32 r, bytes32 s, uint8 v)
        public
    {
        (PreconfTaskManager.Preconfirmation memory a, PreconfTaskManager.Preconfirmation memory b) =
            _twoCommitments();
        bytes memory sa = _sign(ALICE_KEY, a);
        try tm.proveEquivocation(a, sa, b, abi.encodePacked(r, s, v)) {
            revert AssertionFailed("a random signature slashed alice");
        } catch {}
        assertEq(staking.stakeOf(alice), MIN_STAKE, "alice untouched");
    }

    function test_constructor_rejectsShortWithdrawalDelay() public {
        NativeStaking quick = new NativeStaking(DISPUTE_WINDOW);
        PreconfServiceManager s = new PreconfServiceManager(quick, MIN_STAKE);
        vm.expectRevert(
            abi.encodeWithSelector(
                PreconfTaskManager.WithdrawalDelayTooShort.selector,
                DISPUTE_WINDOW,
                DISPUTE_WINDOW + 2 * EPOCH
            )
        );
        new PreconfTaskManager(
            registry, inbox, s, GENESIS, SLOT, SLOTS_PER_EPOCH, DISPUTE_WINDOW, 1, 1
        );
    }

    function test_serviceManager_onlyItsCallers() public {
        vm.expectRevert(PreconfServiceManager.NotTaskManager.selector);
        sm.slash(alice, 1, challenger, 0);
        vm.expectRevert(PreconfServiceManager.NotRegistry.selector);
        sm.registerOperator(alice);
        vm.expectRevert(PreconfServiceManager.NotRegistry.selector);
        sm.deregisterOperator(alice);
        vm.expectRevert(PreconfServiceManager.AlreadyInitialized.selector);
        sm.initialize(address(1), address(2));
    }

    // ------------------------------------------------------------ gas

    function test_gas_disputes() public {
        (PreconfTaskManager.Preconfirmation memory a, PreconfTaskManager.Preconfirmation memory b) =
            _twoCommitments();
        bytes memory sa = _sign(ALICE_KEY, a);
        bytes memory sb = _sign(ALICE_KEY, b);
        uint256 g = gasleft();
        tm.proveEquivocation(a, sa, b, sb);
        emit log_named_uint("gas: proveEquivocation", g - gasleft());

        // bob: wrong preconfirmation in a 10-block batch (block 10 disputed)
        vm.warp(_slotTs(e, 0) + 1);
        LibBatch.BatchParams memory p = _batch(alice, 10, 7);
        bytes32[] memory d = digestChain(p, 1, 0);
        PreconfTaskManager.Preconfirmation memory c = _commitment(p, 1, 9, d[9], _slotTs(e, 1));
        c.coinbase = address(0xC0FFEE);
        vm.deal(alice, 10 ether);
        vm.prank(alice);
        staking.deposit{value: MIN_STAKE}();
        bytes memory sc = _sign(ALICE_KEY, c);
        LibBatch.BatchInfo memory info = _proposeFirstBatch(alice, p);
        g = gasleft();
        tm.proveWrongPreconfirmation(c, sc, info);
        emit log_named_uint(
            "gas: proveWrongPreconfirmation (10-block batch, last block)", g - gasleft()
        );

        PreconfTaskManager.Preconfirmation memory m =
            _commitment(p, 11, 0, info.digest, _slotTs(e, 3));
        m.blockNumber = 11;
        bytes memory sm_ = _sign(BOB_KEY, m);
        vm.warp(_slotTs(e, 3) + 1);
        g = gasleft();
        tm.proveMissedProposal(m, sm_);
        emit log_named_uint("gas: proveMissedProposal", g - gasleft());
    }
}

/// @notice Routing overhead of the task manager against a direct inbox, per batch size. Each size
/// runs in its own test (its own transaction after `setUp`), so both paths start cold, as real
/// proposals do. Figures go to docs/gas.md.
contract RoutingGasTest is L1Fixture {
    TaikoInbox internal open;
    uint256 internal e;

    event log_named_uint(string key, uint256 val);

    function setUp() public override {
        super.setUp();
        bytes32 aliceKey = _onboard(alice, ALICE_BLS);
        e = tm.epochOf(block.timestamp + ACTIVATION_DELAY) + 1;
        _warpTo(e, 0);
        PreconfTaskManager.LookaheadParam[] memory l = new PreconfTaskManager.LookaheadParam[](1);
        l[0] = _entry(uint64(GENESIS + e * EPOCH + 3 * SLOT), alice, aliceKey);
        vm.prank(alice);
        tm.forcePushLookahead(e, l);
        l[0] = _entry(uint64(GENESIS + (e + 1) * EPOCH + 3 * SLOT), alice, aliceKey);
        vm.prank(alice);
        tm.forcePushLookahead(e + 1, l);
        open = new TaikoInbox(L2_CHAIN_ID, BOND, 768, 64);
        open.initialize(address(0), address(this));
        vm.prank(alice);
        open.depositBond{value: 1 ether}();
        vm.warp(block.timestamp + 1);
        vm.roll(block.number + 1);
    }

    function _measure(uint256 n) internal {
        LibBatch.BatchParams memory p = _batch(alice, n, n);
        for (uint256 i = 1; i < n; ++i) {
            p.blocks[i].timeShift = 0;
        }
        PreconfTaskManager.LookaheadParam[] memory none = _empty();
        // Both measured as bare calls with their calldata encoded beforehand and their return
        // data left alone: what a proposer's transaction pays inside the EVM.
        uint256 directGas =
            _callGas(address(open), abi.encodeCall(TaikoInbox.proposeBatch, (p, hex"01")));
        uint256 routedGas = _callGas(
            address(tm), abi.encodeCall(PreconfTaskManager.proposeBatch, (p, hex"01", 0, none))
        );
        emit log_named_uint("gas: propose directly to the inbox", directGas);
        emit log_named_uint("gas: propose through the task manager", routedGas);
        emit log_named_uint("gas: routing overhead", routedGas - directGas);
        assertLe(routedGas, directGas + 15_000, "routing overhead <= 15k gas per batch");
    }

    function _callGas(address to, bytes memory data) internal returns (uint256 used) {
        vm.prank(alice);
        bool ok;
        assembly {
            let g := gas()
            ok := call(gas(), to, 0, add(data, 0x20), mload(data), 0, 0)
            used := sub(g, gas())
        }
        assertTrue(ok, "proposal succeeded");
    }

    function test_gas_route_1block() public {
        _measure(1);
    }

    function test_gas_route_10blocks() public {
        _measure(10);
    }

    function test_gas_route_100blocks() public {
        _measure(100);
    }
}
