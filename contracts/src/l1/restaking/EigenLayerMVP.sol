// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {StakeLedger} from "./StakeLedger.sol";

/// @title EigenLayerMVP
/// @notice A minimal restaking system with EigenLayer's shape, for devnets and tests: a
/// strategy manager (`depositIntoStrategy`, queued withdrawals with a delay), a slasher
/// (`optIntoSlashing`; only a slasher the operator opted in to may slash it) and an AVS
/// directory (`registerOperatorToAVS`, only for operators opted in to that AVS's slashing).
/// @dev Stake is native ETH held here; queued withdrawals stay slashable until completed.
contract EigenLayerMVP is StakeLedger {
    /// @notice Whether `operator` accepted that `slasher` may slash it.
    mapping(address operator => mapping(address slasher => bool)) public isOptedIn;
    /// @notice Whether `operator` is registered to `avs`.
    mapping(address avs => mapping(address operator => bool)) public avsOperatorStatus;

    /// @notice An operator opted in to being slashed by `slasher`.
    event OptedIntoSlashing(address indexed operator, address indexed slasher);
    /// @notice An operator's registration to an AVS changed.
    event OperatorAVSRegistrationStatusUpdated(
        address indexed operator, address indexed avs, bool registered
    );

    /// @notice The operator has not opted in to slashing by the caller.
    error NotOptedIn(address operator, address slasher);
    /// @notice The registration is already in the requested state.
    error RegistrationUnchanged(address operator, address avs);

    constructor(uint256 withdrawalDelay_) StakeLedger(withdrawalDelay_) {}

    /// @notice Deposits `msg.value` as restaked ETH of the caller (EigenLayer's
    /// `StrategyManager.depositIntoStrategy`, with one native-ETH strategy).
    function depositIntoStrategy() external payable {
        deposit();
    }

    /// @notice Allows `slasher` to slash the caller.
    function optIntoSlashing(address slasher) external {
        isOptedIn[msg.sender][slasher] = true;
        emit OptedIntoSlashing(msg.sender, slasher);
    }

    /// @notice Registers `operator` to the calling AVS; the operator must have opted in to
    /// slashing by it.
    function registerOperatorToAVS(address operator) external {
        if (!isOptedIn[operator][msg.sender]) revert NotOptedIn(operator, msg.sender);
        if (avsOperatorStatus[msg.sender][operator]) {
            revert RegistrationUnchanged(operator, msg.sender);
        }
        avsOperatorStatus[msg.sender][operator] = true;
        emit OperatorAVSRegistrationStatusUpdated(operator, msg.sender, true);
    }

    /// @notice Deregisters `operator` from the calling AVS.
    function deregisterOperatorFromAVS(address operator) external {
        if (!avsOperatorStatus[msg.sender][operator]) {
            revert RegistrationUnchanged(operator, msg.sender);
        }
        avsOperatorStatus[msg.sender][operator] = false;
        emit OperatorAVSRegistrationStatusUpdated(operator, msg.sender, false);
    }

    /// @notice Slashes `operator` on behalf of a slasher it opted in to.
    function slash(address operator, uint256 amount, address recipient, uint256 reward)
        external
        returns (uint256)
    {
        if (!isOptedIn[operator][msg.sender]) revert NotOptedIn(operator, msg.sender);
        return _slash(operator, amount, recipient, reward);
    }
}
