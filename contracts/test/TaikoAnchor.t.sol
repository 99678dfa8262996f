// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {TestBase} from "./utils/TestBase.sol";
import {TaikoAnchor} from "../src/l2/TaikoAnchor.sol";
import {LibFixedPointMath} from "../src/libs/LibFixedPointMath.sol";

contract TaikoAnchorTest is TestBase {
    TaikoAnchor internal anchorC;
    address internal constant GT = 0x0000777735367b36bC9B61C50022d9D0700dB4Ec;
    TaikoAnchor.BaseFeeConfig internal cfg;

    function setUp() public {
        anchorC = new TaikoAnchor();
        cfg = TaikoAnchor.BaseFeeConfig({
            adjustmentQuotient: 8,
            sharingPctg: 75,
            gasIssuancePerSecond: 5_000_000,
            minGasExcess: 1_340_000_000,
            maxGasIssuancePerBlock: 600_000_000
        });
        vm.roll(1);
        vm.warp(1_000);
    }

    function _expected(uint32 parentGasUsed) internal view returns (uint256 fee, uint64 excess) {
        (fee, excess) = anchorC.calculateBaseFee(
            cfg,
            anchorC.gasExcess(),
            parentGasUsed,
            anchorC.parentTimestamp(),
            uint64(block.timestamp)
        );
    }

    function _anchor(uint64 id, uint32 parentGasUsed) internal {
        (uint256 fee,) = _expected(parentGasUsed);
        vm.fee(fee);
        vm.prank(GT, GT);
        anchorC.anchor(
            id, keccak256(abi.encode("h", id)), keccak256(abi.encode("s", id)), parentGasUsed, cfg
        );
    }

    // --- base-fee formula: hand-computed cases --------------------------------------------

    /// At the minimum excess 1.34e9 and target 4e7: e^33.5 / 4e7 = 8_847_185.89… (real math);
    /// the fixed-point result must be within 1 ppm of it and equal the Rust value exactly.
    function test_baseFee_atMinExcess() public view {
        (uint256 fee, uint64 excess) = anchorC.calculateBaseFee(cfg, 0, 0, 0, 1_000);
        assertEq(excess, 1_340_000_000, "excess clamps to min");
        assertEq(fee, 8_847_185, "fee at min excess");
    }

    /// Excess 2e9 (x = 50): e^50 / 4e7 = 1.29617…e14.
    function test_baseFee_highExcess() public view {
        // parent excess 1.4e9 + used 6e8, dt = 0 → no issuance → excess 2e9
        (uint256 fee, uint64 excess) =
            anchorC.calculateBaseFee(cfg, 1_400_000_000, 600_000_000, 10, 10);
        assertEq(excess, 2_000_000_000, "excess");
        assertEq(fee, 129_617_638_214_676, "fee at excess 2e9");
    }

    /// Issuance is min(dt·rate, max): 2 s at 5M/s issues 1e7.
    function test_baseFee_issuance() public view {
        (, uint64 excess) = anchorC.calculateBaseFee(cfg, 1_500_000_000, 20_000_000, 100, 102);
        assertEq(excess, 1_510_000_000, "2s issuance");
        (, excess) = anchorC.calculateBaseFee(cfg, 1_500_000_000, 20_000_000, 0, 1_000_000);
        assertEq(excess, 1_340_000_000, "issuance capped then clamped");
    }

    function test_exp_knownValues() public pure {
        assertEq(LibFixedPointMath.exp(0), 1e18, "e^0");
        uint256 e1 = LibFixedPointMath.exp(1e18);
        assertGe(e1, 2_718_281_828_459_045_000, "e^1 low");
        assertLe(e1, 2_718_281_828_459_045_236, "e^1 high");
    }

    function test_exp_overflowReverts() public {
        Wrapper w = new Wrapper();
        vm.expectRevert(LibFixedPointMath.ExpOverflow.selector);
        w.exp(135e18 + 1);
    }

    function testFuzz_baseFee_monotonicInExcess(uint64 excessA, uint64 excessB) public {
        vm.assume(excessA <= excessB);
        (uint256 a,) = anchorC.calculateBaseFee(cfg, excessA, 0, 5, 5);
        (uint256 b,) = anchorC.calculateBaseFee(cfg, excessB, 0, 5, 5);
        assertLe(a, b, "monotonic");
        assertGe(a, 1, "at least 1 wei");
    }

    function testFuzz_exp_monotonic(uint256 x) public pure {
        x = x % 134e18;
        assertLe(LibFixedPointMath.exp(x), LibFixedPointMath.exp(x + 1e15), "monotonic exp");
    }

    // --- anchor -------------------------------------------------------------------------------

    function test_anchor_recordsL1Block() public {
        (, uint64 excess) = _expected(0);
        vm.setBlockhash(0, bytes32(uint256(0xabc)));
        _anchor(7, 0);
        assertEq(anchorC.l1BlockHashes(7), keccak256(abi.encode("h", uint64(7))), "l1 hash");
        assertEq(anchorC.l1StateRoots(7), keccak256(abi.encode("s", uint64(7))), "l1 state root");
        assertEq(anchorC.l2BlockHashes(0), bytes32(uint256(0xabc)), "parent hash");
        assertEq(anchorC.lastAnchorBlockId(), 7, "last anchor id");
        assertEq(anchorC.lastAnchoredL2Block(), 1, "last anchored l2 block");
        assertEq(anchorC.gasExcess(), excess, "excess stored");
        assertEq(anchorC.parentTimestamp(), 1_000, "timestamp stored");
    }

    function test_anchor_emitsEvent() public {
        (uint256 fee, uint64 excess) = _expected(0);
        vm.fee(fee);
        vm.expectEmit(true, true, false, true, address(anchorC));
        emit TaikoAnchor.Anchored(1, 3, bytes32(uint256(1)), bytes32(uint256(2)), fee, excess);
        vm.prank(GT, GT);
        anchorC.anchor(3, bytes32(uint256(1)), bytes32(uint256(2)), 0, cfg);
    }

    function test_anchor_successiveBlocks() public {
        _anchor(1, 0);
        vm.roll(2);
        vm.warp(1_002);
        _anchor(1, 30_000_000);
        vm.roll(3);
        vm.warp(1_004);
        _anchor(2, 1_000_000);
        assertEq(anchorC.lastAnchoredL2Block(), 3, "three blocks anchored");
        assertEq(anchorC.lastAnchorBlockId(), 2, "anchor id advanced");
    }

    function test_anchor_rejectsSecondAnchorInBlock() public {
        _anchor(1, 0);
        (uint256 fee,) = _expected(0);
        vm.fee(fee);
        vm.prank(GT, GT);
        vm.expectRevert(TaikoAnchor.AlreadyAnchored.selector);
        anchorC.anchor(1, bytes32(uint256(1)), bytes32(uint256(1)), 0, cfg);
    }

    function test_anchor_rejectsWrongSender() public {
        (uint256 fee,) = _expected(0);
        vm.fee(fee);
        vm.prank(address(0xBEEF), address(0xBEEF));
        vm.expectRevert(TaikoAnchor.NotGoldenTouch.selector);
        anchorC.anchor(1, bytes32(uint256(1)), bytes32(uint256(1)), 0, cfg);
    }

    function test_anchor_rejectsGoldenTouchThroughContract() public {
        (uint256 fee,) = _expected(0);
        vm.fee(fee);
        vm.prank(GT, address(0xBEEF));
        vm.expectRevert(TaikoAnchor.NotGoldenTouch.selector);
        anchorC.anchor(1, bytes32(uint256(1)), bytes32(uint256(1)), 0, cfg);
    }

    function test_anchor_rejectsWrongBaseFee() public {
        (uint256 fee,) = _expected(0);
        vm.fee(fee + 1);
        vm.prank(GT, GT);
        vm.expectRevert(abi.encodeWithSelector(TaikoAnchor.BaseFeeMismatch.selector, fee, fee + 1));
        anchorC.anchor(1, bytes32(uint256(1)), bytes32(uint256(1)), 0, cfg);
    }

    function test_anchor_rejectsRegressedAnchorId() public {
        _anchor(5, 0);
        vm.roll(2);
        (uint256 fee,) = _expected(0);
        vm.fee(fee);
        vm.prank(GT, GT);
        vm.expectRevert(abi.encodeWithSelector(TaikoAnchor.AnchorBlockIdRegressed.selector, 5, 4));
        anchorC.anchor(4, bytes32(uint256(1)), bytes32(uint256(1)), 0, cfg);
    }

    function test_anchor_rejectsZeroAnchorBlock() public {
        (uint256 fee,) = _expected(0);
        vm.fee(fee);
        vm.prank(GT, GT);
        vm.expectRevert(TaikoAnchor.InvalidAnchorBlock.selector);
        anchorC.anchor(1, 0, bytes32(uint256(1)), 0, cfg);
    }

    function test_anchor_rejectsBadConfig() public {
        cfg.adjustmentQuotient = 0;
        vm.prank(GT, GT);
        vm.expectRevert(TaikoAnchor.InvalidBaseFeeConfig.selector);
        anchorC.anchor(1, bytes32(uint256(1)), bytes32(uint256(1)), 0, cfg);
    }

    function test_rejectsTransfersAndUnknownCalls() public {
        vm.deal(address(this), 1 ether);
        (bool ok,) = address(anchorC).call{value: 1}("");
        assertTrue(!ok, "plain transfer refused");
        (ok,) = address(anchorC).call(abi.encodeWithSignature("nope()"));
        assertTrue(!ok, "unknown call refused");
    }

    function testFuzz_anchor_onlyGoldenTouch(address caller) public {
        vm.assume(caller != GT);
        (uint256 fee,) = _expected(0);
        vm.fee(fee);
        vm.prank(caller, caller);
        vm.expectRevert(TaikoAnchor.NotGoldenTouch.selector);
        anchorC.anchor(1, bytes32(uint256(1)), bytes32(uint256(1)), 0, cfg);
    }
}

contract Wrapper {
    function exp(uint256 x) external pure returns (uint256) {
        return LibFixedPointMath.exp(x);
    }
}
