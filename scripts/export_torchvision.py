"""Export torchvision CNNs (random weights, nothing downloaded) to ONNX.

Used by the test suite as real-world import targets; MACs of these standard
224x224 models are well known (resnet18 1.82 G, resnet50 4.1 G, mobilenet_v2
0.30 G, vgg16 15.5 G, squeezenet1_0 0.82 G).
Run with Debian's interpreter: /usr/bin/python3 scripts/export_torchvision.py --out DIR
"""
import argparse
import os
import sys

import torch
import torchvision

MODELS = ["resnet18", "resnet50", "mobilenet_v2", "squeezenet1_0", "vgg16"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", required=True, help="output folder")
    ap.add_argument("--opset", type=int, default=13)
    ap.add_argument("--force", action="store_true", help="re-export existing files")
    ap.add_argument("models", nargs="*", default=MODELS)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    torch.manual_seed(0)
    for name in args.models:
        path = os.path.join(args.out, f"{name}.onnx")
        if os.path.exists(path) and not args.force:
            continue
        model = getattr(torchvision.models, name)(weights=None).eval()
        x = torch.randn(1, 3, 224, 224)
        tmp = path + ".tmp"
        torch.onnx.export(model, x, tmp, opset_version=args.opset, input_names=["input"],
                          output_names=["output"], do_constant_folding=True)
        os.replace(tmp, path)
        print(f"exported {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
