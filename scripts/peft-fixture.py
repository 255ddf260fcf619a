#!/usr/bin/env python3
"""Writes test/fixtures/peft/: two adapters in Hugging Face PEFT's on-disk format, the base model
they adapt, and the outputs PEFT's forward gives -- computed here independently of lorafa, in
PyTorch's layout, with the Python standard library only (so it runs without torch or peft):

    python3 scripts/peft-fixture.py

The base model is y = fc2(relu(fc1(x))) with torch.nn.Linear layers fc1 (5 -> 4) and fc2 (4 -> 3):
weight [out, in], bias [out], y = x @ weight.T + bias. Each adapter follows PEFT 0.13's files:

  adapter_model.safetensors   metadata {"format": "pt"}; keys base_model.model.<module>.lora_A.weight
                              [r, in], ...lora_B.weight [out, r], and for DoRA
                              ...lora_magnitude_vector [out] (PEFT strips ".weight" on save)
  adapter_config.json         LoraConfig as PEFT writes it (json.dumps(..., indent=2, sort_keys=True))

and PEFT's forward of a LoRA layer (tuners/lora/layer.py, Linear.forward):
  LoRA:  y = x @ W.T + b + s * (x @ A.T) @ B.T,   s = lora_alpha / r  (lora_alpha / sqrt(r) with use_rslora)
  DoRA:  V = W + s * B @ A;  n = ||V||_2 along dim 1 (one norm per output unit);
         y = x @ (m / n)[:, None] * V).T + b                           (tuners/lora/dora.py)
All tensors are float32 in the files; the outputs are computed in float64 from those float32 values.
"""
import json
import math
import os
import random
import struct

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'test', 'fixtures', 'peft')
rng = random.Random(20240517)


def f32(v):
    return struct.unpack('<f', struct.pack('<f', v))[0]


def matrix(rows, cols, scale=1.0):
    return [[f32(rng.uniform(-scale, scale)) for _ in range(cols)] for _ in range(rows)]


def vector(n, lo=-1.0, hi=1.0):
    return [f32(rng.uniform(lo, hi)) for _ in range(n)]


def matmul_t(x, w):  # x [N, in] @ w.T, w [out, in]
    return [[sum(xi * wi for xi, wi in zip(row, wrow)) for wrow in w] for row in x]


def matmul(a, b):
    return [[sum(a[i][k] * b[k][j] for k in range(len(b))) for j in range(len(b[0]))] for i in range(len(a))]


def write_safetensors(path, tensors, metadata=None):
    """tensors: name -> (shape, flat float list); F32, little-endian, row-major, header padded to 8 bytes."""
    header, data = {}, b''
    if metadata:
        header['__metadata__'] = metadata
    for name in sorted(tensors):
        shape, values = tensors[name]
        raw = struct.pack('<%df' % len(values), *values)
        header[name] = {'dtype': 'F32', 'shape': shape, 'data_offsets': [len(data), len(data) + len(raw)]}
        data += raw
    head = json.dumps(header, separators=(',', ':')).encode('utf-8')
    head += b' ' * (-len(head) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(head)) + head + data)


def flat(m):
    return [v for row in m for v in row] if isinstance(m[0], list) else list(m)


def config(r, alpha, rslora, dora):
    return {
        'alpha_pattern': {}, 'auto_mapping': None, 'base_model_name_or_path': 'lorafa/peft-fixture', 'bias': 'none',
        'fan_in_fan_out': False, 'inference_mode': True, 'init_lora_weights': True, 'layer_replication': None,
        'layers_pattern': None, 'layers_to_transform': None, 'loftq_config': {}, 'lora_alpha': alpha, 'lora_dropout': 0.0,
        'megatron_config': None, 'megatron_core': 'megatron.core', 'modules_to_save': None, 'peft_type': 'LORA', 'r': r,
        'rank_pattern': {}, 'revision': None, 'target_modules': ['fc1', 'fc2'], 'task_type': None,
        'use_dora': dora, 'use_rslora': rslora,
    }


base = {'fc1': (matrix(4, 5, 0.5), vector(4)), 'fc2': (matrix(3, 4, 0.5), vector(3))}
x = matrix(6, 5, 2.0)


def layer(name, h, adapter, s, dora):
    W, b = base[name]
    A, B, m = adapter[name]
    if dora:
        BA = matmul(B, A)
        V = [[W[i][j] + s * BA[i][j] for j in range(len(W[0]))] for i in range(len(W))]
        n = [math.sqrt(sum(v * v for v in row)) for row in V]
        Wd = [[m[i] / n[i] * v for v in V[i]] for i in range(len(V))]
        y = matmul_t(h, Wd)
    else:
        xa = matmul_t(h, A)
        xab = matmul_t(xa, B)
        y = [[v + s * u for v, u in zip(row, urow)] for row, urow in zip(matmul_t(h, W), xab)]
    return [[v + bi for v, bi in zip(row, b)] for row in y]


def forward(adapter, s, dora):
    h = [[max(v, 0.0) for v in row] for row in layer('fc1', x, adapter, s, dora)]
    return layer('fc2', h, adapter, s, dora)


os.makedirs(OUT, exist_ok=True)
write_safetensors(os.path.join(OUT, 'base.safetensors'), {
    f'{name}.{part}': ([len(t), len(t[0])] if part == 'weight' else [len(t)], flat(t))
    for name, (W, b) in base.items() for part, t in (('weight', W), ('bias', b))
})
expected = {'x': x}
for kind, r, alpha, rslora, dora in (('lora', 2, 3, True, False), ('dora', 2, 4, False, True)):
    adapter = {name: (matrix(r, len(W[0]), 0.7), matrix(len(W), r, 0.7), vector(len(W), 0.5, 2.0)) for name, (W, _) in base.items()}
    tensors = {}
    for name, (A, B, m) in adapter.items():
        tensors[f'base_model.model.{name}.lora_A.weight'] = ([len(A), len(A[0])], flat(A))
        tensors[f'base_model.model.{name}.lora_B.weight'] = ([len(B), len(B[0])], flat(B))
        if dora:
            tensors[f'base_model.model.{name}.lora_magnitude_vector'] = ([len(m)], m)
    os.makedirs(os.path.join(OUT, kind), exist_ok=True)
    write_safetensors(os.path.join(OUT, kind, 'adapter_model.safetensors'), tensors, {'format': 'pt'})
    with open(os.path.join(OUT, kind, 'adapter_config.json'), 'w') as f:
        f.write(json.dumps(config(r, alpha, rslora, dora), indent=2, sort_keys=True) + '\n')
    s = alpha / math.sqrt(r) if rslora else alpha / r
    expected[kind] = forward(adapter, s, dora)
with open(os.path.join(OUT, 'expected.json'), 'w') as f:
    json.dump(expected, f, indent=1)
