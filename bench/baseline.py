"""The baseline: GAN training in plain PyTorch, written the way pytorch/examples
dcgan/main.py does it (and, for WGAN-GP, the way the common PyTorch ports of
the WGAN-GP code do it), with the architectures and hyper-parameters that the
benchmark gives ganzo.

    python bench/baseline.py --model dcgan --dataroot ../shared/data/cifar10-test \\
        --image-size 64 --batches 6 --epochs 3

runs ``--epochs`` epochs of ``--batches`` batches each and prints one JSON line:
real images per second over all epochs but the first (start-up excluded), as the
benchmark reads ganzo's own statistics.
"""

from __future__ import annotations

import argparse
import json
import math
import time

import torch
import torch.nn as nn
import torch.optim as optim
import torch.utils.data
import torchvision.datasets as dset
import torchvision.transforms as transforms

# DCGAN, as pytorch/examples dcgan/main.py (there for 64 px: 4 stages; a stage
# fewer for 32 px).


def weights_init(m):
    classname = m.__class__.__name__
    if classname.find('Conv') != -1:
        torch.nn.init.normal_(m.weight, 0.0, 0.02)
    elif classname.find('BatchNorm') != -1:
        torch.nn.init.normal_(m.weight, 1.0, 0.02)
        torch.nn.init.zeros_(m.bias)


