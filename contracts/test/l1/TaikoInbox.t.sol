// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {TestBase} from "../utils/TestBase.sol";
import {digestChain} from "./L1Fixture.sol";
import {LibBatch} from "../../src/l1/libs/LibBatch.sol";
import {TaikoInbox} from "../../src/l1/TaikoInbox.sol";

contract TaikoInboxTest is TestBase {
    uint64 internal constant L2 = 167010;
    uint256 internal constant BOND = 0.1 ether;
    TaikoInbox internal direct; // no router: proposers call it themselves
    TaikoInbox internal routed; // this test contract is the router
    address internal alice = address(0xA11CE);
    address internal verifier = address(0xF1);

    event BatchProposed(uint64 indexed batchId, LibBatch.BatchInfo info, bytes txList);

    function setUp() public {
        vm.warp(1_000_000);
        vm.roll(1000);
        direct = new TaikoInbox(L2, BOND, 8, 64);
        direct.initialize(address(0), verifier);
        routed = new TaikoInbox(L2, BOND, 8, 64);
        routed.initialize(address(this), verifier);
        vm.deal(alice, 10 ether);
        vm.startPrank(alice);
        direct.depositBond{value: 1 ether}();
        routed.depositBond{value: 1 ether}();
        vm.stopPrank();
    }

    function _params(uint256 n) internal view returns (LibBatch.BatchParams memory p) {
        p.proposer = alice;
        p.coinbase = address(0xC0);
        p.lastBlockTimestamp = uint64(block.timestamp);
        p.blocks = new LibBatch.BlockParams[](n);
        for (uint256 i; i < n; ++i) {
            p.blocks[i] = LibBatch.BlockParams(
                uint16(i + 1), i == 0 ? 0 : 2, uint64(block.number - 2), keccak256(abi.encode(i))
            );
        }
    }

    function _expectedDigest(LibBatch.BatchParams memory p, uint64 first, bytes32 parent)
        internal
        pure
        returns (bytes32)
    {
        bytes32[] memory d = digestChain(p, first, parent);
        return d[d.length - 1];
    }

    function test_propose_storesHeadDigestAndMeta() public {
        LibBatch.BatchParams memory p = _params(3);
        vm.prank(alice);
        LibBatch.BatchInfo memory info = direct.proposeBatch(p, hex"78da01");
        assertEq(info.batchId, 1, "first batch id");
        assertEq(info.firstBlockId, 1, "first block");
        assertEq(info.lastBlockId, 3, "last block");
        assertEq(info.proposer, alice, "proposer");
        assertEq(info.txListHash, keccak256(hex"78da01"), "calldata hash");
        assertEq(info.anchorBlockHashes[0], blockhash(block.number - 2), "anchor hash");
        bytes32 d = _expectedDigest(p, 1, 0);
        assertEq(info.digest, d, "digest");
        assertEq(direct.lastDigest(), d, "stored digest");
        assertEq(direct.metaHashOf(1), keccak256(abi.encode(info)), "meta hash");
        assertEq(direct.nextBlockId(), 4, "next block");
        assertEq(direct.bondBalance(alice), 1 ether - BOND, "bond charged");
        // the next batch chains on
        vm.warp(block.timestamp + 10);
        vm.roll(block.number + 1);
        LibBatch.BatchParams memory q = _params(2);
        q.parentMetaHash = keccak256(abi.encode(info));
        vm.prank(alice);
        LibBatch.BatchInfo memory info2 = direct.proposeBatch(q, hex"01");
        assertEq(info2.parentDigest, d, "parent digest");
        assertEq(info2.digest, _expectedDigest(q, 4, d), "chained digest");
    }

    function test_propose_emitsEverythingNodesNeed() public {
        LibBatch.BatchParams memory p = _params(2);
        vm.expectEmit(true, false, false, false, address(direct));
        LibBatch.BatchInfo memory none;
        emit BatchProposed(1, none, "");
        vm.prank(alice);
        direct.proposeBatch(p, hex"01");
    }

    function test_router_chargesNamedProposer() public {
        LibBatch.BatchParams memory p = _params(1);
        uint256 before = routed.bondBalance(address(this));
        routed.proposeBatch(p, hex"01");
        assertEq(routed.bondBalance(alice), 1 ether - BOND, "the proposer pays the bond");
        assertEq(routed.bondBalance(address(this)), before, "not the forwarding contract");
        (, address proposer,,,) = routed.batches(1);
        assertEq(proposer, alice, "recorded proposer");
    }

    function test_router_onlyRouter() public {
        LibBatch.BatchParams memory p = _params(1);
        vm.prank(alice);
        vm.expectRevert(TaikoInbox.NotAuthorisedProposer.selector);
        routed.proposeBatch(p, hex"01");
        p.proposer = address(0);
        vm.expectRevert(TaikoInbox.NotAuthorisedProposer.selector);
        routed.proposeBatch(p, hex"01");
    }

    function test_direct_cannotNameSomeoneElse() public {
        LibBatch.BatchParams memory p = _params(1);
        vm.expectRevert(TaikoInbox.NotAuthorisedProposer.selector);
        direct.proposeBatch(p, hex"01"); // this contract names alice
    }

    function test_blockCountBounds() public {
        LibBatch.BatchParams memory p = _params(0);
        vm.expectRevert(abi.encodeWithSelector(TaikoInbox.InvalidBlockCount.selector, 0));
        routed.proposeBatch(p, hex"01");
        p = _params(9);
        vm.expectRevert(abi.encodeWithSelector(TaikoInbox.InvalidBlockCount.selector, 9));
        routed.proposeBatch(p, hex"01");
    }

    function test_parentMetaHashMismatch() public {
        LibBatch.BatchParams memory p = _params(1);
        p.parentMetaHash = bytes32(uint256(1));
        vm.expectRevert(
            abi.encodeWithSelector(TaikoInbox.ParentMetaHashMismatch.selector, bytes32(0))
        );
        routed.proposeBatch(p, hex"01");
    }

    function test_timestamps() public {
        LibBatch.BatchParams memory p = _params(2);
        p.blocks[0].timeShift = 1;
        vm.expectRevert(TaikoInbox.FirstTimeShiftNotZero.selector);
        routed.proposeBatch(p, hex"01");
        p = _params(2);
        p.lastBlockTimestamp = uint64(block.timestamp + 1);
        vm.expectRevert(TaikoInbox.TimestampInFuture.selector);
        routed.proposeBatch(p, hex"01");
        p = _params(2);
        p.lastBlockTimestamp = 1;
        vm.expectRevert(TaikoInbox.TimestampTooSmall.selector);
        routed.proposeBatch(p, hex"01");
        // a batch may not start before the previous one ended
        routed.proposeBatch(_params(1), hex"01");
        p = _params(3); // starts 4 s before now
        vm.expectRevert(TaikoInbox.TimestampTooSmall.selector);
        routed.proposeBatch(p, hex"01");
    }

    function test_anchors() public {
        LibBatch.BatchParams memory p = _params(2);
        p.blocks[1].anchorBlockId = uint64(block.number);
        vm.expectRevert(
            abi.encodeWithSelector(TaikoInbox.InvalidAnchorBlock.selector, block.number)
        );
        routed.proposeBatch(p, hex"01");
        p = _params(2);
        p.blocks[0].anchorBlockId = uint64(block.number - 65);
        vm.expectRevert(
            abi.encodeWithSelector(TaikoInbox.InvalidAnchorBlock.selector, block.number - 65)
        );
        routed.proposeBatch(p, hex"01");
        p = _params(2);
        p.blocks[1].anchorBlockId = uint64(block.number - 3); // goes back
        vm.expectRevert(
            abi.encodeWithSelector(TaikoInbox.InvalidAnchorBlock.selector, block.number - 3)
        );
        routed.proposeBatch(p, hex"01");
    }

    function test_blobs() public {
        bytes32[] memory hashes = new bytes32[](2);
        hashes[0] = bytes32(uint256(0x01) << 248 | 1);
        hashes[1] = bytes32(uint256(0x01) << 248 | 2);
        vm.blobhashes(hashes);
        LibBatch.BatchParams memory p = _params(2);
        p.blobParams = LibBatch.BlobParams(0, 2, 100, 5000);
        LibBatch.BatchInfo memory info = routed.proposeBatch(p, "");
        assertEq(info.blobHashes.length, 2, "two blobs");
        assertEq(info.blobHashes[1], hashes[1], "blob hash");
        assertEq(info.txListHash, bytes32(0), "no calldata");
        assertEq(info.byteOffset, 100, "offset");

        p.blobParams = LibBatch.BlobParams(1, 2, 0, 10);
        vm.expectRevert(abi.encodeWithSelector(TaikoInbox.BlobNotFound.selector, 2));
        routed.proposeBatch(p, "");
        p.blobParams = LibBatch.BlobParams(0, 1, 131000, 1000); // beyond one blob
        vm.expectRevert(TaikoInbox.InvalidTxListSource.selector);
        routed.proposeBatch(p, "");
        p.blobParams = LibBatch.BlobParams(0, 1, 0, 10); // blobs and calldata
        vm.expectRevert(TaikoInbox.InvalidTxListSource.selector);
        routed.proposeBatch(p, hex"01");
        p.blobParams = LibBatch.BlobParams(0, 0, 0, 0); // neither
        vm.expectRevert(TaikoInbox.InvalidTxListSource.selector);
        routed.proposeBatch(p, "");
    }

    function test_bonds() public {
        address poor = address(0xB0);
        LibBatch.BatchParams memory p = _params(1);
        p.proposer = poor;
        vm.expectRevert(abi.encodeWithSelector(TaikoInbox.InsufficientBond.selector, 0, BOND));
        routed.proposeBatch(p, hex"01");
        vm.prank(alice);
        vm.expectRevert(
            abi.encodeWithSelector(TaikoInbox.InsufficientBond.selector, 1 ether, 2 ether)
        );
        routed.withdrawBond(2 ether);
        uint256 before = alice.balance;
        vm.prank(alice);
        routed.withdrawBond(0.5 ether);
        assertEq(alice.balance - before, 0.5 ether, "withdrawn");
    }

    function test_verify_returnsBondInOrder() public {
        routed.proposeBatch(_params(1), hex"01");
        vm.warp(block.timestamp + 1);
        routed.proposeBatch(_params(1), hex"02");
        assertEq(routed.bondBalance(alice), 1 ether - 2 * BOND, "two bonds held");
        vm.expectRevert(TaikoInbox.NotVerifier.selector);
        routed.verifyBatch(1);
        vm.startPrank(verifier);
        vm.expectRevert(abi.encodeWithSelector(TaikoInbox.NotNextBatch.selector, 1));
        routed.verifyBatch(2);
        routed.verifyBatch(1);
        routed.verifyBatch(2);
        vm.expectRevert(abi.encodeWithSelector(TaikoInbox.NotNextBatch.selector, 3));
        routed.verifyBatch(3);
        vm.stopPrank();
        assertEq(routed.bondBalance(alice), 1 ether, "bonds returned");
    }

    function test_initializeOnce() public {
        vm.expectRevert(TaikoInbox.AlreadyInitialized.selector);
        routed.initialize(address(1), address(2));
    }

    function testFuzz_digestAndTimestamps(uint8 n, uint256 shifts, bytes32 salt) public {
        n = uint8(1 + n % 8);
        LibBatch.BatchParams memory p = _params(n);
        for (uint256 i = 1; i < n; ++i) {
            p.blocks[i].timeShift = uint8(shifts >> (8 * i));
            p.blocks[i].txListHash = keccak256(abi.encode(salt, i));
        }
        LibBatch.BatchInfo memory info = routed.proposeBatch(p, abi.encode(salt));
        assertEq(info.digest, _expectedDigest(p, 1, 0), "digest");
        uint256 sum;
        for (uint256 i = 1; i < n; ++i) {
            sum += p.blocks[i].timeShift;
        }
        assertEq(
            LibBatch.blockTimestamp(p.blocks, p.lastBlockTimestamp, 0),
            block.timestamp - sum,
            "first timestamp"
        );
        assertEq(routed.metaHashOf(1), keccak256(abi.encode(info)), "meta");
    }
}
