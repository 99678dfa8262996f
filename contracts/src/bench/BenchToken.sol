// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title BenchToken
/// @notice A plain ERC-20 used by the node's execution tests and import benchmarks (the "contract
/// call" workload). Not deployed by the protocol.
contract BenchToken {
    /// @notice Token balances.
    mapping(address account => uint256 balance) public balanceOf;
    /// @notice Allowances.
    mapping(address owner => mapping(address spender => uint256 amount)) public allowance;
    /// @notice Total supply.
    uint256 public totalSupply;

    /// @notice ERC-20 transfer event.
    event Transfer(address indexed from, address indexed to, uint256 value);
    /// @notice ERC-20 approval event.
    event Approval(address indexed owner, address indexed spender, uint256 value);

    /// @notice The sender's balance or allowance is too small.
    error Insufficient();

    /// @notice Mints `supply` to the deployer.
    /// @param supply Initial supply.
    constructor(uint256 supply) {
        totalSupply = supply;
        balanceOf[msg.sender] = supply;
        emit Transfer(address(0), msg.sender, supply);
    }

    /// @notice Transfers `value` to `to`.
    /// @param to Recipient.
    /// @param value Amount.
    /// @return Always true.
    function transfer(address to, uint256 value) external returns (bool) {
        _move(msg.sender, to, value);
        return true;
    }

    /// @notice Approves `spender` for `value`.
    /// @param spender Spender.
    /// @param value Amount.
    /// @return Always true.
    function approve(address spender, uint256 value) external returns (bool) {
        allowance[msg.sender][spender] = value;
        emit Approval(msg.sender, spender, value);
        return true;
    }

    /// @notice Transfers `value` from `from` to `to` using the caller's allowance.
    /// @param from Owner.
    /// @param to Recipient.
    /// @param value Amount.
    /// @return Always true.
    function transferFrom(address from, address to, uint256 value) external returns (bool) {
        uint256 allowed = allowance[from][msg.sender];
        if (allowed < value) revert Insufficient();
        allowance[from][msg.sender] = allowed - value;
        _move(from, to, value);
        return true;
    }

    function _move(address from, address to, uint256 value) private {
        uint256 bal = balanceOf[from];
        if (bal < value) revert Insufficient();
        unchecked {
            balanceOf[from] = bal - value;
        }
        balanceOf[to] += value;
        emit Transfer(from, to, value);
    }
}
