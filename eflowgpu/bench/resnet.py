"""ResNet-50 built in code (no torchvision, no download): random, seeded weights, for inference timing.

The architecture is torchvision's ``resnet50`` (ResNet v1.5, the variant NVIDIA's PyTorch
reference numbers use: the stride-2 convolution of a downsampling block is its 3x3, not its first
1x1): a 7x7/2 stem with max-pooling, Bottleneck blocks ``[3, 4, 6, 3]`` with widths 64-512 and
expansion 4, global average pooling and a 2048→1000 classifier: 25,557,032 parameters.

Weights are drawn from a seeded generator (Kaiming-normal convolutions, as torchvision
initialises them) and the model is returned in eval mode. Timing does not depend on the values,
but non-finite activations could (denormals are slow on CPUs), so each block's last batch-norm
scale is set to 0.2 rather than 1: activations stay finite in fp16 through all 16 blocks.
"""

from __future__ import annotations

from eflowgpu.bench.torchlib import nn, torch

LAYERS = (3, 4, 6, 3)
"""Bottleneck blocks per stage (ResNet-50)."""
CLASSES = 1000
EXPANSION = 4
RESIDUAL_BN_SCALE = 0.2
"""Initial scale of each block's last batch norm (see the module docstring)."""


class Bottleneck(nn.Module):
    """1x1 reduce, 3x3 (carrying the stride), 1x1 expand, each with batch norm; ReLU after the sum."""

    def __init__(self, inplanes: int, width: int, stride: int) -> None:
        super().__init__()
        out = width * EXPANSION
        self.conv1 = nn.Conv2d(inplanes, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, out, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out)
        self.relu = nn.ReLU(inplace=True)
        self.downsample: nn.Module | None = None
        if stride != 1 or inplanes != out:
            self.downsample = nn.Sequential(
                nn.Conv2d(inplanes, out, 1, stride=stride, bias=False), nn.BatchNorm2d(out)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The block's output for ``x``."""
        identity = x if self.downsample is None else self.downsample(x)
        y = self.relu(self.bn1(self.conv1(x)))
        y = self.relu(self.bn2(self.conv2(y)))
        y = self.bn3(self.conv3(y))
        out: torch.Tensor = self.relu(y + identity)
        return out


class ResNet50(nn.Module):
    """ResNet-50 (v1.5) for ``(batch, 3, 224, 224)`` images, ``(batch, 1000)`` logits."""

    def __init__(self, classes: int = CLASSES) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        stages: list[nn.Module] = []
        inplanes = 64
        for index, (blocks, width) in enumerate(zip(LAYERS, (64, 128, 256, 512), strict=True)):
            stride = 1 if index == 0 else 2
            stage: list[nn.Module] = []
            for number in range(blocks):
                stage.append(Bottleneck(inplanes, width, stride if number == 0 else 1))
                inplanes = width * EXPANSION
            stages.append(nn.Sequential(*stage))
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(512 * EXPANSION, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits for a batch of images."""
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        logits: torch.Tensor = self.fc(torch.flatten(self.avgpool(x), 1))
        return logits


def resnet50(seed: int = 0, classes: int = CLASSES) -> ResNet50:
    """A ResNet-50 with weights drawn from ``torch.Generator().manual_seed(seed)``, in eval mode, on the CPU.

    Same seed, same weights (on the same PyTorch version). Move it with ``.to(device, dtype)``.
    """
    generator = torch.Generator().manual_seed(seed)
    model = ResNet50(classes)
    with torch.no_grad():  # drawn by hand: nn.init takes a generator only from torch 2.2
        for module in model.modules():
            if isinstance(module, nn.Conv2d):  # Kaiming normal, fan_out, ReLU gain (torchvision's)
                weight = module.weight
                fan_out = weight.shape[0] * weight.shape[2] * weight.shape[3]
                std = (2.0 / fan_out) ** 0.5
                weight.copy_(torch.randn(weight.shape, generator=generator) * std)
            elif isinstance(module, nn.BatchNorm2d):
                module.weight.fill_(1.0)
                module.bias.zero_()
            elif isinstance(module, nn.Linear):  # PyTorch's default: uniform within 1/sqrt(fan_in)
                bound = 1 / module.in_features**0.5
                for tensor in (module.weight, module.bias):
                    tensor.copy_((torch.rand(tensor.shape, generator=generator) * 2 - 1) * bound)
        for module in model.modules():
            if isinstance(module, Bottleneck):
                module.bn3.weight.fill_(RESIDUAL_BN_SCALE)
    return model.eval()


def parameter_count(model: nn.Module) -> int:
    """The number of parameters (weights and biases; batch-norm running statistics are buffers)."""
    return sum(p.numel() for p in model.parameters())
