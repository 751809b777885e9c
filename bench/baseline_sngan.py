"""The SNGAN baseline: the CIFAR-10 ResNet networks of Miyato et al. 2018
(https://arxiv.org/abs/1802.05957) written out in plain PyTorch, the same
layers as ganzo's ``resnet`` networks, spectral normalization by
``torch.nn.utils.spectral_norm`` on every layer of the discriminator, and the
training loop the way Mimicry's trainer writes it (``torch_mimicry/training/
trainer.py``, ``nets/gan/gan.py``): each turn takes ``n_dis`` batches; on the
first the generator steps (new noise, the discriminator's weights computing
gradients too), then on each the discriminator steps on fakes generated with
autograd on and detached; the losses and D(x), D(G(z)) are read with ``.item()``
every step, and both learning rates decay linearly per turn.

``bench/baseline.py --model sngan`` runs it (``SNGAN`` is in its ``MODELS``).
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim
from torch.nn.utils import spectral_norm


class GBlock(nn.Module):
    def __init__(self, in_channels, out_channels):
        super().__init__()
        self.c1 = nn.Conv2d(in_channels, out_channels, 3, 1, 1)
        self.c2 = nn.Conv2d(out_channels, out_channels, 3, 1, 1)
        self.b1 = nn.BatchNorm2d(in_channels)
        self.b2 = nn.BatchNorm2d(out_channels)
        self.c_sc = nn.Conv2d(in_channels, out_channels, 1, 1, 0)
        nn.init.xavier_uniform_(self.c1.weight.data, math.sqrt(2.0))
        nn.init.xavier_uniform_(self.c2.weight.data, math.sqrt(2.0))
        nn.init.xavier_uniform_(self.c_sc.weight.data, 1.0)

    def forward(self, x):
        h = F.interpolate(F.relu(self.b1(x)), scale_factor=2)
        h = self.c2(F.relu(self.b2(self.c1(h))))
        return h + self.c_sc(F.interpolate(x, scale_factor=2))


class DBlock(nn.Module):
    def __init__(self, in_channels, out_channels, downsample=False):
        super().__init__()
        self.downsample = downsample
        self.learnable_sc = in_channels != out_channels or downsample
        self.c1 = spectral_norm(nn.Conv2d(in_channels, out_channels, 3, 1, 1))
        self.c2 = spectral_norm(nn.Conv2d(out_channels, out_channels, 3, 1, 1))
        if self.learnable_sc:
            self.c_sc = spectral_norm(nn.Conv2d(in_channels, out_channels, 1, 1, 0))

    def forward(self, x):
        h = self.c2(F.relu(self.c1(F.relu(x))))
        if self.downsample:
            h = F.avg_pool2d(h, 2)
        shortcut = x
        if self.learnable_sc:
            shortcut = self.c_sc(x)
            if self.downsample:
                shortcut = F.avg_pool2d(shortcut, 2)
        return h + shortcut


class OptimizedDBlock(nn.Module):
    def __init__(self, in_channels, out_channels):
        super().__init__()
        self.c1 = spectral_norm(nn.Conv2d(in_channels, out_channels, 3, 1, 1))
        self.c2 = spectral_norm(nn.Conv2d(out_channels, out_channels, 3, 1, 1))
        self.c_sc = spectral_norm(nn.Conv2d(in_channels, out_channels, 1, 1, 0))

    def forward(self, x):
        h = F.avg_pool2d(self.c2(F.relu(self.c1(x))), 2)
        return h + self.c_sc(F.avg_pool2d(x, 2))


class SNGANGenerator32(nn.Module):
    def __init__(self, nz=128, ngf=256, bottom_width=4):
        super().__init__()
        self.nz, self.ngf, self.bottom_width = nz, ngf, bottom_width
        self.l1 = nn.Linear(nz, bottom_width ** 2 * ngf)
        self.block2, self.block3, self.block4 = GBlock(ngf, ngf), GBlock(ngf, ngf), GBlock(ngf, ngf)
        self.b5 = nn.BatchNorm2d(ngf)
        self.c5 = nn.Conv2d(ngf, 3, 3, 1, 1)
        nn.init.xavier_uniform_(self.l1.weight.data, 1.0)
        nn.init.xavier_uniform_(self.c5.weight.data, 1.0)

    def forward(self, x):
        h = self.l1(x).view(x.shape[0], -1, self.bottom_width, self.bottom_width)
        h = self.block4(self.block3(self.block2(h)))
        return torch.tanh(self.c5(F.relu(self.b5(h))))


class SNGANDiscriminator32(nn.Module):
    def __init__(self, ndf=128):
        super().__init__()
        self.block1 = OptimizedDBlock(3, ndf)
        self.block2 = DBlock(ndf, ndf, downsample=True)
        self.block3 = DBlock(ndf, ndf, downsample=False)
        self.block4 = DBlock(ndf, ndf, downsample=False)
        self.l5 = spectral_norm(nn.Linear(ndf, 1))
        nn.init.xavier_uniform_(self.l5.weight_orig.data, 1.0)

    def forward(self, x):
        h = self.block4(self.block3(self.block2(self.block1(x))))
        return self.l5(torch.sum(F.relu(h), dim=(2, 3))).view(-1)


class SNGAN:
    """One generator step and ``critic_iters`` discriminator steps per turn."""

    def __init__(self, opt, device, num_steps=100000):
        self.device, self.nz, self.opt = device, opt.nz, opt
        self.netG = SNGANGenerator32(opt.nz, opt.ngf).to(device)
        self.netD = SNGANDiscriminator32(opt.ndf).to(device)
        self.optD = optim.Adam(self.netD.parameters(), lr=opt.lr, betas=(opt.beta1, 0.9))
        self.optG = optim.Adam(self.netG.parameters(), lr=opt.lr, betas=(opt.beta1, 0.9))
        decay = lambda step: 1 - step / num_steps  # noqa: E731
        self.schedulers = [optim.lr_scheduler.LambdaLR(optimizer, decay)
                           for optimizer in (self.optD, self.optG)]

    def generate_images(self, num_images):
        return self.netG(torch.randn((num_images, self.nz), device=self.device))

    def step(self, batches):
        images = 0
        for i in range(self.opt.critic_iters):
            real_images = next(batches)[0].to(self.device)
            batch_size = real_images.shape[0]
            images += batch_size
            if i == 0:  # update G, once
                self.netG.zero_grad()
                output = self.netD(self.generate_images(batch_size))
                errG = -output.mean()
                errG.backward()
                self.optG.step()
            self.netD.zero_grad()
            output_real = self.netD(real_images)
            fake_images = self.generate_images(batch_size).detach()
            output_fake = self.netD(fake_images)
            errD = F.relu(1.0 - output_real).mean() + F.relu(1.0 + output_fake).mean()
            errD.backward()
            self.optD.step()
            statistics = (errD.item(), torch.sigmoid(output_real).mean().item(),
                          torch.sigmoid(output_fake).mean().item())
        for scheduler in self.schedulers:
            scheduler.step()
        return images, (*statistics, errG.item())
