"""Gates, gated residual blocks and the FLOPs budget layer."""

from lcnet_tf.layers.aig_gate import AigGate
from lcnet_tf.layers.block_gate import BlockGate
from lcnet_tf.layers.channel_gate import ChannelGate
from lcnet_tf.layers.flops_budget import FlopsBudget
from lcnet_tf.layers.gate_head import GateHead
from lcnet_tf.layers.gate_regularizer import GateRegularizer
from lcnet_tf.layers.gated_basic_block import GatedBasicBlock
from lcnet_tf.layers.gated_bottleneck_block import GatedBottleneckBlock
from lcnet_tf.layers.gated_residual_block import GatedResidualBlock

__all__ = [
    "AigGate",
    "BlockGate",
    "ChannelGate",
    "FlopsBudget",
    "GateHead",
    "GateRegularizer",
    "GatedBasicBlock",
    "GatedBottleneckBlock",
    "GatedResidualBlock",
]
