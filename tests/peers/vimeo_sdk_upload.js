// Upload one file with the official Vimeo Node SDK (npm "vimeo"), pointed at
// the sandbox through its request defaults. The token comes from VIMEO_TOKEN,
// never from argv. Prints the video URI on success.
'use strict'
const path = require('path')
const vimeo = require(path.join(__dirname, '..', 'node_modules', 'vimeo', 'lib', 'vimeo.js'))

const [api, file, name] = process.argv.slice(2)
const url = new URL(api)
vimeo.request_defaults.protocol = url.protocol
vimeo.request_defaults.hostname = url.hostname
vimeo.request_defaults.port = Number(url.port)

const client = new vimeo.Vimeo('client-id', 'client-secret', process.env.VIMEO_TOKEN)
client.upload(file, { name },
  (uri) => { console.log(uri); process.exit(0) },
  () => {},
  (err) => { console.error(`vimeo sdk: ${err}`); process.exit(1) })
