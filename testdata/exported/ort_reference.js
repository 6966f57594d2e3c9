#!/usr/bin/env node
// Writes ONNX Runtime's outputs as the reference outputs of backend-format test cases:
// for every <case>/test_data_set_*/ it reads input_N.pb, runs <case>/model.onnx with
// onnxruntime-node (CPU) and writes output_N.pb (onnx.TensorProto, raw_data, named after the
// graph outputs, in graph-output order).
//
// usage: ORT_NODE_MODULE=/tmp/ortnode/node_modules/onnxruntime-node node ort_reference.js [--opt disabled|basic|extended|all] DIR...
//   DIR is a case folder (holds model.onnx) or a folder of case folders.
//   --opt is ONNX Runtime's graph optimization level (default: disabled, so that every node runs
//   as written, without fusions).
'use strict';
const fs = require('fs'), path = require('path');

const args = process.argv.slice(2);
let opt = 'disabled';
const ortPath = process.env.ORT_NODE_MODULE || 'onnxruntime-node';
const dirs = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--opt') opt = args[++i];
  else dirs.push(args[i]);
}
if (!dirs.length) {
  console.error('usage: node ort_reference.js [--opt LEVEL] CASE_DIR|ROOT_DIR ...');
  process.exit(2);
}
const ort = require(ortPath);

// ---- onnx.TensorProto: minimal reader and writer (dims, data_type, name, raw_data / typed fields, string_data) ----
const DT = { // data_type -> [ort type, TypedArray, non-raw field]
  1: ['float32', Float32Array, 'float'], 2: ['uint8', Uint8Array, 'int32'], 3: ['int8', Int8Array, 'int32'],
  4: ['uint16', Uint16Array, 'int32'], 5: ['int16', Int16Array, 'int32'], 6: ['int32', Int32Array, 'int32'],
  7: ['int64', BigInt64Array, 'int64'], 8: ['string', null, 'string'], 9: ['bool', Uint8Array, 'int32'], 10: ['float16', Uint16Array, 'int32'],
  11: ['float64', Float64Array, 'double'], 12: ['uint32', Uint32Array, 'uint64'], 13: ['uint64', BigUint64Array, 'uint64'],
};
const TYPE_CODE = Object.fromEntries(Object.entries(DT).map(([k, v]) => [v[0], Number(k)]));

function readVarint(buf, pos) {
  let result = 0n, shift = 0n, b;
  do {
    if (pos >= buf.length) throw new Error('truncated varint');
    b = buf[pos++];
    result |= BigInt(b & 0x7f) << shift;
    shift += 7n;
  } while (b & 0x80);
  return [result, pos];
}

function parseTensor(buf) {
  const t = {dims: [], dataType: 0, name: '', raw: null, float: [], double: [], int32: [], int64: [], uint64: [], string: []};
  let pos = 0;
  const packed = (end, sink, conv) => { while (pos < end) { let v; [v, pos] = readVarint(buf, pos); sink.push(conv(v)); } };
  while (pos < buf.length) {
    let key; [key, pos] = readVarint(buf, pos);
    const field = Number(key >> 3n), wire = Number(key & 7n);
    if (wire === 0) {
      let v; [v, pos] = readVarint(buf, pos);
      if (field === 1) t.dims.push(Number(BigInt.asIntN(64, v)));
      else if (field === 2) t.dataType = Number(v);
      else if (field === 5) t.int32.push(Number(BigInt.asIntN(32, v)));
      else if (field === 7) t.int64.push(BigInt.asIntN(64, v));
      else if (field === 11) t.uint64.push(v);
    } else if (wire === 2) {
      let len; [len, pos] = readVarint(buf, pos);
      const end = pos + Number(len);
      if (field === 1) packed(end, t.dims, (v) => Number(BigInt.asIntN(64, v)));
      else if (field === 4) { for (; pos < end; pos += 4) t.float.push(buf.readFloatLE(pos)); }
      else if (field === 5) packed(end, t.int32, (v) => Number(BigInt.asIntN(32, v)));
      else if (field === 6) t.string.push(buf.subarray(pos, end).toString('utf8'));
      else if (field === 7) packed(end, t.int64, (v) => BigInt.asIntN(64, v));
      else if (field === 8) t.name = buf.subarray(pos, end).toString('utf8');
      else if (field === 9) t.raw = buf.subarray(pos, end);
      else if (field === 10) { for (; pos < end; pos += 8) t.double.push(buf.readDoubleLE(pos)); }
      else if (field === 11) packed(end, t.uint64, (v) => v);
      pos = end;
    } else if (wire === 5) { if (field === 4) t.float.push(buf.readFloatLE(pos)); pos += 4; }
    else if (wire === 1) { if (field === 10) t.double.push(buf.readDoubleLE(pos)); pos += 8; }
    else throw new Error(`unsupported wire type ${wire}`);
  }
  const info = DT[t.dataType];
  if (!info) throw new Error(`unsupported data_type ${t.dataType}`);
  const [type, TA, fieldName] = info;
  const n = t.dims.reduce((a, b) => a * b, 1);
  let data;
  if (type === 'string') {
    data = t.string;
    if (data.length !== n) throw new Error(`string tensor ${t.name}: ${data.length} strings for ${n} elements`);
  } else if (t.raw) {
    const copy = Buffer.from(t.raw);
    data = new TA(copy.buffer, copy.byteOffset, copy.byteLength / TA.BYTES_PER_ELEMENT);
  } else {
    data = new TA(n);
    const src = t[fieldName];
    for (let i = 0; i < n; i++) data[i] = (TA === BigInt64Array || TA === BigUint64Array) ? BigInt(src[i]) : src[i];
  }
  return {name: t.name, type, dims: t.dims, data};
}

