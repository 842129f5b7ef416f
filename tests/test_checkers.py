"""The exercise checkers accept a correct answer and reject a wrong one."""

import pytest
import torch
import torch.nn.functional as F

from sslkit import checkers

CHECKERS = sorted(name for name in dir(checkers) if name.startswith("check_"))


@pytest.mark.parametrize("name", CHECKERS)
def test_an_unfilled_template_is_reported_not_raised(name, capsys):
    def my_answer(*args, **kwargs):
        raise NotImplementedError("your code here")

    assert getattr(checkers, name)(my_answer) is False
    assert capsys.readouterr().out.strip() == (
        "Exercise not attempted yet: fill in `my_answer` above and run the cell again.")


def test_other_errors_of_the_learner_still_raise():
    with pytest.raises(ZeroDivisionError):
        checkers.check_byol_loss(lambda p, z: 1 / 0)


def _standardise(z, unbiased=False):
    return (z - z.mean(0)) / torch.sqrt(z.var(0, unbiased=unbiased) + 1e-5)


def _cross_correlation(z_a, z_b, unbiased=False):
    return _standardise(z_a, unbiased).T @ _standardise(z_b, unbiased) / len(z_a)


def _barlow_twins(z_a, z_b, lambd=0.0051):
    c = _cross_correlation(z_a, z_b)
    off = c - torch.diag(torch.diagonal(c))
    return (torch.diagonal(c) - 1).pow(2).sum() + lambd * off.pow(2).sum()


def _covariance(z, n_minus=1):
    z = z - z.mean(0)
    cov = z.T @ z / (len(z) - n_minus)
    return (cov - torch.diag(torch.diagonal(cov))).pow(2).sum() / z.shape[1]


def _byol(p, z, detach=True):
    z = z.detach() if detach else z
    return (F.normalize(p, dim=1) - F.normalize(z, dim=1)).pow(2).sum(1).mean()


def _simsiam(p, z, detach=True):
    z = z.detach() if detach else z
    return -F.cosine_similarity(p, z, dim=1).mean()


# checker, a correct answer, and wrong answers with a line of what the checker must print
BLOCKED = ("gradient w.r.t. the second input (seed 0): a gradient reaches it, but it should "
           "be blocked")
PAIR_CHECKERS = {
    "check_byol_loss": (_byol, [
        (_simsiam, "byol_loss value (seed 0)"),
        (lambda p, z: _byol(p, z, detach=False), BLOCKED),
        (lambda p, z: _byol(p.detach(), z), "byol_loss: the result carries no gradient")]),
    "check_simsiam_loss": (_simsiam, [
        (lambda p, z: _simsiam(p, z, detach=False), BLOCKED),
        (_byol, "simsiam_loss value (seed 0)")]),
    "check_variance_loss": (lambda z: F.relu(1 - torch.sqrt(z.var(0) + 1e-4)).mean(), [
        (lambda z: F.relu(1 - torch.sqrt(z.var(0, unbiased=False) + 1e-4)).mean(),
         "variance_loss value (seed 0)"),
        (lambda z: F.relu(1 - z.var(0)).mean(), "variance_loss value (seed 0)")]),
    "check_covariance_loss": (_covariance, [
        (lambda z: _covariance(z, n_minus=0), "covariance_loss value (seed 0)")]),
    "check_barlow_twins_loss": (_barlow_twins, [
        (lambda a, b: _barlow_twins(a, b, lambd=0.005), "barlow_twins_loss value (seed 0)"),
        (lambda a, b: _barlow_twins(a, b.detach()),
         "gradient w.r.t. the second input (seed 0): missing")]),
    "check_cross_correlation": (_cross_correlation, [
        (lambda a, b: _cross_correlation(a, b, unbiased=True),
         "cross-correlation matrix: differs from sslkit's"),
        (lambda a, b: _cross_correlation(a, b)[:, :4], "cross-correlation matrix: shape")]),
}


@pytest.mark.parametrize("name", PAIR_CHECKERS)
def test_a_loss_checker_accepts_a_correct_answer(name):
    assert getattr(checkers, name)(PAIR_CHECKERS[name][0])


@pytest.mark.parametrize("name, wrong, message", [
    (name, wrong, message) for name, (_, wrongs) in PAIR_CHECKERS.items()
    for wrong, message in wrongs])
def test_a_loss_checker_rejects_a_wrong_answer_and_says_why(name, wrong, message, capsys):
    assert not getattr(checkers, name)(wrong)
    out = capsys.readouterr().out
    assert any(line.startswith("✗") and message in line for line in out.splitlines()), out
    assert "not yet: see the lines marked ✗" in out


def test_check_grayscale():
    good = lambda x: (0.299 * x[:, 0] + 0.587 * x[:, 1] + 0.114 * x[:, 2]).unsqueeze(1).expand(-1, 3, -1, -1)
    assert checkers.check_grayscale(good)
    assert not checkers.check_grayscale(lambda x: x.mean(dim=1, keepdim=True).expand(-1, 3, -1, -1))
    assert not checkers.check_grayscale(lambda x: good(x)[:, :1])  # one channel


def test_check_std_of_l2_normalized():
    assert checkers.check_std_of_l2_normalized(lambda z: F.normalize(z, dim=1).std(dim=0).mean())
    assert not checkers.check_std_of_l2_normalized(lambda z: z.std(dim=0).mean())  # not normalised


def test_check_effective_rank():
    def rankme(z):
        s = torch.linalg.svdvals(z)
        p = s / s.sum() + 1e-7
        return torch.exp(-(p * p.log()).sum())

    assert checkers.check_effective_rank(rankme)
    assert not checkers.check_effective_rank(lambda z: torch.linalg.matrix_rank(z).double())
    assert not checkers.check_effective_rank(lambda z: "high")