class Generator(nn.Module):
    def __init__(self, nz, ngf, nc, image_size):
        super().__init__()
        stages = int(math.log2(image_size // 4))
        width = ngf * 2 ** (stages - 1)
        layers = [nn.ConvTranspose2d(nz, width, 4, 1, 0, bias=False),
                  nn.BatchNorm2d(width), nn.ReLU(True)]
        for _ in range(stages - 1):
            layers += [nn.ConvTranspose2d(width, width // 2, 4, 2, 1, bias=False),
                       nn.BatchNorm2d(width // 2), nn.ReLU(True)]
            width //= 2
        layers += [nn.ConvTranspose2d(width, nc, 4, 2, 1, bias=False), nn.Tanh()]
        self.main = nn.Sequential(*layers)

    def forward(self, input):
        return self.main(input)


class Discriminator(nn.Module):
    def __init__(self, ndf, nc, image_size):
        super().__init__()
        stages = int(math.log2(image_size // 4))
        width = ndf
        layers = [nn.Conv2d(nc, ndf, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, inplace=True)]
        for _ in range(stages - 1):
            layers += [nn.Conv2d(width, width * 2, 4, 2, 1, bias=False),
                       nn.BatchNorm2d(width * 2), nn.LeakyReLU(0.2, inplace=True)]
            width *= 2
        layers += [nn.Conv2d(width, 1, 4, 1, 0, bias=False), nn.Sigmoid()]
        self.main = nn.Sequential(*layers)

    def forward(self, input):
        output = self.main(input)
        return output.view(-1, 1).squeeze(1)


class DCGAN:
    """One training step per batch, as in pytorch/examples dcgan."""

    def __init__(self, opt, device):
        self.device, self.nz = device, opt.nz
        self.netG = Generator(opt.nz, opt.ngf, 3, opt.image_size).to(device)
        self.netG.apply(weights_init)
        self.netD = Discriminator(opt.ndf, 3, opt.image_size).to(device)
        self.netD.apply(weights_init)
        self.criterion = nn.BCELoss()
        self.real_label, self.fake_label = 1, 0
        self.optimizerD = optim.Adam(self.netD.parameters(), lr=opt.lr, betas=(opt.beta1, 0.999))
        self.optimizerG = optim.Adam(self.netG.parameters(), lr=opt.lr, betas=(opt.beta1, 0.999))

    def step(self, batches):
        netD, netG, criterion, device = self.netD, self.netG, self.criterion, self.device
        data = next(batches)
        ############################
        # (1) Update D network: maximize log(D(x)) + log(1 - D(G(z)))
        ###########################
        # train with real
        netD.zero_grad()
        real_cpu = data[0].to(device)
        batch_size = real_cpu.size(0)
        label = torch.full((batch_size,), self.real_label,
                           dtype=real_cpu.dtype, device=device)

        output = netD(real_cpu)
        errD_real = criterion(output, label)
        errD_real.backward()
        D_x = output.mean().item()

        # train with fake
        noise = torch.randn(batch_size, self.nz, 1, 1, device=device)
        fake = netG(noise)
        label.fill_(self.fake_label)
        output = netD(fake.detach())
        errD_fake = criterion(output, label)
        errD_fake.backward()
        D_G_z1 = output.mean().item()
        errD = errD_real + errD_fake
        self.optimizerD.step()

        ############################
        # (2) Update G network: maximize log(D(G(z)))
        ###########################
        netG.zero_grad()
        label.fill_(self.real_label)  # fake labels are real for generator cost
        output = netD(fake)
        errG = criterion(output, label)
        errG.backward()
        D_G_z2 = output.mean().item()
        self.optimizerG.step()
        return batch_size, (errD.item(), errG.item(), D_x, D_G_z1, D_G_z2)


# WGAN-GP with the "good" ResNet networks, as ganzo's GoodGenerator and
# GoodDiscriminator (same layers, written out here), and the training loop of
# the usual PyTorch ports of the WGAN-GP code.

def width(channels, halvings):
    return channels * 2 ** min(halvings, 3)


class UpBlock(nn.Module):
    def __init__(self, inputs, outputs):
        super().__init__()
        self.residual = nn.Sequential(
            nn.BatchNorm2d(inputs), nn.ReLU(), nn.Upsample(scale_factor=2),
            nn.Conv2d(inputs, outputs, 3, padding=1), nn.BatchNorm2d(outputs), nn.ReLU(),
            nn.Conv2d(outputs, outputs, 3, padding=1))
        self.shortcut = nn.Sequential(nn.Upsample(scale_factor=2), nn.Conv2d(inputs, outputs, 1))

    def forward(self, x):
        return self.shortcut(x) + self.residual(x)


class DownBlock(nn.Module):
    def __init__(self, inputs, outputs):
        super().__init__()
        self.residual = nn.Sequential(
            nn.GroupNorm(1, inputs), nn.ReLU(), nn.Conv2d(inputs, inputs, 3, padding=1),
            nn.GroupNorm(1, inputs), nn.ReLU(), nn.Conv2d(inputs, outputs, 3, padding=1),
            nn.AvgPool2d(2))
        self.shortcut = nn.Sequential(nn.AvgPool2d(2), nn.Conv2d(inputs, outputs, 1))

    def forward(self, x):
        return self.shortcut(x) + self.residual(x)


class GoodGenerator(nn.Module):
    def __init__(self, nz, dim, image_size):
        super().__init__()
        stages = int(math.log2(image_size // 4))
        self.shape = (width(dim, stages), 4, 4)
        self.linear = nn.Linear(nz, width(dim, stages) * 16)
        self.blocks = nn.Sequential(*[UpBlock(width(dim, h), width(dim, h - 1))
                                      for h in range(stages, 0, -1)])
        self.output = nn.Sequential(nn.BatchNorm2d(dim), nn.ReLU(),
                                    nn.Conv2d(dim, 3, 3, padding=1), nn.Tanh())

    def forward(self, noise):
        return self.output(self.blocks(self.linear(noise).view(-1, *self.shape)))


class GoodDiscriminator(nn.Module):
    def __init__(self, dim, image_size):
        super().__init__()
        stages = int(math.log2(image_size // 4))
        self.input = nn.Conv2d(3, dim, 3, padding=1)
        self.blocks = nn.Sequential(*[DownBlock(width(dim, h), width(dim, h + 1))
                                      for h in range(stages)])
        self.linear = nn.Linear(width(dim, stages) * 16, 1)

    def forward(self, images):
        return self.linear(self.blocks(self.input(images)).flatten(1)).view(-1)


def calc_gradient_penalty(netD, real_data, fake_data, lambda_):
    alpha = torch.rand(real_data.size(0), 1, 1, 1, device=real_data.device)
    interpolates = alpha * real_data + ((1 - alpha) * fake_data)
    interpolates.requires_grad_(True)
    disc_interpolates = netD(interpolates)
    gradients = torch.autograd.grad(outputs=disc_interpolates, inputs=interpolates,
                                    grad_outputs=torch.ones_like(disc_interpolates),
                                    create_graph=True, retain_graph=True, only_inputs=True)[0]
    gradients = gradients.view(gradients.size(0), -1)
    return ((gradients.norm(2, dim=1) - 1) ** 2).mean() * lambda_


class WGANGP:
    """One generator iteration per ``critic_iters`` critic iterations, each critic
    iteration on a new batch."""

    def __init__(self, opt, device):
        self.device, self.nz, self.opt = device, opt.nz, opt
        self.netG = GoodGenerator(opt.nz, opt.ngf, opt.image_size).to(device)
        self.netD = GoodDiscriminator(opt.ndf, opt.image_size).to(device)
        self.optimizerD = optim.Adam(self.netD.parameters(), lr=opt.lr, betas=(opt.beta1, 0.9))
        self.optimizerG = optim.Adam(self.netG.parameters(), lr=opt.lr, betas=(opt.beta1, 0.9))

    def step(self, batches):
        netD, netG, device = self.netD, self.netG, self.device
        for p in netD.parameters():  # reset requires_grad
            p.requires_grad = True
        images = 0
        for _ in range(self.opt.critic_iters):
            real_data = next(batches)[0].to(device)
            images += real_data.size(0)
            netD.zero_grad()
            D_real = netD(real_data).mean()
            noise = torch.randn(real_data.size(0), self.nz, device=device)
            with torch.no_grad():
                fake = netG(noise)
            D_fake = netD(fake).mean()
            gradient_penalty = calc_gradient_penalty(netD, real_data, fake, self.opt.lambda_)
            D_cost = D_fake - D_real + gradient_penalty
            D_cost.backward()
            self.optimizerD.step()
        for p in netD.parameters():
            p.requires_grad = False  # to avoid computation
        netG.zero_grad()
        noise = torch.randn(real_data.size(0), self.nz, device=device)
        G_cost = -netD(netG(noise)).mean()
        G_cost.backward()
        self.optimizerG.step()
        return images, (D_cost.item(), G_cost.item())


from baseline_sngan import SNGAN  # noqa: E402  (SNGAN, the way Mimicry trains it)

MODELS = {'dcgan': DCGAN, 'wgan-gp': WGANGP, 'sngan': SNGAN}


def parse(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--model', choices=MODELS, default='dcgan')
    parser.add_argument('--dataroot', required=True, help='folder of images (ImageFolder)')
    parser.add_argument('--workers', type=int, default=0, help='data loading workers')
    parser.add_argument('--batch-size', type=int, default=64)
    parser.add_argument('--image-size', type=int, default=64)
    parser.add_argument('--nz', type=int, default=100, help='size of the latent z vector')
    parser.add_argument('--ngf', type=int, default=64)
    parser.add_argument('--ndf', type=int, default=64)
    parser.add_argument('--lr', type=float, default=0.0002)
    parser.add_argument('--beta1', type=float, default=0.5)
    parser.add_argument('--critic-iters', type=int, default=5, help='wgan-gp, sngan')
    parser.add_argument('--lambda', dest='lambda_', type=float, default=10.0, help='wgan-gp')
    parser.add_argument('--batches', type=int, default=10, help='batches in each epoch')
    parser.add_argument('--epochs', type=int, default=3, help='the first one warms up')
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--seed', type=int, default=1)
    return parser.parse_args(argv)


def dataloader(opt):
    dataset = dset.ImageFolder(root=opt.dataroot, transform=transforms.Compose([
        transforms.Resize(opt.image_size),
        transforms.CenterCrop(opt.image_size),
        transforms.ToTensor(),
        transforms.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5)),
    ]))
    return torch.utils.data.DataLoader(dataset, batch_size=opt.batch_size, shuffle=True,
                                       num_workers=opt.workers)


def main(argv=None):
    opt = parse(argv)
    torch.manual_seed(opt.seed)
    device = torch.device(opt.device)
    loader = dataloader(opt)
    model = MODELS[opt.model](opt, device)
    images = seconds = 0.0
    for epoch in range(opt.epochs):
        started = time.perf_counter()
        batches, seen, consumed = iter(loader), 0, 0
        while consumed < opt.batches:
            count, losses = model.step(batches)
            seen += count
            consumed += count // opt.batch_size
        if device.type == 'cuda':
            torch.cuda.synchronize()
        if epoch > 0:
            images, seconds = images + seen, seconds + time.perf_counter() - started
    parameters = {name: sum(p.numel() for p in net.parameters())
                  for name, net in (('generator', model.netG), ('discriminator', model.netD))}
    print(json.dumps({'images_per_second': images / seconds, 'images': images,
                      'seconds': seconds, 'losses': losses, 'parameters': parameters}))


if __name__ == '__main__':
    main()
