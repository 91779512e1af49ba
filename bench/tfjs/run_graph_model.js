// Runs a TF.js graph model with TF.js's own CPU backend (pure JavaScript, no native code): the
// reference for the ONNX conversion in vad/encoders/tfjs.py. Reads N inputs of shape D1 x D2 x D3
// (NHWC for MoveNet, NCHW for NanoDet) and DTYPE (int32 unless given, or float32) from a raw file,
// writes per input one JSON line: the first output's shape and values, and every output by name.
//   node run_graph_model.js MODEL_JSON INPUTS.raw N D1 D2 D3 [DTYPE] > outputs.jsonl
const fs = require('fs');
const path = require('path');
const tf = require('@tensorflow/tfjs-core');
require('@tensorflow/tfjs-backend-cpu');
const converter = require('@tensorflow/tfjs-converter');

async function main() {
  const [modelJson, inputsPath, n, h, w, c, dtype = 'int32'] = process.argv.slice(2);
  const spec = JSON.parse(fs.readFileSync(modelJson, 'utf8'));
  const folder = path.dirname(modelJson);
  const specs = [];
  const shards = [];
  for (const group of spec.weightsManifest) {
    specs.push(...group.weights);
    for (const p of group.paths) shards.push(fs.readFileSync(path.join(folder, p)));
  }
  const weights = Buffer.concat(shards);
  const handler = {
    load: async () => ({
      modelTopology: spec.modelTopology,
      format: spec.format,
      generatedBy: spec.generatedBy,
      convertedBy: spec.convertedBy,
      signature: spec.signature,
      weightSpecs: specs,
      weightData: weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.length),
    }),
  };
  await tf.setBackend('cpu');
  const model = await converter.loadGraphModel(handler);
  const raw = fs.readFileSync(inputsPath);
  const Typed = dtype === 'float32' ? Float32Array : Int32Array;
  const all = new Typed(raw.buffer, raw.byteOffset, raw.length / 4);
  const size = h * w * c;
  for (let i = 0; i < Number(n); i++) {
    const input = tf.tensor(all.slice(i * size, (i + 1) * size), [1, Number(h), Number(w), Number(c)], dtype);
    const output = model.execute(input);
    const outs = Array.isArray(output) ? output : [output];
    const named = outs.map((t, k) => ({ name: model.outputNodes[k], shape: t.shape, values: Array.from(t.dataSync()) }));
    process.stdout.write(JSON.stringify({ shape: named[0].shape, values: named[0].values, outputs: named }) + '\n');
    tf.dispose([input, output]);
  }
}
main().catch((e) => { console.error(e); process.exit(1); });