function varint(v) { // v: non-negative BigInt or number
  let x = BigInt.asUintN(64, BigInt(v));
  const out = [];
  while (x >= 0x80n) { out.push(Number(x & 0x7fn) | 0x80); x >>= 7n; }
  out.push(Number(x));
  return Buffer.from(out);
}
function lenField(field, bytes) { return Buffer.concat([varint((field << 3) | 2), varint(bytes.length), bytes]); }

function encodeTensor(name, tensor) {
  const code = TYPE_CODE[tensor.type];
  if (!code) throw new Error(`output ${name}: cannot write type ${tensor.type}`);
  const d = tensor.data;
  const head = [
    lenField(1, Buffer.concat(tensor.dims.map((x) => varint(x)))),  // dims (packed)
    varint((2 << 3) | 0), varint(code),                               // data_type
  ];
  if (tensor.type === 'string') {                                     // string_data, one field per element
    return Buffer.concat([...head, ...Array.from(d, (x) => lenField(6, Buffer.from(x, 'utf8'))),
      lenField(8, Buffer.from(name, 'utf8'))]);
  }
  const raw = Buffer.from(d.buffer, d.byteOffset, d.byteLength);
  return Buffer.concat([
    ...head,
    lenField(8, Buffer.from(name, 'utf8')),                           // name
    lenField(9, raw),                                                 // raw_data
  ]);
}

function caseDirs(d) {
  if (fs.existsSync(path.join(d, 'model.onnx'))) return [d];
  return fs.readdirSync(d).sort().map((x) => path.join(d, x)).filter((x) => fs.existsSync(path.join(x, 'model.onnx')));
}

(async () => {
  let written = 0, failed = 0;
  for (const cd of dirs.flatMap(caseDirs)) {
    const cname = path.basename(cd);
    try {
      const sess = await ort.InferenceSession.create(path.join(cd, 'model.onnx'), {graphOptimizationLevel: opt});
      for (const s of fs.readdirSync(cd).filter((x) => x.startsWith('test_data_set_')).sort()) {
        const sd = path.join(cd, s);
        const files = fs.readdirSync(sd);
        const idx = (f) => Number(f.match(/_(\d+)\.pb$/)[1]);
        const ins = files.filter((f) => /^input_\d+\.pb$/.test(f)).sort((a, b) => idx(a) - idx(b))
          .map((f) => parseTensor(fs.readFileSync(path.join(sd, f))));
        const feeds = {};
        ins.forEach((t, j) => {
          const name = sess.inputNames.includes(t.name) ? t.name : sess.inputNames[j];
          feeds[name] = new ort.Tensor(t.type, t.data, t.dims);
        });
        const res = await sess.run(feeds);
        for (const f of files.filter((f) => /^output_\d+\.pb$/.test(f))) fs.unlinkSync(path.join(sd, f));
        const shapes = [];
        sess.outputNames.forEach((name, j) => {
          fs.writeFileSync(path.join(sd, `output_${j}.pb`), encodeTensor(name, res[name]));
          shapes.push(`${name} ${res[name].type}[${res[name].dims}]`);
        });
        written++;
        console.log(`ok   ${cname}/${s}: ${shapes.join(', ')}`);
      }
    } catch (err) {
      failed++;
      console.log(`FAIL ${cname}: ${String(err.message || err).split('\n')[0]}`);
    }
  }
  console.log(`onnxruntime-node ${ort.env.versions ? ort.env.versions.node : '?'}, graph optimization '${opt}': ` +
    `${written} test_data_sets written, ${failed} cases failed`);
  process.exit(failed ? 1 : 0);
})();
