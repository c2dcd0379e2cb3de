// File helpers shared by the ONNX Runtime scripts (bench/ort/ort_bench.js,
// bench/quant_ort_check.js): command-line flags, .npy arrays (little-endian
// float32 / float64 / int64 read, any ORT tensor type written; C order) and
// Fashion-MNIST's IDX files (uint8, gzip or plain).
'use strict';

const fs = require('fs');
const path = require('path');
const zlib = require('zlib');

function flag(args, name, dflt) {
  const i = args.indexOf(name);
  if (i < 0) return dflt;
  if (i + 1 >= args.length) throw new Error(`${name} needs a value`);
  return args[i + 1];
}

// {type, dims, data}: type as ONNX Runtime names it, data a typed array.
function readNpy(file) {
  const buf = fs.readFileSync(file);
  if (buf.toString('latin1', 1, 6) !== 'NUMPY') throw new Error(`${file}: not a .npy file`);
  const major = buf[6];
  const hlen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const hstart = major === 1 ? 10 : 12;
  const header = buf.toString('latin1', hstart, hstart + hlen);
  const descr = /'descr':\s*'([^']+)'/.exec(header)[1];
  if (/'fortran_order':\s*True/.test(header)) throw new Error(`${file}: Fortran order is not supported`);
  const dims = /'shape':\s*\(([^)]*)\)/.exec(header)[1].split(',').map((s) => s.trim()).filter((s) => s).map(Number);
  const data = buf.subarray(hstart + hlen);
  const ab = data.buffer.slice(data.byteOffset, data.byteOffset + data.length);
  const types = {'<f4': ['float32', Float32Array], '<f8': ['float64', Float64Array], '<i8': ['int64', BigInt64Array]};
  if (!types[descr]) throw new Error(`${file}: dtype ${descr} is not supported here`);
  const [type, Arr] = types[descr];
  return {type, dims, data: new Arr(ab)};
}

// `tensor`: {type, dims, data} (an ORT Tensor qualifies); written atomically.
function writeNpy(file, tensor) {
  const codes = {float32: '<f4', float64: '<f8', int64: '<i8', int32: '<i4', uint8: '|u1', int8: '|i1', bool: '|b1'};
  const dims = tensor.dims;
  const shape = dims.length === 1 ? `(${dims[0]},)` : `(${dims.join(', ')})`;
  let header = `{'descr': '${codes[tensor.type]}', 'fortran_order': False, 'shape': ${shape}, }`;
  const total = 10 + header.length + 1;
  header += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  const pre = Buffer.alloc(10);
  pre.write('\x93NUMPY', 0, 'latin1');
  pre[6] = 1;
  pre[7] = 0;
  pre.writeUInt16LE(header.length, 8);
  const d = tensor.data;
  const body = Buffer.from(d.buffer, d.byteOffset, d.byteLength);
  const tmp = `${file}.tmp.${process.pid}`;
  fs.writeFileSync(tmp, Buffer.concat([pre, Buffer.from(header, 'latin1'), body]));
  fs.renameSync(tmp, file);
}

function readIdx(file) {
  let buf = fs.readFileSync(file);
  if (buf[0] === 0x1f && buf[1] === 0x8b) buf = zlib.gunzipSync(buf);
  if (buf[2] !== 0x08) throw new Error(`${file}: expected uint8 IDX data`);
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

module.exports = {flag, readNpy, writeNpy, readIdx, findIdx};
