"""Train qsim's bundled Fashion-MNIST CNNs and export them to ONNX.

One small CNN per family used by QuantuneV2 / AMED:
  fmnist_resnet       ResNet-style basic blocks (identity and 1x1-projection shortcuts)
  fmnist_mobilenetv2  MobileNetV2-style inverted residuals (depthwise 3x3, ReLU6, linear bottleneck)
  fmnist_squeezenet   SqueezeNet-style fire modules (squeeze 1x1, expand 1x1 + 3x3, Concat)
  fmnist_vgg          VGG-style stacked 3x3 conv + BN + ReLU, max-pooling, FC head

Data: Debian's dataset-fashion-mnist IDX files (/usr/share/datasets/fashion-mnist), read with
gzip + numpy; nothing is downloaded. Pixels are scaled to [0,1] exactly like torchvision's
ToTensor (uint8 / 255); there is no normalisation outside the model.

Outputs (in --out, default models/):
  <name>.onnx           opset 13, batch 1, input "input" [1,1,28,28] float32, output "logits" [1,10]
  <name>.logits.npy     float32 [100,10]: eval-mode PyTorch logits of the first 100 test images
  fmnist_test100.npy    float32 [100,1,28,28]: those images; fmnist_test100_labels.npy int64 [100]
  accuracy.json         per model: float32 top-1 on the 10k test split, params, MACs, epochs, seconds

Each exported graph is checked with onnx.checker, its op types are checked against the set qsim
imports, and it is evaluated with a small NumPy interpreter on the 100 images and compared
against the PyTorch logits.

Run with Debian's interpreter (CPU only, 2 threads):
  /usr/bin/python3 scripts/train_fashion_mnist.py            # all four models
  /usr/bin/python3 scripts/train_fashion_mnist.py fmnist_vgg  # just one (accuracy.json is merged)
"""
import argparse
import gzip
import json
import math
import os
import sys
import time

# On a shared, oversubscribed machine libgomp's default spin-waiting makes 2-thread training up to
# ~10x slower (measured here: 3.2 s vs 0.29 s per ResNet step at load average 9); sleep instead.
# Must be set before torch (and libgomp) is loaded.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

DATA_DIR = "/usr/share/datasets/fashion-mnist"
SEED = 20240601
ALLOWED_OPS = {
    "Conv", "BatchNormalization", "Relu", "Clip", "Add", "Concat", "MaxPool", "AveragePool",
    "GlobalAveragePool", "Flatten", "Reshape", "Gemm", "MatMul",
    # only as shape computations feeding a Reshape (folded by the importer)
    "Constant", "Shape", "Gather", "Unsqueeze",
}


# ----------------------------------------------------------------------------- data

