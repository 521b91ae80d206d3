"""A resnet18-shaped CNN (torchvision's ResNet-18 layout: a 3x3 stem with
BatchNorm and max-pooling, four stages of two BasicBlocks, each conv followed
by BatchNorm, 1x1 convolution + BatchNorm shortcuts where a stage halves the
resolution, global average pooling, a linear head), with widths small enough
for an explicit float64 Jacobian. Written here because torchvision's CPU
build is not on the package index this project installs from (the PyPI
wheel is built for CUDA and fails to load its operators with a CPU torch)."""

import torch
from torch import nn


class BasicBlock(nn.Module):
    def __init__(self, fan_in, width, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(fan_in, width, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = None
        if stride != 1 or fan_in != width:
            self.downsample = nn.Sequential(nn.Conv2d(fan_in, width, 1, stride, bias=False), nn.BatchNorm2d(width))

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class ResNetShaped(nn.Module):
    def __init__(self, widths=(4, 8, 8, 16), classes=10, blocks=(2, 2, 2, 2)):
        super().__init__()
        self.conv1 = nn.Conv2d(3, widths[0], 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        layers, fan_in = [], widths[0]
        for stage, (width, count) in enumerate(zip(widths, blocks)):
            stride = 1 if stage == 0 else 2
            stage_blocks = []
            for k in range(count):
                stage_blocks.append(BasicBlock(fan_in, width, stride if k == 0 else 1))
                fan_in = width
            layers.append(nn.Sequential(*stage_blocks))
        self.layer1, self.layer2, self.layer3, self.layer4 = layers
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(fan_in, classes)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def resnet_shaped(seed=0, dtype=torch.float64, trained_statistics=True):
    """The network with running statistics as after some training (not
    the initial 0/1), and BatchNorm scales off their initial 1/0, so that
    the two modes differ as they do in a real run."""
    torch.manual_seed(seed)
    model = ResNetShaped().to(dtype)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.weight.add_(0.2 * torch.randn_like(module.weight))
                module.bias.add_(0.2 * torch.randn_like(module.bias))
                if trained_statistics:
                    module.running_mean.copy_(0.3 * torch.randn_like(module.running_mean))
                    module.running_var.copy_(torch.rand_like(module.running_var) + 0.5)
                    module.num_batches_tracked.fill_(7)
    return model


def images(seed=1, count=4, size=16, classes=10, dtype=torch.float64):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(count, 3, size, size, generator=generator, dtype=dtype)
    y = torch.randint(0, classes, (count,), generator=generator)
    return x, y
