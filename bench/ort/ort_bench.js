#!/usr/bin/env node
// ONNX Runtime (onnxruntime-node, CPU) side of the executor benchmarks and an
// outside reference for `qsim run`. Install once: (cd bench/ort && npm install --ignore-scripts)
//
//   node ort_bench.js run   MODEL IN.npy OUT.npy [--threads N]      one inference, output 0 as .npy
//   node ort_bench.js time  MODEL [--input X.npy | --shape 1,3,224,224] [--threads N] [--runs N] [--warmup N]
//   node ort_bench.js eval  MODEL [--fmnist DIR] [--limit N] [--threads N]
//                                   top-1 over Fashion-MNIST's 10k test images, one image per run
//   node ort_bench.js pattern SHAPE OUT.npy     the float32 input both benchmarks use: (i % 255) / 255
//   node ort_bench.js compare GOT.npy WANT.npy [--rtol R] [--atol A]
//                                   max differences as JSON; exit 1 when some |got - want| > atol + rtol |want|
// time and eval print one JSON line: median_ms / mean_ms / runs, or seconds / top1 / samples,
// cpu_ms_per_run or cpu_seconds (user + system, all threads), and peak_rss_mb (the
// process's maximum resident set).
'use strict';

const ort = require('onnxruntime-node');

const io = require('./npy_idx');
const {flag, writeNpy, readIdx, findIdx} = io;
// An .npy file as an ORT tensor.
function readNpy(file) {
  const t = io.readNpy(file);
  return new ort.Tensor(t.type, t.data, t.dims);
}

function session(model, threads) {
  return ort.InferenceSession.create(model, {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  });
}

function peakRssMb() {
  return process.resourceUsage().maxRSS / 1024;  // maxRSS is in KiB
}

function cpuMs(since) {  // user + system CPU time of every thread since `since`
  const d = process.cpuUsage(since);
  return (d.user + d.system) / 1000;
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function patternTensor(shape) {
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  for (let i = 0; i < n; ++i) data[i] = (i % 255) / 255;
  return new ort.Tensor('float32', data, shape);
}

function compare(gotFile, wantFile, rtol, atol) {
  const got = readNpy(gotFile), want = readNpy(wantFile);
  if (got.dims.join('x') !== want.dims.join('x')) throw new Error(`shapes ${got.dims} and ${want.dims} differ`);
  let maxAbs = 0, maxRel = 0, bad = 0, scale = 0;
  for (let i = 0; i < want.data.length; ++i) {
    const g = Number(got.data[i]), w = Number(want.data[i]), d = Math.abs(g - w);
    maxAbs = Math.max(maxAbs, d);
    scale = Math.max(scale, Math.abs(w));
    if (w !== 0) maxRel = Math.max(maxRel, d / Math.abs(w));
    if (!(d <= atol + rtol * Math.abs(w))) ++bad;
  }
  console.log(JSON.stringify({elements: want.data.length, max_abs_diff: maxAbs, max_rel_diff: maxRel,
                              max_abs_diff_over_max_abs: scale ? maxAbs / scale : 0, outside_tolerance: bad,
                              rtol, atol}));
  return bad === 0;
}

async function main() {
  const [cmd, model, ...rest] = process.argv.slice(2);
  if (cmd === 'pattern') {  // model = SHAPE here
    writeNpy(rest[0], patternTensor(model.split(',').map(Number)));
    return;
  }
  if (cmd === 'compare') {  // model = GOT.npy here
    const ok = compare(model, rest[0], Number(flag(rest, '--rtol', '1e-3')), Number(flag(rest, '--atol', '1e-5')));
    if (!ok) process.exit(1);
    return;
  }
  if (!cmd || !model) throw new Error('usage: ort_bench.js run|time|eval MODEL ...');
  const threads = Number(flag(rest, '--threads', '2'));
  const sess = await session(model, threads);
  const inName = sess.inputNames[0];

  if (cmd === 'run') {
    const [inFile, outFile] = rest;
    const out = await sess.run({[inName]: readNpy(inFile)});
    writeNpy(outFile, out[sess.outputNames[0]]);
    return;
  }
  if (cmd === 'time') {
    const runs = Number(flag(rest, '--runs', '20'));
    const warmup = Number(flag(rest, '--warmup', '3'));
    const inFile = flag(rest, '--input', '');
    let x;
    if (inFile) {
      x = readNpy(inFile);
    } else {
      x = patternTensor(flag(rest, '--shape', '1,3,224,224').split(',').map(Number));
    }
    for (let i = 0; i < warmup; ++i) await sess.run({[inName]: x});
    const cpu0 = process.cpuUsage();
    const ms = [];
    for (let i = 0; i < runs; ++i) {
      const t0 = process.hrtime.bigint();
      await sess.run({[inName]: x});
      ms.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    console.log(JSON.stringify({
      model, threads, runs, median_ms: median(ms), mean_ms: ms.reduce((a, b) => a + b, 0) / runs,
      min_ms: Math.min(...ms), cpu_ms_per_run: cpuMs(cpu0) / runs, peak_rss_mb: peakRssMb(),
    }));
    return;
  }
  if (cmd === 'eval') {
    const dir = flag(rest, '--fmnist', '/usr/share/datasets/fashion-mnist');
    const limit = Number(flag(rest, '--limit', '0'));
    const images = readIdx(findIdx(dir, 't10k-images-idx3-ubyte'));
    const labels = readIdx(findIdx(dir, 't10k-labels-idx1-ubyte'));
    const [count, h, w] = images.dims;
    const n = limit > 0 ? Math.min(limit, count) : count;
    const shape = flag(rest, '--shape', `1,1,${h},${w}`).split(',').map(Number);
    const x = new Float32Array(h * w);
    const t0 = process.hrtime.bigint();
    const cpu0 = process.cpuUsage();
    let correct = 0;
    for (let i = 0; i < n; ++i) {
      const px = images.data.subarray(i * h * w, (i + 1) * h * w);
      for (let k = 0; k < h * w; ++k) x[k] = px[k] / 255;  // ToTensor
      const out = await sess.run({[inName]: new ort.Tensor('float32', x, shape)});
      const s = out[sess.outputNames[0]].data;
      let best = 0;
      for (let c = 1; c < s.length; ++c) if (s[c] > s[best]) best = c;
      if (best === labels.data[i]) ++correct;
    }
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    console.log(JSON.stringify({
      model, threads, samples: n, top1: correct / n, correct, seconds, cpu_seconds: cpuMs(cpu0) / 1000,
      peak_rss_mb: peakRssMb(),
    }));
    return;
  }
  throw new Error(`unknown command ${cmd}`);
}

main().catch((e) => {
  console.error(`ort_bench: ${e.message}`);
  process.exit(2);
});
