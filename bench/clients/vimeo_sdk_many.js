// Upload many files with the official Vimeo Node SDK (npm "vimeo"), JOBS at a
// time in one process, pointed at the sandbox through its request defaults.
// The token comes from VIMEO_TOKEN. The SDK takes no chunk size: it sends
// each file in one PATCH through tus-js-client.
// usage: node vimeo_sdk_many.js API_URL JOBS LIST_FILE
'use strict'
const fs = require('fs')
const path = require('path')
const vimeo = require(path.join(__dirname, '..', '..', 'tests', 'node_modules', 'vimeo', 'lib', 'vimeo.js'))

const [api, jobs, list] = process.argv.slice(2)
const files = fs.readFileSync(list, 'utf8').split('\n').filter(Boolean)
const url = new URL(api)
vimeo.request_defaults.protocol = url.protocol
vimeo.request_defaults.hostname = url.hostname
vimeo.request_defaults.port = Number(url.port)
const client = new vimeo.Vimeo('client-id', 'client-secret', process.env.VIMEO_TOKEN)

function uploadOne (file) {
  return new Promise((resolve, reject) => {
    client.upload(file, { name: path.basename(file) }, resolve, () => {}, (err) => reject(new Error(err)))
  })
}

async function worker () {
  while (files.length) await uploadOne(files.shift())
}

Promise.all(Array.from({ length: Number(jobs) }, worker)).then(
  () => process.exit(0),
  (err) => { console.error(`vimeo sdk: ${err.message || err}`); process.exit(1) })
