// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title StakeLedger
/// @notice Native-ETH stake accounting shared by the restaking back ends: deposits, queued
/// withdrawals that stay slashable for a delay, and slashing. Keeps the conservation law
/// `totalDeposited == Σ balances + Σ queued + totalSlashed + totalWithdrawn` (an invariant test
/// checks it) and pays out only through `completeWithdrawal` and `_slash`.
abstract contract StakeLedger {
    /// @notice A withdrawal an operator has queued.
    struct Withdrawal {
        uint128 amount;
        uint64 unlockAt;
    }

    /// @notice Where burnt stake goes.
    address public constant BURN_ADDRESS = 0x000000000000000000000000000000000000dEaD;

    /// @dev Seconds a queued withdrawal stays slashable before it can be completed.
    uint256 internal immutable _withdrawalDelay;

    /// @notice Committed stake per operator (not counting queued withdrawals).
    mapping(address operator => uint256) public balanceOf;
    /// @notice The queued withdrawal per operator (one at a time).
    mapping(address operator => Withdrawal) public queued;

    /// @notice Sum of all deposits ever made.
    uint256 public totalDeposited;
    /// @notice Sum of all amounts slashed (rewarded or burnt).
    uint256 public totalSlashed;
    /// @notice Sum of all completed withdrawals.
    uint256 public totalWithdrawn;
    /// @notice Sum of all queued (not yet completed) withdrawals.
    uint256 public totalQueued;

    /// @notice A deposit was made.
    event Deposited(address indexed operator, uint256 amount);
    /// @notice A withdrawal was queued.
    event WithdrawalQueued(address indexed operator, uint256 amount, uint64 unlockAt);
    /// @notice A queued withdrawal was paid out.
    event WithdrawalCompleted(address indexed operator, uint256 amount);
    /// @notice Stake was slashed.
    event Slashed(
        address indexed operator, uint256 amount, address indexed recipient, uint256 reward
    );

    /// @notice The deposit carried no value.
    error ZeroAmount();
    /// @notice The operator lacks the stake for this withdrawal.
    error InsufficientStake(uint256 available, uint256 requested);
    /// @notice A withdrawal is already queued.
    error WithdrawalPending();
    /// @notice No withdrawal is queued.
    error NoWithdrawal();
    /// @notice The withdrawal delay has not passed yet.
    error WithdrawalLocked(uint64 unlockAt);
    /// @notice An ETH transfer failed.
    error TransferFailed();

    constructor(uint256 withdrawalDelay_) {
        _withdrawalDelay = withdrawalDelay_;
    }

    /// @notice Seconds a queued withdrawal stays slashable before it can be completed.
    function withdrawalDelay() public view virtual returns (uint256) {
        return _withdrawalDelay;
    }

    /// @notice Deposits `msg.value` as stake of the caller.
    function deposit() public payable virtual {
        if (msg.value == 0) revert ZeroAmount();
        balanceOf[msg.sender] += msg.value;
        totalDeposited += msg.value;
        emit Deposited(msg.sender, msg.value);
    }

    /// @notice Queues a withdrawal of `amount`; it stays slashable for `withdrawalDelay`.
    function queueWithdrawal(uint256 amount) public virtual {
        if (amount == 0) revert ZeroAmount();
        if (queued[msg.sender].amount != 0) revert WithdrawalPending();
        uint256 bal = balanceOf[msg.sender];
        if (amount > bal) revert InsufficientStake(bal, amount);
        balanceOf[msg.sender] = bal - amount;
        uint64 unlockAt = uint64(block.timestamp + _withdrawalDelay);
        queued[msg.sender] = Withdrawal(uint128(amount), unlockAt);
        totalQueued += amount;
        emit WithdrawalQueued(msg.sender, amount, unlockAt);
    }

    /// @notice Pays out the caller's queued withdrawal once its delay has passed.
    function completeWithdrawal() external {
        Withdrawal memory w = queued[msg.sender];
        if (w.amount == 0) revert NoWithdrawal();
        if (block.timestamp < w.unlockAt) revert WithdrawalLocked(w.unlockAt);
        delete queued[msg.sender];
        totalQueued -= w.amount;
        totalWithdrawn += w.amount;
        emit WithdrawalCompleted(msg.sender, w.amount);
        _send(msg.sender, w.amount);
    }

    /// @dev Takes up to `amount` from the balance, then from the queued withdrawal; pays
    /// `reward` (capped at what was taken) to `recipient` and burns the rest.
    function _slash(address operator, uint256 amount, address recipient, uint256 reward)
        internal
        returns (uint256 slashed)
    {
        uint256 bal = balanceOf[operator];
        uint256 fromBalance = amount < bal ? amount : bal;
        balanceOf[operator] = bal - fromBalance;
        slashed = fromBalance;
        if (slashed < amount) {
            Withdrawal storage w = queued[operator];
            uint256 want = amount - slashed;
            uint256 fromQueue = want < w.amount ? want : w.amount;
            w.amount -= uint128(fromQueue);
            totalQueued -= fromQueue;
            slashed += fromQueue;
        }
        totalSlashed += slashed;
        if (reward > slashed) reward = slashed;
        emit Slashed(operator, slashed, recipient, reward);
        if (reward != 0) _send(recipient, reward);
        if (slashed > reward) _send(BURN_ADDRESS, slashed - reward);
    }

    function _send(address to, uint256 amount) private {
        (bool ok,) = to.call{value: amount}("");
        if (!ok) revert TransferFailed();
    }
}
