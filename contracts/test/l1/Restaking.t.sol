// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {TestBase} from "../utils/TestBase.sol";
import {EigenLayerAdapter} from "../../src/l1/restaking/EigenLayerAdapter.sol";
import {EigenLayerMVP} from "../../src/l1/restaking/EigenLayerMVP.sol";
import {NativeStaking} from "../../src/l1/restaking/NativeStaking.sol";
import {ServiceBound} from "../../src/l1/restaking/ServiceBound.sol";
import {StakeLedger} from "../../src/l1/restaking/StakeLedger.sol";

contract RestakingTest is TestBase {
    uint256 internal constant DELAY = 100;
    NativeStaking internal native;
    EigenLayerMVP internal el;
    EigenLayerAdapter internal adapter;
    address internal service = address(0x5E5);
    address internal op = address(0xAB0001);
    address internal challenger = address(0xC4A11);

    function setUp() public {
        native = new NativeStaking(DELAY);
        native.initialize(service);
        el = new EigenLayerMVP(DELAY);
        adapter = new EigenLayerAdapter(el);
        adapter.initialize(service);
        vm.deal(op, 100 ether);
    }

    // ------------------------------------------------------------ native staking

    function test_native_depositAndStake() public {
        vm.prank(op);
        native.deposit{value: 2 ether}();
        assertEq(native.stakeOf(op), 2 ether, "stake");
        assertEq(native.totalDeposited(), 2 ether, "total");
    }

    function test_native_zeroDepositReverts() public {
        vm.prank(op);
        vm.expectRevert(StakeLedger.ZeroAmount.selector);
        native.deposit();
    }

    function test_native_withdrawalWaitsForDelay() public {
        vm.startPrank(op);
        native.deposit{value: 2 ether}();
        native.queueWithdrawal(1 ether);
        assertEq(native.stakeOf(op), 1 ether, "queued stake no longer counts");
        uint64 unlockAt = uint64(block.timestamp + DELAY);
        vm.expectRevert(abi.encodeWithSelector(StakeLedger.WithdrawalLocked.selector, unlockAt));
        native.completeWithdrawal();
        vm.expectRevert(StakeLedger.WithdrawalPending.selector);
        native.queueWithdrawal(1);
        vm.warp(unlockAt);
        uint256 before = op.balance;
        native.completeWithdrawal();
        assertEq(op.balance - before, 1 ether, "paid out");
        vm.expectRevert(StakeLedger.NoWithdrawal.selector);
        native.completeWithdrawal();
        vm.stopPrank();
    }

    function test_native_withdrawMoreThanStakeReverts() public {
        vm.startPrank(op);
        native.deposit{value: 1 ether}();
        vm.expectRevert(
            abi.encodeWithSelector(StakeLedger.InsufficientStake.selector, 1 ether, 2 ether)
        );
        native.queueWithdrawal(2 ether);
        vm.stopPrank();
    }

    function test_native_slashTakesBalanceThenQueue() public {
        vm.startPrank(op);
        native.deposit{value: 2 ether}();
        native.queueWithdrawal(1.5 ether);
        vm.stopPrank();
        vm.prank(service);
        uint256 slashed = native.slash(op, 1 ether, challenger, 0.5 ether);
        assertEq(slashed, 1 ether, "slashed in full");
        assertEq(native.stakeOf(op), 0, "balance first");
        (uint128 q,) = native.queued(op);
        assertEq(q, 1 ether, "then the queue");
        assertEq(challenger.balance, 0.5 ether, "reward paid");
        assertEq(native.BURN_ADDRESS().balance, 0.5 ether, "rest burnt");
        vm.warp(block.timestamp + DELAY);
        vm.prank(op);
        native.completeWithdrawal();
        assertEq(address(native).balance, 0, "nothing stranded");
    }

    function test_native_slashCappedAtStake() public {
        vm.prank(op);
        native.deposit{value: 1 ether}();
        vm.prank(service);
        uint256 slashed = native.slash(op, 5 ether, challenger, 4 ether);
        assertEq(slashed, 1 ether, "capped");
        assertEq(challenger.balance, 1 ether, "reward capped at slashed");
    }

    function test_native_onlyService() public {
        vm.expectRevert(ServiceBound.NotService.selector);
        native.slash(op, 1, challenger, 0);
        vm.expectRevert(ServiceBound.NotService.selector);
        native.registerOperator(op);
        vm.expectRevert(ServiceBound.NotService.selector);
        native.deregisterOperator(op);
    }

    function test_native_registration() public {
        vm.startPrank(service);
        native.registerOperator(op);
        assertTrue(native.isRegistered(op), "registered");
        vm.expectRevert(abi.encodeWithSelector(NativeStaking.RegistrationUnchanged.selector, op));
        native.registerOperator(op);
        native.deregisterOperator(op);
        vm.expectRevert(abi.encodeWithSelector(NativeStaking.RegistrationUnchanged.selector, op));
        native.deregisterOperator(op);
        vm.stopPrank();
    }

    function test_initializeOnce() public {
        NativeStaking n = new NativeStaking(1);
        vm.prank(op);
        vm.expectRevert(ServiceBound.AlreadyInitialized.selector);
        n.initialize(service);
        n.initialize(service);
        vm.expectRevert(ServiceBound.AlreadyInitialized.selector);
        n.initialize(op);
    }

    // ------------------------------------------------------------ EigenLayer-shaped

    function test_eigen_registerNeedsOptIn() public {
        vm.prank(op);
        el.depositIntoStrategy{value: 1 ether}();
        vm.prank(service);
        vm.expectRevert(
            abi.encodeWithSelector(EigenLayerMVP.NotOptedIn.selector, op, address(adapter))
        );
        adapter.registerOperator(op);
        vm.prank(op);
        el.optIntoSlashing(address(adapter));
        vm.prank(service);
        adapter.registerOperator(op);
        assertTrue(adapter.isRegistered(op), "registered through the AVS directory");
        assertEq(adapter.stakeOf(op), 1 ether, "stake through the strategy");
        assertEq(adapter.withdrawalDelay(), DELAY, "delay");
        vm.prank(service);
        adapter.deregisterOperator(op);
        assertTrue(!adapter.isRegistered(op), "deregistered");
    }

    function test_eigen_slashOnlyByOptedInSlasher() public {
        vm.startPrank(op);
        el.depositIntoStrategy{value: 1 ether}();
        vm.stopPrank();
        vm.prank(service);
        vm.expectRevert(
            abi.encodeWithSelector(EigenLayerMVP.NotOptedIn.selector, op, address(adapter))
        );
        adapter.slash(op, 1 ether, challenger, 0);
        vm.prank(op);
        el.optIntoSlashing(address(adapter));
        vm.prank(service);
        assertEq(adapter.slash(op, 1 ether, challenger, 0.5 ether), 1 ether, "slashed");
        vm.expectRevert(ServiceBound.NotService.selector);
        adapter.slash(op, 1, challenger, 0);
        // another would-be slasher, not opted in to
        vm.expectRevert(
            abi.encodeWithSelector(EigenLayerMVP.NotOptedIn.selector, op, address(this))
        );
        el.slash(op, 1, challenger, 0);
    }

    function test_eigen_directoryStatusUnchangedReverts() public {
        vm.prank(op);
        el.optIntoSlashing(address(this));
        el.registerOperatorToAVS(op);
        vm.expectRevert(
            abi.encodeWithSelector(EigenLayerMVP.RegistrationUnchanged.selector, op, address(this))
        );
        el.registerOperatorToAVS(op);
        el.deregisterOperatorFromAVS(op);
        vm.expectRevert(
            abi.encodeWithSelector(EigenLayerMVP.RegistrationUnchanged.selector, op, address(this))
        );
        el.deregisterOperatorFromAVS(op);
    }

    function testFuzz_slashNeverExceedsStake(
        uint96 deposit,
        uint96 queue,
        uint96 amount,
        uint96 reward
    ) public {
        vm.assume(deposit != 0);
        queue = uint96(bound(queue, 0, deposit));
        vm.deal(op, deposit);
        vm.startPrank(op);
        native.deposit{value: deposit}();
        if (queue != 0) native.queueWithdrawal(queue);
        vm.stopPrank();
        vm.prank(service);
        uint256 slashed = native.slash(op, amount, challenger, reward);
        assertLe(slashed, deposit, "never more than staked");
        assertEq(slashed, amount < deposit ? amount : deposit, "takes what it can");
        assertEq(
            native.totalDeposited(),
            native.balanceOf(op) + native.totalQueued() + native.totalSlashed()
                + native.totalWithdrawn(),
            "conservation"
        );
        assertEq(address(native).balance, native.balanceOf(op) + native.totalQueued(), "backed");
    }

    function bound(uint256 x, uint256 lo, uint256 hi) internal pure returns (uint256) {
        return hi == lo ? lo : lo + (x % (hi - lo + 1));
    }
}

