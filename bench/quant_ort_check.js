#!/usr/bin/env node
// ONNX Runtime (onnxruntime-node 1.20.1, CPU) on a QDQ model exported by
// `qsim quantize --out`, against qsim's fake-quant logits of the same images.
//
//   node bench/quant_ort_check.js MODEL.q.onnx QSIM_LOGITS.npy [--fmnist DIR] [--threads N]
//                                 [--opt-level disabled|basic|extended|all] [--dump ORT_LOGITS.npy]
//
// QSIM_LOGITS.npy comes from `qsim quantize ... --dump-logits FILE` (samples x
// classes, the first N test images in order). Every image of Fashion-MNIST's test
// split up to N runs through ONNX Runtime one at a time (the models have batch 1);
// prints one JSON line: samples, top1_agree (same argmax as qsim), top1_agree_fraction,
// ort_top1 and qsim_top1 (against the labels), max_abs_logit_diff. Needs
// `npm install --ignore-scripts` in bench/ort (scripts/quant_ort_check.sh does it).
'use strict';

const fs = require('fs');
const path = require('path');
const ort = require(path.join(__dirname, 'ort', 'node_modules', 'onnxruntime-node'));

const {flag, readNpy, writeNpy, readIdx, findIdx} = require(path.join(__dirname, 'ort', 'npy_idx'));

function argmax(a, off, n) {
  let best = 0;
  for (let c = 1; c < n; ++c) if (a[off + c] > a[off + best]) best = c;
  return best;
}

async function main() {
  const args = process.argv.slice(2);
  if (args.length < 2) throw new Error('usage: quant_ort_check.js MODEL.q.onnx QSIM_LOGITS.npy [--fmnist DIR] [--threads N]');
  const [model, logitsFile] = args;
  const dir = flag(args, '--fmnist', '/usr/share/datasets/fashion-mnist');
  const threads = Number(flag(args, '--threads', '2'));
  const optLevel = flag(args, '--opt-level', 'all');
  const dump = flag(args, '--dump', '');
  const ours = readNpy(logitsFile);
  if (ours.type !== 'float32') throw new Error(`${logitsFile}: expected float32 data`);
  const [n, classes] = ours.dims;
  const images = readIdx(findIdx(dir, 't10k-images-idx3-ubyte'));
  const labels = readIdx(findIdx(dir, 't10k-labels-idx1-ubyte'));
  const hw = images.dims[1] * images.dims[2];
  if (n > images.dims[0]) throw new Error(`${logitsFile}: ${n} samples, the test split has ${images.dims[0]}`);
  const session = await ort.InferenceSession.create(model, {
    intraOpNumThreads: threads, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: optLevel});
  const inputName = session.inputNames[0];
  const outputName = session.outputNames[0];
  const x = new Float32Array(hw);
  let agree = 0, ortCorrect = 0, oursCorrect = 0, maxDiff = 0;
  const disagreements = [];
  const all = dump ? new Float32Array(n * classes) : null;
  for (let i = 0; i < n; ++i) {
    for (let k = 0; k < hw; ++k) x[k] = images.data[i * hw + k] / 255;
    const out = await session.run({[inputName]: new ort.Tensor('float32', x, [1, 1, images.dims[1], images.dims[2]])});
    const y = out[outputName].data;
    if (all) all.set(y.subarray(0, classes), i * classes);
    const a = argmax(y, 0, classes), b = argmax(ours.data, i * classes, classes);
    if (a === b) ++agree; else if (disagreements.length < 20) disagreements.push(i);
    if (a === labels.data[i]) ++ortCorrect;
    if (b === labels.data[i]) ++oursCorrect;
    for (let c = 0; c < classes; ++c) maxDiff = Math.max(maxDiff, Math.abs(y[c] - ours.data[i * classes + c]));
  }
  if (all) writeNpy(dump, {type: 'float32', dims: [n, classes], data: all});
  console.log(JSON.stringify({model, samples: n, top1_agree: agree, top1_agree_fraction: agree / n,
    ort_top1: ortCorrect / n, qsim_top1: oursCorrect / n, max_abs_logit_diff: maxDiff, first_disagreements: disagreements,
    ort_version: require(path.join(__dirname, 'ort', 'node_modules', 'onnxruntime-node', 'package.json')).version}));
}

main().catch((e) => {
  console.error(`quant_ort_check: ${e.message}`);
  process.exit(2);
});
