// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IRestaking} from "./IRestaking.sol";
import {ServiceBound} from "./ServiceBound.sol";
import {StakeLedger} from "./StakeLedger.sol";

/// @title NativeStaking
/// @notice The plain back end: operators stake ETH directly here for one service (the service
/// manager), which may register them and slash them.
contract NativeStaking is StakeLedger, ServiceBound, IRestaking {
    /// @inheritdoc IRestaking
    mapping(address operator => bool) public override isRegistered;

    /// @notice An operator was registered to the service.
    event OperatorRegistered(address indexed operator);
    /// @notice An operator was deregistered from the service.
    event OperatorDeregistered(address indexed operator);

    /// @notice The operator is already registered / not registered.
    error RegistrationUnchanged(address operator);

    constructor(uint256 withdrawalDelay_) StakeLedger(withdrawalDelay_) {}

    /// @inheritdoc IRestaking
    function stakeOf(address operator) external view returns (uint256) {
        return balanceOf[operator];
    }

    /// @inheritdoc IRestaking
    function withdrawalDelay() public view override(StakeLedger, IRestaking) returns (uint256) {
        return _withdrawalDelay;
    }

    /// @inheritdoc IRestaking
    function registerOperator(address operator) external onlyService {
        if (isRegistered[operator]) revert RegistrationUnchanged(operator);
        isRegistered[operator] = true;
        emit OperatorRegistered(operator);
    }

    /// @inheritdoc IRestaking
    function deregisterOperator(address operator) external onlyService {
        if (!isRegistered[operator]) revert RegistrationUnchanged(operator);
        isRegistered[operator] = false;
        emit OperatorDeregistered(operator);
    }

    /// @inheritdoc IRestaking
    function slash(address operator, uint256 amount, address recipient, uint256 reward)
        external
        onlyService
        returns (uint256)
    {
        return _slash(operator, amount, recipient, reward);
    }
}
