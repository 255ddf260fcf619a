#!/usr/bin/env python3
"""Records reference outputs and gradients of Full-FT, LoRA, LoRA-FA and LoRA-FB, computed in
float64 by PyTorch's autograd, into test/fixtures/torch/lora-ops.json; test/lora/torch-fixtures.test.ts
compares lorafa's ops with them to 1e-12 relative. Not run in CI (the JSON is committed); to re-record:

    apt-get install python3-torch        # Debian's PyTorch (bookworm: 1.13)
    python3 scripts/torch-fixtures.py

Everything is in lorafa's row-major layout (PyTorch's nn.Linear would store W transposed; here
they are plain matrices): X [N, d], W [d, o], A [d, r], B [r, o], dY [N, o], scale sigma (either
sign). With an explicit 0/1 dropout mask M [N, d] and drop probability p, the adapter input is
X~ = X * M / (1 - p) (inverted dropout; the frozen path X @ W never sees it):

    Full-FT   Y = X @ W                              W trained:      grads of X and W
    LoRA      Y = X @ W + sigma * (X~ @ A) @ B       A, B trained:   grads of X, A and B
    LoRA-FA   the same, A and W frozen               grads of X and  B~ = (1/sigma^2) (A^T A)^-1 g_B
    LoRA-FB   the same, B and W frozen               grads of X and  A~ = (1/sigma^2) g_A (B B^T)^-1

for the upstream gradient dY (Y.backward(dY)); g_A and g_B are PyTorch's autograd gradients, and
the projected ones are solved with torch.linalg.solve (docs/math.md, Theorem 4.1 and A.1).

The mask M is the one lorafa's ops draw for (seed, offset 0), so the test can run the real ops:
Philox-4x32-10 (Salmon et al., SC'11) as src/random.ts documents it, re-implemented below: element
i of X (row-major) is kept iff (philox(counter = (floor(i/4), 0, 0, 0), key = (seed, 0))[i mod 4] >> 8)
>= round(p * 2^24). The inputs are float64 normals from torch.Generator seeds; all values are
written with Python's repr, which round-trips float64 exactly.
"""
import json
import os

import torch

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'test', 'fixtures', 'torch', 'lora-ops.json')
F64 = torch.float64
M32 = 0xFFFFFFFF


def philox4x32(counter, key):
    """Philox-4x32-10: ten rounds; the key is bumped by the Weyl constants after each round."""
    c0, c1, c2, c3 = counter
    k0, k1 = key
    for _ in range(10):
        p0, p1 = 0xD2511F53 * c0, 0xCD9E8D57 * c2
        c0, c1, c2, c3 = ((p1 >> 32) ^ c1 ^ k0) & M32, p1 & M32, ((p0 >> 32) ^ c3 ^ k1) & M32, p0 & M32
        k0, k1 = (k0 + 0x9E3779B9) & M32, (k1 + 0xBB67AE85) & M32
    return c0, c1, c2, c3


def dropout_mask(n, p, seed):
    threshold = round(p * 2 ** 24)
    return [1.0 if (philox4x32((i // 4, 0, 0, 0), (seed, 0))[i % 4] >> 8) >= threshold else 0.0 for i in range(n)]


def leaf(t, grad=False):
    return t.clone().detach().requires_grad_(grad)


def record(name, N, d, o, r, sigma, p, seed):
    g = torch.Generator().manual_seed(seed)
    X, W, A, B, dY = (torch.randn(shape, generator=g, dtype=F64) for shape in ([N, d], [d, o], [d, r], [r, o], [N, o]))
    M = torch.tensor(dropout_mask(N * d, p, seed), dtype=F64).reshape(N, d) if p > 0 else torch.ones(N, d, dtype=F64)

    def forward(x, w, a, b):
        return x @ w + sigma * ((x * M / (1 - p)) @ a) @ b

    out = {}
    x, w = leaf(X, True), leaf(W, True)
    y = x @ w
    y.backward(dY)
    out['full'] = {'y': y, 'gradX': x.grad, 'gradW': w.grad}
    x, a, b = leaf(X, True), leaf(A, True), leaf(B, True)
    y = forward(x, leaf(W), a, b)
    y.backward(dY)
    out['lora'] = {'y': y, 'gradX': x.grad, 'gradA': a.grad, 'gradB': b.grad}
    out['loraFA'] = {'y': y, 'gradX': x.grad, 'gradB': torch.linalg.solve(A.T @ A, b.grad) / sigma ** 2}
    out['loraFB'] = {'y': y, 'gradX': x.grad, 'gradA': torch.linalg.solve(B @ B.T, a.grad.T).T / sigma ** 2}
    flat = lambda t: t.detach().reshape(-1).tolist()
    return {
        'name': name, 'N': N, 'd': d, 'o': o, 'r': r, 'sigma': sigma, 'dropout': p, 'seed': seed,
        'inputs': {k: flat(v) for k, v in {'X': X, 'W': W, 'A': A, 'B': B, 'dY': dY, 'mask': M}.items()},
        'methods': {m: {k: flat(v) for k, v in res.items()} for m, res in out.items()},
    }


CASES = [
    ('square, sigma 2', 4, 6, 6, 2, 2.0, 0.0, 11),
    ('tall, negative sigma', 7, 5, 3, 3, -0.75, 0.0, 12),
    ('rank 1, dropout 0.3', 3, 4, 5, 1, 1.5, 0.3, 13),
    ('wide, negative sigma, dropout 0.5', 5, 3, 8, 2, -2.5, 0.5, 14),
    ('tiny negative sigma, dropout 0.1', 6, 8, 4, 4, -1e-3, 0.1, 15),
]

if __name__ == '__main__':
    torch.set_grad_enabled(True)
    data = {
        'source': f'scripts/torch-fixtures.py, PyTorch {torch.__version__}, float64',
        'cases': [record(*c) for c in CASES],
    }
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, 'w') as f:
        json.dump(data, f, indent=1)
        f.write('\n')
    print(f'wrote {len(CASES)} cases to {os.path.relpath(OUT)}')
