"""L2 logistic probes: scikit-learn per layer, and one batched torch fit for all layers at once.

Both minimise scikit-learn's objective, `0.5 * |w|^2 + C * sum_i logloss_i` (intercept not
penalised). The torch fit divides it by `C * n`, giving `mean logloss + |w|^2 / (2 C n)`, the same
minimiser, and sums it over layers: the layers share no parameters, so one full-batch L-BFGS run
on the sum fits every layer together. It stops, as scikit-learn's lbfgs does, when the largest
gradient entry (of the mean-scaled objective) falls below `tol` (1e-4, scikit-learn's default).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

__all__ = ["LogisticFit", "fit_batched_torch", "fit_sklearn", "predict_logits"]


class LogisticFit(NamedTuple):
    weight: np.ndarray  # [d] or [n_layers, d]
    bias: np.ndarray  # [] or [n_layers]


def fit_sklearn(acts: np.ndarray, labels: np.ndarray, *, C: float = 1.0, max_iter: int = 2000) -> LogisticFit:
    """One layer: acts [n, d], labels [n] in {0, 1}."""
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=C, max_iter=max_iter)
    model.fit(acts, labels)
    return LogisticFit(model.coef_[0].astype(np.float32), np.float32(model.intercept_[0]))


def fit_batched_torch(
    acts, labels, *, C: float = 1.0, max_iter: int = 500, tol: float = 1e-4, device: str | None = None
) -> LogisticFit:
    """All layers at once: acts [n_layers, n, d] (numpy or torch), labels [n]. Full-batch L-BFGS."""
    import torch

    x_LND = torch.as_tensor(acts, dtype=torch.float32, device=device)
    y_N = torch.as_tensor(np.asarray(labels), dtype=torch.float32, device=x_LND.device)
    n_layers, n, d = x_LND.shape
    w_LD = torch.zeros(n_layers, d, device=x_LND.device, requires_grad=True)
    b_L = torch.zeros(n_layers, device=x_LND.device, requires_grad=True)
    optimizer = torch.optim.LBFGS(
        [w_LD, b_L],
        lr=1,
        max_iter=max_iter,
        tolerance_grad=tol,
        tolerance_change=1e-12,
        history_size=20,
        line_search_fn="strong_wolfe",
    )
    y_LN = y_N.expand(n_layers, n)

    def closure():
        # the gradient in closed form: autograd's bookkeeping costs more than the maths at probe sizes
        with torch.no_grad():
            # [L, 1, D] @ [L, D, N]: as fast as the gradient's product on CPU, unlike [L, N, D] @ [L, D, 1]
            logits_LN = torch.bmm(w_LD[:, None, :], x_LND.transpose(1, 2))[:, 0] + b_L[:, None]
            loss_L = torch.nn.functional.binary_cross_entropy_with_logits(logits_LN, y_LN, reduction="none").mean(1)
            residual_LN = (torch.sigmoid(logits_LN) - y_LN) / n
            w_LD.grad = torch.bmm(residual_LN[:, None, :], x_LND)[:, 0] + w_LD / (C * n)
            b_L.grad = residual_LN.sum(1)
            return (loss_L + (w_LD**2).sum(1) / (2 * C * n)).sum()

    optimizer.step(closure)
    return LogisticFit(w_LD.detach().cpu().numpy(), b_L.detach().cpu().numpy())


def predict_logits(fit: LogisticFit, acts: np.ndarray) -> np.ndarray:
    """Logits of one layer's fit on acts [n, d] (or of a batched fit on [n_layers, n, d])."""
    if np.ndim(fit.weight) == 1:
        return acts @ fit.weight + fit.bias
    return np.einsum("lnd,ld->ln", acts, fit.weight) + fit.bias[:, None]
