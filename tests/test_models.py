"""Networks follow their equations; initialisation follows the paper; the registry rejects unknown names."""
import math

import numpy as np
import pytest
import torch

from pinncore import MLP, ConfigError, ModifiedMLP, make_model
from pinncore.models import ReleasedModifiedMLP


def test_modified_mlp_equals_the_paper_equations_on_hand_set_weights():
    torch.manual_seed(3)
    net = ModifiedMLP(2, 1, depth=2, width=4, mean=[0.5, -0.5], std=[2.0, 0.25]).double()
    rng = np.random.default_rng(0)
    for p in net.parameters():  # hand-set every weight and bias, biases non-zero too
        p.data = torch.tensor(rng.normal(size=tuple(p.shape)), dtype=torch.float64)
    x = rng.uniform(-1, 1, size=(7, 2))
    W = {name: (m.weight.detach().numpy().T, m.bias.detach().numpy()) for name, m in
         [("U", net.encoder_u), ("V", net.encoder_v), ("1", net.first), ("z1", net.gates[0]),
          ("z2", net.gates[1]), ("out", net.out)]}
    X = (x - np.array([0.5, -0.5])) / np.array([2.0, 0.25])
    U = np.tanh(X @ W["U"][0] + W["U"][1])
    V = np.tanh(X @ W["V"][0] + W["V"][1])
    H = np.tanh(X @ W["1"][0] + W["1"][1])
    for k in ("z1", "z2"):
        Z = np.tanh(H @ W[k][0] + W[k][1])
        H = (1 - Z) * U + Z * V
    f = H @ W["out"][0] + W["out"][1]
    assert np.allclose(net(torch.tensor(x)).detach().numpy(), f, atol=1e-12)


def test_mlp_equals_its_equations():
    torch.manual_seed(0)
    net = MLP(1, 2, depth=2, width=3).double()
    x = torch.linspace(-1, 1, 5, dtype=torch.float64)[:, None]
    h = torch.tanh(net.hidden[1](torch.tanh(net.hidden[0](x))))
    assert torch.allclose(net(x), net.out(h))


@pytest.mark.parametrize("cls", [MLP, ModifiedMLP])
def test_xavier_normal_weights_and_zero_biases(cls):
    torch.manual_seed(0)
    net = cls(2, 1, depth=3, width=400)
    for name, w in net.layer_weights().items():
        fan_out, fan_in = w.shape
        expected = math.sqrt(2.0 / (fan_in + fan_out))
        assert w.std().item() == pytest.approx(expected, rel=0.1), name
    assert all(torch.count_nonzero(m.bias) == 0 for m in net.modules() if isinstance(m, torch.nn.Linear))


def test_released_layout_draws_encoder_biases_like_the_authors_code():
    net = ReleasedModifiedMLP(2, 1, depth=3, width=400, seed=0)
    for enc in (net.encoder_u, net.encoder_v):
        assert enc.bias.std().item() == pytest.approx(math.sqrt(2.0 / 401), rel=0.15)
    assert all(torch.count_nonzero(m.bias) == 0 for m in [*net.gates, net.out])


def test_layer_names_follow_forward_order():
    assert list(MLP(2, 1, depth=3, width=5).layer_weights()) == ["layer 1", "layer 2", "layer 3", "output"]
    assert list(ModifiedMLP(2, 1, depth=3, width=5).layer_weights()) == [
        "encoder U", "encoder V", "layer 1", "gate 1", "gate 2", "gate 3", "output"]


@pytest.mark.parametrize("kwargs,field", [({"name": "resnet"}, "model"), ({"activation": "relu6"}, "activation"),
                                          ({"width": 0}, "width"), ({"depth": 0}, "depth")])
def test_bad_model_arguments_raise_naming_the_field(kwargs, field):
    args = {"name": "mlp", "in_dim": 2, "out_dim": 1, "depth": 2, "width": 4} | kwargs
    with pytest.raises(ConfigError, match=field):
        make_model(args.pop("name"), **args)


def test_released_layout_gates_from_the_input():
    """modified-mlp-released: U, V encoders; H_0 = X; Z_k = tanh(H_{k-1} Wz_k + bz_k); H_k = (1-Z_k) U + Z_k V."""
    from pinncore.models import ReleasedModifiedMLP

    net = ReleasedModifiedMLP(2, 1, depth=2, width=5, seed=0).double()
    assert [tuple(g.weight.shape) for g in net.gates] == [(5, 2), (5, 5)]
    x = torch.rand(7, 2, dtype=torch.float64)
    with torch.no_grad():
        for p in net.parameters():
            p.normal_()
        lin = lambda layer, h: h @ layer.weight.T + layer.bias  # noqa: E731
        u, v = torch.tanh(lin(net.encoder_u, x)), torch.tanh(lin(net.encoder_v, x))
        h = x
        for gate in net.gates:
            z = torch.tanh(lin(gate, h))
            h = (1 - z) * u + z * v
        assert torch.allclose(net(x), lin(net.out, h))
