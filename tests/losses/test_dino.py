import math

import pytest
import torch

from sslkit.losses import dino_center_update, dino_loss

from .helpers import assert_same_values_and_grads, sgd_losses
from .reference import DINOLoss


def _outputs(n=8, k=6, n_crops=4, n_global=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    student = [torch.randn(n, k, generator=g, dtype=torch.float64, requires_grad=True)
               for _ in range(n_crops)]
    teacher = [torch.randn(n, k, generator=g, dtype=torch.float64) for _ in range(n_global)]
    center = 0.1 * torch.randn(1, k, generator=g, dtype=torch.float64)
    return student, teacher, center


def _reference(student, teacher, center, student_temp, teacher_temp):
    ref = DINOLoss(out_dim=center.shape[1], ncrops=len(student), warmup_teacher_temp=teacher_temp,
                   teacher_temp=teacher_temp, warmup_teacher_temp_epochs=0, nepochs=1,
                   student_temp=student_temp).double()
    ref.center = center.clone()
    loss = ref(torch.cat(student), torch.cat(teacher), epoch=0)
    return loss, ref.center


@pytest.mark.parametrize("temps", [(0.1, 0.04), (0.2, 0.07)])
@pytest.mark.parametrize("n_crops", [2, 4])
def test_matches_official_values_gradients_and_center(temps, n_crops):
    student, teacher, center = _outputs(n_crops=n_crops)
    ref, ref_center = _reference(student, teacher, center, *temps)
    assert_same_values_and_grads(dino_loss(student, teacher, center, *temps), ref, student)
    torch.testing.assert_close(dino_center_update(center, teacher), ref_center)


def test_no_gradient_reaches_the_teacher_or_the_center():
    student, teacher, center = _outputs()
    teacher = [t.requires_grad_() for t in teacher]
    center.requires_grad_()
    dino_loss(student, teacher, center).backward()
    assert all(t.grad is None for t in teacher) and center.grad is None
    assert all(s.grad is not None and s.grad.abs().sum() > 0 for s in student)


def test_loss_is_teacher_entropy_plus_kl():
    student, teacher, center = _outputs()
    loss, terms = dino_loss(student, teacher, center, return_terms=True)
    torch.testing.assert_close(loss.detach(), terms["teacher_entropy"] + terms["kl"])
    assert terms["kl"] > 0


def test_uniform_teacher_has_entropy_log_k():
    # centring alone: teacher outputs equal to the center give a uniform target
    student, _, center = _outputs(k=6)
    teacher = [center.expand(8, 6).clone() for _ in range(2)]
    _, terms = dino_loss(student, teacher, center, return_terms=True)
    torch.testing.assert_close(terms["teacher_entropy"],
                               torch.tensor(math.log(6), dtype=torch.float64))


def test_sharp_teacher_has_entropy_near_zero():
    # sharpening alone: a clear winner per row at a low temperature gives a one-hot target
    student, _, center = _outputs(k=6)
    teacher = [10.0 * torch.eye(6, dtype=torch.float64)[torch.arange(8) % 6]] * 2
    _, terms = dino_loss(student, teacher, torch.zeros(6, dtype=torch.float64),
                         teacher_temp=0.04, return_terms=True)
    assert terms["teacher_entropy"] < 1e-6


def test_student_equal_to_teacher_has_zero_kl():
    _, teacher, center = _outputs()
    t = teacher[0]
    student = [(t - center) * 0.1 / 0.04] * 2  # the same distribution at the student's temp
    loss, terms = dino_loss(student, [t, t], center, return_terms=True)
    assert terms["kl"].abs() < 1e-12
    torch.testing.assert_close(loss, terms["teacher_entropy"])


def test_center_update_is_an_ema_of_the_mean_over_crops_and_batch():
    _, teacher, center = _outputs()
    batch_mean = torch.cat(teacher).mean(dim=0)
    new = dino_center_update(center, teacher, momentum=0.9)
    torch.testing.assert_close(new, 0.9 * center + 0.1 * batch_mean)
    assert new.shape == (1, 6)
    assert dino_center_update(center[0], teacher).shape == (6,)
    torch.testing.assert_close(dino_center_update(center, teacher, momentum=0.0)[0], batch_mean)


def test_center_update_carries_no_gradient():
    _, teacher, center = _outputs()
    teacher = [t.requires_grad_() for t in teacher]
    assert not dino_center_update(center, teacher).requires_grad


def test_gradcheck():
    student, teacher, center = _outputs(n=3, k=4, n_crops=3)
    assert torch.autograd.gradcheck(lambda *s: dino_loss(list(s), teacher, center), student)


def test_sgd_steps_lower_the_loss():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(64, 10, generator=g)
    w_teacher = torch.randn(10, 16, generator=g)
    w_student = (0.1 * torch.randn(10, 16, generator=g)).requires_grad_()
    center = torch.zeros(1, 16)

    def loss_fn():
        nonlocal center
        crops = [x + 0.1 * torch.randn(x.shape, generator=g) for _ in range(4)]
        teacher = [c @ w_teacher for c in crops[:2]]
        loss = dino_loss([c @ w_student for c in crops], teacher, center)
        # the center follows the teacher alone, so updating it before the step changes nothing
        center = dino_center_update(center, teacher)
        return loss

    losses = sgd_losses(loss_fn, [w_student], lr=0.05, steps=20)
    assert losses[-1] < 0.5 * losses[0]


def test_concatenated_tensor_instead_of_list_raises():
    student, teacher, center = _outputs()
    with pytest.raises(TypeError, match=r"list of \(N, K\) tensors.*chunk"):
        dino_loss(torch.cat(student), teacher, center)


def test_mismatched_crops_raise():
    student, teacher, center = _outputs()
    student[3] = torch.randn(8, 7, dtype=torch.float64)
    with pytest.raises(ValueError, match=r"student_out\[0\] and student_out\[3\] of the same"):
        dino_loss(student, teacher, center)
    student, teacher, center = _outputs()
    with pytest.raises(ValueError, match=r"student_out\[0\] and teacher_out\[0\]"):
        dino_loss(student, [t[:4] for t in teacher], center)


def test_wrong_center_shape_raises():
    student, teacher, _ = _outputs()
    with pytest.raises(ValueError, match=r"center of shape \(6,\) or \(1, 6\).*got \(1, 5\)"):
        dino_loss(student, teacher, torch.zeros(1, 5))
    with pytest.raises(ValueError, match=r"center with 6 entries"):
        dino_center_update(torch.zeros(1, 5), teacher)


def test_too_few_crops_raise():
    student, teacher, center = _outputs()
    with pytest.raises(ValueError, match=r"teacher's 2 global crop\(s\) first"):
        dino_loss(student[:1], teacher, center)
    with pytest.raises(ValueError, match=r"at least one .* pair of different views"):
        dino_loss(student[:1], teacher[:1], center)


def test_batch_of_one_is_fine():
    student, teacher, center = _outputs(n=1)
    assert torch.isfinite(dino_loss(student, teacher, center))
