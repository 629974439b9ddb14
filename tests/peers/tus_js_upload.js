// Upload one file with tus-js-client (npm), either through the creation
// extension (--endpoint URL) or onto an existing upload link (--upload-url URL).
// Prints the upload URL on success; exits 1 with the error otherwise.
'use strict'
const fs = require('fs')
const path = require('path')
const tus = require(path.join(__dirname, '..', 'node_modules', 'tus-js-client'))

const args = {}
for (let i = 2; i < process.argv.length; i += 2) args[process.argv[i].replace(/^--/, '')] = process.argv[i + 1]

const options = {
  uploadSize: fs.statSync(args.file).size,
  metadata: { filename: args.name || path.basename(args.file) },
  chunkSize: args['chunk-size'] ? Number(args['chunk-size']) : Infinity,
  retryDelays: [0, 200, 500, 1000],
  onError: (err) => { console.error(`tus-js-client: ${err.message || err}`); process.exit(1) },
  onSuccess: () => { console.log(upload.url); process.exit(0) },
}
if (args.endpoint) options.endpoint = args.endpoint
if (args['upload-url']) options.uploadUrl = args['upload-url']
const upload = new tus.Upload(fs.createReadStream(args.file), options)
upload.start()
