// Upload many files with tus-js-client (npm), JOBS at a time in one process,
// through the tus creation extension: what a Node user of tus would write.
// usage: node tus_js_many.js ENDPOINT CHUNK_BYTES JOBS LIST_FILE
// (LIST_FILE: one path a line; CHUNK_BYTES 0: the whole file in one PATCH)
'use strict'
const fs = require('fs')
const path = require('path')
const tus = require(path.join(__dirname, '..', '..', 'tests', 'node_modules', 'tus-js-client'))

const [endpoint, chunk, jobs, list] = process.argv.slice(2)
const files = fs.readFileSync(list, 'utf8').split('\n').filter(Boolean)

function uploadOne (file) {
  return new Promise((resolve, reject) => {
    const upload = new tus.Upload(fs.createReadStream(file), {
      endpoint,
      uploadSize: fs.statSync(file).size,
      metadata: { filename: path.basename(file) },
      chunkSize: Number(chunk) || Infinity,
      retryDelays: [0, 200, 500, 1000],
      onError: reject,
      onSuccess: resolve,
    })
    upload.start()
  })
}

async function worker () {
  while (files.length) await uploadOne(files.shift())
}

Promise.all(Array.from({ length: Number(jobs) }, worker)).then(
  () => process.exit(0),
  (err) => { console.error(`tus-js-client: ${err.message || err}`); process.exit(1) })
