#!/usr/bin/python3
"""Generates recurrent.json, the reference values of ops/recurrent_test.go.

It implements the ONNX RNN/GRU/LSTM equations directly in numpy (float64),
including sequence_lens (steps past a sequence's length give zeros in Y, the
final states are those of the last valid step, a reverse direction runs
backwards within the valid length, an empty sequence has zero final states),
peepholes, clip, input_forget, custom activations, linear_before_reset and
layout. Run: /usr/bin/python3 ops/testdata/gen_recurrent.py
"""
import json, os
import numpy as np

ACTS = {
    'sigmoid': (lambda x, a, b: 1 / (1 + np.exp(-x)), False, False, 0, 0),
    'tanh': (lambda x, a, b: np.tanh(x), False, False, 0, 0),
    'relu': (lambda x, a, b: np.maximum(x, 0), False, False, 0, 0),
    'affine': (lambda x, a, b: a * x + b, True, True, 1.0, 0.0),
    'leakyrelu': (lambda x, a, b: np.where(x >= 0, x, a * x), True, False, 0.01, 0),
    'thresholdedrelu': (lambda x, a, b: np.where(x >= a, x, 0), True, False, 1.0, 0),
    'scaledtanh': (lambda x, a, b: a * np.tanh(b * x), True, True, 1.0, 1.0),
    'hardsigmoid': (lambda x, a, b: np.clip(a * x + b, 0, 1), True, True, 0.2, 0.5),
    'elu': (lambda x, a, b: np.where(x >= 0, x, a * (np.exp(x) - 1)), True, False, 1.0, 0),
    'softsign': (lambda x, a, b: x / (1 + np.abs(x)), False, False, 0, 0),
    'softplus': (lambda x, a, b: np.log1p(np.exp(x)), False, False, 0, 0),
}
NGATES = {'RNN': 1, 'GRU': 3, 'LSTM': 4}
NACTS = {'RNN': 1, 'GRU': 2, 'LSTM': 3}
DEFACTS = {'RNN': ['Tanh'], 'GRU': ['Sigmoid', 'Tanh'], 'LSTM': ['Sigmoid', 'Tanh', 'Tanh']}


def resolve_acts(op, attrs, nd):
    names = attrs.get('activations', DEFACTS[op] * nd)
    alphas = list(attrs.get('activation_alpha', []))
    betas = list(attrs.get('activation_beta', []))
    out = []
    for n in names:
        f, ua, ub, da, db = ACTS[n.lower()]
        a = alphas.pop(0) if ua and alphas else da
        b = betas.pop(0) if ub and betas else db
        out.append(lambda x, f=f, a=a, b=b: f(x, a, b))
    k = NACTS[op]
    if len(out) == k and nd == 2:
        out = out * 2
    return [out[d * k:(d + 1) * k] for d in range(nd)]