def read_idx(path: str) -> np.ndarray:
    """Reads an IDX file (optionally gzip-compressed) into a NumPy array."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    zero, dtype_code, ndim = data[0] << 8 | data[1], data[2], data[3]
    if zero != 0 or dtype_code != 0x08:
        raise ValueError(f"{path}: not an unsigned-byte IDX file")
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    arr = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if arr.size != int(np.prod(dims)):
        raise ValueError(f"{path}: expected {np.prod(dims)} values, found {arr.size}")
    return arr.reshape(dims)


def load_split(kind: str):
    """kind 'train' or 't10k'. Returns (float32 N x 1 x 28 x 28 in [0,1], int64 N)."""
    images = read_idx(os.path.join(DATA_DIR, f"{kind}-images-idx3-ubyte.gz"))
    labels = read_idx(os.path.join(DATA_DIR, f"{kind}-labels-idx1-ubyte.gz"))
    # torchvision ToTensor: uint8 HxW -> float32 1xHxW divided by 255
    x = torch.from_numpy(images.astype(np.float32)).div_(255.0).unsqueeze(1).contiguous()
    y = torch.from_numpy(labels.astype(np.int64))
    return x, y


# ----------------------------------------------------------------------------- models

def conv_bn(cin, cout, k=3, stride=1, groups=1, act="relu"):
    layers = [nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False), nn.BatchNorm2d(cout)]
    if act == "relu":
        layers.append(nn.ReLU(inplace=True))
    elif act == "relu6":
        layers.append(nn.ReLU6(inplace=True))
    return nn.Sequential(*layers)


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = conv_bn(cin, cout, 3, stride)
        self.conv2 = conv_bn(cout, cout, 3, 1, act=None)
        self.shortcut = (nn.Identity() if stride == 1 and cin == cout
                         else conv_bn(cin, cout, 1, stride, act=None))

    def forward(self, x):
        return F.relu(self.conv2(self.conv1(x)) + self.shortcut(x))


class ResNet(nn.Module):
    """stem 3x3/16 + maxpool, basic blocks 16 (identity), 32/s2 and 64/s2 (1x1 projections), GAP, FC."""

    def __init__(self):
        super().__init__()
        self.stem = conv_bn(1, 16, 3)
        self.pool = nn.MaxPool2d(2)
        self.layer1 = BasicBlock(16, 16, 1)
        self.layer2 = nn.Sequential(BasicBlock(16, 32, 2), BasicBlock(32, 32, 1))
        self.layer3 = BasicBlock(32, 64, 2)
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(64, 10)

    def forward(self, x):
        x = self.pool(self.stem(x))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(torch.flatten(self.gap(x), 1))


class InvertedResidual(nn.Module):
    def __init__(self, cin, cout, stride, t):
        super().__init__()
        hidden = cin * t
        layers = [] if t == 1 else [conv_bn(cin, hidden, 1, act="relu6")]
        layers += [conv_bn(hidden, hidden, 3, stride, groups=hidden, act="relu6"),
                   conv_bn(hidden, cout, 1, act=None)]  # linear bottleneck
        self.body = nn.Sequential(*layers)
        self.residual = stride == 1 and cin == cout

    def forward(self, x):
        y = self.body(x)
        return x + y if self.residual else y


class MobileNetV2(nn.Module):
    """stem 3x3/16, inverted residuals (t, c, n, s), 1x1 conv to 128, GAP, FC."""
    CFG = [(1, 16, 1, 2), (4, 24, 2, 2), (4, 32, 2, 1), (4, 64, 2, 2)]

    def __init__(self):
        super().__init__()
        layers = [conv_bn(1, 16, 3, 1, act="relu6")]
        cin = 16
        for t, c, n, s in self.CFG:
            for i in range(n):
                layers.append(InvertedResidual(cin, c, s if i == 0 else 1, t))
                cin = c
        layers.append(conv_bn(cin, 128, 1, act="relu6"))
        self.features = nn.Sequential(*layers)
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(128, 10)

    def forward(self, x):
        return self.fc(torch.flatten(self.gap(self.features(x)), 1))


class Fire(nn.Module):
    def __init__(self, cin, squeeze, expand):
        super().__init__()
        self.squeeze = conv_bn(cin, squeeze, 1)
        self.expand1 = conv_bn(squeeze, expand, 1)
        self.expand3 = conv_bn(squeeze, expand, 3)

    def forward(self, x):
        s = self.squeeze(x)
        return torch.cat([self.expand1(s), self.expand3(s)], 1)


class SqueezeNet(nn.Module):
    """stem 3x3/24 + maxpool, fire 16/32+32, maxpool, fire 16/32+32, fire 24/48+48 x2, 1x1 conv
    classifier, GAP."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            conv_bn(1, 24, 3), nn.MaxPool2d(2),
            Fire(24, 16, 32), nn.MaxPool2d(2),
            Fire(64, 16, 32), Fire(64, 24, 48), Fire(96, 24, 48))
        self.classifier = nn.Conv2d(96, 10, 1)  # SqueezeNet's conv classifier (no ReLU on logits)
        self.gap = nn.AdaptiveAvgPool2d(1)

    def forward(self, x):
        return torch.flatten(self.gap(self.classifier(self.features(x))), 1)