/// @notice Drives random deposits, withdrawals and slashes for the conservation invariant.
contract StakeHandler is TestBase {
    NativeStaking public immutable staking;
    address[] internal ops;

    constructor(NativeStaking staking_) {
        staking = staking_;
        for (uint160 i = 1; i <= 3; ++i) {
            ops.push(address(0x1000 + i));
        }
    }

    function deposit(uint256 who, uint96 amount) external {
        if (amount == 0) return;
        address op = ops[who % ops.length];
        vm.deal(op, amount);
        vm.prank(op);
        staking.deposit{value: amount}();
    }

    function queueWithdrawal(uint256 who, uint96 amount) external {
        address op = ops[who % ops.length];
        (uint128 q,) = staking.queued(op);
        uint256 bal = staking.balanceOf(op);
        if (q != 0 || bal == 0) return;
        vm.prank(op);
        staking.queueWithdrawal(1 + amount % bal);
    }

    function completeWithdrawal(uint256 who, uint32 wait) external {
        address op = ops[who % ops.length];
        (uint128 q, uint64 unlockAt) = staking.queued(op);
        vm.warp(block.timestamp + wait);
        if (q == 0 || block.timestamp < unlockAt) return;
        vm.prank(op);
        staking.completeWithdrawal();
    }

    function slash(uint256 who, uint96 amount, uint96 reward) external {
        vm.prank(staking.service());
        staking.slash(ops[who % ops.length], amount, address(0xC4A11), reward);
    }

    function sumBalances() external view returns (uint256 s) {
        for (uint256 i; i < ops.length; ++i) {
            s += staking.balanceOf(ops[i]);
        }
    }
}

contract StakeConservationInvariant is TestBase {
    NativeStaking internal staking;
    StakeHandler internal handler;

    function setUp() public {
        staking = new NativeStaking(50);
        staking.initialize(address(0x5E5));
        handler = new StakeHandler(staking);
    }

    /// @notice forge: fuzz only the handler.
    function targetContracts() public view returns (address[] memory t) {
        t = new address[](1);
        t[0] = address(handler);
    }

    /// @notice Stake is conserved: deposits = balances + queued + slashed + withdrawn, and the
    /// contract holds exactly the balances and the queued withdrawals.
    function invariant_stakeIsConserved() public view {
        assertEq(
            staking.totalDeposited(),
            handler.sumBalances() + staking.totalQueued() + staking.totalSlashed()
                + staking.totalWithdrawn(),
            "deposits = balances + queued + slashed + withdrawn"
        );
        assertEq(
            address(staking).balance,
            handler.sumBalances() + staking.totalQueued(),
            "the contract holds what is owed"
        );
    }
}
