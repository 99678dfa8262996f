// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {EigenLayerMVP} from "./EigenLayerMVP.sol";
import {IRestaking} from "./IRestaking.sol";
import {ServiceBound} from "./ServiceBound.sol";

/// @title EigenLayerAdapter
/// @notice Presents an EigenLayer-shaped restaking system as `IRestaking`. From EigenLayer's
/// side this adapter is both the AVS and the slasher: an operator opts in to slashing by this
/// address, and the service manager registers and slashes it through here.
contract EigenLayerAdapter is ServiceBound, IRestaking {
    /// @notice The restaking system.
    EigenLayerMVP public immutable eigenLayer;

    constructor(EigenLayerMVP eigenLayer_) {
        eigenLayer = eigenLayer_;
    }

    /// @inheritdoc IRestaking
    function stakeOf(address operator) external view returns (uint256) {
        return eigenLayer.balanceOf(operator);
    }

    /// @inheritdoc IRestaking
    function withdrawalDelay() external view returns (uint256) {
        return eigenLayer.withdrawalDelay();
    }

    /// @inheritdoc IRestaking
    function isRegistered(address operator) external view returns (bool) {
        return eigenLayer.avsOperatorStatus(address(this), operator);
    }

    /// @inheritdoc IRestaking
    function registerOperator(address operator) external onlyService {
        eigenLayer.registerOperatorToAVS(operator);
    }

    /// @inheritdoc IRestaking
    function deregisterOperator(address operator) external onlyService {
        eigenLayer.deregisterOperatorFromAVS(operator);
    }

    /// @inheritdoc IRestaking
    function slash(address operator, uint256 amount, address recipient, uint256 reward)
        external
        onlyService
        returns (uint256)
    {
        return eigenLayer.slash(operator, amount, recipient, reward);
    }
}
