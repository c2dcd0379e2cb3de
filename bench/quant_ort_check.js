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
const zlib = require('zlib');
const ort = require(path.join(__dirname, 'ort', 'node_modules', 'onnxruntime-node'));

function flag(args, name, dflt) {
  const i = args.indexOf(name);
  if (i < 0) return dflt;
  if (i + 1 >= args.length) throw new Error(`${name} needs a value`);
  return args[i + 1];
}

function readNpyF32(file) {
  const buf = fs.readFileSync(file);
  if (buf.toString('latin1', 1, 6) !== 'NUMPY') throw new Error(`${file}: not a .npy file`);
  const major = buf[6];
  const hlen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const hstart = major === 1 ? 10 : 12;
  const header = buf.toString('latin1', hstart, hstart + hlen);
  if (!/'descr':\s*'<f4'/.test(header)) throw new Error(`${file}: expected float32 data`);
  const shape = /'shape':\s*\(([^)]*)\)/.exec(header)[1].split(',').map((s) => s.trim()).filter((s) => s).map(Number);
  const data = buf.subarray(hstart + hlen);
  return {shape, data: new Float32Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.length))};
}

function writeNpyF32(file, shape, data) {
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  const pad = 64 - ((10 + header.length + 1) % 64);
  header += ' '.repeat(pad % 64) + '\n';
  const head = Buffer.alloc(10);
  head.write('\x93NUMPY', 0, 'latin1');
  head[6] = 1;
  head[7] = 0;
  head.writeUInt16LE(header.length, 8);
  fs.writeFileSync(file, Buffer.concat([head, Buffer.from(header, 'latin1'), Buffer.from(data.buffer, data.byteOffset, data.byteLength)]));
}

function readIdx(file) {
  let buf = fs.readFileSync(file);
  if (buf[0] === 0x1f && buf[1] === 0x8b) buf = zlib.gunzipSync(buf);
  const rank = buf[3];
  const dims = [];
  for (let i = 0; i < rank; ++i) dims.push(buf.readUInt32BE(4 + 4 * i));
  return {dims, data: buf.subarray(4 + 4 * rank)};
}

function findIdx(dir, stem) {
  for (const ext of ['.gz', '']) {
    const p = path.join(dir, stem + ext);
    if (fs.existsSync(p)) return p;
  }
  throw new Error(`${dir}: no ${stem}[.gz]`);
}

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
  const ours = readNpyF32(logitsFile);
  const [n, classes] = ours.shape;
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
  if (all) writeNpyF32(dump, [n, classes], all);
  console.log(JSON.stringify({model, samples: n, top1_agree: agree, top1_agree_fraction: agree / n,
    ort_top1: ortCorrect / n, qsim_top1: oursCorrect / n, max_abs_logit_diff: maxDiff, first_disagreements: disagreements,
    ort_version: require(path.join(__dirname, 'ort', 'node_modules', 'onnxruntime-node', 'package.json')).version}));
}

main().catch((e) => {
  console.error(`quant_ort_check: ${e.message}`);
  process.exit(2);
});