class VGG(nn.Module):
    """[16, M, 32, 32, M, 48, 48, 48, M] 3x3 conv+BN+ReLU, FC 432-128-10."""
    CFG = [16, "M", 32, 32, "M", 48, 48, 48, "M"]

    def __init__(self):
        super().__init__()
        layers, cin = [], 1
        for v in self.CFG:
            if v == "M":
                layers.append(nn.MaxPool2d(2))
            else:
                layers.append(conv_bn(cin, v, 3))
                cin = v
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.Linear(cin * 3 * 3, 128), nn.ReLU(inplace=True), nn.Dropout(0.2),
                                  nn.Linear(128, 10))

    def forward(self, x):
        return self.head(torch.flatten(self.features(x), 1))


MODELS = {
    "fmnist_resnet": ResNet,
    "fmnist_mobilenetv2": MobileNetV2,
    "fmnist_squeezenet": SqueezeNet,
    "fmnist_vgg": VGG,
}


def count_macs(model: nn.Module) -> tuple:
    """(MACs, compute layers) of one 1x1x28x28 inference: Conv2d and Linear only."""
    macs, layers, hooks = [0], [0], []

    def conv_hook(m, inp, out):
        macs[0] += out.numel() * (m.in_channels // m.groups) * m.kernel_size[0] * m.kernel_size[1]
        layers[0] += 1

    def fc_hook(m, inp, out):
        macs[0] += m.in_features * m.out_features
        layers[0] += 1

    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            hooks.append(m.register_forward_hook(conv_hook))
        elif isinstance(m, nn.Linear):
            hooks.append(m.register_forward_hook(fc_hook))
    was_training = model.training
    model.eval()
    with torch.no_grad():
        model(torch.zeros(1, 1, 28, 28))
    model.train(was_training)
    for h in hooks:
        h.remove()
    return macs[0], layers[0]


# ----------------------------------------------------------------------------- training

def evaluate(model, x, y, batch=1000):
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(x), batch):
            correct += (model(x[i:i + batch]).argmax(1) == y[i:i + batch]).sum().item()
    return correct


