"""Independent reference figures for tests/graph/onnx_models_test.cpp.

Computes, without qsim, the compute-layer count, MACs and parameters (weights +
biases, counting the bias a folded BatchNormalization gives a Conv) of:
  - the torchvision models scripts/export_torchvision.sh exports, from torch
    forward hooks on Conv2d/Linear modules (224x224, batch 1);
  - the ONNX "light" zoo models, from onnx's own shape inference.
Run with Debian's interpreter:
  /usr/bin/python3 tests/graph/onnx_reference_macs.py [--light DIR]
and pin the printed numbers in the test.
"""
import argparse
import glob
import math
import os
import sys


def torchvision_figures(names):
    import torch
    import torchvision

    out = {}
    for name in names:
        model = getattr(torchvision.models, name)(weights=None).eval()
        stats = {"layers": 0, "macs": 0, "params": 0}

        def hook(mod, inp, outp):
            stats["layers"] += 1
            if isinstance(mod, torch.nn.Conv2d):
                k = mod.in_channels // mod.groups * mod.kernel_size[0] * mod.kernel_size[1]
                stats["macs"] += outp.numel() * k
                # Every conv in these models has a bias or is followed by BN (folded into a bias).
                stats["params"] += mod.weight.numel() + mod.out_channels
            else:
                stats["macs"] += outp.numel() // mod.out_features * mod.in_features * mod.out_features
                stats["params"] += mod.weight.numel() + (mod.bias.numel() if mod.bias is not None else 0)

        for m in model.modules():
            if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear)):
                m.register_forward_hook(hook)
        with torch.no_grad():
            model(torch.zeros(1, 3, 224, 224))
        out[name] = stats
    return out


def onnx_figures(path):
    import onnx
    from onnx import numpy_helper, shape_inference

    model = onnx.load(path)
    g = model.graph
    # The light models compute weights with ConstantOfShape(shape initializer): resolve
    # constant shapes so shape inference sees the weight shapes.
    consts = {i.name: numpy_helper.to_array(i) for i in g.initializer}
    shapes = {}
    for n in g.node:
        if n.op_type == "ConstantOfShape" and n.input[0] in consts:
            shapes[n.output[0]] = [int(d) for d in consts[n.input[0]]]
    for i in g.initializer:
        shapes.setdefault(i.name, list(i.dims))
    inferred = shape_inference.infer_shapes(model)
    for vi in list(inferred.graph.value_info) + list(inferred.graph.output) + list(inferred.graph.input):
        dims = [d.dim_value for d in vi.type.tensor_type.shape.dim]
        if dims and all(d > 0 for d in dims):
            shapes.setdefault(vi.name, dims)
    consumers = {}
    for n in g.node:
        for i in n.input:
            consumers.setdefault(i, []).append(n)
    layers = macs = params = 0
    for n in g.node:
        if n.op_type == "Conv":
            w = shapes[n.input[1]]
            y = shapes[n.output[0]]
            macs += math.prod(y) * w[1] * math.prod(w[2:])
            has_bias = len(n.input) > 2 and n.input[2] != ""
            bn_next = any(c.op_type == "BatchNormalization" for c in consumers.get(n.output[0], []))
            params += math.prod(w) + (w[0] if has_bias or bn_next else 0)
        elif n.op_type == "Gemm":
            a, b = shapes[n.input[0]], shapes[n.input[1]]
            attrs = {x.name: x.i for x in n.attribute if x.type == onnx.AttributeProto.INT}
            m = a[1] if attrs.get("transA", 0) else a[0]
            k = a[0] if attrs.get("transA", 0) else a[1]
            nn = b[0] if attrs.get("transB", 0) else b[1]
            macs += m * nn * k
            params += math.prod(b) + (math.prod(shapes[n.input[2]]) if len(n.input) > 2 and n.input[2] else 0)
        elif n.op_type == "MatMul":
            raise SystemExit(f"{path}: MatMul not handled by this script")
        else:
            continue
        layers += 1
    return {"layers": layers, "macs": macs, "params": params}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--light", default=os.path.join(os.path.dirname(__file__), "../data/onnx-light"))
    ap.add_argument("--no-torch", action="store_true")
    args = ap.parse_args()
    if not args.no_torch:
        for name, s in torchvision_figures(["resnet18", "resnet50", "mobilenet_v2", "squeezenet1_0", "vgg16"]).items():
            print(f"{name:16} layers {s['layers']:4} macs {s['macs']:12} params {s['params']:10}")
    for path in sorted(glob.glob(os.path.join(args.light, "*.onnx"))):
        s = onnx_figures(path)
        name = os.path.basename(path)[:-5]
        print(f"{name:22} layers {s['layers']:4} macs {s['macs']:12} params {s['params']:10}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