def _my_dino_loss(student_out, teacher_out, center, student_temp, teacher_temp, *,
                  skip_same=True, detach=True):
    total, n_pairs = 0.0, 0
    for i, t in enumerate(teacher_out):
        q = F.softmax((t - center) / teacher_temp, dim=-1)
        q = q.detach() if detach else q
        for v, s in enumerate(student_out):
            if skip_same and v == i:
                continue
            total = total + torch.sum(-q * F.log_softmax(s / student_temp, dim=-1), dim=-1).mean()
            n_pairs += 1
    return total / n_pairs


def test_check_dino_loss():
    assert checkers.check_dino_loss(_my_dino_loss)
    assert not checkers.check_dino_loss(lambda *a: _my_dino_loss(*a, skip_same=False))
    assert not checkers.check_dino_loss(lambda *a: _my_dino_loss(*a, detach=False))
    # centring the student too is wrong
    assert not checkers.check_dino_loss(
        lambda s, t, c, ts, tt: _my_dino_loss([x - c for x in s], t, c, ts, tt))


def test_check_dino_center_update():
    good = lambda c, t, m: m * c + (1 - m) * torch.cat(t).mean(dim=0)
    assert checkers.check_dino_center_update(good)
    assert not checkers.check_dino_center_update(lambda c, t, m: m * c + (1 - m) * t[0].mean(0))
    assert not checkers.check_dino_center_update(lambda c, t, m: (1 - m) * c + m * torch.cat(t).mean(0))


def _my_self_classifier_loss(logits, row_tau=0.1, col_tau=0.05, prior=True):
    n, c = logits[0].shape
    targets, log_preds = [], []
    for l in logits:
        q = F.softmax(l / col_tau, dim=0)
        targets.append(q / q.sum(dim=1, keepdim=True))
        r = F.softmax(l / row_tau, dim=1)
        if prior:
            log_preds.append(torch.log(n / c * r / r.sum(dim=0, keepdim=True) + 1e-12))
        else:
            log_preds.append(torch.log(r))
    return 0.5 * (-(targets[0] * log_preds[1]).sum(1).mean() - (targets[1] * log_preds[0]).sum(1).mean())


def test_check_self_classifier_loss():
    assert checkers.check_self_classifier_loss(_my_self_classifier_loss)
    assert not checkers.check_self_classifier_loss(lambda l: _my_self_classifier_loss(l, prior=False))
    assert not checkers.check_self_classifier_loss(_sc_detached)  # a detached target


def _sc_detached(logits):
    """Self-Classifier's loss with the targets detached (the official code does not)."""
    n, c = logits[0].shape
    tgt = [F.softmax(l.detach() / 0.05, dim=0) for l in logits]
    tgt = [t / t.sum(dim=1, keepdim=True) for t in tgt]
    r = [F.softmax(l / 0.1, dim=1) for l in logits]
    lp = [torch.log(n / c * x / x.sum(dim=0, keepdim=True) + 1e-12) for x in r]
    return 0.5 * (-(tgt[0] * lp[1]).sum(1).mean() - (tgt[1] * lp[0]).sum(1).mean())


def test_check_aae_loss():
    def bootstrapped(reconstruction, target, ratio=4):
        err = (reconstruction - target).pow(2).flatten(1)
        return err.topk(err.shape[1] // ratio, dim=1).values.mean()

    assert checkers.check_aae_loss(bootstrapped)
    assert not checkers.check_aae_loss(lambda r, t: (r - t).pow(2).mean())  # not bootstrapped
    # the top errors of the whole batch, not of each image
    assert not checkers.check_aae_loss(
        lambda r, t: (r - t).pow(2).flatten().topk((r - t).numel() // 4).values.mean())


def test_check_infonce():
    assert checkers.check_infonce(lambda s: F.cross_entropy(s, torch.arange(len(s))))
    # the positive left out of the denominator (DCL-style) is a different loss
    assert not checkers.check_infonce(
        lambda s: (torch.logsumexp(s.masked_fill(torch.eye(len(s), dtype=torch.bool),
                                                 float("-inf")), dim=1) - s.diag()).mean())
    assert not checkers.check_infonce(lambda s: F.cross_entropy(s.detach(), torch.arange(len(s))))


def test_check_whitening():
    from sslkit.losses import whiten

    def zca(x):
        xc = x - x.mean(dim=0)
        evals, evecs = torch.linalg.eigh(xc.T @ xc / (len(x) - 1))
        return xc @ evecs @ torch.diag(evals.rsqrt()) @ evecs.T

    assert checkers.check_whitening(whiten)
    assert checkers.check_whitening(zca)
    assert not checkers.check_whitening(lambda x: (x - x.mean(0)) / x.std(0))  # standardised only
    assert not checkers.check_whitening(lambda x: zca(x)[:, :4])  # wrong shape


def test_check_ema_update():
    @torch.no_grad()
    def ema_(target, online, tau):
        for xi, theta in zip(target.parameters(), online.parameters()):
            xi.mul_(tau).add_(theta, alpha=1 - tau)

    @torch.no_grad()
    def swapped(target, online, tau):  # tau on the online side
        for xi, theta in zip(target.parameters(), online.parameters()):
            xi.mul_(1 - tau).add_(theta, alpha=tau)

    @torch.no_grad()
    def both_move(target, online, tau):
        ema_(target, online, tau)
        for theta in online.parameters():
            theta.mul_(0.5)

    assert checkers.check_ema_update(ema_)
    assert not checkers.check_ema_update(swapped)
    assert not checkers.check_ema_update(both_move)
