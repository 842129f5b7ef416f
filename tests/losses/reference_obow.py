"""OBoW reference, written from the official code (valeoai/obow, obow/builder_obow.py) in
its style, to test sslkit.losses.obow and sslkit.methods.obow against.

Kept: BoWExtractor (border crop, conv2d distances, EMA of the mean nearest-word distance
before the codes, queue update with the 3x3 local average of a random position, soft codes,
global pooling, L1 normalisation), BoWPredictor (the weight generators and kappa),
expand_target, OBoW._bow_loss, the sum over kinds of crop (OBoWSolver.train_step) and the
cosine alpha schedule (OBoW._get_momentum_alpha). Changes: one process (concat_all_gather
and reduce_all / world_size are the identity), utils.global_pooling and utils.L2Normalize
inlined. Do not import sslkit here.
"""

import math

import torch
import torch.nn as nn
import torch.nn.functional as F


def expand_target(target, prediction):
    """Expands the target in case of BoW predictions from multiple crops."""
    assert prediction.size(1) == target.size(1)
    batch_size_x_num_crops, num_words = prediction.size()
    batch_size = target.size(0)
    assert batch_size_x_num_crops % batch_size == 0
    num_crops = batch_size_x_num_crops // batch_size
    if num_crops > 1:
        target = target.unsqueeze(1).repeat(1, num_crops, 1).view(-1, num_words)
    return target


def bow_loss(bow_prediction, bow_target):
    """OBoW._bow_loss: KL (batchmean) per level, mean over the levels."""
    loss = [
        F.kl_div(F.log_softmax(p, dim=1), expand_target(t, p), reduction="batchmean")
        for (p, t) in zip(bow_prediction, bow_target)]
    return torch.stack(loss).mean()


def total_loss(bow_predictions, bow_target):
    """OBoW.forward + OBoWSolver.train_step: one _bow_loss per kind of crop, summed."""
    losses = [bow_loss(pred, bow_target) for pred in bow_predictions]
    return torch.stack(losses, dim=0).view(-1).sum()


def momentum_alpha(alpha_base, iteration, num_iterations):
    """OBoW._get_momentum_alpha with alpha_cosine: the alpha used at `iteration`."""
    scale = 0.5 * (1. + math.cos((math.pi * iteration) / num_iterations))
    return 1.0 - (1.0 - alpha_base) * scale


class L2Normalize(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.dim = dim

    def forward(self, x):
        return F.normalize(x, p=2, dim=self.dim)


class BoWExtractor(nn.Module):
    def __init__(self, num_words, num_channels, update_type="local_average", inv_delta=15,
                 bow_pool="max"):
        super().__init__()
        self._num_channels = num_channels
        self._num_words = num_words
        self._update_type = update_type
        self._inv_delta = inv_delta
        self._bow_pool = bow_pool
        self._decay = 0.99
        embedding = torch.randn(num_words, num_channels).clamp(min=0)
        self.register_buffer("_embedding", embedding)
        self.register_buffer("_embedding_ptr", torch.zeros(1, dtype=torch.long))
        self.register_buffer("_track_num_batches", torch.zeros(1))
        self.register_buffer("_min_distance_mean", torch.ones(1) * 0.5)

    @torch.no_grad()
    def _update_dictionary(self, features):
        assert features.dim() == 4
        if self._update_type == "local_average":
            features = F.avg_pool2d(features, kernel_size=3, stride=1, padding=0)
        features = features.flatten(2)
        batch_size, _, num_locs = features.size()
        index = torch.randint(0, num_locs, (batch_size,), device=features.device)
        index += torch.arange(batch_size, device=features.device) * num_locs
        selected_features = features.permute(0, 2, 1).reshape(batch_size * num_locs, -1)
        selected_features = selected_features[index].contiguous()
        assert self._num_words % selected_features.shape[0] == 0
        batch_size = selected_features.shape[0]
        ptr = int(self._embedding_ptr)
        self._embedding[ptr:(ptr + batch_size), :] = selected_features
        self._embedding_ptr[0] = (ptr + batch_size) % self._num_words

    @torch.no_grad()
    def get_dictionary(self):
        return self._embedding.detach().clone()

    def forward(self, features):
        features = features[:, :, 1:-1, 1:-1].contiguous()
        embeddings_b = self._embedding.pow(2).sum(1)
        embeddings_w = -2 * self._embedding.unsqueeze(2).unsqueeze(3)
        dist = (features.pow(2).sum(1, keepdim=True)
                + F.conv2d(features, weight=embeddings_w, bias=embeddings_b))
        min_dist, enc_indices = torch.min(dist, dim=1)
        mu_min_dist = min_dist.mean()
        if self.training:
            self._min_distance_mean.data.mul_(self._decay).add_(
                mu_min_dist, alpha=(1. - self._decay))
            self._update_dictionary(features)
            self._track_num_batches += 1
        inv_delta_adaptive = self._inv_delta / self._min_distance_mean
        codes = F.softmax(-inv_delta_adaptive * dist, dim=1)
        if self._bow_pool == "max":
            bow = F.max_pool2d(codes, (codes.size(2), codes.size(3))).flatten(1)
        else:
            bow = F.avg_pool2d(codes, (codes.size(2), codes.size(3))).flatten(1)
        bow = F.normalize(bow, p=1, dim=1)
        return bow, codes


class BoWPredictor(nn.Module):
    def __init__(self, num_channels_out=2048, num_channels_in=(1024, 2048),
                 num_channels_hidden=4096, kappa=8, learn_kappa=False):
        super().__init__()
        num_bow_levels = len(num_channels_in)
        generators = []
        for i in range(num_bow_levels):
            generators.append(nn.Sequential())
            generators[i].add_module(f"b{i}_l2norm_in", L2Normalize(dim=1))
            generators[i].add_module(
                f"b{i}_fc", nn.Linear(num_channels_in[i], num_channels_hidden, bias=False))
            generators[i].add_module(f"b{i}_bn", nn.BatchNorm1d(num_channels_hidden))
            generators[i].add_module(f"b{i}_rl", nn.ReLU(inplace=True))
            generators[i].add_module(
                f"b{i}_last_layer", nn.Linear(num_channels_hidden, num_channels_out))
            generators[i].add_module(f"b{i}_l2norm_out", L2Normalize(dim=1))
        self.layers_w = nn.ModuleList(generators)
        self.scale = nn.Parameter(torch.FloatTensor(num_bow_levels).fill_(kappa),
                                  requires_grad=learn_kappa)

    def forward(self, features, dictionary):
        weight = [gen(dict).t() for gen, dict in zip(self.layers_w, dictionary)]
        kappa = torch.split(self.scale, 1, dim=0)
        logits_list = [
            [torch.mm(f.flatten(1) * k, w) for k, w in zip(kappa, weight)]
            for f in features]
        return logits_list