def reference(op, attrs, X, W, R, B=None, lens=None, h0=None, c0=None, P=None):
    layout = attrs.get('layout', 0)
    direction = attrs.get('direction', 'forward')
    nd = 2 if direction == 'bidirectional' else 1
    if layout == 1:
        X = X.swapaxes(0, 1)
        if h0 is not None: h0 = h0.swapaxes(0, 1)
        if c0 is not None: c0 = c0.swapaxes(0, 1)
    X = X.astype(np.float64)
    T, Bn, _ = X.shape
    H = R.shape[-1]
    G = NGATES[op]
    clip = attrs.get('clip')
    lbr = attrs.get('linear_before_reset', 0)
    ifg = attrs.get('input_forget', 0)
    acts = resolve_acts(op, attrs, nd)
    if lens is None: lens = np.full(Bn, T)
    Y = np.zeros((T, nd, Bn, H))
    Yh = np.zeros((nd, Bn, H))
    Yc = np.zeros((nd, Bn, H))
    cl = (lambda v: np.clip(v, -clip, clip)) if clip else (lambda v: v)
    for d in range(nd):
        rev = direction == 'reverse' or d == 1
        w, r = W[d].astype(np.float64), R[d].astype(np.float64)
        b = B[d].astype(np.float64) if B is not None else np.zeros(2 * G * H)
        wb, rb = b[:G * H], b[G * H:]
        p = P[d].astype(np.float64) if P is not None else np.zeros(3 * H)
        f = acts[d]
        for bi in range(Bn):
            L = int(lens[bi])
            h = h0[d, bi].astype(np.float64) if h0 is not None else np.zeros(H)
            c = c0[d, bi].astype(np.float64) if c0 is not None else np.zeros(H)
            ts = range(L - 1, -1, -1) if rev else range(L)
            for t in ts:
                x = X[t, bi]
                if op == 'RNN':
                    h = f[0](cl(x @ w.T + h @ r.T + wb + rb))
                elif op == 'GRU':
                    gx = x @ w.T + wb
                    z = f[0](cl(gx[:H] + h @ r[:H].T + rb[:H]))
                    rr = f[0](cl(gx[H:2*H] + h @ r[H:2*H].T + rb[H:2*H]))
                    if lbr:
                        hh = f[1](cl(gx[2*H:] + rr * (h @ r[2*H:].T + rb[2*H:])))
                    else:
                        hh = f[1](cl(gx[2*H:] + (rr * h) @ r[2*H:].T + rb[2*H:]))
                    h = (1 - z) * hh + z * h
                else:
                    g = x @ w.T + h @ r.T + wb + rb
                    i = f[0](cl(g[:H] + p[:H] * c))
                    if ifg:
                        fg = 1 - i
                    else:
                        fg = f[0](cl(g[2*H:3*H] + p[2*H:] * c))
                    cc = f[1](cl(g[3*H:]))
                    c = fg * c + i * cc
                    o = f[0](cl(g[H:2*H] + p[H:2*H] * c))
                    h = o * f[2](c)
                Y[t, d, bi] = h
            if L == 0:
                h = np.zeros(H); c = np.zeros(H)
            Yh[d, bi] = h
            Yc[d, bi] = c
    if layout == 1:
        Y = Y.transpose(2, 0, 1, 3)
        Yh = Yh.swapaxes(0, 1)
        Yc = Yc.swapaxes(0, 1)
    outs = [Y, Yh]
    if op == 'LSTM':
        outs.append(Yc)
    return outs


def tens(a, dt):
    a = np.asarray(a)
    return {'shape': list(a.shape), 'dtype': dt, 'data': [float(v) for v in a.ravel()]}


def case(name, op, attrs, T, Bn, I, H, dtype='float32', bias=True, lens=None,
         init=False, peep=False, seed=0, wscale=0.5, opset=14):
    rng = np.random.default_rng(seed)
    nd = 2 if attrs.get('direction') == 'bidirectional' else 1
    G = NGATES[op]
    npdt = np.float32 if dtype == 'float32' else np.float64
    layout = attrs.get('layout', 0)
    xs = (T, Bn, I) if layout == 0 else (Bn, T, I)
    ss = (nd, Bn, H) if layout == 0 else (Bn, nd, H)
    X = rng.standard_normal(xs).astype(npdt)
    W = (wscale * rng.standard_normal((nd, G * H, I))).astype(npdt)
    R = (wscale * rng.standard_normal((nd, G * H, H))).astype(npdt)
    inputs = {'X': tens(X, dtype), 'W': tens(W, dtype), 'R': tens(R, dtype)}
    kw = {}
    if bias:
        B = (0.3 * rng.standard_normal((nd, 2 * G * H))).astype(npdt)
        inputs['B'] = tens(B, dtype); kw['B'] = B
    if lens is not None:
        L = np.array(lens, dtype=np.int32)
        inputs['sequence_lens'] = tens(L, 'int32'); kw['lens'] = L
    if init:
        h0 = rng.standard_normal(ss).astype(npdt)
        inputs['initial_h'] = tens(h0, dtype); kw['h0'] = h0
        if op == 'LSTM':
            c0 = rng.standard_normal(ss).astype(npdt)
            inputs['initial_c'] = tens(c0, dtype); kw['c0'] = c0
    if peep:
        P = (0.5 * rng.standard_normal((nd, 3 * H))).astype(npdt)
        inputs['P'] = tens(P, dtype); kw['P'] = P
    outs = reference(op, attrs, X, W, R, **kw)
    names = ['Y', 'Y_h', 'Y_c']
    return {'name': name, 'op': op, 'opset': opset, 'attrs': attrs, 'inputs': inputs,
            'outputs': {names[i]: tens(o, dtype) for i, o in enumerate(outs)}}