def train(name, model, xtr, ytr, epochs, batch, lr, seed, channels_last, log):
    g = torch.Generator().manual_seed(seed)
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    model.to(memory_format=fmt)  # NHWC is faster on this CPU for most of these nets (not SqueezeNet)
    steps_per_epoch = math.ceil(len(xtr) / batch)
    decay, no_decay = [], []
    for p in model.parameters():
        (no_decay if p.ndim <= 1 else decay).append(p)
    opt = torch.optim.SGD([{"params": decay, "weight_decay": 5e-4},
                           {"params": no_decay, "weight_decay": 0.0}],
                          lr=lr, momentum=0.9, nesterov=True)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, epochs=epochs,
                                                steps_per_epoch=steps_per_epoch, pct_start=0.25)
    for epoch in range(epochs):
        model.train()
        t0 = time.time()
        perm = torch.randperm(len(xtr), generator=g)
        loss_sum, correct = 0.0, 0
        for i in range(steps_per_epoch):
            idx = perm[i * batch:(i + 1) * batch]
            xb, yb = xtr[idx], ytr[idx]
            # cheap augmentation: random horizontal flip (garments are left/right symmetric)
            flip = torch.rand(len(idx), generator=g) < 0.5
            xb = torch.where(flip[:, None, None, None], xb.flip(3), xb)
            out = model(xb.contiguous(memory_format=fmt))
            loss = F.cross_entropy(out, yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            loss_sum += loss.item() * len(idx)
            correct += (out.argmax(1) == yb).sum().item()
        log(f"  {name} epoch {epoch + 1}/{epochs}: loss {loss_sum / len(xtr):.4f} "
            f"train acc {correct / len(xtr):.4f} ({time.time() - t0:.1f} s)")
    model.to(memory_format=torch.contiguous_format)


# ----------------------------------------------------------------------------- ONNX check

def np_conv(x, w, b, strides, pads, group, dilations):
    n, c, h, wd = x.shape
    m, cg, kh, kw = w.shape
    sh, sw = strides
    dh, dw = dilations
    xp = np.pad(x, ((0, 0), (0, 0), (pads[0], pads[2]), (pads[1], pads[3])))
    oh = (xp.shape[2] - dh * (kh - 1) - 1) // sh + 1
    ow = (xp.shape[3] - dw * (kw - 1) - 1) // sw + 1
    cols = np.empty((n, c, kh, kw, oh, ow), dtype=np.float64)
    for i in range(kh):
        for j in range(kw):
            cols[:, :, i, j] = xp[:, :, i * dh:i * dh + sh * oh:sh, j * dw:j * dw + sw * ow:sw]
    mg = m // group
    out = np.empty((n, m, oh, ow), dtype=np.float64)
    for g in range(group):
        cg_cols = cols[:, g * cg:(g + 1) * cg].reshape(n, cg * kh * kw, oh * ow)
        wg = w[g * mg:(g + 1) * mg].reshape(mg, cg * kh * kw).astype(np.float64)
        out[:, g * mg:(g + 1) * mg] = np.einsum("mk,nkp->nmp", wg, cg_cols).reshape(n, mg, oh, ow)
    if b is not None:
        out += b.reshape(1, -1, 1, 1)
    return out


def np_pool(x, kernel, strides, pads, mode):
    n, c, h, w = x.shape
    kh, kw = kernel
    sh, sw = strides
    fill = -np.inf if mode == "max" else 0.0
    xp = np.pad(x, ((0, 0), (0, 0), (pads[0], pads[2]), (pads[1], pads[3])), constant_values=fill)
    oh = (xp.shape[2] - kh) // sh + 1
    ow = (xp.shape[3] - kw) // sw + 1
    win = np.stack([xp[:, :, i:i + sh * oh:sh, j:j + sw * ow:sw] for i in range(kh) for j in range(kw)])
    return win.max(0) if mode == "max" else win.mean(0)


def run_onnx_numpy(model_proto, x):
    """A small float64 interpreter for the operator subset qsim imports (used as a cross-check)."""
    from onnx import numpy_helper
    env = {t.name: numpy_helper.to_array(t).astype(np.float64) if numpy_helper.to_array(t).dtype.kind == "f"
           else numpy_helper.to_array(t) for t in model_proto.graph.initializer}
    env[model_proto.graph.input[0].name] = x.astype(np.float64)
    for node in model_proto.graph.node:
        a = {at.name: at for at in node.attribute}

        def ints(key, default):
            return list(a[key].ints) if key in a else default

        ins = [env[i] if i else None for i in node.input]
        op = node.op_type
        if op == "Conv":
            w = ins[0 + 1]
            k = w.shape[2:]
            out = np_conv(ins[0], w, ins[2] if len(ins) > 2 else None, ints("strides", [1, 1]),
                          ints("pads", [0, 0, 0, 0]), a["group"].i if "group" in a else 1,
                          ints("dilations", [1, 1]))
            assert list(k) == ints("kernel_shape", list(k))
        elif op == "BatchNormalization":
            eps = a["epsilon"].f if "epsilon" in a else 1e-5
            s, bb, mean, var = [v.reshape(1, -1, 1, 1) for v in ins[1:5]]
            out = (ins[0] - mean) / np.sqrt(var + eps) * s + bb
        elif op == "Relu":
            out = np.maximum(ins[0], 0)
        elif op == "Clip":
            lo = ins[1] if len(ins) > 1 and ins[1] is not None else -np.inf
            hi = ins[2] if len(ins) > 2 and ins[2] is not None else np.inf
            out = np.clip(ins[0], lo, hi)
        elif op == "Add":
            out = ins[0] + ins[1]
        elif op == "Concat":
            out = np.concatenate(ins, axis=a["axis"].i)
        elif op in ("MaxPool", "AveragePool"):
            assert "ceil_mode" not in a or a["ceil_mode"].i == 0
            out = np_pool(ins[0], ints("kernel_shape", None), ints("strides", [1, 1]),
                          ints("pads", [0, 0, 0, 0]), "max" if op == "MaxPool" else "avg")
        elif op == "GlobalAveragePool":
            out = ins[0].mean(axis=(2, 3), keepdims=True)
        elif op == "Flatten":
            axis = a["axis"].i if "axis" in a else 1
            out = ins[0].reshape(int(np.prod(ins[0].shape[:axis])), -1)
        elif op == "Reshape":
            out = ins[0].reshape([int(v) for v in ins[1]])
        elif op == "Gemm":
            am, bm = ins[0], ins[1]
            if "transA" in a and a["transA"].i:
                am = am.T
            if "transB" in a and a["transB"].i:
                bm = bm.T
            alpha = a["alpha"].f if "alpha" in a else 1.0
            beta = a["beta"].f if "beta" in a else 1.0
            out = alpha * am @ bm + (beta * ins[2] if len(ins) > 2 else 0)
        elif op == "MatMul":
            out = ins[0] @ ins[1]
        elif op == "Constant":
            from onnx import numpy_helper as nh
            out = nh.to_array(a["value"].t)
        else:
            raise ValueError(f"numpy check: unsupported op {op}")
        env[node.output[0]] = out
    return env[model_proto.graph.output[0].name]


# ----------------------------------------------------------------------------- export

def export(model, path):
    import onnx
    model.eval()
    tmp = path + ".tmp"
    torch.onnx.export(model, torch.zeros(1, 1, 28, 28), tmp, opset_version=13,
                      input_names=["input"], output_names=["logits"], do_constant_folding=True)
    proto = onnx.load(tmp)
    # Constant nodes (the min/max inputs of Clip, i.e. ReLU6) become initializers, so the graph
    # holds only compute/structure operators and every constant tensor lives in one place.
    nodes = list(proto.graph.node)
    del proto.graph.node[:]
    for n in nodes:
        if n.op_type == "Constant" and len(n.attribute) == 1 and n.attribute[0].name == "value":
            t = onnx.TensorProto()
            t.CopyFrom(n.attribute[0].t)
            t.name = n.output[0]
            proto.graph.initializer.append(t)
        else:
            proto.graph.node.append(n)
    onnx.checker.check_model(proto)
    onnx.save(proto, tmp)
    ops = sorted({n.op_type for n in proto.graph.node})
    bad = [o for o in ops if o not in ALLOWED_OPS]
    if bad:
        raise RuntimeError(f"{path}: operators outside qsim's set: {bad}")
    os.replace(tmp, path)
    return proto, ops


def save_npy(path, arr):
    tmp = path + ".tmp.npy"
    np.save(tmp, arr)  # format v1.0 for these small headers
    with open(tmp, "rb") as f:
        assert f.read(8) == b"\x93NUMPY\x01\x00", f"{path}: not .npy v1.0"
    os.replace(tmp, path)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("models", nargs="*", default=list(MODELS), help="subset of " + ", ".join(MODELS))
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "models"))
    ap.add_argument("--epochs", type=int, default=None, help="override the per-model epoch count")
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--train-limit", type=int, default=0, help="use only the first N training images (smoke test)")
    args = ap.parse_args()
    for name in args.models:
        if name not in MODELS:
            ap.error(f"unknown model {name}; choose from {', '.join(MODELS)}")

    torch.set_num_threads(args.threads)
    torch.use_deterministic_algorithms(True)
    out_dir = os.path.normpath(args.out)
    os.makedirs(out_dir, exist_ok=True)

    def log(msg):
        print(msg, flush=True)

    t_load = time.time()
    xtr, ytr = load_split("train")
    xte, yte = load_split("t10k")
    if args.train_limit:
        xtr, ytr = xtr[:args.train_limit], ytr[:args.train_limit]
    log(f"data: train {tuple(xtr.shape)}, test {tuple(xte.shape)} ({time.time() - t_load:.1f} s), "
        f"torch {torch.__version__}, {torch.get_num_threads()} threads")

    x100, y100 = xte[:100].numpy().copy(), yte[:100].numpy().astype(np.int64)
    save_npy(os.path.join(out_dir, "fmnist_test100.npy"), x100.astype(np.float32))
    save_npy(os.path.join(out_dir, "fmnist_test100_labels.npy"), y100)

    # per model: (epochs, peak learning rate, train in channels_last)
    recipe = {"fmnist_resnet": (4, 0.1, True), "fmnist_mobilenetv2": (3, 0.1, True),
              "fmnist_squeezenet": (3, 0.1, True), "fmnist_vgg": (3, 0.05, True)}

    acc_path = os.path.join(out_dir, "accuracy.json")
    results = {}
    if os.path.exists(acc_path):
        with open(acc_path) as f:
            results = json.load(f).get("models", {})

    t_all, c_all = time.time(), time.process_time()
    for name in args.models:
        epochs, lr, channels_last = recipe[name]
        if args.epochs is not None:
            epochs = args.epochs
        # deterministic init, independent of which subset of models runs
        torch.manual_seed(SEED + list(MODELS).index(name))
        np.random.seed(SEED)
        model = MODELS[name]()
        params = sum(p.numel() for p in model.parameters())
        macs, n_layers = count_macs(model)
        log(f"{name}: {params} params, {macs / 1e6:.2f} MMACs, {n_layers} compute layers, "
            f"{epochs} epochs, lr {lr}")
        t0, c0, load0 = time.time(), time.process_time(), os.getloadavg()[0]
        train(name, model, xtr, ytr, epochs, args.batch, lr, SEED + list(MODELS).index(name),
              channels_last, log)
        train_s, train_cpu = time.time() - t0, time.process_time() - c0
        load1 = os.getloadavg()[0]
        correct = evaluate(model, xte, yte)
        log(f"{name}: test top-1 {correct / len(xte):.4f} ({correct}/{len(xte)}), "
            f"trained in {train_s:.1f} s wall, {train_cpu:.1f} s CPU (load average {load0:.1f} -> {load1:.1f})")

        model.eval()
        with torch.no_grad():
            logits = torch.cat([model(xte[i:i + 1]) for i in range(100)]).numpy().astype(np.float32)
        path = os.path.join(out_dir, f"{name}.onnx")
        proto, ops = export(model, path)
        save_npy(os.path.join(out_dir, f"{name}.logits.npy"), logits)
        ref = run_onnx_numpy(proto, x100)
        rel = float(np.max(np.abs(ref - logits)) / np.max(np.abs(ref)))
        if rel > 1e-4:
            raise RuntimeError(f"{name}: NumPy evaluation of the ONNX graph differs from PyTorch "
                               f"(max abs diff / max |logit| = {rel:.2e})")
        log(f"{name}: exported {path} ({os.path.getsize(path)} bytes), ops {ops}, "
            f"ONNX-vs-PyTorch max rel diff {rel:.2e} on 100 images")
        results[name] = {
            "top1": correct / len(xte), "correct": correct, "test_images": len(xte),
            "params": params, "macs": macs, "compute_layers": n_layers,
            "epochs": epochs, "train_seconds": round(train_s, 1), "train_cpu_seconds": round(train_cpu, 1),
            "load_average_1min": [round(load0, 2), round(load1, 2)], "threads": torch.get_num_threads(),
            "onnx_bytes": os.path.getsize(path), "onnx_ops": ops,
            "torch_version": torch.__version__,
        }
        with open(acc_path, "w") as f:
            json.dump({"dataset": "Fashion-MNIST test split (10k), float32, pixels in [0,1]",
                       "script": "scripts/train_fashion_mnist.py", "models": results}, f, indent=2)
            f.write("\n")
    log(f"total training + export: {time.time() - t_all:.1f} s wall, {time.process_time() - c_all:.1f} s CPU")
    return 0


if __name__ == "__main__":
    sys.exit(main())