cases = [
    case('lstm_bidi_lens_peep_clip', 'LSTM', {'direction': 'bidirectional', 'clip': 1.5, 'hidden_size': 4},
         T=5, Bn=3, I=3, H=4, lens=[5, 2, 4], init=True, peep=True, seed=1, wscale=1.0),
    case('lstm_reverse_layout1_lens', 'LSTM', {'direction': 'reverse', 'layout': 1},
         T=4, Bn=3, I=2, H=3, lens=[4, 1, 3], init=True, seed=2),
    case('lstm_bidi_layout1_peep_f64', 'LSTM', {'direction': 'bidirectional', 'layout': 1},
         T=3, Bn=2, I=4, H=5, dtype='float64', init=True, peep=True, seed=3),
    case('lstm_input_forget_acts', 'LSTM', {'input_forget': 1,
         'activations': ['HardSigmoid', 'LeakyRelu', 'ScaledTanh'],
         'activation_alpha': [0.3, 0.05, 1.5], 'activation_beta': [0.4, 0.8]},
         T=4, Bn=2, I=3, H=3, init=True, seed=4),
    case('lstm_zero_len', 'LSTM', {'direction': 'bidirectional'},
         T=3, Bn=3, I=2, H=2, lens=[0, 3, 1], init=True, seed=5),
    case('lstm_opset7_nobias', 'LSTM', {}, T=6, Bn=1, I=5, H=7, bias=False, seed=6, opset=7),
    case('gru_bidi_lbr_lens_clip', 'GRU', {'direction': 'bidirectional', 'linear_before_reset': 1, 'clip': 0.8},
         T=5, Bn=3, I=3, H=4, lens=[3, 5, 1], init=True, seed=7, wscale=1.0),
    case('gru_bidi_lens_layout1', 'GRU', {'direction': 'bidirectional', 'layout': 1},
         T=4, Bn=2, I=3, H=5, lens=[2, 4], init=True, seed=8),
    case('gru_reverse_lbr_layout1_f64', 'GRU', {'direction': 'reverse', 'layout': 1, 'linear_before_reset': 1},
         T=4, Bn=3, I=2, H=3, dtype='float64', lens=[4, 3, 2], init=True, seed=9),
    case('gru_acts_per_direction', 'GRU', {'direction': 'bidirectional',
         'activations': ['Sigmoid', 'Elu', 'HardSigmoid', 'Softsign'], 'activation_alpha': [0.7, 0.25], 'activation_beta': [0.45]},
         T=3, Bn=2, I=2, H=3, seed=10),
    case('gru_opset3_default', 'GRU', {}, T=4, Bn=2, I=3, H=4, seed=11, opset=3),
    case('rnn_bidi_lens_clip', 'RNN', {'direction': 'bidirectional', 'clip': 0.9},
         T=5, Bn=3, I=3, H=4, lens=[5, 3, 2], init=True, seed=12, wscale=1.0),
    case('rnn_relu_layout1', 'RNN', {'layout': 1, 'activations': ['Relu']},
         T=3, Bn=2, I=3, H=4, init=True, seed=13),
    case('rnn_reverse_f64_acts', 'RNN', {'direction': 'bidirectional', 'activations': ['Softplus', 'ThresholdedRelu'],
         'activation_alpha': [0.1]}, T=4, Bn=2, I=2, H=3, dtype='float64', seed=14),
    case('rnn_affine_opset1', 'RNN', {'activations': ['Affine'], 'activation_alpha': [0.5], 'activation_beta': [0.1]},
         T=3, Bn=2, I=2, H=2, seed=15, opset=1),
]

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'recurrent.json')
with open(out, 'w') as f:
    json.dump(cases, f)
print('wrote', out, len(cases), 'cases')
